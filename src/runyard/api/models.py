"""Request bodies, validated at the edge (ARCHITECTURE.md, decision 7).

Every key the official SDK sends is declared; unknown keys are refused with a 422 that names
them (``extra="forbid"``), and keys runyard accepts but cannot honour yet are refused by name in
``unsupported_run_fields`` rather than silently dropped.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..runs.stream_modes import normalize

MultitaskStrategyName = Literal["reject", "interrupt", "rollback", "enqueue"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Checkpoint(Strict):
    thread_id: str | None = None
    checkpoint_ns: str | None = ""
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class CommandBody(Strict):
    update: Any = None
    resume: Any = None
    goto: Any = None


class RunCreate(Strict):
    """``POST /threads/{id}/runs[/stream|/wait]`` and the stateless ``POST /runs[...]``."""

    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    checkpoint: Checkpoint | None = None
    checkpoint_id: str | None = None
    checkpoint_during: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    stream_mode: list[str] | str | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    multitask_strategy: MultitaskStrategyName = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    after_seconds: float | None = Field(default=None, ge=0)
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    webhook: str | None = None
    feedback_keys: list[str] | None = None
    langsmith_tracer: dict[str, Any] | None = None
    strict_resume: bool | None = None

    @field_validator("stream_mode")
    @classmethod
    def _modes(cls, value: list[str] | str | None) -> list[str]:
        return normalize(value)

    @field_validator("checkpoint_id")
    @classmethod
    def _checkpoint_id(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                UUID(value)
            except ValueError as exc:
                raise ValueError(f"checkpoint_id must be a UUID, got {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RunCreate:
        if self.input is not None and self.command is not None:
            raise ValueError("Cannot specify both input and command")
        return self

    def unsupported_fields(self) -> list[str]:
        """Keys runyard refuses by name rather than ignore."""
        refused = []
        if self.webhook:
            refused.append("webhook")
        if self.feedback_keys:
            refused.append("feedback_keys")
        if self.langsmith_tracer:
            refused.append("langsmith_tracer")
        if self.strict_resume:
            refused.append("strict_resume")
        if "events" in (self.stream_mode or []):
            refused.append("stream_mode=events")
        return refused


class ThreadCreate(Strict):
    thread_id: str | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: dict[str, Any] | float | None = None
    supersteps: list[dict[str, Any]] | None = None
    graph_id: str | None = None


class ThreadPatch(Strict):
    metadata: dict[str, Any] | None = None
    ttl: dict[str, Any] | float | None = None


class ThreadSearch(Strict):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: str | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, Any] | None = None


class ThreadCount(Strict):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None


class CancelMany(Strict):
    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None

    @model_validator(mode="after")
    def _target(self) -> CancelMany:
        if self.status is None and not (self.thread_id and self.run_ids):
            raise ValueError("Either status, or thread_id together with run_ids, must be given")
        if self.status is not None and (self.thread_id or self.run_ids):
            raise ValueError("status cannot be combined with thread_id or run_ids")
        return self


class AssistantSearch(Strict):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: str | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    response_format: str | None = None


class AssistantCount(Strict):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
