"""``SqlRunStore``: the ``RunStore`` contract on SQLite or Postgres, in SQLAlchemy Core.

Every transition is one guarded statement, so races resolve in the database, not in a process:

- ``admit`` with ``reject`` is a single ``INSERT ... SELECT ... WHERE NOT EXISTS (active run)``.
  SQLite takes its write lock when that statement starts, which makes it atomic. Postgres at
  READ COMMITTED would let two such statements both pass the check, so admissions on a thread
  first take a transaction-scoped advisory lock keyed by the thread.
- The partial unique index on ``thread_id WHERE status = 'running'`` refuses a second running
  run whatever the writer; ``start`` reads that refusal as "lost the race", ``update_status``
  and ``put`` as ``ThreadBusyError``.
- On SQLite the write lock is taken up front: the fast path begins every write transaction with
  ``BEGIN IMMEDIATE``, and on the async engine the first statement of every transaction is a
  write. A guarded statement reads and writes under the lock, and WAL never fails a
  transaction halfway with ``SQLITE_BUSY_SNAPSHOT``.

Statements (``sql_statements``) are built once per store and executed with parameters by a
statement runner (``persistence.runner``), which the URL picks: an on-disk SQLite file runs them
on stdlib ``sqlite3`` on the event loop, falling back to a worker thread only when the database
is locked (``persistence.sqlite_runner``); Postgres runs them on the async psycopg engine. Rows
come back as tuples in ``ROW_FIELDS`` order, turned into dicts with aware ISO-8601 timestamps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from ...persistence.runner import StatementRunner, Step
from ...persistence.sql_store import SqlStore
from ...persistence.tables import runs
from ..clock import now, parse_iso
from ..errors import ThreadBusyError
from ..schemas import RunStatus
from .base import ROW_FIELDS, USAGE_COLUMNS, RunStore, validate_strategy
from .sql_lease_statements import LeaseStatements
from .sql_statements import FIELD_COLUMNS, RunStatements

_TIMESTAMP_FIELDS = ("created_at", "updated_at", "lease_expires_at", "not_before")
_UNIQUE_SQLITE_CODES = frozenset({sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY})
# What a new row holds for every column the caller leaves out (as MemoryRunStore does).
_NEW_ROW: dict[str, Any] = dict.fromkeys(FIELD_COLUMNS.values()) | {
    "status": RunStatus.pending.value,
    "multitask_strategy": "reject",
    "attempt": 0,
    "token_usage_by_model": {},
    "total_input_tokens": 0,
    "total_output_tokens": 0,
    "total_tokens": 0,
    "llm_call_count": 0,
    "message_count": 0,
}
_NOT_NULL_DEFAULTS = {
    name: value for name, value in _NEW_ROW.items() if value is not None and not runs.c[name].nullable
}


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code in _UNIQUE_SQLITE_CODES
    return getattr(orig, "sqlstate", None) == "23505"


def _to_row(values: Sequence[Any]) -> dict[str, Any]:
    row = dict(zip(ROW_FIELDS, values, strict=True))
    for key in _TIMESTAMP_FIELDS:
        moment = row[key]
        if moment is not None:
            row[key] = moment.isoformat()
    return row


def _new_values(run_id: str, fields: Mapping[str, Any], stamp: datetime) -> dict[str, Any]:
    """Column values of a new row: defaults, then the caller's ``ROW_FIELDS``."""
    values = dict(_NEW_ROW)
    for key, value in fields.items():
        column = FIELD_COLUMNS.get(key)
        if column is not None:
            values[column] = value
    for column, default in _NOT_NULL_DEFAULTS.items():
        if values[column] is None:
            values[column] = default
    values["run_id"] = run_id
    values["metadata_json"] = values["metadata_json"] or {}
    values["kwargs_json"] = values["kwargs_json"] or {}
    created = values["created_at"]
    values["created_at"] = parse_iso(created) if created else stamp
    values["updated_at"] = stamp
    return values


