"""RunManager behaviour past the seed: enqueue, start order, guarded transitions, eviction,
admission rollback, and the drain's resistance to a second cancellation."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import pytest

from runyard.runs import ConflictError, RunManager, RunStatus, UnsupportedStrategyError
from runyard.runs.store.memory import MemoryRunStore


@pytest.fixture(params=["no-store", "memory-store"])
def manager(request: pytest.FixtureRequest) -> RunManager:
    return RunManager() if request.param == "no-store" else RunManager(store=MemoryRunStore())


async def test_enqueue_admits_behind_active_run_and_starts_in_creation_order(manager: RunManager) -> None:
    """Enqueued runs wait as pending and start one at a time, oldest first."""
    r1 = await manager.create_or_reject("t", multitask_strategy="enqueue")
    r2 = await manager.create_or_reject("t", multitask_strategy="enqueue")
    r3 = await manager.create_or_reject("t", multitask_strategy="enqueue")
    assert [r.status for r in (r1, r2, r3)] == [RunStatus.pending] * 3
    assert await manager.try_start(r2.run_id) is False
    assert (await manager.next_pending("t")) is r1
    assert await manager.try_start(r1.run_id) is True
    assert r1.status is RunStatus.running
    assert await manager.try_start(r2.run_id) is False
    await manager.set_status(r1.run_id, RunStatus.success)
    assert (await manager.next_pending("t")) is r2
    assert await manager.try_start(r3.run_id) is False
    assert await manager.try_start(r2.run_id) is True
    assert r2.attempt == 1 and r2.owner == manager.owner


async def test_reject_counts_enqueued_pending_runs_as_active(manager: RunManager) -> None:
    """A thread with only a pending enqueued run is busy for reject."""
    await manager.create_or_reject("t", multitask_strategy="enqueue")
    with pytest.raises(ConflictError, match="already has an active run"):
        await manager.create_or_reject("t", multitask_strategy="reject")


async def test_unsupported_strategy_names_the_supported_ones_and_stores_nothing() -> None:
    """An unknown strategy is refused with the list of supported ones; nothing is written."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    with pytest.raises(UnsupportedStrategyError) as info:
        await manager.create_or_reject("t", multitask_strategy="shove")
    for name in ("reject", "interrupt", "rollback", "enqueue"):
        assert name in str(info.value)
    assert manager._runs == {}
    assert await store.list_by_thread("t") == []


async def test_terminal_status_is_final_in_memory_and_store() -> None:
    """A stale write cannot revive a finished run or replace its terminal status."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.running)
    assert await manager.set_status(record.run_id, RunStatus.success) is True
    assert await manager.set_status(record.run_id, RunStatus.running) is False
    assert await manager.set_status(record.run_id, RunStatus.error, error="late") is False
    assert record.status is RunStatus.success and record.error is None
    row = await store.get(record.run_id)
    assert row is not None and row["status"] == "success" and row["error"] is None
    assert await manager.set_status(record.run_id, RunStatus.success) is True


async def test_cancel_wins_over_a_later_success() -> None:
    """A run cancelled while finishing stays interrupted; the late success is refused."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.running)
    assert await manager.cancel(record.run_id, action="rollback") is True
    assert record.abort_action == "rollback"
    assert await manager.set_status(record.run_id, RunStatus.success) is False
    row = await store.get(record.run_id)
    assert row is not None and row["status"] == "interrupted"


async def test_cancel_rejects_unknown_action(manager: RunManager) -> None:
    """An unknown cancel action is an error naming the supported ones, not a silent interrupt."""
    record = await manager.create("t")
    with pytest.raises(ValueError, match="interrupt, rollback"):
        await manager.cancel(record.run_id, action="explode")
    assert record.status is RunStatus.pending


async def test_stale_store_write_keeps_other_process_terminal_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When another writer finished the row first, the local status write is refused and logged."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.running)
    await store.update_status(record.run_id, "error", error="taken over")
    await manager.set_status(record.run_id, RunStatus.success)
    row = await store.get(record.run_id)
    assert row is not None and row["status"] == "error" and row["error"] == "taken over"
    assert "keeps its stored status error" in caplog.text


async def test_finished_records_are_evicted_by_count_and_stay_readable() -> None:
    """Terminal records leave memory beyond the bound; reads still find them in the store."""
    store = MemoryRunStore()
    manager = RunManager(store=store, max_finished_records=3)
    records = [await manager.create(f"t{i}") for i in range(6)]
    for record in records:
        await manager.set_status(record.run_id, RunStatus.success)
    assert len(manager._runs) == 3
    assert set(manager._runs) == {r.run_id for r in records[3:]}
    old = await manager.get(records[0].run_id)
    assert old is not None and old.store_only is True and old.status is RunStatus.success


