"""``MemoryAssistantStore``: the ``AssistantStore`` contract in dicts, for tests and embedding.

It is the reference the SQL store is checked against (same contract tests). No method awaits
anything, which makes each one atomic on the event loop: that is this store's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from copy import deepcopy
from typing import Any

from ..runs.clock import now_iso, parse_iso
from ..threads.containment import json_contains
from .base import AssistantStore, IfExists, is_system
from .errors import AssistantExistsError, AssistantVersionNotFoundError
from .validate import (
    check_graph_ids,
    check_if_exists,
    check_object,
    check_optional_object,
    check_page,
    check_sort,
    patched,
    version_of,
)

_CASE_INSENSITIVE = frozenset({"name", "graph_id"})
_TIMESTAMPS = frozenset({"created_at", "updated_at"})


class MemoryAssistantStore(AssistantStore):
    """Assistants and their versions in dicts; not durable across processes."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._versions: dict[str, dict[int, dict[str, Any]]] = {}

    async def create(
        self,
        assistant_id: str,
        *,
        graph_id: str,
        config: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str = "Untitled",
        description: str | None = None,
        if_exists: IfExists = "raise",
    ) -> dict[str, Any]:
        mode = check_if_exists(if_exists)
        fields = {
            "config": check_object("config", config),
            "context": check_object("context", context),
            "metadata": check_object("metadata", metadata),
        }
        existing = self._rows.get(assistant_id)
        if existing is not None:
            if mode == "raise":
                raise AssistantExistsError(assistant_id)
            return deepcopy(existing)
        stamp = now_iso()
        row = deepcopy(
            {
                "assistant_id": assistant_id,
                "graph_id": graph_id,
                **fields,
                "name": name,
                "description": description,
                "version": 1,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        self._rows[assistant_id] = row
        self._versions[assistant_id] = {1: version_of(deepcopy(row), 1, stamp)}
        return deepcopy(row)

    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        row = self._rows.get(assistant_id)
        return None if row is None else deepcopy(row)

    async def update(
        self,
        assistant_id: str,
        *,
        graph_id: str | None = None,
        config: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any] | None:
        checked = {
            "config": check_optional_object("config", config),
            "context": check_optional_object("context", context),
            "metadata": check_optional_object("metadata", metadata),
        }
        row = self._rows.get(assistant_id)
        if row is None:
            return None
        changes = patched(row, graph_id=graph_id, name=name, description=description, **checked)
        version = max(self._versions[assistant_id]) + 1
        stamp = now_iso()
        row.update(deepcopy(changes), version=version, updated_at=stamp)
        self._versions[assistant_id][version] = version_of(deepcopy(row), version, stamp)
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

    def _matching(
        self,
        graph_id: str | None,
        name: str | None,
        metadata: Mapping[str, Any] | None,
        graph_ids: Sequence[str] | None,
    ) -> list[dict[str, Any]]:
        pattern = check_object("metadata filter", metadata)
        allowed = check_graph_ids(graph_ids)
        needle = name.lower() if name else None
        return [
            row
            for row in self._rows.values()
            if (not graph_id or row["graph_id"] == graph_id)
            and (allowed is None or row["graph_id"] in allowed)
            and (needle is None or needle in row["name"].lower())
            and (not pattern or json_contains(row["metadata"], pattern))
        ]

    async def search(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        graph_ids: Sequence[str] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: str = "desc",
    ) -> list[dict[str, Any]]:
        field, descending = check_sort(sort_by, sort_order)
        check_page(limit, offset)
        rows = self._matching(graph_id, name, metadata, graph_ids)

        def key(row: dict[str, Any]) -> tuple[Any, str]:
            value = row[field]
            if field in _TIMESTAMPS:
                value = parse_iso(value)
            elif field in _CASE_INSENSITIVE:
                value = value.lower()
            return value, row["assistant_id"]

        rows.sort(key=key, reverse=descending)
        return [deepcopy(row) for row in rows[offset : offset + limit]]

    async def count(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        graph_ids: Sequence[str] | None = None,
    ) -> int:
        return len(self._matching(graph_id, name, metadata, graph_ids))

    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        pattern = check_object("metadata filter", metadata)
        check_page(limit, offset)
        stored = self._versions.get(assistant_id, {})
        found = [
            stored[number]
            for number in sorted(stored, reverse=True)
            if not pattern or json_contains(stored[number]["metadata"], pattern)
        ]
        return [deepcopy(row) for row in found[offset : offset + limit]]
