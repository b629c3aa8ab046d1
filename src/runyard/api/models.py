"""Request bodies, validated at the edge (ARCHITECTURE.md, decision 7).

Every key the official SDK sends is declared; unknown keys are refused with a 422 that names
them (``extra="forbid"``), and keys runyard accepts but cannot honour yet are refused by name in
``unsupported_run_fields`` rather than silently dropped. The models are also the OpenAPI schema:
rules that span keys (``input`` or ``command``, not both) are stated there too, so a client or a
schema-driven fuzzer that follows the schema sends requests the server accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..runs.stream_modes import normalize
from ..threads.validate import MAX_TTL_MINUTES
from .json_check import problem
from .schema_hints import UUID_FORMAT, not_both, unsupported

MultitaskStrategyName = Literal["reject", "interrupt", "rollback", "enqueue"]
StreamModeName = Literal[
    "values", "updates", "messages", "messages-tuple", "custom", "events", "debug", "tasks", "checkpoints"
]
ThreadStatusName = Literal["idle", "busy", "interrupted", "error"]
ThreadSortField = Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"]
MAX_OFFSET = 2**31 - 1
"""The largest page offset accepted (a database's integer must hold offset + limit)."""
MAX_DELAY_SECONDS = 7 * 24 * 3600
"""The longest ``after_seconds`` accepted: a week."""


def _uuid(value: str | None, name: str) -> str | None:
    if value is not None:
        try:
            UUID(value)
        except ValueError as exc:
            raise ValueError(f"{name} must be a UUID, got {value!r}") from exc
    return value


class Strict(BaseModel):
    """A request body: unknown keys are refused, and so is JSON runyard could not store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        found = problem(data)
        if found:
            raise ValueError(found)
        return data


class Checkpoint(Strict):
    thread_id: str | None = None
    checkpoint_ns: str | None = ""
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class CommandBody(Strict):
    update: Any = None
    resume: Any = None
    goto: Any = None


class RunConfig(Strict):
    """A run's ``config``: the JSON keys of LangGraph's ``RunnableConfig``.

    ``callbacks`` and ``run_id`` are not JSON and belong to the server; other keys are refused by
    name rather than passed to LangGraph, which would fail on them only once the run started.
    """

    configurable: dict[str, Any] | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None
    run_name: str | None = None
    recursion_limit: int | None = Field(default=None, ge=1, le=2**31 - 1)
    max_concurrency: int | None = Field(default=None, ge=1, le=2**31 - 1)

    def as_dict(self) -> dict[str, Any]:
        """The keys the client sent, without the ones it left out or set to null."""
        return self.model_dump(exclude_none=True)


class LangSmithTracer(Strict):
    """``langsmith_tracer``: an extra LangSmith project the run is traced to, when tracing is on."""

    project_name: str | None = None
    example_id: str | None = None


class RunCreate(Strict):
    """``POST /threads/{id}/runs[/stream|/wait]`` and the stateless ``POST /runs[...]``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                not_both({"required": ["input"]}, {"required": ["command"]}),
                not_both(
                    {"required": ["context"], "properties": {"context": {"minProperties": 1}}},
                    {
                        "required": ["config"],
                        "properties": {
                            "config": {
                                "type": "object",
                                "required": ["configurable"],
                                "properties": {"configurable": {"type": "object", "minProperties": 1}},
                            }
                        },
                    },
                ),
            ]
        },
    )

    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    metadata: dict[str, Any] | None = None
    config: RunConfig | None = None
    context: dict[str, Any] | None = None
    checkpoint: Checkpoint | None = None
    checkpoint_id: str | None = Field(default=None, json_schema_extra=UUID_FORMAT)
    checkpoint_during: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    stream_mode: list[StreamModeName] | StreamModeName | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    multitask_strategy: MultitaskStrategyName = "enqueue"
    if_not_exists: Literal["reject", "create"] = "reject"
    after_seconds: float | None = Field(default=None, ge=0, le=MAX_DELAY_SECONDS)
    on_disconnect: Literal["cancel", "continue"] | None = None
    on_completion: Literal["delete", "keep"] | None = None
    webhook: str | None = Field(
        default=None, description="POSTed the run when it ends; checked against the webhooks policy"
    )
    feedback_keys: list[str] | None = Field(
        default=None, json_schema_extra=unsupported({"type": "null"}, {"type": "array", "maxItems": 0})
    )
    langsmith_tracer: LangSmithTracer | None = None
    strict_resume: bool | None = Field(
        default=None, json_schema_extra=unsupported({"type": "null"}, {"const": False})
    )

    @field_validator("stream_mode")
    @classmethod
    def _modes(cls, value: list[str] | str | None) -> list[str]:
        return normalize(value)

    @field_validator("checkpoint_id")
    @classmethod
    def _checkpoint_id(cls, value: str | None) -> str | None:
        return _uuid(value, "checkpoint_id")

    @model_validator(mode="after")
    def _consistent(self) -> RunCreate:
        if self.input is not None and self.command is not None:
            raise ValueError("Cannot specify both input and command")
        return self

    def unsupported_fields(self) -> list[str]:
        """Keys runyard refuses by name rather than ignore."""
        refused = []
        if self.feedback_keys:
            # langgraph-api asks LangSmith for pre-signed feedback URLs when the run ends (and,
            # without a LangSmith API key, fails the run there); runyard does not call LangSmith.
            refused.append("feedback_keys (LangSmith feedback URLs)")
        if self.strict_resume:
            refused.append("strict_resume")
        return refused


