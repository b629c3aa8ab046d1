"""RunManager behaviour demanded by the seed (DeerFlow ``tests/test_run_manager.py``).

Covers the registry (create, get, list, cancel, cleanup), durable backing in a MemoryRunStore
(hydration after a restart, user scoping, memory precedence) and store failures: transient
SQLite locks are retried, permanent errors are not, lost rows are re-created, and a failing
store degrades reads instead of raising.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

import pytest
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError

from runyard.runs import DisconnectMode, RunManager, RunStatus
from runyard.runs.manager import PersistenceRetryPolicy
from runyard.runs.store.memory import MemoryRunStore

ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
RESTART_ERROR = "Gateway restarted before this run reached a durable final state."
MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"


# -- store doubles ---------------------------------------------------------------------------


def _locked() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked")


class LockedThenOkStatusStore(MemoryRunStore):
    """Status writes fail with a SQLite lock for the first ``failures`` calls, then succeed."""

    def __init__(self, *, failures: int) -> None:
        super().__init__()
        self.failures_left = failures
        self.status_update_attempts = 0

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        self.status_update_attempts += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise _locked()
        return await super().update_status(run_id, status, error=error)


class AlwaysLockedStatusStore(MemoryRunStore):
    """Every status write fails with a SQLite lock."""

    def __init__(self) -> None:
        super().__init__()
        self.status_update_attempts = 0

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        self.status_update_attempts += 1
        raise _locked()


class NoRowStatusStore(MemoryRunStore):
    """Status writes go through but always report that no row matched."""

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        await super().update_status(run_id, status, error=error)
        return False


class MissingTableStatusStore(MemoryRunStore):
    """Status writes fail with a permanent SQLAlchemy error (the runs table is gone)."""

    def __init__(self) -> None:
        super().__init__()
        self.status_update_attempts = 0

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        self.status_update_attempts += 1
        raise SQLAlchemyDatabaseError(
            "UPDATE runs SET status = :status WHERE run_id = :run_id",
            {"status": status, "run_id": run_id},
            sqlite3.DatabaseError("no such table: runs"),
        )


class FirstCompletionMissesStore(MemoryRunStore):
    """The first completion write reports a missing row; later ones write normally."""

    def __init__(self) -> None:
        super().__init__()
        self.completion_update_attempts = 0

    async def update_run_completion(self, run_id: str, *, status: str | None = None, **fields: Any) -> bool:
        self.completion_update_attempts += 1
        if self.completion_update_attempts == 1:
            return False
        return await super().update_run_completion(run_id, status=status, **fields)


class CompletionAlwaysMissesStore(MemoryRunStore):
    """Every completion write reports a missing row, even after the row is re-created."""

    def __init__(self) -> None:
        super().__init__()
        self.completion_update_attempts = 0

    async def update_run_completion(self, run_id: str, *, status: str | None = None, **fields: Any) -> bool:
        self.completion_update_attempts += 1
        return False


class UnreachableGetStore(MemoryRunStore):
    """Single-row reads fail as if the database were down."""

    async def get(self, run_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        raise RuntimeError("db down")


class UnreachableListStore(MemoryRunStore):
    """Per-thread listings fail as if the database were down."""

    async def list_by_thread(
        self, thread_id: str, *, user_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        raise RuntimeError("db down")


async def stored_status(store: MemoryRunStore, run_id: str) -> str | None:
    row = await store.get(run_id)
    return None if row is None else row["status"]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def manager() -> RunManager:
    return RunManager()


@pytest.fixture
def store() -> MemoryRunStore:
    return MemoryRunStore()


@pytest.fixture
def backed_manager(store: MemoryRunStore) -> RunManager:
    """A RunManager on a MemoryRunStore, for the restart (store fallback) scenarios."""
    return RunManager(store=store)


# -- registry basics --------------------------------------------------------------------------


async def test_create_and_get(manager: RunManager) -> None:
    """create() returns a pending record carrying every field it was given, and get() returns it."""
    record = await manager.create(
        "thread-1",
        "lead_agent",
        metadata={"key": "val"},
        kwargs={"input": {}},
        multitask_strategy="reject",
    )

    assert record.status == RunStatus.pending
    assert record.thread_id == "thread-1"
    assert record.assistant_id == "lead_agent"
    assert record.metadata == {"key": "val"}
    assert record.kwargs == {"input": {}}
    assert record.multitask_strategy == "reject"
    assert ISO_TIMESTAMP.match(record.created_at)
    assert ISO_TIMESTAMP.match(record.updated_at)
    assert await manager.get(record.run_id) is record


async def test_status_transitions(manager: RunManager) -> None:
    """set_status moves a run pending -> running -> success and restamps updated_at."""
    record = await manager.create("thread-1")
    assert record.status == RunStatus.pending

    await manager.set_status(record.run_id, RunStatus.running)
    assert record.status == RunStatus.running
    assert ISO_TIMESTAMP.match(record.updated_at)

    await manager.set_status(record.run_id, RunStatus.success)
    assert record.status == RunStatus.success


async def test_cancel(manager: RunManager) -> None:
    """cancel() on a running run sets its abort event and marks it interrupted."""
    record = await manager.create("thread-1")
    await manager.set_status(record.run_id, RunStatus.running)

    assert await manager.cancel(record.run_id) is True
    assert record.abort_event.is_set()
    assert record.status == RunStatus.interrupted


async def test_cancel_persists_interrupted_status_to_store(store: MemoryRunStore) -> None:
    """cancel() writes the interrupted status through to the store."""
    manager = RunManager(store=store)
    record = await manager.create("thread-1")
    await manager.set_status(record.run_id, RunStatus.running)

    cancelled = await manager.cancel(record.run_id)

    row = await store.get(record.run_id)
    assert cancelled is True
    assert row is not None
    assert row["status"] == "interrupted"


async def test_cancel_not_inflight(manager: RunManager) -> None:
    """cancel() refuses (returns False) a run that already finished."""
    record = await manager.create("thread-1")
    await manager.set_status(record.run_id, RunStatus.success)

    assert await manager.cancel(record.run_id) is False
    assert record.status == RunStatus.success


async def test_list_by_thread(manager: RunManager) -> None:
    """list_by_thread returns only the thread's runs, newest first."""
    first = await manager.create("thread-1")
    second = await manager.create("thread-1")
    await manager.create("thread-2")

    runs = await manager.list_by_thread("thread-1")

    assert len(runs) == 2
    assert runs[0].run_id == second.run_id
    assert runs[1].run_id == first.run_id


