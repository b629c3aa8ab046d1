"""The ``RunStore`` contract: what the run runtime needs from durable storage, and its invariants.

Rows are plain dicts keyed by column name (``ROW_FIELDS``); timestamps are timezone-aware
ISO-8601 strings; ``metadata``, ``kwargs`` and ``token_usage_by_model`` are JSON objects.
``user_id`` on a read scopes it: a row is visible only when its ``user_id`` equals the caller's;
``None`` means no filter.

Invariants every implementation keeps (``tests/runs/test_store_contract.py`` checks each one
against every implementation):

1. At most one run per thread is ``running``, whatever the writers: the store refuses the write
   that would make a second one (``start`` returns False, ``update_status`` raises).
2. Admission is atomic: ``admit`` with ``reject`` inserts only if the thread has no active run
   (pending or running) at that instant, even when several processes admit at once.
3. Status writes are guarded: a terminal status is final. ``update_status`` never revives a
   terminal row and never replaces one terminal status with another; writing the status a row
   already has is an idempotent success.
4. ``start`` moves a run from pending to running only when no run on its thread is running and
   no older pending run waits on it (creation order), stamping owner, attempt and lease.
5. Completion and progress writes never change a status.
6. Reads return rows newest first where a list is asked for; ties keep insertion order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..errors import UnsupportedStrategyError
from ..record import USAGE_FIELDS
from ..schemas import SUPPORTED_STRATEGIES

ROW_FIELDS: tuple[str, ...] = (
    "run_id",
    "thread_id",
    "assistant_id",
    "user_id",
    "status",
    "on_disconnect",
    "multitask_strategy",
    "metadata",
    "kwargs",
    "error",
    "model_name",
    "created_at",
    "updated_at",
    "owner",
    "attempt",
    "lease_expires_at",
    "cancel_action",
    "not_before",
    *USAGE_FIELDS,
)

# Columns ``update_run_completion`` and ``update_run_progress`` may write.
USAGE_COLUMNS: frozenset[str] = frozenset({*USAGE_FIELDS, "error", "model_name"})


class RunStore(ABC):
    """Durable storage of run rows. See the module docstring for the invariants."""

    async def setup(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Prepare the store (create or migrate its schema). Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store is unusable afterwards."""

    @abstractmethod
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
        """Insert a row, or replace the named columns of an existing one (an idempotent upsert).

        A plain write with no admission check: used for imports, tests and ``RunManager.create``.
        A missing ``created_at`` is stamped now; ``updated_at`` is always stamped now.
        """

    @abstractmethod
    async def put_if_absent(self, run_id: str, **row: Any) -> bool:
        """Insert the row only when no row has this id; return whether it was inserted.

        Re-creating a row lost after creation uses this, so it can never clobber a row that a
        concurrent writer (or another process) has moved on.
        """

    @abstractmethod
    async def admit(self, run_id: str, *, strategy: str, **row: Any) -> list[str]:
        """Atomically admit a new pending run on ``row['thread_id']`` under ``strategy``.

        ``reject``: insert only if the thread has no active run, else raise ``ThreadBusyError``.
        ``interrupt``/``rollback``: in the same transaction, mark the thread's active runs
        ``interrupted`` (``cancel_action`` = the strategy, for their owners) and insert. ``enqueue``: insert behind whatever is active.
        Returns the ids of the runs this admission interrupted.
        """

    @abstractmethod
    async def get(self, run_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        """The row, or None when it is missing or belongs to another user."""

    @abstractmethod
    async def list_by_thread(
        self, thread_id: str, *, user_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The thread's rows, newest first, at most ``limit``."""

    @abstractmethod
    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        """Guarded status write (invariant 3). True when the row now has ``status``.

        False when the row is missing or its terminal status refused the write; callers tell
        the two apart with ``get``. Raises ``ThreadBusyError`` when the write would make a
        second running run on the thread.
        """

    @abstractmethod
    async def start(
        self, run_id: str, *, owner: str | None = None, lease_expires_at: str | None = None
    ) -> bool:
        """Claim a pending run (invariant 4); True when this call moved it to running."""

    @abstractmethod
    async def next_pending(self, thread_id: str) -> dict[str, Any] | None:
        """The thread's oldest pending row, the one ``start`` would accept next."""

    @abstractmethod
    async def update_model_name(self, run_id: str, model_name: str | None) -> bool:
        """Set the model name; False when the row is missing."""

    @abstractmethod
    async def update_run_completion(self, run_id: str, *, status: str | None = None, **fields: Any) -> bool:
        """Write final usage counters and summary (``USAGE_COLUMNS``); False when the row is missing.

        ``status`` is accepted for callers that pass the outcome along, and ignored: the status
        belongs to the guarded transitions, never to a completion write (invariant 5).
        """

    @abstractmethod
    async def update_run_progress(self, run_id: str, **fields: Any) -> bool:
        """Write a usage snapshot while the run is running; False otherwise."""

    @abstractmethod
    async def delete(self, run_id: str) -> bool:
        """Remove the row; False when there was none."""

    @abstractmethod
    async def delete_all(self) -> int:
        """Remove every row, whatever its status; return how many there were.

        For the dev-mode test helper ``POST /internal/truncate``: the caller has settled the
        active runs first. Nothing else deletes rows wholesale.
        """

    @abstractmethod
    async def list_inflight(self, *, before: str | None = None) -> list[dict[str, Any]]:
        """Active rows (pending, running, or NULL status), oldest first.

        With ``before``, only rows created strictly earlier: rows from a previous life of the
        process, not runs admitted since it started.
        """

    # -- leases: many processes on one database (cluster mode) ------------------------------
    #
    # A run is *held* while its lease_expires_at is set and in the future: its owner is
    # executing it or still unwinding it (a cancelled run keeps its hold until the owner has
    # stopped the graph), so no other run on its thread may start meanwhile. Lease instants
    # are the database's clock on Postgres, so the processes' clocks may differ.

    @abstractmethod
    async def claim(self, owner: str, *, lease_seconds: float, max_attempts: int) -> dict[str, Any] | None:
        """Claim the oldest run ``owner`` may execute now; its row after the claim, or None.

        Claimable: a pending run that is due (``not_before`` passed or unset), is the oldest
        pending run of its thread, and whose thread has no other run running or held; or a
        running run whose lease lapsed and that has used fewer than ``max_attempts`` attempts
        (a takeover: same run_id, so LangGraph resumes it from its last checkpoint). The claim
        sets owner, attempt + 1, a lease of ``lease_seconds`` and clears ``cancel_action``, in
        one guarded write: two owners racing for a run never both win it.
        """

    @abstractmethod
    async def renew(self, owner: str, *, lease_seconds: float) -> list[dict[str, Any]]:
        """Extend every lease ``owner`` holds; the held rows (``run_id``, ``status``,
        ``cancel_action``) after the write. A run cancelled from another process shows here as
        ``interrupted`` with its action, which is how the owner learns of it when the signal
        was lost; a run missing from the answer is no longer this owner's to execute."""

    @abstractmethod
    async def release(self, run_id: str, owner: str) -> bool:
        """End ``owner``'s hold on the run (its task has stopped); False when it held none."""

    @abstractmethod
    async def requeue_owned(self, owner: str) -> list[str]:
        """Put ``owner``'s running runs back to pending and drop all its holds (a graceful stop),
        so another process claims them at once; the ids of the runs requeued."""

    @abstractmethod
    async def abandon_lapsed(self, *, max_attempts: int, error: str) -> list[dict[str, Any]]:
        """End ``error`` each running run whose lease lapsed after ``max_attempts`` attempts;
        their rows after the write."""

    @abstractmethod
    async def request_cancel(self, run_id: str, action: str) -> dict[str, Any] | None:
        """Cancel an active run from any process: status ``interrupted`` and ``cancel_action``,
        guarded so the first cancel wins (a later one leaves the first action). The row after
        the write, or None when it is missing; a row that had already ended keeps its status."""

    @abstractmethod
    async def finish_owned(self, run_id: str, owner: str, status: str, *, error: str | None = None) -> bool:
        """The owner's final status write, fenced: applied only while ``owner`` still owns the
        run (a takeover made the old owner's word void) and under ``update_status``'s guard."""


def validate_strategy(strategy: str) -> None:
    """Raise ``UnsupportedStrategyError`` naming the supported strategies."""
    if strategy not in SUPPORTED_STRATEGIES:
        raise UnsupportedStrategyError(
            f"Multitask strategy '{strategy}' is not supported. "
            f"Supported strategies: {', '.join(SUPPORTED_STRATEGIES)}"
        )
