"""``RunRecord``: one run as the process sees it, durable fields plus live control state."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .schemas import DisconnectMode, RunStatus

# Completion and progress fields a store keeps per run (token usage and a message summary).
USAGE_FIELDS: tuple[str, ...] = (
    "total_input_tokens",
    "total_output_tokens",
    "total_tokens",
    "llm_call_count",
    "message_count",
    "token_usage_by_model",
    "last_ai_message",
    "first_human_message",
)


@dataclass
class RunRecord:
    """A run's row plus what only the owning process has: its task and abort signal.

    ``store_only`` marks a record built from a store row (history after a restart, or a run
    another process owns): it has no task and cancelling it here cannot stop anything.
    """

    run_id: str
    thread_id: str
    assistant_id: str | None
    status: RunStatus
    on_disconnect: DisconnectMode
    multitask_strategy: str = "reject"
    metadata: dict[str, Any] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    created_at: str = ""
    updated_at: str = ""
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    abort_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    abort_action: str = "interrupt"
    error: str | None = None
    model_name: str | None = None
    store_only: bool = False
    owner: str | None = None
    attempt: int = 0
    lease_expires_at: str | None = None
    # A delayed run (``after_seconds``) does not start before this instant.
    not_before: str | None = None
    total_input_tokens: int = 0
    total_output_tokens: int = 0
    total_tokens: int = 0
    llm_call_count: int = 0
    message_count: int = 0
    token_usage_by_model: dict[str, Any] = field(default_factory=dict)
    last_ai_message: str | None = None
    first_human_message: str | None = None
    # Cluster mode: this attempt was stopped because the process lost (or could not confirm)
    # its lease; it writes nothing more, the next owner carries the run on.
    fenced: bool = field(default=False, repr=False)
    # Monotonic time the record turned terminal; drives eviction from the live registry.
    finished_at: float | None = field(default=None, repr=False)

    def to_row(self, *, error: str | None = None) -> dict[str, Any]:
        """The columns a store keeps for this run (re-creating a lost row uses this too)."""
        return {
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "user_id": self.user_id,
            "status": self.status.value,
            "on_disconnect": self.on_disconnect.value,
            "multitask_strategy": self.multitask_strategy,
            "metadata": self.metadata or {},
            "kwargs": self.kwargs or {},
            "error": error if error is not None else self.error,
            "created_at": self.created_at,
            "model_name": self.model_name,
            "not_before": self.not_before,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        """Build a read-only record from a store row.

        NULL status and on_disconnect (rows written before those columns existed) read as
        ``pending`` and ``cancel``.
        """
        return cls(
            run_id=row["run_id"],
            thread_id=row["thread_id"],
            assistant_id=row.get("assistant_id"),
            status=RunStatus(row.get("status") or RunStatus.pending.value),
            on_disconnect=DisconnectMode(row.get("on_disconnect") or DisconnectMode.cancel.value),
            multitask_strategy=row.get("multitask_strategy") or "reject",
            metadata=row.get("metadata") or {},
            kwargs=row.get("kwargs") or {},
            user_id=row.get("user_id"),
            created_at=row.get("created_at") or "",
            updated_at=row.get("updated_at") or "",
            error=row.get("error"),
            model_name=row.get("model_name"),
            store_only=True,
            owner=row.get("owner"),
            attempt=row.get("attempt") or 0,
            lease_expires_at=row.get("lease_expires_at"),
            not_before=row.get("not_before"),
            total_input_tokens=row.get("total_input_tokens") or 0,
            total_output_tokens=row.get("total_output_tokens") or 0,
            total_tokens=row.get("total_tokens") or 0,
            llm_call_count=row.get("llm_call_count") or 0,
            message_count=row.get("message_count") or 0,
            token_usage_by_model=row.get("token_usage_by_model") or {},
            last_ai_message=row.get("last_ai_message"),
            first_human_message=row.get("first_human_message"),
        )
