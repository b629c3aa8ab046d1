"""``RunManager``: the process's registry of runs, backed by a durable ``RunStore``.

Process memory holds what only this process can have (a run's task and abort signal); the store
holds what must survive it (status, usage, history). Admission and status writes are decided by
the store's guarded writes (``runs/store/base.py``), so two managers on one database agree.

Concurrency: every method runs on one event loop. A section without ``await`` is atomic there,
which is what protects ``_runs``; admissions on one thread are serialised by a per-thread lock so
the local in-flight check and the durable insert cannot interleave with another admission.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from .clock import now_iso, parse_iso
from .errors import ConflictError
from .record import RunRecord
from .retry import PersistenceRetryPolicy, RetryCounter, call_with_retry
from .schemas import DisconnectMode, RunStatus, is_transition_allowed
from .store.base import RunStore, validate_strategy

__all__ = ["PersistenceRetryPolicy", "RunManager"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Module-level so tests can pin time (``monkeypatch.setattr(manager, "_now_iso", ...)``).
_now_iso = now_iso

_CANCEL_ACTIONS = ("interrupt", "rollback")


class RemoteRuns(Protocol):
    """What the manager asks of cluster mode for runs another process may execute."""

    async def cancel(self, run_id: str, action: str) -> bool: ...

    async def cancelled_elsewhere(self, run_ids: list[str], action: str) -> None: ...


class _RunIndex(dict[str, RunRecord]):
    """The live records by run id, and by thread: per-thread lookups without a scan of all runs.

    A record's thread never changes, so the thread index follows the writes to the dict; within
    a thread, records keep the dict's insertion order.
    """

    def __init__(self) -> None:
        super().__init__()
        self._by_thread: dict[str, dict[str, RunRecord]] = {}

    def __setitem__(self, run_id: str, record: RunRecord) -> None:
        old = self.get(run_id)
        if old is not None and old.thread_id != record.thread_id:
            self._unindex(old)
        super().__setitem__(run_id, record)
        self._by_thread.setdefault(record.thread_id, {})[run_id] = record

    def __delitem__(self, run_id: str) -> None:
        record = self[run_id]
        super().__delitem__(run_id)
        self._unindex(record)

    def pop(self, run_id: str, default: Any = None) -> Any:
        record = super().pop(run_id, None)
        if record is None:
            return default
        self._unindex(record)
        return record

    def clear(self) -> None:
        super().clear()
        self._by_thread.clear()

    def on_thread(self, thread_id: str) -> list[RunRecord]:
        """The thread's records, in insertion order."""
        records = self._by_thread.get(thread_id)
        return list(records.values()) if records else []

    def _unindex(self, record: RunRecord) -> None:
        records = self._by_thread.get(record.thread_id)
        if records is not None:
            records.pop(record.run_id, None)
            if not records:
                del self._by_thread[record.thread_id]