async def test_list_by_thread_is_stable_when_timestamps_tie(
    manager: RunManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs with identical created_at are listed in insertion order."""
    monkeypatch.setattr("runyard.runs.manager._now_iso", lambda: "2026-01-01T00:00:00+00:00")
    first = await manager.create("thread-1")
    second = await manager.create("thread-1")
    assert first.created_at == second.created_at

    runs = await manager.list_by_thread("thread-1")

    assert [run.run_id for run in runs] == [first.run_id, second.run_id]


async def test_has_inflight(manager: RunManager) -> None:
    """has_inflight is True while a run is pending and False once it has finished."""
    record = await manager.create("thread-1")
    assert await manager.has_inflight("thread-1") is True

    await manager.set_status(record.run_id, RunStatus.success)
    assert await manager.has_inflight("thread-1") is False


async def test_cleanup(manager: RunManager) -> None:
    """cleanup() with no delay drops the run from the registry."""
    record = await manager.create("thread-1")

    await manager.cleanup(record.run_id, delay=0)

    assert await manager.get(record.run_id) is None


async def test_set_status_with_error(manager: RunManager) -> None:
    """set_status(error, error=...) keeps the error message on the record."""
    record = await manager.create("thread-1")

    await manager.set_status(record.run_id, RunStatus.error, error="Something went wrong")

    assert record.status == RunStatus.error
    assert record.error == "Something went wrong"


async def test_get_nonexistent(manager: RunManager) -> None:
    """get() of an unknown run id returns None."""
    assert await manager.get("does-not-exist") is None


async def test_create_record_is_not_store_only(manager: RunManager) -> None:
    """A record made by create() is live, not a store-only snapshot."""
    record = await manager.create("thread-1")
    assert record.store_only is False


async def test_create_defaults(manager: RunManager) -> None:
    """create() without optional arguments uses empty metadata/kwargs, reject, no assistant."""
    record = await manager.create("thread-1")

    assert record.metadata == {}
    assert record.kwargs == {}
    assert record.multitask_strategy == "reject"
    assert record.assistant_id is None


# -- status persistence under store failures --------------------------------------------------


async def test_status_persistence_retries_transient_sqlite_lock() -> None:
    """A transient "database is locked" is retried so the final status still lands."""
    store = LockedThenOkStatusStore(failures=2)
    manager = RunManager(store=store)
    record = await manager.create("thread-1")

    await manager.set_status(record.run_id, RunStatus.running)
    await manager.set_status(record.run_id, RunStatus.success)

    row = await store.get(record.run_id)
    assert row is not None
    assert row["status"] == "success"
    assert store.status_update_attempts >= 4
    assert record.status == RunStatus.success


async def test_status_persistence_recreates_missing_store_row() -> None:
    """A final status write that finds the row gone re-creates it with status and error."""
    store = NoRowStatusStore()
    manager = RunManager(store=store)
    record = await manager.create("thread-1")
    await store.delete(record.run_id)
    assert await store.get(record.run_id) is None

    await manager.set_status(record.run_id, RunStatus.error, error="boom")

    row = await store.get(record.run_id)
    assert row is not None
    assert row["status"] == "error"
    assert row["error"] == "boom"
    assert row["thread_id"] == "thread-1"


async def test_status_persistence_does_not_retry_permanent_sqlalchemy_errors() -> None:
    """A permanent SQLAlchemy error (missing table) is tried once, not retried as lock pressure."""
    store = MissingTableStatusStore()
    manager = RunManager(
        store=store,
        persistence_retry_policy=PersistenceRetryPolicy(max_attempts=5, initial_delay=0),
    )
    record = await manager.create("thread-1")

    await manager.set_status(record.run_id, RunStatus.error, error="boom")

    assert store.status_update_attempts == 1
    assert record.status == RunStatus.error


async def test_completion_persistence_recreates_missing_store_row() -> None:
    """A completion write that misses its row re-creates it and lands the final counters."""
    store = FirstCompletionMissesStore()
    manager = RunManager(store=store)
    record = await manager.create("thread-1")
    await manager.set_status(record.run_id, RunStatus.running)
    await manager.set_status(record.run_id, RunStatus.success)
    await store.delete(record.run_id)

    await manager.update_run_completion(
        record.run_id,
        status="success",
        total_tokens=42,
        llm_call_count=2,
        last_ai_message="done",
    )

    row = await store.get(record.run_id)
    assert row is not None
    assert row["status"] == "success"
    assert row["total_tokens"] == 42
    assert row["llm_call_count"] == 2
    assert row["last_ai_message"] == "done"
    assert store.completion_update_attempts == 2


async def test_completion_persistence_warns_when_recreated_row_still_missing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A completion write that still matches no row after re-creation is logged, not silent."""
    store = CompletionAlwaysMissesStore()
    manager = RunManager(store=store)
    record = await manager.create("thread-1")
    await manager.set_status(record.run_id, RunStatus.success)
    caplog.set_level(logging.WARNING, logger="runyard.runs.manager")

    await manager.update_run_completion(record.run_id, status="success", total_tokens=42)

    assert store.completion_update_attempts == 2
    assert "affected no rows after row recreation" in caplog.text


# -- startup reconciliation -------------------------------------------------------------------


async def test_reconcile_orphaned_inflight_runs_marks_stale_rows_error(store: MemoryRunStore) -> None:
    """Active rows older than the cutoff become errors; finished rows are left alone."""
    await store.put(
        "pending-run", thread_id="thread-1", status="pending", created_at="2026-01-01T00:00:00+00:00"
    )
    await store.put(
        "running-run", thread_id="thread-1", status="running", created_at="2026-01-01T00:00:01+00:00"
    )
    await store.put(
        "success-run", thread_id="thread-1", status="success", created_at="2026-01-01T00:00:02+00:00"
    )
    manager = RunManager(store=store)

    recovered = await manager.reconcile_orphaned_inflight_runs(
        error=RESTART_ERROR,
        before="2026-01-01T00:00:02+00:00",
    )

    assert {record.run_id for record in recovered} == {"pending-run", "running-run"}
    assert {
        run_id: await stored_status(store, run_id) for run_id in ("pending-run", "running-run", "success-run")
    } == {
        "pending-run": "error",
        "running-run": "error",
        "success-run": "success",
    }
    assert all(record.status == RunStatus.error and record.error == RESTART_ERROR for record in recovered)


async def test_reconcile_orphaned_inflight_runs_skips_live_local_run(store: MemoryRunStore) -> None:
    """An active row whose run this process still owns is not treated as orphaned."""
    manager = RunManager(store=store)
    record = await manager.create("thread-1")
    await manager.set_status(record.run_id, RunStatus.running)

    recovered = await manager.reconcile_orphaned_inflight_runs(error=RESTART_ERROR)

    assert recovered == []
    assert await stored_status(store, record.run_id) == "running"
    assert record.status == RunStatus.running


async def test_reconcile_orphaned_inflight_runs_skips_rows_when_error_status_is_not_persisted() -> None:
    """A row whose error status could not be written is not reported as recovered."""
    store = AlwaysLockedStatusStore()
    await store.put(
        "running-run", thread_id="thread-1", status="running", created_at="2026-01-01T00:00:00+00:00"
    )
    manager = RunManager(
        store=store,
        persistence_retry_policy=PersistenceRetryPolicy(max_attempts=2, initial_delay=0),
    )

    recovered = await manager.reconcile_orphaned_inflight_runs(
        error=RESTART_ERROR,
        before="2026-01-01T00:00:01+00:00",
    )

    assert recovered == []
    assert await stored_status(store, "running-run") == "running"
    assert store.status_update_attempts == 2


# -- reads backed by the store ----------------------------------------------------------------


async def test_get_hydrates_store_only_run(store: MemoryRunStore) -> None:
    """A run known only to the store reads back as a store-only record with every column."""
    await store.put(
        "run-store-only",
        thread_id="thread-1",
        assistant_id="lead_agent",
        status="success",
        multitask_strategy="reject",
        metadata={"source": "store"},
        kwargs={"input": "value"},
        created_at="2026-01-01T00:00:00+00:00",
        model_name="model-a",
    )
    manager = RunManager(store=store)

    record = await manager.get("run-store-only")

    assert record is not None
    assert record.run_id == "run-store-only"
    assert record.thread_id == "thread-1"
    assert record.assistant_id == "lead_agent"
    assert record.status == RunStatus.success
    assert record.on_disconnect == DisconnectMode.cancel
    assert record.multitask_strategy == "reject"
    assert record.metadata == {"source": "store"}
    assert record.kwargs == {"input": "value"}
    assert record.model_name == "model-a"
    assert record.task is None
    assert record.store_only is True


async def test_get_hydrates_run_with_null_enum_fields(store: MemoryRunStore) -> None:
    """A row with NULL status/on_disconnect hydrates as pending/cancel instead of raising."""
    await store.put(
        "run-null-status", thread_id="thread-1", status=None, created_at="2026-01-01T00:00:00+00:00"
    )
    manager = RunManager(store=store)

    record = await manager.get("run-null-status")

    assert record is not None
    assert record.status == RunStatus.pending
    assert record.on_disconnect == DisconnectMode.cancel
    assert record.store_only is True


async def test_list_by_thread_hydrates_run_with_null_enum_fields(store: MemoryRunStore) -> None:
    """list_by_thread keeps a NULL-status row and gives it the safe defaults."""
    await store.put(
        "run-null-status-list", thread_id="thread-null", status=None, created_at="2026-01-01T00:00:00+00:00"
    )
    manager = RunManager(store=store)

    runs = await manager.list_by_thread("thread-null")

    assert len(runs) == 1
    assert runs[0].run_id == "run-null-status-list"
    assert runs[0].status == RunStatus.pending
    assert runs[0].on_disconnect == DisconnectMode.cancel


async def test_get_prefers_in_memory_record_over_store(store: MemoryRunStore) -> None:
    """When memory and store both know a run, get() returns the live record, not the row."""
    manager = RunManager(store=store)
    record = await manager.create("thread-1")
    await store.update_status(record.run_id, "success")

    fetched = await manager.get(record.run_id)

    assert fetched is record
    assert fetched.status == RunStatus.pending


async def test_list_by_thread_merges_store_runs_newest_first(store: MemoryRunStore) -> None:
    """Live and store-only runs of the thread are merged newest first, the live one as is."""
    await store.put(
        "old-store", thread_id="thread-1", status="success", created_at="2026-01-01T00:00:00+00:00"
    )
    await store.put(
        "other-thread", thread_id="thread-2", status="success", created_at="2026-01-03T00:00:00+00:00"
    )
    manager = RunManager(store=store)
    live = await manager.create("thread-1")

    runs = await manager.list_by_thread("thread-1")

    assert [run.run_id for run in runs] == [live.run_id, "old-store"]
    assert runs[0] is live
    assert runs[1].store_only is True


# -- admission through create_or_reject -------------------------------------------------------


async def test_model_name_create_or_reject(store: MemoryRunStore) -> None:
    """create_or_reject keeps model_name on the record, in the store and on later reads."""
    manager = RunManager(store=store)

    record = await manager.create_or_reject(
        "thread-1",
        assistant_id="lead_agent",
        on_disconnect=DisconnectMode.cancel,
        metadata={"key": "val"},
        kwargs={"input": {}},
        multitask_strategy="reject",
        model_name=MODEL,
    )

    assert record.model_name == MODEL
    assert record.status == RunStatus.pending
    row = await store.get(record.run_id)
    assert row is not None
    assert row["model_name"] == MODEL
    fetched = await manager.get(record.run_id)
    assert fetched is not None
    assert fetched.model_name == MODEL


# One seed test per strategy: test_create_or_reject_{interrupt,rollback}_persists_interrupted_status_to_store.
@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_create_or_reject_cancelling_strategy_persists_interrupted_status_to_store(
    store: MemoryRunStore, strategy: str
) -> None:
    """interrupt/rollback admission marks the thread's running run interrupted, in the store too."""
    manager = RunManager(store=store)
    old = await manager.create("thread-1")
    await manager.set_status(old.run_id, RunStatus.running)

    new = await manager.create_or_reject("thread-1", multitask_strategy=strategy)

    old_row = await store.get(old.run_id)
    assert new.run_id != old.run_id
    assert old.status == RunStatus.interrupted
    assert old_row is not None
    assert old_row["status"] == "interrupted"
    assert old.abort_action == strategy


async def test_model_name_default_is_none(store: MemoryRunStore) -> None:
    """create_or_reject with model_name=None stores no model name."""
    manager = RunManager(store=store)

    record = await manager.create_or_reject("thread-1", on_disconnect=DisconnectMode.cancel, model_name=None)

    assert record.model_name is None
    row = await store.get(record.run_id)
    assert row is not None
    assert row["model_name"] is None


# -- store fallback after a restart (the live registry cleared) -------------------------------


async def test_list_by_thread_returns_store_records_after_restart(backed_manager: RunManager) -> None:
    """With the live registry cleared, list_by_thread still returns the runs from the store."""
    first = await backed_manager.create("thread-1", "agent-1")
    await backed_manager.set_status(first.run_id, RunStatus.success)
    second = await backed_manager.create("thread-1", "agent-2")
    await backed_manager.set_status(second.run_id, RunStatus.error, error="boom")

    backed_manager._runs.clear()
    runs = await backed_manager.list_by_thread("thread-1")

    assert len(runs) == 2
    statuses = {run.run_id: run.status for run in runs}
    assert statuses[first.run_id] == RunStatus.success
    assert statuses[second.run_id] == RunStatus.error
    for run in runs:
        assert run.thread_id == "thread-1"
        assert ISO_TIMESTAMP.match(run.created_at)
        assert run.store_only is True


async def test_list_by_thread_merges_in_memory_and_store(backed_manager: RunManager) -> None:
    """After a restart, a new live run is listed with the stored ones, as the live object."""
    before_restart = await backed_manager.create("thread-1")
    await backed_manager.set_status(before_restart.run_id, RunStatus.success)
    backed_manager._runs.clear()
    after_restart = await backed_manager.create("thread-1")

    runs = await backed_manager.list_by_thread("thread-1")

    assert len(runs) == 2
    assert {run.run_id for run in runs} == {before_restart.run_id, after_restart.run_id}
    assert next(run for run in runs if run.run_id == after_restart.run_id) is after_restart


async def test_list_by_thread_no_store() -> None:
    """Without a store, runs dropped from the registry are gone from listings."""
    manager = RunManager()
    await manager.create("thread-1")
    manager._runs.clear()

    assert await manager.list_by_thread("thread-1") == []


async def test_aget_returns_in_memory_record(backed_manager: RunManager) -> None:
    """aget returns the live record object when the run is in memory."""
    record = await backed_manager.create("thread-1", "agent-1")

    assert await backed_manager.aget(record.run_id) is record


async def test_aget_falls_back_to_store(backed_manager: RunManager) -> None:
    """aget reads a run from the store once it is no longer in memory."""
    record = await backed_manager.create("thread-1", "agent-1")
    await backed_manager.set_status(record.run_id, RunStatus.success)
    backed_manager._runs.clear()

    fetched = await backed_manager.aget(record.run_id)

    assert fetched is not None
    assert fetched is not record
    assert fetched.run_id == record.run_id
    assert fetched.status == RunStatus.success
    assert fetched.thread_id == "thread-1"
    assert fetched.assistant_id == "agent-1"


async def test_aget_falls_back_to_store_with_user_filter(store: MemoryRunStore) -> None:
    """aget of a store-only run is visible to its owner and hidden from another user."""
    await store.put("run-1", thread_id="thread-1", user_id="user-1", status="success")
    manager = RunManager(store=store)

    allowed = await manager.aget("run-1", user_id="user-1")
    denied = await manager.aget("run-1", user_id="user-2")

    assert allowed is not None
    assert allowed.run_id == "run-1"
    assert denied is None


async def test_aget_returns_none_for_unknown(backed_manager: RunManager) -> None:
    """aget of a run id neither memory nor store knows returns None."""
    assert await backed_manager.aget("nonexistent-run-id") is None


async def test_aget_store_failure_is_graceful() -> None:
    """A store that raises on read makes aget return None rather than propagate."""
    manager = RunManager(store=UnreachableGetStore())

    assert await manager.aget("some-id") is None


async def test_list_by_thread_store_failure_is_graceful() -> None:
    """A store that raises on listing makes list_by_thread return just the live runs."""
    manager = RunManager(store=UnreachableListStore())
    record = await manager.create("thread-1")

    runs = await manager.list_by_thread("thread-1")

    assert len(runs) == 1
    assert runs[0].run_id == record.run_id


async def test_list_by_thread_falls_back_to_store_with_user_filter(store: MemoryRunStore) -> None:
    """list_by_thread with user_id lists only that user's stored runs."""
    await store.put("run-1", thread_id="thread-1", user_id="user-1", status="success")
    await store.put("run-2", thread_id="thread-1", user_id="user-2", status="success")
    manager = RunManager(store=store)

    runs = await manager.list_by_thread("thread-1", user_id="user-1")

    assert [run.run_id for run in runs] == ["run-1"]
