"""Two RunManagers on one database (two processes' worth of state) never both admit a run on a
busy thread, and never both run one thread at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from runyard.runs import ConflictError, RunManager, RunStatus
from runyard.runs.store.sql import SqlRunStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_managers(request: pytest.FixtureRequest) -> AsyncIterator[tuple[RunManager, RunManager]]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    stores = [SqlRunStore.from_url(url), SqlRunStore.from_url(url)]
    for store in stores:
        await store.setup()
    try:
        yield RunManager(store=stores[0]), RunManager(store=stores[1])
    finally:
        for store in stores:
            await store.close()


async def test_racing_reject_admissions_admit_exactly_one(
    two_managers: tuple[RunManager, RunManager],
) -> None:
    """Concurrent reject admissions from two managers on one thread: one wins, the rest get 409."""
    a, b = two_managers
    for round_ in range(5):
        thread = f"race-{round_}"
        results = await asyncio.gather(
            *(m.create_or_reject(thread, multitask_strategy="reject") for m in (a, b) * 6),
            return_exceptions=True,
        )
        admitted = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(admitted) == 1, results
        assert all(isinstance(r, ConflictError) for r in refused), refused
        rows = await a.list_by_thread(thread)
        assert len(rows) == 1


async def test_racing_starts_run_one_run_per_thread(two_managers: tuple[RunManager, RunManager]) -> None:
    """Enqueued runs admitted by both managers start one at a time, in creation order."""
    a, b = two_managers
    first = await a.create_or_reject("t", multitask_strategy="enqueue")
    second = await b.create_or_reject("t", multitask_strategy="enqueue")
    started = await asyncio.gather(a.try_start(first.run_id), b.try_start(second.run_id))
    assert started == [True, False]
    assert await b.try_start(second.run_id) is False
    await a.set_status(first.run_id, RunStatus.success)
    assert await b.try_start(second.run_id) is True
    row = await b.store.get(second.run_id) if b.store else None
    assert row is not None and row["status"] == "running" and row["owner"] == b.owner


async def test_interrupt_from_one_manager_is_durable_for_the_other(
    two_managers: tuple[RunManager, RunManager],
) -> None:
    """An interrupt admission marks the other manager's active run interrupted in the store."""
    a, b = two_managers
    old = await a.create_or_reject("t")
    assert await a.try_start(old.run_id)
    new = await b.create_or_reject("t", multitask_strategy="interrupt")
    row = await b.store.get(old.run_id) if b.store else None
    assert row is not None and row["status"] == "interrupted"
    assert await a.set_status(old.run_id, RunStatus.success) is True  # a's memory did not know
    row = await a.store.get(old.run_id) if a.store else None
    assert row is not None and row["status"] == "interrupted", "the stale success overwrote the interrupt"
    assert await b.try_start(new.run_id) is True