def _default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RunManager:
    """Registry of this process's runs with durable backing; see the module docstring."""

    def __init__(
        self,
        store: RunStore | None = None,
        *,
        persistence_retry_policy: PersistenceRetryPolicy | None = None,
        owner: str | None = None,
        max_finished_records: int = 1000,
        finished_record_ttl: float = 300.0,
    ) -> None:
        self._runs = _RunIndex()
        self._store = store
        self._policy = persistence_retry_policy or PersistenceRetryPolicy()
        self.owner = owner or _default_owner()
        self.retries = RetryCounter()
        self._max_finished = max_finished_records
        self._finished_ttl = finished_record_ttl
        self._finished: deque[str] = deque()
        self._thread_locks: dict[str, asyncio.Lock] = {}
        self._thread_lock_users: dict[str, int] = {}
        # Cluster mode (``runs.queue.ClusterQueue``): runs this process does not execute.
        self.remote: RemoteRuns | None = None

    @property
    def store(self) -> RunStore | None:
        return self._store

    # -- persistence helpers ---------------------------------------------------------------

    async def _retry(self, describe: str, operation: Callable[[], Awaitable[T]]) -> T:
        return await call_with_retry(
            operation, policy=self._policy, describe=describe, logger=logger, counter=self.retries
        )

    async def _recreate_row(self, run_id: str, payload: dict[str, Any]) -> bool:
        """Re-create a lost row from the live record; True when a row exists afterwards."""
        store = self._store
        if store is None:
            return True
        try:
            await self._retry(f"put for run {run_id}", lambda: store.put_if_absent(run_id, **payload))
        except Exception:
            logger.warning("Failed to re-create the row of run %s", run_id, exc_info=True)
            return False
        return True

    async def _persist_status(
        self, record: RunRecord, status: RunStatus, *, error: str | None = None
    ) -> bool:
        """Best-effort durable status write; True when the row ends with ``status``.

        A write that matches no row either found the row missing (re-created from the record)
        or lost to a terminal status another writer set first (kept, and reported).
        """
        store = self._store
        if store is None:
            return True
        run_id = record.run_id
        try:
            if await self._retry(
                f"update_status for run {run_id}",
                lambda: store.update_status(run_id, status.value, error=error),
            ):
                return True
            row = await self._retry(f"get for run {run_id}", lambda: store.get(run_id))
        except Exception:
            logger.warning("Failed to persist status update for run %s", run_id, exc_info=True)
            return False
        if row is None:
            return await self._recreate_row(run_id, record.to_row(error=error))
        if row.get("status") == status.value:
            return True
        logger.warning(
            "Run %s keeps its stored status %s; the write of %s was refused",
            run_id,
            row.get("status"),
            status.value,
        )
        return False

    # -- registry bookkeeping --------------------------------------------------------------

    def _new_record(
        self,
        thread_id: str,
        assistant_id: str | None,
        *,
        on_disconnect: DisconnectMode,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any] | None,
        multitask_strategy: str,
        user_id: str | None,
        model_name: str | None,
        run_id: str | None,
    ) -> RunRecord:
        now = _now_iso()
        return RunRecord(
            run_id=run_id or str(uuid.uuid4()),
            thread_id=thread_id,
            assistant_id=assistant_id,
            status=RunStatus.pending,
            on_disconnect=on_disconnect,
            multitask_strategy=multitask_strategy,
            metadata=metadata or {},
            kwargs=kwargs or {},
            user_id=user_id,
            created_at=now,
            updated_at=now,
            model_name=model_name,
        )

    def _mark_finished(self, record: RunRecord) -> None:
        """Note a terminal record and evict old ones, so the registry stays bounded.

        Evicted runs remain readable through the store. A record whose task is still unwinding
        stays: shutdown must still drain it.
        """
        if record.finished_at is not None:
            return
        record.finished_at = time.monotonic()
        self._finished.append(record.run_id)
        cutoff = record.finished_at - self._finished_ttl
        kept: list[str] = []
        while self._finished:
            oldest_id = self._finished[0]
            oldest = self._runs.get(oldest_id)
            over_count = len(self._finished) + len(kept) > self._max_finished
            expired = oldest is not None and oldest.finished_at is not None and oldest.finished_at < cutoff
            if oldest is not None and not (over_count or expired):
                break
            self._finished.popleft()
            if oldest is None or oldest.status.is_active:
                continue
            if oldest.task is not None and not oldest.task.done():
                kept.append(oldest_id)
                continue
            del self._runs[oldest_id]
        self._finished.extendleft(reversed(kept))

    @staticmethod
    def _visible(record: RunRecord, user_id: str | None) -> bool:
        return user_id is None or record.user_id == user_id

    @asynccontextmanager
    async def _admission(self, thread_id: str) -> AsyncIterator[None]:
        """Serialise admissions on one thread; the lock is dropped once nobody holds or waits."""
        lock = self._thread_locks.setdefault(thread_id, asyncio.Lock())
        self._thread_lock_users[thread_id] = self._thread_lock_users.get(thread_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            users = self._thread_lock_users[thread_id] - 1
            if users:
                self._thread_lock_users[thread_id] = users
            else:
                del self._thread_lock_users[thread_id]
                del self._thread_locks[thread_id]

    def _inflight_on(self, thread_id: str) -> list[RunRecord]:
        return [r for r in self._runs.on_thread(thread_id) if r.status.is_active]

    # -- creation and admission ------------------------------------------------------------

    async def _register(
        self, record: RunRecord, describe: str, write: Callable[[RunStore], Awaitable[T]]
    ) -> T | None:
        """Make ``record`` live, then durable; withdraw it when the write fails.

        The withdrawal also covers cancellation of the caller, which ``except Exception`` does
        not see, so no reader ever finds a live run that has no row.
        """
        self._runs[record.run_id] = record
        persisted = False
        try:
            result: T | None = None
            store = self._store
            if store is not None:
                result = await self._retry(f"{describe} for run {record.run_id}", lambda: write(store))
            persisted = True
            return result
        except ConflictError:
            raise
        except Exception:
            logger.warning(
                "Failed to persist run %s; rolled back in-memory record", record.run_id, exc_info=True
            )
            raise
        finally:
            if not persisted:
                self._runs.pop(record.run_id, None)

    async def create(
        self,
        thread_id: str,
        assistant_id: str | None = None,
        *,
        on_disconnect: DisconnectMode = DisconnectMode.cancel,
        metadata: dict[str, Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        multitask_strategy: str = "reject",
        user_id: str | None = None,
        model_name: str | None = None,
    ) -> RunRecord:
        """Create a pending run without an admission check (``create_or_reject`` admits).

        The run is durable before this returns; if the write fails (or the caller is
        cancelled) the record is withdrawn from memory and the error propagates.
        """
        record = self._new_record(
            thread_id,
            assistant_id,
            on_disconnect=on_disconnect,
            metadata=metadata,
            kwargs=kwargs,
            multitask_strategy=multitask_strategy,
            user_id=user_id,
            model_name=model_name,
            run_id=None,
        )
        await self._register(record, "put", lambda store: store.put(record.run_id, **record.to_row()))
        logger.debug("Run created: run_id=%s thread_id=%s", record.run_id, thread_id)
        return record

    async def create_or_reject(
        self,
        thread_id: str,
        assistant_id: str | None = None,
        *,
        on_disconnect: DisconnectMode = DisconnectMode.cancel,
        metadata: dict[str, Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        multitask_strategy: str = "reject",
        model_name: str | None = None,
        user_id: str | None = None,
        run_id: str | None = None,
        not_before: str | None = None,
    ) -> RunRecord:
        """Admit a new pending run on ``thread_id`` under ``multitask_strategy``, atomically.

        ``reject`` raises ``ConflictError`` when the thread has an active run; ``interrupt`` and
        ``rollback`` cancel the active runs (their status becomes ``interrupted`` and
        ``abort_action`` tells the executor what to do with the checkpoint); ``enqueue`` admits
        the run as pending behind them. The check and the insert are one atomic step in the
        store, so admissions racing in other processes cannot both pass.
        """
        validate_strategy(multitask_strategy)
        async with self._admission(thread_id):
            inflight = self._inflight_on(thread_id)
            if multitask_strategy == "reject" and inflight:
                raise ConflictError(f"Thread {thread_id} already has an active run")
            record = self._new_record(
                thread_id,
                assistant_id,
                on_disconnect=on_disconnect,
                metadata=metadata,
                kwargs=kwargs,
                multitask_strategy=multitask_strategy,
                user_id=user_id,
                model_name=model_name,
                run_id=run_id,
            )
            record.not_before = not_before
            admitted = await self._register(
                record,
                "admit",
                lambda store: store.admit(record.run_id, strategy=multitask_strategy, **record.to_row()),
            )
            interrupted_ids: list[str] = admitted or []
            cancelled: list[RunRecord] = []
            if multitask_strategy in _CANCEL_ACTIONS:
                targets = {r.run_id: r for r in inflight}
                for other_id in interrupted_ids:
                    other = self._runs.get(other_id)
                    if other is not None and other.status.is_active:
                        targets[other_id] = other
                for other in targets.values():
                    self._signal_cancel(other, multitask_strategy)
                    cancelled.append(other)
        for other in cancelled:
            await self._persist_status(other, RunStatus.interrupted)
        elsewhere = [run_id for run_id in interrupted_ids if run_id not in self._runs]
        if elsewhere and self.remote is not None:
            await self.remote.cancelled_elsewhere(elsewhere, multitask_strategy)
        logger.debug("Run admitted: run_id=%s thread_id=%s", record.run_id, thread_id)
        return record

    def _signal_cancel(self, record: RunRecord, action: str) -> None:
        """Tell a live run to stop (abort event, task cancel) and mark it interrupted."""
        record.abort_action = action
        record.abort_event.set()
        if record.task is not None and not record.task.done():
            record.task.cancel()
        record.status = RunStatus.interrupted
        record.updated_at = _now_iso()
        self._mark_finished(record)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, run_id: str, *, user_id: str | None = None) -> RunRecord | None:
        """The live record, else one hydrated from the store (``store_only``); None if unseen.

        A store failure reads as None (logged), so a flaky database degrades reads, not the
        server.
        """
        record = self._runs.get(run_id)
        if record is not None:
            return record if self._visible(record, user_id) else None
        store = self._store
        if store is None:
            return None
        try:
            row = await store.get(run_id, user_id=user_id)
        except Exception:
            logger.warning("Failed to hydrate run %s from store", run_id, exc_info=True)
            return None
        # Re-check: a concurrent create() may have registered the live record meanwhile.
        record = self._runs.get(run_id)
        if record is not None:
            return record if self._visible(record, user_id) else None
        if row is None:
            return None
        try:
            return RunRecord.from_row(row)
        except Exception:
            logger.warning("Failed to map store row for run %s", run_id, exc_info=True)
            return None

    async def aget(self, run_id: str, *, user_id: str | None = None) -> RunRecord | None:
        """Alias of :meth:`get`, kept for callers of the seed API."""
        return await self.get(run_id, user_id=user_id)

    async def list_by_thread(
        self, thread_id: str, *, user_id: str | None = None, limit: int = 100
    ) -> list[RunRecord]:
        """The thread's runs, newest first, at most ``limit``; live records win on one run_id.

        Equal timestamps keep insertion order. When the store fails, only live runs are listed.
        """
        memory_records = [r for r in self._runs.on_thread(thread_id) if self._visible(r, user_id)]

        def newest_first(records: list[RunRecord]) -> list[RunRecord]:
            return sorted(records, key=lambda r: parse_iso(r.created_at), reverse=True)[: max(0, limit)]

        store = self._store
        if store is None:
            return newest_first(memory_records)
        try:
            # Ask for enough rows that live duplicates cannot crowd out store-only ones.
            rows = await store.list_by_thread(thread_id, user_id=user_id, limit=limit + len(memory_records))
        except Exception:
            logger.warning("Failed to hydrate runs for thread %s from store", thread_id, exc_info=True)
            return newest_first(memory_records)
        by_id = {r.run_id: r for r in memory_records}
        for row in rows:
            row_id = row.get("run_id")
            if not row_id or row_id in by_id:
                continue
            live = self._runs.get(row_id)
            if live is not None:
                if self._visible(live, user_id):
                    by_id[row_id] = live
                continue
            try:
                by_id[row_id] = RunRecord.from_row(row)
            except Exception:
                logger.warning("Failed to map store row for run %s", row_id, exc_info=True)
        return newest_first(list(by_id.values()))

    async def has_inflight(self, thread_id: str) -> bool:
        """True when a pending or running run on ``thread_id`` remains: one this process holds,
        or, in cluster mode, one any process holds (per the store)."""
        if self._inflight_on(thread_id):
            return True
        store = self._store
        if self.remote is None or store is None:
            return False
        try:
            rows = await store.list_by_thread(thread_id, limit=50)
        except Exception:
            logger.warning("Failed to read the runs of thread %s", thread_id, exc_info=True)
            return False
        return any(RunStatus(row.get("status") or "pending").is_active for row in rows)

    def live_records(self, thread_id: str | None = None) -> list[RunRecord]:
        """The records this process holds (optionally of one thread), for scheduling and cancels."""
        return list(self._runs.values()) if thread_id is None else self._runs.on_thread(thread_id)

    # -- transitions -----------------------------------------------------------------------

    def note_status(self, record: RunRecord, status: RunStatus, *, error: str | None = None) -> None:
        """Record in memory a status the store already holds (cluster mode's fenced writes)."""
        record.status = status
        record.updated_at = _now_iso()
        if error is not None:
            record.error = error
        if status.is_terminal:
            self._mark_finished(record)

    async def set_status(self, run_id: str, status: RunStatus, *, error: str | None = None) -> bool:
        """Move a live run to ``status``; False when unknown or refused.

        Refused: any write to a run already in a different terminal status (the first terminal
        status wins, so a run cancelled while finishing stays ``interrupted``).
        """
        record = self._runs.get(run_id)
        if record is None:
            logger.warning("set_status called for unknown run %s", run_id)
            return False
        if not is_transition_allowed(record.status, status):
            logger.info("Run %s is already %s; ignoring %s", run_id, record.status.value, status.value)
            return False
        record.status = status
        record.updated_at = _now_iso()
        if error is not None:
            record.error = error
        if status.is_terminal:
            self._mark_finished(record)
        await self._persist_status(record, status, error=error)
        logger.debug("Run %s -> %s", run_id, status.value)
        return True

    async def try_start(self, run_id: str, *, lease_expires_at: str | None = None) -> bool:
        """Claim a pending live run for this process; True when it is now running here.

        Refused while another run on the thread runs, or an older pending run waits (enqueue
        order), or the run was cancelled. Runs interrupted by this admission whose tasks are
        still unwinding are awaited first, so two graphs never write one thread at once.
        """
        record = self._runs.get(run_id)
        if record is None or record.status is not RunStatus.pending or record.abort_event.is_set():
            return False
        unwinding = [
            r.task
            for r in self._runs.on_thread(record.thread_id)
            if r is not record and r.status.is_terminal and r.task is not None and not r.task.done()
        ]
        if unwinding:
            await asyncio.wait(unwinding)
        store = self._store
        if store is None:
            mates = self._runs.on_thread(record.thread_id)
            if any(r.status is RunStatus.running for r in mates):
                return False
            pending = [r for r in mates if r.status is RunStatus.pending]
            started = pending[0] is record if pending else False
        else:
            try:
                started = await self._retry(
                    f"start for run {run_id}",
                    lambda: store.start(run_id, owner=self.owner, lease_expires_at=lease_expires_at),
                )
            except Exception:
                logger.warning("Failed to claim run %s", run_id, exc_info=True)
                return False
        if not started or record.status is not RunStatus.pending:
            return False
        record.status = RunStatus.running
        record.owner = self.owner
        record.attempt += 1
        record.lease_expires_at = lease_expires_at
        record.updated_at = _now_iso()
        return True

    async def next_pending(self, thread_id: str) -> RunRecord | None:
        """The live pending run that ``try_start`` would accept next on ``thread_id``."""
        local = [r for r in self._runs.on_thread(thread_id) if r.status is RunStatus.pending]
        store = self._store
        if store is None or not local:
            return local[0] if local else None
        try:
            row = await store.next_pending(thread_id)
        except Exception:
            logger.warning("Failed to read the next pending run of thread %s", thread_id, exc_info=True)
            return None
        if row is None:
            return None
        record = self._runs.get(row["run_id"])
        return record if record is not None and record.status is RunStatus.pending else None

    async def cancel(self, run_id: str, *, action: str = "interrupt") -> bool:
        """Stop a live run: ``interrupt`` keeps its checkpoint, ``rollback`` asks for the
        pre-run state back (the executor acts on ``abort_action``).

        True when cancellation was initiated, or the run was already interrupted (a second
        cancel is a no-op success); False when the run is unknown here or finished otherwise.
        """
        if action not in _CANCEL_ACTIONS:
            raise ValueError(
                f"Unknown cancel action '{action}'. Supported actions: {', '.join(_CANCEL_ACTIONS)}"
            )
        if self.remote is not None:
            return await self.remote.cancel(run_id, action)
        record = self._runs.get(run_id)
        if record is None:
            return False
        if record.status is RunStatus.interrupted:
            return True
        if not record.status.is_active:
            return False
        self._signal_cancel(record, action)
        await self._persist_status(record, RunStatus.interrupted)
        logger.info("Run %s cancelled (action=%s)", run_id, action)
        return True

    def cancel_local(self, run_id: str, action: str) -> RunRecord | None:
        """Stop a run executing here whose cancel another process already made durable."""
        record = self._runs.get(run_id)
        if record is None or record.task is None or record.task.done() or record.abort_event.is_set():
            return None
        self._signal_cancel(record, action)
        return record

    def forget(self, run_id: str) -> None:
        """Drop a live record that this process will not execute (cluster mode: whichever
        process claims the run executes it), so reads here come from the store, not a stale copy."""
        self._runs.pop(run_id, None)

    def adopt_claimed(self, row: dict[str, Any]) -> RunRecord:
        """Make a run this process just claimed live here (it may have been admitted elsewhere)."""
        record = RunRecord.from_row(row)
        record.store_only = False
        self._runs[record.run_id] = record
        return record

    async def delete(self, run_id: str) -> bool:
        """Forget a run here and in the store (a rolled-back run, a deleted thread's runs).

        An active run is not deleted: cancel it first. True when a row or record was removed.
        """
        record = self._runs.get(run_id)
        if record is not None and record.status.is_active:
            raise ConflictError(f"Run {run_id} is still {record.status.value}; cancel it before deleting it")
        removed = self._runs.pop(run_id, None) is not None
        store = self._store
        if store is not None:
            removed = await self._retry(f"delete for run {run_id}", lambda: store.delete(run_id)) or removed
        return removed

    def unsettled(self) -> list[RunRecord]:
        """This process's runs that are active, or whose task is still unwinding."""
        return [
            r for r in self._runs.values() if r.status.is_active or (r.task is not None and not r.task.done())
        ]

    async def delete_all(self) -> int:
        """Forget every run, here and in the store (dev mode's truncation); return how many rows went.

        Raises ``ConflictError`` while a run of this process is unsettled: cancel and await it first.
        """
        unsettled = self.unsettled()
        if unsettled:
            raise ConflictError(
                f"{len(unsettled)} run(s) still active ({unsettled[0].run_id}, ...); cancel them first"
            )
        removed = len(self._runs)
        self._runs.clear()
        self._finished.clear()
        store = self._store
        if store is not None:
            removed = await self._retry("delete_all", store.delete_all)
        return removed

    async def update_model_name(self, run_id: str, model_name: str | None) -> None:
        """Record which model a run used (known only once the graph picks one)."""
        record = self._runs.get(run_id)
        if record is None:
            logger.warning("update_model_name called for unknown run %s", run_id)
            return
        record.model_name = model_name
        record.updated_at = _now_iso()
        store = self._store
        if store is None:
            return
        try:
            await self._retry(
                f"update_model_name for run {run_id}", lambda: store.update_model_name(run_id, model_name)
            )
        except Exception:
            logger.warning("Failed to persist model_name update for run %s", run_id, exc_info=True)

    async def update_run_completion(self, run_id: str, **fields: Any) -> None:
        """Persist final token usage and message summary; never changes the status.

        A row lost since creation is re-created from the live record and the write retried
        once; a second miss is logged, never silent.
        """
        record = self._runs.get(run_id)
        payload: dict[str, Any] | None = None
        if record is not None:
            for key, value in fields.items():
                if key != "status" and value is not None and hasattr(record, key):
                    setattr(record, key, value)
            record.updated_at = _now_iso()
            payload = record.to_row(error=fields.get("error"))
        store = self._store
        if store is None:
            return
        describe = f"update_run_completion for run {run_id}"
        try:
            if (
                await self._retry(describe, lambda: store.update_run_completion(run_id, **fields))
                is not False
            ):
                return
            if payload is None:
                logger.warning("Failed to recreate missing run %s for completion persistence", run_id)
                return
            if not await self._recreate_row(run_id, payload):
                return
            if await self._retry(describe, lambda: store.update_run_completion(run_id, **fields)) is False:
                logger.warning("Run completion update for %s affected no rows after row recreation", run_id)
        except Exception:
            logger.warning("Failed to persist run completion for %s", run_id, exc_info=True)

    async def update_run_progress(self, run_id: str, **fields: Any) -> None:
        """Persist a usage snapshot of a running run (skipped once it has finished)."""
        record = self._runs.get(run_id)
        if record is not None:
            if record.status is not RunStatus.running:
                return
            for key, value in fields.items():
                if key != "status" and value is not None and hasattr(record, key):
                    setattr(record, key, value)
            record.updated_at = _now_iso()
        store = self._store
        if store is None:
            return
        try:
            await store.update_run_progress(run_id, **fields)
        except Exception:
            logger.warning("Failed to persist run progress for %s", run_id, exc_info=True)

    # -- recovery and lifecycle ------------------------------------------------------------

    async def reconcile_orphaned_inflight_runs(
        self, *, error: str, before: str | None = None
    ) -> list[RunRecord]:
        """Mark stored active runs that no live task here owns as ``error``.

        The policy for users who choose not to resume after a crash: an active row from a
        previous life of the process becomes an explicit error instead of "running" forever.
        Rows whose error status could not be persisted are not reported as recovered.
        """
        store = self._store
        if store is None:
            return []
        try:
            rows = await self._retry("list_inflight", lambda: store.list_inflight(before=before))
        except Exception:
            logger.warning("Failed to list orphaned inflight runs for reconciliation", exc_info=True)
            return []
        recovered: list[RunRecord] = []
        for row in rows:
            try:
                record = RunRecord.from_row(row)
            except Exception:
                logger.warning("Failed to map orphaned run row during reconciliation", exc_info=True)
                continue
            live = self._runs.get(record.run_id)
            if live is not None and live.status.is_active:
                continue
            record.status = RunStatus.error
            record.error = error
            record.updated_at = _now_iso()
            if not await self._persist_status(record, RunStatus.error, error=error):
                logger.warning(
                    "Skipped orphaned run %s recovery because error status was not persisted", record.run_id
                )
                continue
            recovered.append(record)
        if recovered:
            logger.warning("Recovered %d orphaned inflight run(s) as error", len(recovered))
        return recovered

    async def adopt_orphaned_runs(
        self, *, before: str | None = None, max_attempts: int = 3
    ) -> list[RunRecord]:
        """Take over stored active runs that no live task here owns, so they can resume.

        The default recovery after a crash: each orphan goes back to ``pending`` as a live
        record of this process (same run_id, so LangGraph resumes from the run's last checkpoint
        instead of re-applying its input) and is returned for the executor to start. A run that
        already used ``max_attempts`` attempts ends ``error`` with a message saying why.
        """
        store = self._store
        if store is None:
            return []
        try:
            rows = await self._retry("list_inflight", lambda: store.list_inflight(before=before))
        except Exception:
            logger.warning("Failed to list orphaned inflight runs for adoption", exc_info=True)
            return []
        adopted: list[RunRecord] = []
        for row in rows:
            live = self._runs.get(row["run_id"])
            if live is not None and live.status.is_active:
                continue
            record = RunRecord.from_row(row)
            record.store_only = False
            if record.attempt >= max_attempts:
                message = (
                    f"Run abandoned after {record.attempt} attempt(s): the process executing it stopped "
                    f"before it finished (max_attempts={max_attempts})"
                )
                record.status = RunStatus.error
                record.error = message
                await self._persist_status(record, RunStatus.error, error=message)
                continue
            if record.status is not RunStatus.pending and not await self._persist_status(
                record, RunStatus.pending
            ):
                continue
            record.status = RunStatus.pending
            record.updated_at = _now_iso()
            self._runs[record.run_id] = record
            adopted.append(record)
        if adopted:
            logger.warning("Adopted %d orphaned run(s) to resume from their last checkpoint", len(adopted))
        return adopted

    async def cleanup(self, run_id: str, *, delay: float = 300) -> None:
        """Drop a record from the live registry after ``delay`` seconds (reads fall back to the store)."""
        if delay > 0:
            await asyncio.sleep(delay)
        self._runs.pop(run_id, None)
        logger.debug("Run record %s cleaned up", run_id)

    async def shutdown(self, *, timeout: float = 5.0, requeue: bool = False) -> None:
        """Cancel every live run task and wait for them, at most ``timeout`` seconds in all.

        Called before the checkpointer closes, so each run's last checkpoint write lands on an
        open connection (DeerFlow #3373). The status is decided after the drain: a run that
        finished on its own meanwhile keeps its status; one that did not settle, or ended
        cancelled, becomes ``interrupted``. The trailing status writes share the same deadline.
        A second cancellation of the caller cannot cut the drain short; it is re-raised after.
        Idempotent, and a no-op when nothing runs.

        ``requeue=True`` (the server's choice) puts unsettled runs back to ``pending`` instead,
        so the next start resumes them from their last checkpoint under the same run_id.
        """
        final = RunStatus.pending if requeue else RunStatus.interrupted
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        draining = [r for r in self._runs.values() if r.task is not None and not r.task.done()]
        if not draining:
            return
        for record in draining:
            if record.status.is_active:
                record.abort_action = "interrupt"
                record.abort_event.set()
            assert record.task is not None
            record.task.cancel()
        tasks = [r.task for r in draining if r.task is not None]
        cancelled_again = await _shielded(asyncio.wait(tasks, timeout=timeout))
        still_running = [t for t in tasks if not t.done()]

        to_persist: list[RunRecord] = []
        for record in draining:
            task = record.task
            assert task is not None
            if task.done() and not task.cancelled():
                task.exception()  # retrieved so asyncio does not report it as never retrieved
                if not record.status.is_active:
                    continue
            if record.status.is_active:
                record.status = final
                record.updated_at = _now_iso()
                if final.is_terminal:
                    self._mark_finished(record)
                to_persist.append(record)

        if self.remote is not None:
            # Cluster mode: the rows are the queue's to hand back (``release_all``), guarded by
            # owner; an unguarded "pending" here could land after another process had already
            # claimed the run again, and send it round a second time.
            to_persist = []
        if to_persist:
            remaining = deadline - loop.time()
            if remaining <= 0:
                logger.warning(
                    "Run drain budget exhausted before persisting %d %s run(s) on shutdown",
                    len(to_persist),
                    final.value,
                )
            else:
                gathered = asyncio.gather(
                    *(self._persist_status(r, final) for r in to_persist),
                    return_exceptions=True,
                )
                try:
                    results = await asyncio.wait_for(gathered, timeout=remaining)
                except TimeoutError:
                    logger.warning(
                        "Run drain status persistence exceeded the %.1fs budget; %d record(s) may not be persisted",
                        timeout,
                        len(to_persist),
                    )
                else:
                    for record, result in zip(to_persist, results, strict=True):
                        if isinstance(result, BaseException):
                            logger.warning(
                                "Unexpected error persisting %s status for run %s during shutdown: %r",
                                final.value,
                                record.run_id,
                                result,
                            )
                        elif result is False:
                            logger.warning(
                                "Could not persist %s status for run %s during shutdown",
                                final.value,
                                record.run_id,
                            )
        if still_running:
            logger.warning(
                "Run drain exceeded %.1fs on shutdown; %d run task(s) still active and may race checkpointer teardown",
                timeout,
                len(still_running),
            )
        logger.info(
            "Drained %d in-flight run(s) on shutdown (%d settled within %.1fs)",
            len(draining),
            len(draining) - len(still_running),
            timeout,
        )
        if cancelled_again:
            raise asyncio.CancelledError


async def _shielded(awaitable: Awaitable[Any]) -> bool:
    """Await ``awaitable`` to the end even if the caller is cancelled; return whether it was.

    The drain must not be abandoned by a second shutdown signal: that would let the lifespan
    close the checkpointer while runs still write (DeerFlow PR #5487).
    """
    inner = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            await asyncio.shield(inner)
            return cancelled
        except asyncio.CancelledError:
            if inner.done():
                return True
            cancelled = True
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