async def test_finished_records_are_evicted_after_ttl_but_active_ones_stay() -> None:
    """With a zero TTL a finished record is evicted at the next finish; active runs are kept."""
    manager = RunManager(store=MemoryRunStore(), finished_record_ttl=0.0)
    active = await manager.create("t-active")
    first = await manager.create("t1")
    second = await manager.create("t2")
    await manager.set_status(first.run_id, RunStatus.success)
    await manager.set_status(second.run_id, RunStatus.error, error="x")
    assert first.run_id not in manager._runs
    assert active.run_id in manager._runs


async def test_eviction_keeps_records_whose_task_is_still_unwinding() -> None:
    """A cancelled run whose task has not finished stays registered, so shutdown can drain it."""
    manager = RunManager(store=MemoryRunStore(), max_finished_records=1)
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.running)
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with suppress(asyncio.CancelledError):
                await release.wait()

    record.task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await manager.cancel(record.run_id)
    for i in range(3):
        other = await manager.create(f"o{i}")
        await manager.set_status(other.run_id, RunStatus.success)
    assert record.run_id in manager._runs
    release.set()
    await manager.shutdown(timeout=5.0)
    assert record.task.done()


class _FailingAdmitStore(MemoryRunStore):
    async def admit(self, run_id: str, *, strategy: str, **row: Any) -> list[str]:
        raise RuntimeError("disk full")


class _BlockingAdmitStore(MemoryRunStore):
    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()

    async def admit(self, run_id: str, *, strategy: str, **row: Any) -> list[str]:
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_failed_admission_rolls_back_memory_and_propagates() -> None:
    """A permanent store error on admission leaves no live record and reaches the caller."""
    manager = RunManager(store=_FailingAdmitStore())
    with pytest.raises(RuntimeError, match="disk full"):
        await manager.create_or_reject("t")
    assert manager._runs == {}
    assert await manager.has_inflight("t") is False


async def test_cancelled_admission_rolls_back_memory() -> None:
    """A caller cancelled mid-admission leaves no live record behind."""
    store = _BlockingAdmitStore()
    manager = RunManager(store=store)
    task = asyncio.create_task(manager.create_or_reject("t"))
    await asyncio.wait_for(store.entered.wait(), timeout=5)
    assert len(manager._runs) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert manager._runs == {}


async def test_interrupt_cancels_live_task_and_waits_for_it_before_the_next_start() -> None:
    """The interrupted run's task is cancelled, and the new run starts only once it has unwound."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    old = await manager.create_or_reject("t")
    assert await manager.try_start(old.run_id)
    unwinding = asyncio.Event()
    finish_unwind = asyncio.Event()

    async def graph() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            unwinding.set()
            await finish_unwind.wait()  # e.g. the final checkpoint write
            raise

    old.task = asyncio.create_task(graph())
    await asyncio.sleep(0)
    new = await manager.create_or_reject("t", multitask_strategy="interrupt")
    assert (
        old.status is RunStatus.interrupted and old.abort_event.is_set() and old.abort_action == "interrupt"
    )
    await asyncio.wait_for(unwinding.wait(), timeout=5)
    start = asyncio.create_task(manager.try_start(new.run_id))
    await asyncio.sleep(0.01)
    assert not start.done(), "the new run started while the interrupted one still unwinds"
    finish_unwind.set()
    assert await asyncio.wait_for(start, timeout=5) is True
    assert old.task.done()
    assert new.status is RunStatus.running
    row = await store.get(old.run_id)
    assert row is not None and row["status"] == "interrupted"


async def test_try_start_refuses_cancelled_pending_run(manager: RunManager) -> None:
    """A pending run cancelled before it started never starts."""
    record = await manager.create_or_reject("t")
    assert await manager.cancel(record.run_id) is True
    assert await manager.try_start(record.run_id) is False
    assert record.status is RunStatus.interrupted


async def test_progress_is_written_only_while_running() -> None:
    """Progress snapshots land while running and are ignored once the run finished."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.running)
    await manager.update_run_progress(record.run_id, total_tokens=5, message_count=2)
    row = await store.get(record.run_id)
    assert row is not None and row["total_tokens"] == 5 and row["message_count"] == 2
    await manager.set_status(record.run_id, RunStatus.success)
    await manager.update_run_progress(record.run_id, total_tokens=99)
    row = await store.get(record.run_id)
    assert row is not None and row["total_tokens"] == 5 and record.total_tokens == 5


