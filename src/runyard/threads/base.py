"""The ``ThreadStore`` contract: durable thread rows, and the invariants every store keeps.

A thread is a conversation (ARCHITECTURE.md). Its state lives in the checkpointer; the thread row
holds what the Agent Server's ``Thread`` JSON shows without reading a checkpoint: metadata, a
status, the config of its latest run, and a snapshot of its latest values and interrupts.

Rows are plain dicts keyed by ``THREAD_FIELDS``, shaped like langgraph-api's ``Thread`` JSON
plus ``user_id`` and ``ttl``. Timestamps are timezone-aware ISO-8601 strings; ``metadata``,
``config`` and ``interrupts`` are JSON objects, ``values`` is a JSON object or None (no state
written yet). ``ttl`` is None or ``{"strategy": "delete" | "keep_latest", "ttl": <minutes>, "expires_at": <iso>}``.
Everything a store keeps must be JSON-serialisable.

``user_id`` on a call scopes it: a row is visible only when its ``user_id`` equals the caller's,
``None`` means no filter. A row hidden by the scope behaves exactly like a missing one.

Invariants every implementation keeps (``tests/threads/test_thread_store_contract.py`` checks
each one against every implementation):

1. ``thread_id`` is unique and ``create`` never overwrites: with ``if_exists="raise"`` a taken
   id raises ``ThreadExistsError``; with ``"do_nothing"`` the existing row comes back unchanged,
   or ``ThreadExistsError`` when that row is hidden from the caller (the id is taken all the same).
2. A new row is ``idle`` with ``config == {}``, ``values is None``, ``interrupts == {}``, and
   ``created_at == updated_at == state_updated_at``.
3. ``created_at`` never changes. Every write (``update``, ``set_status``, ``touch``) moves
   ``updated_at`` forward. ``state_updated_at`` moves only when ``set_status`` writes values or
   interrupts.
4. ``update`` merges metadata shallowly (the patch's top-level keys replace, the others stay),
   as langgraph-api's PATCH does, and never touches status, config, values or interrupts.
5. Statuses are ``THREAD_STATUSES``; any other value, like an unknown sort field, sort order,
   ``if_exists`` mode or ttl, raises ``InvalidThreadInputError`` (a ``ValueError``) naming the
   accepted values, before anything is written.
6. ``search`` and ``count`` filter by user, ids, status and JSON containment on metadata and
   values, with Postgres ``jsonb @>`` semantics (``containment.json_contains``): an object
   contains a pattern when every key of the pattern is present and contains its value, an array
   when every pattern element is contained in some element, a scalar when equal (numbers by
   value; booleans are not numbers). An empty or None filter filters nothing. ``search`` orders
   by ``sort_by`` then ``thread_id``, both in ``sort_order``, so the order is total and pages
   never overlap or skip; ``offset`` and ``limit`` apply after filtering; ``count`` equals the
   number of rows ``search`` would page through.
7. A ttl expires ``ttl`` minutes after it was set (``create``, ``update``) or last re-armed
   (``touch``, ``copy``). ``list_expired`` lists the ids whose ``expires_at`` is at or before the
   given instant, soonest first; it deletes nothing, the sweeper does (and decides about busy
   threads).
8. ``copy`` creates a new row with the source's metadata, config, values, interrupts, status
   (``busy`` becomes ``idle``: no run is on the copy), ttl policy and user, and fresh timestamps.
   Checkpoints are the caller's to copy.
9. Rows handed out are copies: mutating one changes nothing in the store.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

THREAD_FIELDS: tuple[str, ...] = (
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "status",
    "config",
    "values",
    "interrupts",
    "user_id",
    "ttl",
)
THREAD_STATUSES: tuple[str, ...] = ("idle", "busy", "interrupted", "error")
SORT_FIELDS: tuple[str, ...] = ("thread_id", "status", "created_at", "updated_at", "state_updated_at")
SORT_ORDERS: tuple[str, ...] = ("asc", "desc")
IF_EXISTS_MODES: tuple[str, ...] = ("raise", "do_nothing")
TTL_STRATEGIES: tuple[str, ...] = ("delete", "keep_latest")

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
IfExists = Literal["raise", "do_nothing"]
SortOrder = Literal["asc", "desc"]
# Minutes, or the SDK's ``{"ttl": minutes, "strategy": "delete" | "keep_latest"}``.
TtlInput = int | float | Mapping[str, Any] | None


class Unset(enum.Enum):
    """The type of ``UNSET``: "leave this column as it is", where None is a value to write."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET


class ThreadStore(ABC):
    """Durable storage of thread rows. See the module docstring for the invariants."""

    async def setup(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Prepare the store (create or migrate its schema). Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store is unusable afterwards."""

    @abstractmethod
    async def create(
        self,
        thread_id: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        if_exists: IfExists = "raise",
        ttl: TtlInput = None,
    ) -> dict[str, Any]:
        """Insert a new idle thread (a uuid4 id when none is given) and return its row (invariant 1)."""

    @abstractmethod
    async def get(self, thread_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        """The row, or None when it is missing or hidden from ``user_id``."""

    @abstractmethod
    async def update(
        self,
        thread_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        ttl: TtlInput = None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Merge ``metadata`` into the row's and, when given, re-set its ttl from now.

        Returns the new row, or None when the thread is missing or hidden (invariant 4).
        """

    @abstractmethod
    async def delete(self, thread_id: str, *, user_id: str | None = None) -> bool:
        """Remove the row; False when it is missing or hidden."""

    @abstractmethod
    async def delete_all(self) -> int:
        """Remove every row, whoever owns it; return how many there were.

        For the dev-mode test helper ``POST /internal/truncate`` only.
        """

    @abstractmethod
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
        """One page of the rows that match every given filter (invariant 6).

        ``ids=None`` filters nothing; an empty list matches no row.
        """

    @abstractmethod
    async def count(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        status: str | None = None,
        user_id: str | None = None,
    ) -> int:
        """How many rows match every given filter (invariant 6)."""

    @abstractmethod
    async def set_status(
        self,
        thread_id: str,
        status: str,
        *,
        values: Any = UNSET,
        interrupts: Mapping[str, Any] | Unset | None = UNSET,
        config: Mapping[str, Any] | Unset | None = UNSET,
    ) -> bool:
        """Write the status and, when given, the values, interrupts and config snapshot.

        Values or interrupts stamp ``state_updated_at`` (invariant 3); None interrupts or config
        are written as ``{}``. False when the thread is missing.
        """

    @abstractmethod
    async def copy(
        self, thread_id: str, new_thread_id: str | None = None, *, user_id: str | None = None
    ) -> dict[str, Any] | None:
        """Copy the row to ``new_thread_id`` (a uuid4 when None) and return the copy (invariant 8).

        None when the source is missing or hidden; ``ThreadExistsError`` when the new id is taken.
        """

    @abstractmethod
    async def touch(self, thread_id: str) -> bool:
        """Stamp ``updated_at`` and re-arm the ttl from now; False when the thread is missing."""

    @abstractmethod
    async def list_expired(self, now_iso: str, *, limit: int | None = None) -> list[str]:
        """Ids whose ttl expired at or before ``now_iso``, soonest first (invariant 7)."""
