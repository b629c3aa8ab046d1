"""``RunStore.delete_all`` (the dev-mode truncation's store step), against every implementation.

Kept apart from ``test_store_contract.py`` so the two can change independently; same three
stores (the ``store`` fixture of ``conftest.py``).
"""

from __future__ import annotations

from runyard.runs.store.base import RunStore


async def test_delete_all_removes_every_row_whatever_its_status(store: RunStore) -> None:
    """Pending, running and finished rows of any thread all go; the count says how many."""
    await store.put("r1", thread_id="t1", status="success")
    await store.put("r2", thread_id="t1", status="running")
    await store.put("r3", thread_id="t2", status="pending", user_id="u1")
    assert await store.delete_all() == 3
    for run_id in ("r1", "r2", "r3"):
        assert await store.get(run_id) is None
    assert await store.list_by_thread("t1") == []
    assert await store.list_inflight() == []
    assert await store.delete_all() == 0


async def test_the_store_works_as_new_after_delete_all(store: RunStore) -> None:
    """After delete_all a thread's runs are admitted and claimed as on a fresh store."""
    await store.put("r1", thread_id="t1", status="running")
    await store.delete_all()
    assert await store.admit("r2", strategy="reject", thread_id="t1") == []
    assert await store.start("r2", owner="me")
    row = await store.get("r2")
    assert row is not None and row["status"] == "running"
