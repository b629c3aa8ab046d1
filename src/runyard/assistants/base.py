"""The ``AssistantStore`` contract: assistants, their versions, and the invariants every store keeps.

An assistant is a graph of ``langgraph.json`` with a config, a context and metadata of its own
(ARCHITECTURE.md). Rows are plain dicts keyed by ``ASSISTANT_FIELDS``, shaped like
langgraph-api's ``Assistant`` JSON; version rows by ``VERSION_FIELDS`` (its ``AssistantVersion``).
Timestamps are timezone-aware ISO-8601 strings; ``config``, ``context`` and ``metadata`` are
JSON objects.

Invariants every implementation keeps (``tests/assistants/test_assistant_store_contract.py``
checks each against every implementation):

1. ``assistant_id`` is unique and ``create`` never overwrites: with ``if_exists="raise"`` a
   taken id raises ``AssistantExistsError``; with ``"do_nothing"`` the existing row comes back
   unchanged. A new assistant is version 1, and its version 1 row is written with it.
2. ``update`` writes version ``max(version) + 1`` and makes it the assistant's: ``graph_id``,
   ``name``, ``description``, ``config`` and ``context`` replace when given (not None; the API
   passes None for langgraph-api's "an empty config keeps the old one"), and ``metadata``
   merges shallowly (top-level keys of the patch replace);
   ``created_at`` never changes, ``updated_at`` moves forward. The version row holds the result.
3. ``set_latest`` copies a stored version's fields back into the assistant (its ``version``
   becomes that number, ``updated_at`` moves) and writes no version; a later ``update`` still
   numbers after the highest version. An unknown version raises
   ``AssistantVersionNotFoundError`` and changes nothing.
4. ``delete`` removes the assistant and all its versions.
5. ``search`` and ``count`` filter by ``graph_id`` (equal), ``name`` (case-insensitive
   substring), ``metadata`` (``jsonb @>`` containment, ``threads.containment``) and
   ``graph_ids`` (an allowlist; None filters nothing). ``search`` orders by ``sort_by``
   (``name`` and ``graph_id`` case-insensitively) then ``assistant_id``, both in
   ``sort_order``, so pages never overlap or skip; ``count`` equals what ``search`` pages through.
6. ``versions`` lists an assistant's versions newest first, filtered by metadata containment.
7. Unknown sort fields, sort orders, ``if_exists`` modes, non-object JSON values and negative
   pages raise ``InvalidAssistantInputError`` before anything is written.
8. ``delete_all(keep_system=True)`` removes every assistant whose metadata ``created_by`` is not
   ``"system"``, with its versions; the system ones and their versions stay.
9. Rows handed out are copies: mutating one changes nothing in the store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal, NamedTuple

from ..persistence.input_checks import InputChecks
from .errors import InvalidAssistantInputError

ASSISTANT_FIELDS: tuple[str, ...] = (
    "assistant_id",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "description",
    "version",
    "created_at",
    "updated_at",
)
VERSION_FIELDS: tuple[str, ...] = (
    "assistant_id",
    "version",
    "graph_id",
    "config",
    "context",
    "metadata",
    "name",
    "description",
    "created_at",
)
SORT_FIELDS: tuple[str, ...] = ("assistant_id", "graph_id", "name", "created_at", "updated_at")
SORT_ORDERS: tuple[str, ...] = ("asc", "desc")
IF_EXISTS_MODES: tuple[str, ...] = ("raise", "do_nothing")
SYSTEM_METADATA: dict[str, str] = {"created_by": "system"}
"""The metadata of a system assistant (one per graph, made at start-up)."""

IfExists = Literal["raise", "do_nothing"]


_CHECKS = InputChecks(
    InvalidAssistantInputError,
    sort_fields=SORT_FIELDS,
    sort_orders=SORT_ORDERS,
    if_exists_modes=IF_EXISTS_MODES,
)


def _filters(
    graph_id: str | None,
    name: str | None,
    metadata: Mapping[str, Any] | None,
    graph_ids: Sequence[str] | None,
) -> Filters:
    pattern = _CHECKS.json_object("metadata filter", metadata)
    allowed = _CHECKS.string_list("graph_ids", "a list of graph ids", graph_ids)
    return Filters(graph_id, name, pattern, allowed)


def is_system(row: Mapping[str, Any]) -> bool:
    """Whether ``row`` is a system assistant (as langgraph-api tells: by its metadata)."""
    return (row.get("metadata") or {}).get("created_by") == "system"


class Filters(NamedTuple):
    """The checked filters of ``search`` and ``count`` (invariant 5)."""

    graph_id: str | None
    name: str | None
    metadata: dict[str, Any]
    """Containment pattern; ``{}`` filters nothing."""
    graph_ids: list[str] | None
    """Allowlist; None filters nothing."""


def version_row(row: Mapping[str, Any], version: int, created_at: Any) -> dict[str, Any]:
    """The version row (``VERSION_FIELDS``) that records ``row`` as version ``version``."""
    values = {**row, "version": version, "created_at": created_at}
    return {key: values[key] for key in VERSION_FIELDS}


def patched(
    current: Mapping[str, Any],
    *,
    graph_id: str | None,
    config: dict[str, Any] | None,
    context: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
    name: str | None,
    description: str | None,
) -> dict[str, Any]:
    """The fields of ``current`` after an ``update`` (invariant 2), without version and stamps."""
    return {
        "graph_id": current["graph_id"] if graph_id is None else graph_id,
        "config": current["config"] if config is None else config,
        "context": current["context"] if context is None else context,
        "metadata": {**current["metadata"], **(metadata or {})},
        "name": current["name"] if name is None else name,
        "description": current["description"] if description is None else description,
    }


class AssistantStore(ABC):
    """Durable storage of assistants and their versions. See the module docstring.

    The public methods check and normalise their arguments (invariant 7) once, here, and hand
    them to the ``_``-prefixed storage hooks each implementation writes.
    """

    async def setup(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Prepare the store (create or migrate its schema). Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store is unusable afterwards."""

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
        """Insert version 1 of a new assistant and return its row (invariant 1)."""
        mode = _CHECKS.if_exists(if_exists)
        row = {
            "assistant_id": assistant_id,
            "graph_id": graph_id,
            "config": _CHECKS.json_object("config", config),
            "context": _CHECKS.json_object("context", context),
            "metadata": _CHECKS.json_object("metadata", metadata),
            "name": name,
            "description": description,
        }
        return await self._create(row, mode)

    @abstractmethod
    async def _create(self, row: dict[str, Any], if_exists: str) -> dict[str, Any]:
        """Store ``row`` (checked; no version or stamps yet) as version 1, unless its id is taken."""

    @abstractmethod
    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        """The row, or None when there is no such assistant."""

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
        """Write a new version (invariant 2) and return the new row; None when it is missing."""
        change = partial(
            patched,
            config=_CHECKS.optional_object("config", config),
            context=_CHECKS.optional_object("context", context),
            metadata=_CHECKS.optional_object("metadata", metadata),
            graph_id=graph_id,
            name=name,
            description=description,
        )
        return await self._update(assistant_id, change)

    @abstractmethod
    async def _update(
        self, assistant_id: str, change: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Store ``change(current row)`` as the next version, atomically; None when it is missing."""

    @abstractmethod
    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any] | None:
        """Make ``version`` the assistant's (invariant 3); None when the assistant is missing."""

    @abstractmethod
    async def delete(self, assistant_id: str) -> bool:
        """Remove the assistant and its versions; False when it is missing."""

    @abstractmethod
    async def delete_all(self, *, keep_system: bool = True) -> int:
        """Remove every assistant (but the system ones when ``keep_system``); return how many went.

        For the dev-mode test helper ``POST /internal/truncate``.
        """

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
        """One page of the rows matching every given filter (invariant 5)."""
        field, descending = _CHECKS.sort(sort_by, sort_order)
        _CHECKS.page(limit, offset)
        filters = _filters(graph_id, name, metadata, graph_ids)
        return await self._search(filters, field, descending, limit, offset)

    @abstractmethod
    async def _search(
        self, filters: Filters, field: str, descending: bool, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """One page of the rows matching ``filters``, ordered by ``field`` then ``assistant_id``."""

    async def count(
        self,
        *,
        graph_id: str | None = None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        graph_ids: Sequence[str] | None = None,
    ) -> int:
        """How many rows match every given filter (invariant 5)."""
        return await self._count(_filters(graph_id, name, metadata, graph_ids))

    @abstractmethod
    async def _count(self, filters: Filters) -> int:
        """How many rows match ``filters``."""

    async def versions(
        self,
        assistant_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """One page of the assistant's versions, newest first (invariant 6); [] when it is missing."""
        pattern = _CHECKS.json_object("metadata filter", metadata)
        _CHECKS.page(limit, offset)
        return await self._list_versions(assistant_id, pattern, limit, offset)

    @abstractmethod
    async def _list_versions(
        self, assistant_id: str, pattern: dict[str, Any], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """One page of the versions whose metadata contains ``pattern`` ({} for all), newest first."""

    async def upsert_system(
        self,
        assistant_id: str,
        *,
        graph_id: str,
        config: Mapping[str, Any],
        name: str,
        description: str | None,
    ) -> dict[str, Any]:
        """Make sure the system assistant of ``graph_id`` exists and says what the project says.

        Created (version 1) when missing; when its graph, name, description or config differ
        from the project's (``langgraph.json``, ``LANGGRAPH_CONFIG`` changed between starts), a
        new version brings them in line, as langgraph-api re-registers its graphs at start-up.
        """
        row = await self.create(
            assistant_id,
            graph_id=graph_id,
            config=config,
            context={},
            metadata=SYSTEM_METADATA,
            name=name,
            description=description,
            if_exists="do_nothing",
        )
        wanted = {"graph_id": graph_id, "name": name, "description": description, "config": dict(config)}
        if all(row[key] == value for key, value in wanted.items()):
            return row
        updated = await self.update(
            assistant_id, graph_id=graph_id, config=config, name=name, description=description
        )
        return updated if updated is not None else row
