"""``MemoryThreadStore``: the ``ThreadStore`` contract in a dict, for tests and store-less embedding.

It is the reference the SQL store is checked against (same contract tests). No method awaits
anything, which makes each one atomic on the event loop: that is this store's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Any

from ..runs.clock import now, parse_iso
from .base import UNSET, IfExists, ThreadStore, TtlInput, Unset
from .containment import json_contains
from .errors import ThreadExistsError
from .validate import (
    TtlPolicy,
    check_ids,
    check_if_exists,
    check_object,
    check_page,
    check_sort,
    check_status,
    parse_ttl,
)

_TIMESTAMP_SORTS = frozenset({"created_at", "updated_at", "state_updated_at"})


class MemoryThreadStore(ThreadStore):
    """Thread rows in a dict; not durable across processes."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    def _visible(self, thread_id: str, user_id: str | None) -> dict[str, Any] | None:
        row = self._rows.get(thread_id)
        if row is None or (user_id is not None and row["user_id"] != user_id):
            return None
        return row

    @staticmethod
    def _new_row(
        thread_id: str, *, user_id: str | None, ttl: TtlPolicy | None, **fields: Any
    ) -> dict[str, Any]:
        stamp = now()
        iso = stamp.isoformat()
        row: dict[str, Any] = {
            "thread_id": thread_id,
            "created_at": iso,
            "updated_at": iso,
            "state_updated_at": iso,
            "metadata": {},
            "status": "idle",
            "config": {},
            "values": None,
            "interrupts": {},
            "user_id": user_id,
            "ttl": None if ttl is None else ttl.as_row(ttl.expires_at(stamp)),
        }
        row.update(deepcopy(fields))
        return row

    async def create(
        self,
        thread_id: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        if_exists: IfExists = "raise",
        ttl: TtlInput = None,
    ) -> dict[str, Any]:
        mode = check_if_exists(if_exists)
        policy = parse_ttl(ttl)
        fields = {"metadata": check_object("metadata", metadata)}
        thread_id = thread_id or str(uuid.uuid4())
        if thread_id in self._rows:
            existing = self._visible(thread_id, user_id)
            if mode == "raise" or existing is None:
                raise ThreadExistsError(thread_id)
            return deepcopy(existing)
        row = self._new_row(thread_id, user_id=user_id, ttl=policy, **fields)
        self._rows[thread_id] = row
        return deepcopy(row)

    async def get(self, thread_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        row = self._visible(thread_id, user_id)
        return None if row is None else deepcopy(row)

    async def update(
        self,
        thread_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        ttl: TtlInput = None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        patch = check_object("metadata", metadata)
        policy = parse_ttl(ttl)
        row = self._visible(thread_id, user_id)
        if row is None:
            return None
        stamp = now()
        row["metadata"] = {**row["metadata"], **deepcopy(patch)}
        if policy is not None:
            row["ttl"] = policy.as_row(policy.expires_at(stamp))
        row["updated_at"] = stamp.isoformat()
        return deepcopy(row)

    async def delete(self, thread_id: str, *, user_id: str | None = None) -> bool:
        if self._visible(thread_id, user_id) is None:
            return False
        del self._rows[thread_id]
        return True

    async def delete_all(self) -> int:
        count = len(self._rows)
        self._rows.clear()
        return count

    def _matching(
        self,
        *,
        ids: Sequence[str] | None,
        metadata: Mapping[str, Any] | None,
        values: Mapping[str, Any] | None,
        status: str | None,
        user_id: str | None,
    ) -> list[dict[str, Any]]:
        metadata_filter = check_object("metadata filter", metadata)
        values_filter = check_object("values filter", values)
        if status is not None:
            check_status(status)
        checked_ids = check_ids(ids)
        wanted = None if checked_ids is None else set(checked_ids)
        return [
            row
            for row in self._rows.values()
            if (user_id is None or row["user_id"] == user_id)
            and (wanted is None or row["thread_id"] in wanted)
            and (status is None or row["status"] == status)
            and (not metadata_filter or json_contains(row["metadata"], metadata_filter))
            and (not values_filter or json_contains(row["values"], values_filter))
        ]

    async def search(
        self,
        *,
        ids: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: str = "desc",
        user_id: str | None = None,
    ) -> list[dict[str, Any]]:
        field, descending = check_sort(sort_by, sort_order)
        check_page(limit, offset)
        rows = self._matching(ids=ids, metadata=metadata, values=values, status=status, user_id=user_id)

        def key(row: dict[str, Any]) -> tuple[Any, str]:
            value = parse_iso(row[field]) if field in _TIMESTAMP_SORTS else row[field]
            return value, row["thread_id"]

        rows.sort(key=key, reverse=descending)
        return [deepcopy(row) for row in rows[offset : offset + limit]]

    async def count(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        status: str | None = None,
        user_id: str | None = None,
    ) -> int:
        return len(self._matching(ids=None, metadata=metadata, values=values, status=status, user_id=user_id))

    async def set_status(
        self,
        thread_id: str,
        status: str,
        *,
        values: Any = UNSET,
        interrupts: Mapping[str, Any] | Unset | None = UNSET,
        config: Mapping[str, Any] | Unset | None = UNSET,
    ) -> bool:
        check_status(status)
        new_interrupts = None if interrupts is UNSET else check_object("interrupts", interrupts)
        new_config = None if config is UNSET else check_object("config", config)
        row = self._rows.get(thread_id)
        if row is None:
            return False
        stamp = now().isoformat()
        row["status"] = status
        if values is not UNSET:
            row["values"] = deepcopy(values)
        if new_interrupts is not None:
            row["interrupts"] = deepcopy(new_interrupts)
        if new_config is not None:
            row["config"] = deepcopy(new_config)
        if values is not UNSET or new_interrupts is not None:
            row["state_updated_at"] = stamp
        row["updated_at"] = stamp
        return True

    async def copy(
        self, thread_id: str, new_thread_id: str | None = None, *, user_id: str | None = None
    ) -> dict[str, Any] | None:
        source = self._visible(thread_id, user_id)
        if source is None:
            return None
        new_thread_id = new_thread_id or str(uuid.uuid4())
        if new_thread_id in self._rows:
            raise ThreadExistsError(new_thread_id)
        row = self._new_row(
            new_thread_id,
            user_id=source["user_id"],
            ttl=TtlPolicy.of(source["ttl"]),
            metadata=source["metadata"],
            status="idle" if source["status"] == "busy" else source["status"],
            config=source["config"],
            values=source["values"],
            interrupts=source["interrupts"],
        )
        self._rows[new_thread_id] = row
        return deepcopy(row)

    async def touch(self, thread_id: str) -> bool:
        row = self._rows.get(thread_id)
        if row is None:
            return False
        stamp = now()
        policy = TtlPolicy.of(row["ttl"])
        if policy is not None:
            row["ttl"] = policy.as_row(policy.expires_at(stamp))
        row["updated_at"] = stamp.isoformat()
        return True

    async def list_expired(self, now_iso: str, *, limit: int | None = None) -> list[str]:
        cutoff = parse_iso(now_iso)
        expired = sorted(
            (parse_iso(row["ttl"]["expires_at"]), row["thread_id"])
            for row in self._rows.values()
            if row["ttl"] is not None and parse_iso(row["ttl"]["expires_at"]) <= cutoff
        )
        ids = [thread_id for _, thread_id in expired]
        return ids if limit is None else ids[: max(0, limit)]