async def test_completion_never_changes_status() -> None:
    """A completion write carrying another status leaves the stored status alone."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.error, error="boom")
    await manager.update_run_completion(record.run_id, status="success", total_tokens=7)
    row = await store.get(record.run_id)
    assert row is not None and row["status"] == "error" and row["total_tokens"] == 7
    assert record.status is RunStatus.error


async def test_reads_are_scoped_by_user_for_live_records() -> None:
    """A live record of one user is invisible to another, in get and list."""
    manager = RunManager(store=MemoryRunStore())
    mine = await manager.create("t", user_id="alice")
    await manager.create("t", user_id="bob")
    assert await manager.get(mine.run_id, user_id="bob") is None
    assert await manager.get(mine.run_id, user_id="alice") is mine
    assert [r.run_id for r in await manager.list_by_thread("t", user_id="alice")] == [mine.run_id]


async def test_list_limit_is_not_crowded_out_by_live_duplicates() -> None:
    """Live runs that are also stored do not hide older store-only runs from a limited list."""
    store = MemoryRunStore()
    for i in range(3):
        await store.put(
            f"old-{i}", thread_id="t", status="success", created_at=f"2026-01-01T00:00:0{i}+00:00"
        )
    manager = RunManager(store=store)
    live = [await manager.create("t") for _ in range(2)]
    runs = await manager.list_by_thread("t", limit=4)
    assert [r.run_id for r in runs] == [live[1].run_id, live[0].run_id, "old-2", "old-1"]


async def test_shutdown_drain_survives_a_second_cancellation() -> None:
    """Cancelling shutdown() mid-drain does not abandon the drain; the cancel is re-raised after."""
    manager = RunManager(store=MemoryRunStore())
    record = await manager.create("t")
    await manager.set_status(record.run_id, RunStatus.running)
    unwinding = asyncio.Event()
    finish = asyncio.Event()

    async def graph() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            unwinding.set()
            await finish.wait()
            raise

    record.task = asyncio.create_task(graph())
    await asyncio.sleep(0)
    shutdown = asyncio.create_task(manager.shutdown(timeout=10.0))
    await asyncio.wait_for(unwinding.wait(), timeout=5)
    shutdown.cancel()
    await asyncio.sleep(0.01)
    assert not shutdown.done(), "a second cancellation cut the drain short"
    finish.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(shutdown, timeout=5)
    assert record.task.done()
    assert record.status is RunStatus.interrupted


async def test_adopt_orphaned_runs_requeues_them_under_their_run_id() -> None:
    """Runs left active by a dead process come back pending, live here, and start again."""
    store = MemoryRunStore()
    await store.put("was-running", thread_id="t1", status="running", created_at="2026-01-01T00:00:00+00:00")
    await store.put("was-pending", thread_id="t2", status="pending", created_at="2026-01-01T00:00:01+00:00")
    await store.put("done", thread_id="t3", status="success", created_at="2026-01-01T00:00:02+00:00")
    manager = RunManager(store=store)
    adopted = await manager.adopt_orphaned_runs(before="2026-06-01T00:00:00+00:00")
    assert {r.run_id for r in adopted} == {"was-running", "was-pending"}
    assert all(r.status is RunStatus.pending and not r.store_only for r in adopted)
    row = await store.get("was-running")
    assert row is not None and row["status"] == "pending"
    assert await manager.try_start("was-running") is True
    row = await store.get("was-running")
    assert row is not None and row["status"] == "running" and row["attempt"] == 1


async def test_adopt_orphaned_runs_gives_up_after_max_attempts() -> None:
    """A run that already used its attempts ends error with a message saying why."""
    store = MemoryRunStore()
    await store.put("r", thread_id="t", status="pending", created_at="2026-01-01T00:00:00+00:00")
    manager = RunManager(store=store)
    for _ in range(2):
        (record,) = await manager.adopt_orphaned_runs()
        assert await manager.try_start(record.run_id)
        manager._runs.clear()  # the process dies mid-run
    assert await manager.adopt_orphaned_runs(max_attempts=2) == []
    row = await store.get("r")
    assert row is not None and row["status"] == "error"
    assert "abandoned after 2 attempt(s)" in row["error"]


async def test_shutdown_with_requeue_puts_unsettled_runs_back_to_pending() -> None:
    """The server's drain requeues runs that did not settle, so the next start resumes them."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await manager.create_or_reject("t")
    assert await manager.try_start(record.run_id)
    record.task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    await manager.shutdown(timeout=5.0, requeue=True)
    assert record.task.cancelled()
    assert record.status is RunStatus.pending
    row = await store.get(record.run_id)
    assert row is not None and row["status"] == "pending"
    restarted = RunManager(store=store)
    (adopted,) = await restarted.adopt_orphaned_runs()
    assert adopted.run_id == record.run_id
    assert await restarted.try_start(record.run_id)
    assert adopted.attempt == 2
