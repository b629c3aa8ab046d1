"""Request bodies of the ``/store`` routes: langgraph-api's ``Store*Request`` schemas, checked at the edge.

A namespace is a list of labels. A label is a non-empty string without ``.`` (the GET route joins
labels with dots) and without NUL; an item's namespace must have at least one label, and its
first label must not be ``langgraph`` (LangGraph reserves it). A prefix or suffix may be empty.
Each rule refuses with a 422 that names the field and the label.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..threads.validate import MAX_TTL_MINUTES
from .models import MAX_OFFSET, Strict

RESERVED_ROOT = "langgraph"
FILTER_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
"""What a filter's field path may hold: the SQLite store's rule, applied on every backend."""
FILTER_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})
MAX_LIMIT = 10_000
Namespace = list[str]


def label_problem(label: object) -> str | None:
    """Why ``label`` cannot be a namespace label, or ``None`` when it can."""
    if not isinstance(label, str):
        return f"namespace label {label!r} must be a string"
    if not label:
        return "namespace labels must not be empty"
    if "." in label:
        return f"namespace label {label!r} must not contain a period ('.')"
    if "\x00" in label:
        return f"namespace label {label!r} must not contain a NUL character"
    return None


def namespace_problem(namespace: list[str], *, allow_empty: bool) -> str | None:
    """Why ``namespace`` cannot be used, or ``None``; ``allow_empty`` for prefixes and suffixes."""
    if not namespace and not allow_empty:
        return "must have at least one label"
    for label in namespace:
        if found := label_problem(label):
            return found
    return None


def _checked(namespace: list[str] | None, *, allow_empty: bool, item: bool = False) -> list[str] | None:
    if namespace is None:
        return None
    if found := namespace_problem(namespace, allow_empty=allow_empty):
        raise ValueError(found)
    if item and namespace[0] == RESERVED_ROOT:
        raise ValueError(f"the first namespace label must not be {RESERVED_ROOT!r} (reserved by LangGraph)")
    return namespace


class StorePut(Strict):
    """``PUT /store/items``: store or replace one item."""

    namespace: Namespace = Field(description="The item's namespace: non-empty labels without '.'.")
    key: str
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = Field(
        default=None, description="null: the store's index fields; false: not indexed; or field paths."
    )
    ttl: Annotated[float, Field(gt=0, le=MAX_TTL_MINUTES)] | None = Field(
        default=None,
        description="Minutes until the item expires; null: never. Absent: the store's default_ttl.",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: list[str]) -> list[str] | None:
        return _checked(value, allow_empty=False, item=True)


class StoreDelete(Strict):
    """``DELETE /store/items``."""

    namespace: Namespace = Field(default_factory=list, validate_default=True)
    key: str

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: list[str]) -> list[str] | None:
        return _checked(value, allow_empty=False)


class StoreSearch(Strict):
    """``POST /store/items/search``: list (newest first) or, with ``query``, semantic search."""

    namespace_prefix: Namespace | None = None
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=0, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)
    query: str | None = None
    refresh_ttl: bool | None = None

    @field_validator("namespace_prefix")
    @classmethod
    def _namespace(cls, value: list[str] | None) -> list[str] | None:
        return _checked(value, allow_empty=True)

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key, condition in (value or {}).items():
            if not FILTER_KEY.match(key):
                raise ValueError(f"filter key {key!r}: use letters, digits, '_', '-' and '.' only")
            if isinstance(condition, dict):
                unknown = sorted(set(condition) - FILTER_OPERATORS)
                if unknown:
                    raise ValueError(
                        f"filter key {key!r}: unknown operator(s) {unknown}; use {sorted(FILTER_OPERATORS)}"
                    )
        return value


class StoreListNamespaces(Strict):
    """``POST /store/namespaces``."""

    prefix: Namespace | None = None
    suffix: Namespace | None = None
    max_depth: int | None = Field(default=None, ge=1, le=MAX_OFFSET)
    limit: int = Field(default=100, ge=0, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    @field_validator("prefix", "suffix")
    @classmethod
    def _namespace(cls, value: list[str] | None) -> list[str] | None:
        return _checked(value, allow_empty=True)
