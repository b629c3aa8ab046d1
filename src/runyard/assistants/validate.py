"""Checks every assistant store runs on its input before writing or querying anything.

Each refusal is an ``InvalidAssistantInputError`` naming the value and what is accepted instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import IF_EXISTS_MODES, SORT_FIELDS, SORT_ORDERS
from .errors import InvalidAssistantInputError


def _one_of(kind: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidAssistantInputError(f"Unknown {kind} {value!r}: use one of {', '.join(allowed)}")
    return value


def check_if_exists(if_exists: object) -> str:
    return _one_of("if_exists mode", if_exists, IF_EXISTS_MODES)


def check_sort(sort_by: object, sort_order: object) -> tuple[str, bool]:
    """The sort field and whether the order is descending."""
    field = _one_of("sort field", sort_by, SORT_FIELDS)
    return field, _one_of("sort order", sort_order, SORT_ORDERS) == "desc"


def check_page(limit: int, offset: int) -> None:
    for name, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidAssistantInputError(f"{name} must be a non-negative integer, got {value!r}")


def check_object(name: str, value: object) -> dict[str, Any]:
    """A JSON object argument (config, context, metadata, a filter) as a dict; None is ``{}``."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidAssistantInputError(f"{name} must be a JSON object, got {type(value).__name__}")
    return dict(value)


def check_optional_object(name: str, value: object) -> dict[str, Any] | None:
    """Like ``check_object``, but None stays None ("leave it as it is")."""
    return None if value is None else check_object(name, value)


def check_graph_ids(graph_ids: Sequence[str] | None) -> list[str] | None:
    if graph_ids is None:
        return None
    if isinstance(graph_ids, str | bytes) or not all(isinstance(g, str) for g in graph_ids):
        raise InvalidAssistantInputError(f"graph_ids must be a list of graph ids, got {graph_ids!r}")
    return list(graph_ids)


def version_of(row: Mapping[str, Any], version: int, created_at: str) -> dict[str, Any]:
    """The version row that records ``row`` as version ``version``."""
    return {
        "assistant_id": row["assistant_id"],
        "version": version,
        "graph_id": row["graph_id"],
        "config": row["config"],
        "context": row["context"],
        "metadata": row["metadata"],
        "name": row["name"],
        "description": row["description"],
        "created_at": created_at,
    }


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
