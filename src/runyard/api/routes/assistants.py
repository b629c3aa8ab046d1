"""Assistants: one system assistant per graph of ``langgraph.json``.

A system assistant's config is its graph's entry in ``LANGGRAPH_CONFIG`` (``{}`` without one),
as langgraph-api registers it; runs of the assistant get it merged under their own config.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request

from ...runs.clock import now_iso
from ..errors import NotFound
from ..models import AssistantCount, AssistantSearch
from ..services import Services

logger = logging.getLogger(__name__)
router = APIRouter(tags=["assistants"])
_STARTED = now_iso()


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def system_assistants(services: Services) -> list[dict[str, Any]]:
    out = []
    for entry in services.graphs:
        out.append(
            {
                "assistant_id": entry.assistant_id,
                "graph_id": entry.graph_id,
                "config": services.assistant_config(entry.graph_id),
                "context": {},
                "metadata": {"created_by": "system"},
                "name": entry.graph_id,
                "description": getattr(entry.spec, "description", None),
                "version": 1,
                "created_at": _STARTED,
                "updated_at": _STARTED,
            }
        )
    return out


def _find(services: Services, assistant_id: str) -> dict[str, Any]:
    for assistant in system_assistants(services):
        if assistant["assistant_id"] == assistant_id or assistant["graph_id"] == assistant_id:
            return assistant
    raise NotFound(f"Assistant {assistant_id} not found")


def _matches(
    assistant: dict[str, Any], metadata: dict[str, Any] | None, graph_id: str | None, name: str | None
) -> bool:
    if graph_id and assistant["graph_id"] != graph_id:
        return False
    if name and name not in assistant["name"]:
        return False
    return not metadata or all(assistant["metadata"].get(k) == v for k, v in metadata.items())


@router.post("/assistants/search")
async def search_assistants(body: AssistantSearch, request: Request) -> list[dict[str, Any]]:
    found = [
        a
        for a in system_assistants(_services(request))
        if _matches(a, body.metadata, body.graph_id, body.name)
    ]
    return found[body.offset : body.offset + body.limit]


@router.post("/assistants/count")
async def count_assistants(body: AssistantCount, request: Request) -> int:
    return sum(
        _matches(a, body.metadata, body.graph_id, body.name) for a in system_assistants(_services(request))
    )


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: UUID, request: Request) -> dict[str, Any]:
    return _find(_services(request), str(assistant_id))


@router.get("/assistants/{assistant_id}/graph")
async def get_assistant_graph(
    assistant_id: str, request: Request, xray: bool | int = False
) -> dict[str, Any]:
    services = _services(request)
    assistant = _find(services, assistant_id)
    async with services.graphs.open(assistant["graph_id"]) as graph:
        drawable = await graph.aget_graph(xray=xray)
        result: dict[str, Any] = drawable.to_json()
    return result


def _schema(graph_id: str, what: str, build: Callable[[], Any]) -> Any:
    """One JSON schema of a graph, or None when LangGraph cannot build it (langgraph-api's fallback:
    e.g. a state declared with ``typing.TypedDict``, which pydantic refuses on Python < 3.12)."""
    try:
        return build()
    except Exception as exc:
        logger.warning(
            "Failed to get the %s schema of graph %s: %s: %s", what, graph_id, type(exc).__name__, exc
        )
        return None


@router.get("/assistants/{assistant_id}/schemas")
async def get_assistant_schemas(assistant_id: str, request: Request) -> dict[str, Any]:
    services = _services(request)
    assistant = _find(services, assistant_id)
    graph_id = assistant["graph_id"]
    async with services.graphs.open(graph_id) as graph:
        return {
            "graph_id": graph_id,
            "input_schema": _schema(graph_id, "input", graph.get_input_jsonschema),
            "output_schema": _schema(graph_id, "output", graph.get_output_jsonschema),
            "state_schema": _schema(graph_id, "state", graph.get_input_jsonschema),
            "config_schema": _schema(graph_id, "config", graph.get_config_jsonschema),
            "context_schema": _schema(graph_id, "context", graph.get_context_jsonschema),
        }
