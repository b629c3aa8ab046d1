"""``MemoryRunStore``: the ``RunStore`` contract in a dict, for tests and store-less embedding.

It keeps every invariant the SQL store keeps (same contract tests), so code tested against it
behaves the same on SQLite and Postgres. All methods finish without awaiting anything, which
makes each one atomic on the event loop: that is this store's transaction.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from ..clock import now_iso, parse_iso, to_iso
from ..errors import ThreadBusyError
from ..schemas import ACTIVE_STATUSES, RunStatus, is_transition_allowed
from .base import ROW_FIELDS, USAGE_COLUMNS, RunStore, validate_strategy

_ACTIVE_VALUES = frozenset(s.value for s in ACTIVE_STATUSES) | {None}


def _is_active(row: dict[str, Any]) -> bool:
    return row.get("status") in _ACTIVE_VALUES


class MemoryRunStore(RunStore):
    """Rows in a dict, in insertion order; not durable across processes."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _new_row(run_id: str, row: dict[str, Any]) -> dict[str, Any]:
        now = now_iso()
        record: dict[str, Any] = dict.fromkeys(ROW_FIELDS)
        record.update(
            {
                "run_id": run_id,
                "status": "pending",
                "multitask_strategy": "reject",
                "metadata": {},
                "kwargs": {},
                "attempt": 0,
                "token_usage_by_model": {},
                "total_input_tokens": 0,
                "total_output_tokens": 0,
                "total_tokens": 0,
                "llm_call_count": 0,
                "message_count": 0,
            }
        )
        for key, value in row.items():
            if key in record and key != "run_id":
                record[key] = copy.deepcopy(value)
        record["metadata"] = record["metadata"] or {}
        record["kwargs"] = record["kwargs"] or {}
        record["created_at"] = to_iso(record["created_at"]) or now
        record["not_before"] = to_iso(record["not_before"])
        record["updated_at"] = now
        return record

    def _visible(self, row: dict[str, Any] | None, user_id: str | None) -> bool:
        return row is not None and (user_id is None or row.get("user_id") == user_id)

    def _running_on(self, thread_id: str) -> dict[str, Any] | None:
        for row in self._rows.values():
            if row["thread_id"] == thread_id and row.get("status") == RunStatus.running.value:
                return row
        return None

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
        existing = self._rows.get(run_id)
        if status == RunStatus.running.value:
            running = self._running_on(thread_id)
            if running is not None and running["run_id"] != run_id:
                raise ThreadBusyError(thread_id)
        if existing is None:
            self._rows[run_id] = self._new_row(run_id, fields)
            return
        for key, value in fields.items():
            if key == "created_at":
                existing[key] = to_iso(created_at) or existing[key]
            elif key in ("metadata", "kwargs"):
                existing[key] = copy.deepcopy(value) or {}
            elif key == "not_before":
                existing[key] = to_iso(not_before)
            else:
                existing[key] = value
        existing["updated_at"] = now_iso()

    async def put_if_absent(self, run_id: str, **row: Any) -> bool:
        if run_id in self._rows:
            return False
        if row.get("status") == RunStatus.running.value and self._running_on(row["thread_id"]):
            raise ThreadBusyError(row["thread_id"])
        self._rows[run_id] = self._new_row(run_id, row)
        return True

    async def admit(self, run_id: str, *, strategy: str, **row: Any) -> list[str]:
        validate_strategy(strategy)
        thread_id = row["thread_id"]
        active = [r for r in self._rows.values() if r["thread_id"] == thread_id and _is_active(r)]
        interrupted: list[str] = []
        if strategy == "reject" and active:
            raise ThreadBusyError(thread_id)
        if strategy in ("interrupt", "rollback"):
            now = now_iso()
            for other in active:
                other["status"] = RunStatus.interrupted.value
                other["cancel_action"] = strategy
                other["updated_at"] = now
                interrupted.append(other["run_id"])
        self._rows[run_id] = self._new_row(run_id, {**row, "status": RunStatus.pending.value})
        return interrupted

    async def get(self, run_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        row = self._rows.get(run_id)
        if row is None or not self._visible(row, user_id):
            return None
        return copy.deepcopy(row)

    async def list_by_thread(
        self, thread_id: str, *, user_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        rows = [r for r in self._rows.values() if r["thread_id"] == thread_id and self._visible(r, user_id)]
        # sorted() is stable, so equal timestamps keep insertion order.
        rows = sorted(rows, key=lambda r: parse_iso(r.get("created_at")), reverse=True)
        return [copy.deepcopy(r) for r in rows[: max(0, limit)]]

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        row = self._rows.get(run_id)
        if row is None:
            return False
        current = RunStatus(row["status"] or RunStatus.pending.value)
        new = RunStatus(status)
        if not is_transition_allowed(current, new):
            return False
        if new is RunStatus.running and current is not RunStatus.running:
            running = self._running_on(row["thread_id"])
            if running is not None and running["run_id"] != run_id:
                raise ThreadBusyError(row["thread_id"])
        row["status"] = new.value
        if error is not None:
            row["error"] = error
        row["updated_at"] = now_iso()
        return True

    async def start(
        self, run_id: str, *, owner: str | None = None, lease_expires_at: str | None = None
    ) -> bool:
        row = self._rows.get(run_id)
        if row is None or (row.get("status") or "pending") != RunStatus.pending.value:
            return False
        nxt = await self.next_pending(row["thread_id"])
        if nxt is None or nxt["run_id"] != run_id or self._running_on(row["thread_id"]) is not None:
            return False
        row["status"] = RunStatus.running.value
        row["owner"] = owner
        row["attempt"] = (row.get("attempt") or 0) + 1
        row["lease_expires_at"] = to_iso(lease_expires_at)
        row["updated_at"] = now_iso()
        return True

    async def next_pending(self, thread_id: str) -> dict[str, Any] | None:
        pending = [
            r
            for r in self._rows.values()
            if r["thread_id"] == thread_id and (r.get("status") or "pending") == RunStatus.pending.value
        ]
        if not pending:
            return None
        oldest = min(pending, key=lambda r: (parse_iso(r.get("created_at")), r["run_id"]))
        return copy.deepcopy(oldest)

    async def update_model_name(self, run_id: str, model_name: str | None) -> bool:
        row = self._rows.get(run_id)
        if row is None:
            return False
        row["model_name"] = model_name
        row["updated_at"] = now_iso()
        return True

    def _write_usage(self, row: dict[str, Any], fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key in USAGE_COLUMNS and value is not None:
                row[key] = copy.deepcopy(value)
        row["updated_at"] = now_iso()

    async def update_run_completion(self, run_id: str, *, status: str | None = None, **fields: Any) -> bool:
        row = self._rows.get(run_id)
        if row is None:
            return False
        self._write_usage(row, fields)
        return True

    async def update_run_progress(self, run_id: str, **fields: Any) -> bool:
        row = self._rows.get(run_id)
        if row is None or row.get("status") != RunStatus.running.value:
            return False
        self._write_usage(row, fields)
        return True

    async def delete(self, run_id: str) -> bool:
        return self._rows.pop(run_id, None) is not None

    async def delete_all(self) -> int:
        count = len(self._rows)
        self._rows.clear()
        return count

    async def list_inflight(self, *, before: str | None = None) -> list[dict[str, Any]]:
        cutoff = parse_iso(before) if before else None
        rows = [
            r
            for r in self._rows.values()
            if _is_active(r) and (cutoff is None or parse_iso(r.get("created_at")) < cutoff)
        ]
        rows.sort(key=lambda r: parse_iso(r.get("created_at")))
        return [copy.deepcopy(r) for r in rows]

    # -- leases ----------------------------------------------------------------------------

    @staticmethod
    def _held(row: dict[str, Any], now: datetime) -> bool:
        lease = row.get("lease_expires_at")
        return lease is not None and parse_iso(lease) > now

    def _claimable(self, row: dict[str, Any], now: datetime, max_attempts: int) -> bool:
        status = row.get("status") or RunStatus.pending.value
        if status == RunStatus.running.value:
            lease = row.get("lease_expires_at")
            return lease is not None and parse_iso(lease) <= now and (row.get("attempt") or 0) < max_attempts
        if status != RunStatus.pending.value:
            return False
        due = row.get("not_before")
        if due is not None and parse_iso(due) > now:
            return False
        key = (parse_iso(row.get("created_at")), row["run_id"])
        for other in self._rows.values():
            if other is row or other["thread_id"] != row["thread_id"]:
                continue
            if other.get("status") == RunStatus.running.value or self._held(other, now):
                return False
            other_status = other.get("status") or RunStatus.pending.value
            if other_status == RunStatus.pending.value and (
                (parse_iso(other.get("created_at")), other["run_id"]) < key
            ):
                return False
        return True

    async def claim(self, owner: str, *, lease_seconds: float, max_attempts: int) -> dict[str, Any] | None:
        now = datetime.now(UTC)
        candidates = [r for r in self._rows.values() if self._claimable(r, now, max_attempts)]
        if not candidates:
            return None
        row = min(candidates, key=lambda r: (parse_iso(r.get("created_at")), r["run_id"]))
        row["status"] = RunStatus.running.value
        row["owner"] = owner
        row["attempt"] = (row.get("attempt") or 0) + 1
        row["lease_expires_at"] = (now + timedelta(seconds=lease_seconds)).isoformat()
        row["cancel_action"] = None
        row["updated_at"] = now_iso()
        return copy.deepcopy(row)

    async def renew(self, owner: str, *, lease_seconds: float) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        lease = (now + timedelta(seconds=lease_seconds)).isoformat()
        held = []
        for row in self._rows.values():
            if row.get("owner") == owner and row.get("lease_expires_at") is not None:
                row["lease_expires_at"] = lease
                held.append(
                    {
                        "run_id": row["run_id"],
                        "status": row["status"],
                        "cancel_action": row.get("cancel_action"),
                    }
                )
        return held

    @staticmethod
    def _let_go(row: dict[str, Any]) -> bool:
        """Drop an owner's hold; a run it left running goes back to pending, ownerless."""
        changed = False
        if row.get("status") == RunStatus.running.value:
            row["status"] = RunStatus.pending.value
            row["owner"] = None
            row["updated_at"] = now_iso()
            changed = True
        if row.get("lease_expires_at") is not None:
            row["lease_expires_at"] = None
            changed = True
        return changed

    async def release(self, run_id: str, owner: str) -> bool:
        row = self._rows.get(run_id)
        if row is None or row.get("owner") != owner:
            return False
        return self._let_go(row)

    async def requeue_owned(self, owner: str) -> list[str]:
        requeued = []
        for row in self._rows.values():
            if row.get("owner") != owner:
                continue
            was_running = row.get("status") == RunStatus.running.value
            self._let_go(row)
            if was_running:
                requeued.append(row["run_id"])
        return requeued

    async def abandon_lapsed(self, *, max_attempts: int, error: str) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        ended = []
        for row in self._rows.values():
            lease = row.get("lease_expires_at")
            if (
                row.get("status") == RunStatus.running.value
                and lease is not None
                and parse_iso(lease) <= now
                and (row.get("attempt") or 0) >= max_attempts
            ):
                row["status"] = RunStatus.error.value
                row["error"] = error
                row["lease_expires_at"] = None
                row["updated_at"] = now_iso()
                ended.append(copy.deepcopy(row))
        return ended

    async def request_cancel(self, run_id: str, action: str) -> dict[str, Any] | None:
        row = self._rows.get(run_id)
        if row is None:
            return None
        if _is_active(row):
            row["status"] = RunStatus.interrupted.value
            row["cancel_action"] = action
            row["updated_at"] = now_iso()
        return copy.deepcopy(row)

    async def finish_owned(self, run_id: str, owner: str, status: str, *, error: str | None = None) -> bool:
        row = self._rows.get(run_id)
        if row is None or row.get("owner") != owner:
            return False
        return await self.update_status(run_id, status, error=error)
