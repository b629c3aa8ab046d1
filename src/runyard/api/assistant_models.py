"""Request bodies of the Assistants API, validated at the edge like ``models`` (unknown keys 422).

Shaped after langgraph-api 0.16.7's ``AssistantCreate``, ``AssistantPatch``,
``AssistantSearchRequest``, ``AssistantCountRequest``, ``AssistantVersionsSearchRequest`` and
``AssistantVersionChange`` schemas, so what the official SDK sends is accepted as is.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..assistants.base import ASSISTANT_FIELDS, SORT_FIELDS
from .models import MAX_OFFSET, Strict
from .schema_hints import UUID_FORMAT

AssistantSortField = Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"]
AssistantSelectField = Literal[
    "assistant_id",
    "graph_id",
    "name",
    "description",
    "config",
    "context",
    "created_at",
    "updated_at",
    "metadata",
    "version",
]
assert set(AssistantSortField.__args__) == set(SORT_FIELDS)  # type: ignore[attr-defined]
assert set(AssistantSelectField.__args__) == set(ASSISTANT_FIELDS)  # type: ignore[attr-defined]


class AssistantConfig(BaseModel):
    """An assistant's ``config``: langgraph-api's ``Config`` schema, an open object whose known
    keys are typed (other keys are kept, as there)."""

    model_config = ConfigDict(extra="allow")

    tags: list[str] | None = None
    recursion_limit: int | None = Field(default=None, ge=1, le=2**31 - 1)
    configurable: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The keys the client sent, as it sent them (an explicit null is dropped)."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}


def _assistant_uuid(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(UUID(value))
    except ValueError:
        raise ValueError(f"Invalid assistant ID: must be a UUID, got {value!r}") from None


class AssistantCreate(Strict):
    graph_id: str
    assistant_id: str | None = Field(default=None, json_schema_extra=UUID_FORMAT)
    config: AssistantConfig | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    name: str | None = None
    description: str | None = None

    _uuid = field_validator("assistant_id")(_assistant_uuid)


class AssistantPatch(Strict):
    graph_id: str | None = None
    config: AssistantConfig | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class AssistantSearch(Strict):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    sort_by: AssistantSortField | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[AssistantSelectField] | None = None


class AssistantCount(Strict):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersionsSearch(Strict):
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class AssistantVersionChange(Strict):
    version: int = Field(ge=1, le=2**31 - 1)