class SqlRunStore(SqlStore, RunStore):
    """Run rows in the ``runs`` table of a SQLite or Postgres database."""

    def __init__(self, database: AsyncEngine | StatementRunner, *, owns_engine: bool = False) -> None:
        super().__init__(database, owns_engine=owns_engine)
        self._sql = RunStatements(self._db.dialect_name)
        self._leases = LeaseStatements(self._db.dialect_name)

    # -- helpers ---------------------------------------------------------------------------

    async def _write(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """Run one write in its own transaction; return the number of rows it matched."""
        (outcome,) = await self._db.write((statement, params))
        return outcome.rowcount

    async def _rows(self, statement: Executable, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [_to_row(values) for values in await self._db.read(statement, params)]

    async def _one(self, statement: Executable, params: Mapping[str, Any]) -> dict[str, Any] | None:
        rows = await self._rows(statement, params)
        return rows[0] if rows else None

    def _thread_lock(self, thread_id: str) -> list[Step]:
        """The step that serialises admissions on one Postgres thread until the transaction ends."""
        if self._sql.thread_lock is None:
            return []
        return [(self._sql.thread_lock, {"thread_id": thread_id})]

    # -- writes ----------------------------------------------------------------------------

    async def put(
        self,
        run_id: str,
        *,
        thread_id: str,
        assistant_id: str | None = None,
        user_id: str | None = None,
        status: str | None = "pending",
        on_disconnect: str | None = None,
        multitask_strategy: str | None = "reject",
        metadata: dict[str, Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        error: str | None = None,
        created_at: str | None = None,
        model_name: str | None = None,
        not_before: str | None = None,
    ) -> None:
        fields = {
            "thread_id": thread_id,
            "assistant_id": assistant_id,
            "user_id": user_id,
            "status": status,
            "on_disconnect": on_disconnect,
            "multitask_strategy": multitask_strategy,
            "metadata": metadata,
            "kwargs": kwargs,
            "error": error,
            "created_at": created_at,
            "model_name": model_name,
            "not_before": not_before,
        }
        statement = self._sql.put_created if created_at else self._sql.put
        try:
            await self._write(statement, _new_values(run_id, fields, now()))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise ThreadBusyError(thread_id) from exc
            raise

    async def put_if_absent(self, run_id: str, **row: Any) -> bool:
        try:
            return await self._write(self._sql.insert_if_absent, _new_values(run_id, row, now())) > 0
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise ThreadBusyError(row["thread_id"]) from exc
            raise

    async def admit(self, run_id: str, *, strategy: str, **row: Any) -> list[str]:
        validate_strategy(strategy)
        thread_id = row["thread_id"]
        stamp = now()
        values = _new_values(run_id, {**row, "status": RunStatus.pending.value}, stamp)
        if strategy == "reject":
            *_, admitted = await self._db.write(
                *self._thread_lock(thread_id), (self._sql.admit_if_idle, values)
            )
            if admitted.rowcount == 0:
                raise ThreadBusyError(thread_id)
            return []
        if strategy == "enqueue":
            await self._db.write(*self._thread_lock(thread_id), (self._sql.admit, values))
            return []
        # interrupt, rollback: mark the thread's active runs and admit, in one transaction.
        interrupt = (
            self._sql.interrupt_thread,
            {"b_thread_id": thread_id, "b_now": stamp, "b_action": strategy},
        )
        *_, marked, _admitted = await self._db.write(
            *self._thread_lock(thread_id), interrupt, (self._sql.admit, values)
        )
        return [run for run, _seq in sorted(marked.rows, key=lambda pair: pair[1])]

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        new = RunStatus(status).value
        params: dict[str, Any] = {"b_run_id": run_id, "b_status": new, "b_now": now()}
        statement = self._sql.set_status
        if error is not None:
            params["b_error"] = error
            statement = self._sql.set_status_error
        try:
            return await self._write(statement, params) > 0
        except IntegrityError as exc:
            if not _is_unique_violation(exc):
                raise
            rows = await self._db.read(self._sql.thread_of, {"b_run_id": run_id})
            raise ThreadBusyError(str(rows[0][0] if rows else None)) from exc

    async def start(
        self, run_id: str, *, owner: str | None = None, lease_expires_at: str | None = None
    ) -> bool:
        params = {
            "b_run_id": run_id,
            "b_owner": owner,
            "b_lease": parse_iso(lease_expires_at) if lease_expires_at else None,
            "b_now": now(),
        }
        try:
            return await self._write(self._sql.start, params) > 0
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                return False  # another claim on the thread won between our check and our write
            raise

    async def update_model_name(self, run_id: str, model_name: str | None) -> bool:
        params = {"b_run_id": run_id, "b_model": model_name, "b_now": now()}
        return await self._write(self._sql.set_model_name, params) > 0

    @staticmethod
    def _usage_params(run_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        params = {key: value for key, value in fields.items() if key in USAGE_COLUMNS and value is not None}
        params["updated_at"] = now()
        params["b_run_id"] = run_id
        return params

    async def update_run_completion(self, run_id: str, *, status: str | None = None, **fields: Any) -> bool:
        return await self._write(self._sql.write_usage, self._usage_params(run_id, fields)) > 0

    async def update_run_progress(self, run_id: str, **fields: Any) -> bool:
        return await self._write(self._sql.write_progress, self._usage_params(run_id, fields)) > 0

    async def delete(self, run_id: str) -> bool:
        return await self._write(self._sql.delete, {"b_run_id": run_id}) > 0

    _delete_all = runs.delete()  # built once: the SQLite runner caches statements by identity

    async def delete_all(self) -> int:
        return await self._write(self._delete_all, {})

    # -- reads -----------------------------------------------------------------------------

    async def get(self, run_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        if user_id is None:
            return await self._one(self._sql.get, {"b_run_id": run_id})
        return await self._one(self._sql.get_for_user, {"b_run_id": run_id, "b_user_id": user_id})

    async def list_by_thread(
        self, thread_id: str, *, user_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"b_thread_id": thread_id, "b_limit": max(0, limit)}
        if user_id is None:
            return await self._rows(self._sql.list_by_thread, params)
        params["b_user_id"] = user_id
        return await self._rows(self._sql.list_by_thread_for_user, params)

    async def next_pending(self, thread_id: str) -> dict[str, Any] | None:
        return await self._one(self._sql.next_pending, {"b_thread_id": thread_id})

    async def list_inflight(self, *, before: str | None = None) -> list[dict[str, Any]]:
        if not before:
            return await self._rows(self._sql.list_inflight, {})
        return await self._rows(self._sql.list_inflight_before, {"b_before": parse_iso(before)})

    # -- leases ----------------------------------------------------------------------------

    def _clock(self, lease_seconds: float | None = None) -> dict[str, Any]:
        """The time parameters of a lease statement: none on Postgres (its ``now()`` decides)."""
        if self._leases.uses_db_clock:
            return {} if lease_seconds is None else {"b_lease_seconds": lease_seconds}
        stamp = now()
        params: dict[str, Any] = {"b_now": stamp}
        if lease_seconds is not None:
            params["b_lease"] = stamp + timedelta(seconds=lease_seconds)
        return params

    async def claim(self, owner: str, *, lease_seconds: float, max_attempts: int) -> dict[str, Any] | None:
        params = {"b_owner": owner, "b_max_attempts": max_attempts, **self._clock(lease_seconds)}
        try:
            (outcome,) = await self._db.write((self._leases.claim, params))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                return None  # a run on the thread started between the pick and the write
            raise
        return _to_row(outcome.rows[0]) if outcome.rows else None

    async def renew(self, owner: str, *, lease_seconds: float) -> list[dict[str, Any]]:
        params = {"b_owner": owner, **self._clock(lease_seconds)}
        (outcome,) = await self._db.write((self._leases.renew, params))
        return [{"run_id": r[0], "status": r[1], "cancel_action": r[2]} for r in outcome.rows]

    async def release(self, run_id: str, owner: str) -> bool:
        params = {"b_run_id": run_id, "b_owner": owner, **self._clock()}
        requeued, unheld = await self._db.write(
            (self._leases.requeue_run, params), (self._leases.unhold_run, params)
        )
        return requeued.rowcount + unheld.rowcount > 0

    async def requeue_owned(self, owner: str) -> list[str]:
        params = {"b_owner": owner, **self._clock()}
        requeued, _unheld = await self._db.write(
            (self._leases.requeue_owner, params), (self._leases.unhold_owner, params)
        )
        return [str(row[0]) for row in requeued.rows]

    async def abandon_lapsed(self, *, max_attempts: int, error: str) -> list[dict[str, Any]]:
        params = {"b_max_attempts": max_attempts, "b_error": error, **self._clock()}
        (outcome,) = await self._db.write((self._leases.abandon_lapsed, params))
        return [_to_row(values) for values in outcome.rows]

    async def request_cancel(self, run_id: str, action: str) -> dict[str, Any] | None:
        params = {"b_run_id": run_id, "b_action": action, **self._clock()}
        await self._db.write((self._leases.request_cancel, params))
        return await self.get(run_id)

    async def finish_owned(self, run_id: str, owner: str, status: str, *, error: str | None = None) -> bool:
        params: dict[str, Any] = {
            "b_run_id": run_id,
            "b_owner": owner,
            "b_status": RunStatus(status).value,
            **self._clock(),
        }
        statement = self._leases.finish_owned
        if error is not None:
            params["b_error"] = error
            statement = self._leases.finish_owned_error
        return await self._write(statement, params) > 0
