"""Checks every assistant store runs on its input before writing or querying anything.

Each refusal is an ``InvalidAssistantInputError`` naming the value and what is accepted instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..persistence.input_checks import InputChecks
from .base import IF_EXISTS_MODES, SORT_FIELDS, SORT_ORDERS
from .errors import InvalidAssistantInputError

_CHECKS = InputChecks(
    InvalidAssistantInputError,
    sort_fields=SORT_FIELDS,
    sort_orders=SORT_ORDERS,
    if_exists_modes=IF_EXISTS_MODES,
)
check_if_exists = _CHECKS.if_exists
check_sort = _CHECKS.sort
check_page = _CHECKS.page
check_object = _CHECKS.json_object
check_optional_object = _CHECKS.optional_object


def check_graph_ids(graph_ids: Sequence[str] | None) -> list[str] | None:
    return _CHECKS.string_list("graph_ids", "a list of graph ids", graph_ids)


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
