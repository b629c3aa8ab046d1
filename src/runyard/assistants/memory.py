"""``MemoryAssistantStore``: the ``AssistantStore`` contract in dicts, for tests and embedding.

It is the reference the SQL store is checked against (same contract tests). No storage hook
awaits anything, which makes each one atomic on the event loop: that is this store's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any

from ..runs.clock import now_iso, parse_iso
from ..threads.containment import json_contains
from .base import AssistantStore, Filters, is_system, version_row
from .errors import AssistantExistsError, AssistantVersionNotFoundError

_CASE_INSENSITIVE = frozenset({"name", "graph_id"})
_TIMESTAMPS = frozenset({"created_at", "updated_at"})


class MemoryAssistantStore(AssistantStore):
    """Assistants and their versions in dicts; not durable across processes."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, dict[int, dict[str, Any]]] = {}

    async def _create(self, row: dict[str, Any], if_exists: str) -> dict[str, Any]:
        existing = self._rows.get(row["assistant_id"])
        if existing is not None:
            if if_exists == "raise":
                raise AssistantExistsError(row["assistant_id"])
            return deepcopy(existing)
        stamp = now_iso()
        stored = deepcopy(row) | {"version": 1, "created_at": stamp, "updated_at": stamp}
        self._rows[row["assistant_id"]] = stored
        self._versions[row["assistant_id"]] = {1: version_row(deepcopy(stored), 1, stamp)}
        return deepcopy(stored)

    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        row = self._rows.get(assistant_id)
        return None if row is None else deepcopy(row)

    async def _update(
        self, assistant_id: str, change: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        row = self._rows.get(assistant_id)
        if row is None:
            return None
        changes = change(row)
        version = max(self._versions[assistant_id]) + 1
        stamp = now_iso()
        row.update(deepcopy(changes), version=version, updated_at=stamp)
        self._versions[assistant_id][version] = version_row(deepcopy(row), version, stamp)
        return deepcopy(row)

    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any] | None:
        row = self._rows.get(assistant_id)
        if row is None:
            return None
        stored = self._versions[assistant_id].get(version)
        if stored is None:
            raise AssistantVersionNotFoundError(assistant_id, version)
        fields = ("graph_id", "config", "context", "metadata", "name", "description", "version")
        row.update({key: deepcopy(stored[key]) for key in fields}, updated_at=now_iso())
        return deepcopy(row)

    async def delete(self, assistant_id: str) -> bool:
        if self._rows.pop(assistant_id, None) is None:
            return False
        self._versions.pop(assistant_id, None)
        return True

    async def delete_all(self, *, keep_system: bool = True) -> int:
        doomed = [key for key, row in self._rows.items() if not (keep_system and is_system(row))]
        for key in doomed:
            del self._rows[key]
            self._versions.pop(key, None)
        return len(doomed)

    def _matching(self, filters: Filters) -> list[dict[str, Any]]:
        needle = filters.name.lower() if filters.name else None
        return [
            row
            for row in self._rows.values()
            if (not filters.graph_id or row["graph_id"] == filters.graph_id)
            and (filters.graph_ids is None or row["graph_id"] in filters.graph_ids)
            and (needle is None or needle in row["name"].lower())
            and (not filters.metadata or json_contains(row["metadata"], filters.metadata))
        ]

    async def _search(
        self, filters: Filters, field: str, descending: bool, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        rows = self._matching(filters)

        def key(row: dict[str, Any]) -> tuple[Any, str]:
            value = row[field]
            if field in _TIMESTAMPS:
                value = parse_iso(value)
            elif field in _CASE_INSENSITIVE:
                value = value.lower()
            return value, row["assistant_id"]

        rows.sort(key=key, reverse=descending)
        return [deepcopy(row) for row in rows[offset : offset + limit]]

    async def _count(self, filters: Filters) -> int:
        return len(self._matching(filters))

    async def _list_versions(
        self, assistant_id: str, pattern: dict[str, Any], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        stored = self._versions.get(assistant_id, {})
        found = [
            stored[number]
            for number in sorted(stored, reverse=True)
            if not pattern or json_contains(stored[number]["metadata"], pattern)
        ]
        return [deepcopy(row) for row in found[offset : offset + limit]]