class ThreadTtl(Strict):
    """The SDK's ttl object; a bare number means ``{"strategy": "delete", "ttl": <number>}``."""

    strategy: Literal["delete", "keep_latest"] = "delete"
    ttl: float = Field(gt=0, le=MAX_TTL_MINUTES, description="minutes")


TtlBody = ThreadTtl | Annotated[float, Field(gt=0, le=MAX_TTL_MINUTES)] | None


class SuperstepUpdate(Strict):
    """One update of a superstep: ``values`` (or a ``command``) written as if ``as_node`` ran."""

    values: Any = None
    command: CommandBody | None = None
    as_node: str


class Superstep(Strict):
    updates: list[SuperstepUpdate]


class ThreadCreate(Strict):
    thread_id: str | None = Field(default=None, json_schema_extra=UUID_FORMAT)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: TtlBody = None
    supersteps: list[Superstep] | None = None
    graph_id: str | None = None

    @field_validator("thread_id")
    @classmethod
    def _thread_id(cls, value: str | None) -> str | None:
        return _uuid(value, "thread_id")


class ThreadPrune(Strict):
    thread_ids: list[str]
    strategy: Literal["delete", "keep_latest"] = "delete"

    @field_validator("thread_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        for thread_id in value:
            _uuid(thread_id, "thread_ids[]")
        return [str(UUID(thread_id)) for thread_id in value]


class ThreadPatch(Strict):
    metadata: dict[str, Any] | None = None
    ttl: TtlBody = None


class ThreadSearch(Strict):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: ThreadSortField | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, Any] | None = None


class ThreadCount(Strict):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatusName | None = None


class CancelMany(Strict):
    """``{"status": ...}``, or ``{"thread_id": ..., "run_ids": [...]}``; never both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["status"],
                    "properties": {"status": {"type": "string"}},
                    "not": {"anyOf": [{"required": ["thread_id"]}, {"required": ["run_ids"]}]},
                },
                {
                    "required": ["thread_id", "run_ids"],
                    "properties": {
                        "thread_id": {"type": "string", "minLength": 1},
                        "run_ids": {"type": "array", "minItems": 1},
                    },
                    "not": {"required": ["status"]},
                },
            ]
        },
    )

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
