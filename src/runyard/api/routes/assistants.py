"""Assistants: create, read, patch (a new version), delete, search, count, versions, and the
graph, schemas and subgraphs of an assistant's graph, as langgraph-api 0.16.7 serves them.

Ids in paths must be UUIDs (422 otherwise), except for ``/graph``, ``/schemas`` and
``/subgraphs``, which also take a graph name (its system assistant), as langgraph-api's
``/graph`` does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from langchain_core.runnables import RunnableConfig
from langchain_core.utils.pydantic import create_model

from ...graphs import GraphNotFoundError
from ..assistant_models import (
    AssistantCount,
    AssistantCreate,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionChange,
    AssistantVersionsSearch,
)
from ..assistant_service import cancel_runs_of, checked_uuid, delete_threads_of, synced, visible
from ..errors import NotFound, Unprocessable
from ..pagination import paginate
from ..services import Services

logger = logging.getLogger(__name__)
router = APIRouter(tags=["assistants"])


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _known_graph(services: Services, graph_id: str | None) -> None:
    if graph_id is not None and graph_id not in services.graphs:
        raise GraphNotFoundError(graph_id, services.graphs.graph_ids)


@router.post("/assistants")
async def create_assistant(body: AssistantCreate, request: Request) -> dict[str, Any]:
    services = _services(request)
    _known_graph(services, body.graph_id)
    config, context = synced(body.config.as_dict() if body.config else {}, body.context)
    return await services.assistants.create(
        body.assistant_id or str(uuid.uuid4()),
        graph_id=body.graph_id,
        config=config,
        context=context,
        metadata=body.metadata,
        name=body.name or "Untitled",
        description=body.description,
        if_exists=body.if_exists or "raise",
    )


@router.post("/assistants/search")
async def search_assistants(
    body: AssistantSearch, request: Request, response: Response
) -> list[dict[str, Any]]:
    services = _services(request)
    _known_graph(services, body.graph_id)
    rows = await services.assistants.search(
        graph_id=body.graph_id,
        name=body.name,
        metadata=body.metadata,
        graph_ids=services.graphs.graph_ids,
        limit=body.limit + 1,  # one more tells whether there is a next page
        offset=body.offset,
        sort_by=body.sort_by or "created_at",
        sort_order=body.sort_order or "desc",
    )
    rows = paginate(rows, limit=body.limit, offset=body.offset, response=response)
    if body.select:
        wanted = set(body.select)
        return [{key: value for key, value in row.items() if key in wanted} for row in rows]
    return rows


@router.post("/assistants/count")
async def count_assistants(body: AssistantCount, request: Request) -> int:
    services = _services(request)
    _known_graph(services, body.graph_id)
    return await services.assistants.count(
        graph_id=body.graph_id, name=body.name, metadata=body.metadata, graph_ids=services.graphs.graph_ids
    )


@router.get("/assistants/{assistant_id}")
async def get_assistant(assistant_id: str, request: Request) -> dict[str, Any]:
    return await visible(_services(request), checked_uuid(assistant_id))


@router.patch("/assistants/{assistant_id}")
async def patch_assistant(assistant_id: str, body: AssistantPatch, request: Request) -> dict[str, Any]:
    services = _services(request)
    aid = checked_uuid(assistant_id)
    _known_graph(services, body.graph_id)
    config, context = synced(body.config.as_dict() if body.config else {}, body.context)
    row = await services.assistants.update(
        aid,
        graph_id=body.graph_id,
        config=config or None,  # an empty config keeps the current one, as in langgraph-api
        context=context,
        metadata=body.metadata,
        name=body.name,
        description=body.description,
    )
    if row is None:
        raise NotFound(f"Assistant {aid} not found")
    return row


@router.delete("/assistants/{assistant_id}", status_code=204)
async def delete_assistant(assistant_id: str, request: Request, delete_threads: bool = False) -> Response:
    services = _services(request)
    aid = checked_uuid(assistant_id)
    if await services.assistants.get(aid) is None:
        raise NotFound(f"Assistant with ID {aid} not found")
    if delete_threads:
        await delete_threads_of(request, services, aid)
    await cancel_runs_of(services, aid)
    if not await services.assistants.delete(aid):
        raise NotFound(f"Assistant with ID {aid} not found")
    return Response(status_code=204)


@router.post("/assistants/{assistant_id}/versions")
async def assistant_versions(
    assistant_id: str, request: Request, body: AssistantVersionsSearch | None = None
) -> list[dict[str, Any]]:
    services = _services(request)
    aid = checked_uuid(assistant_id)
    query = body or AssistantVersionsSearch()
    rows = await services.assistants.versions(
        aid, metadata=query.metadata, limit=query.limit, offset=query.offset
    )
    if not rows:
        raise NotFound(f"Assistant {aid} not found")
    return rows


@router.post("/assistants/{assistant_id}/latest")
async def set_latest_version(
    assistant_id: str, body: AssistantVersionChange, request: Request
) -> dict[str, Any]:
    services = _services(request)
    aid = checked_uuid(assistant_id)
    row = await services.assistants.set_latest(aid, body.version)
    if row is None:
        raise NotFound(f"Assistant {aid} not found")
    return row


async def _by_id_or_graph(services: Services, assistant_id: str) -> dict[str, Any]:
    if assistant_id in services.graphs:
        return await visible(services, services.graphs.assistant_id_for(assistant_id))
    return await visible(services, checked_uuid(assistant_id))


def _xray(raw: str | None) -> bool | int:
    """langgraph-api's reading of ``?xray=``: true, false, or a positive depth."""
    if not raw or raw in ("false", "False"):
        return False
    if raw in ("true", "True"):
        return True
    try:
        depth = int(raw)
    except ValueError:
        raise Unprocessable(f"Invalid xray value {raw!r}: use true, false or a positive integer") from None
    if depth <= 0:
        raise Unprocessable(f"Invalid xray value {raw!r}: use true, false or a positive integer")
    return depth


@router.get("/assistants/{assistant_id}/graph")
async def get_assistant_graph(assistant_id: str, request: Request, xray: str | None = None) -> dict[str, Any]:
    services = _services(request)
    depth = _xray(xray)
    assistant = await _by_id_or_graph(services, assistant_id)
    async with services.graphs.open(assistant["graph_id"], _config(assistant)) as graph:
        try:
            drawable = await graph.aget_graph(xray=depth)
        except NotImplementedError:
            raise Unprocessable("The graph does not support visualization") from None
        result: dict[str, Any] = drawable.to_json()
    for node in result.get("nodes", []):
        if isinstance(data := node.get("data"), dict):
            data.pop("id", None)  # langgraph-api drops the Python path of each node
    return result


def _config(assistant: dict[str, Any]) -> RunnableConfig:
    """The config a graph factory is built with for this assistant's reads."""
    config: dict[str, Any] = dict(assistant["config"])
    config["configurable"] = {
        **(config.get("configurable") or {}),
        "graph_id": assistant["graph_id"],
        "assistant_id": assistant["assistant_id"],
    }
    return cast(RunnableConfig, config)


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


def _state_jsonschema(graph: Any) -> dict[str, Any]:
    """The state schema as langgraph-api builds it: one field per output channel, typed by the
    channel's update type, or ``Any`` where pydantic cannot describe that type."""
    fields: dict[str, Any] = {}
    for key in graph.stream_channels_list:
        update_type = graph.channels[key].UpdateType
        try:
            create_model(key, __root__=(update_type, None)).model_json_schema()
            fields[key] = (update_type, None)
        except Exception:
            fields[key] = (Any, None)
    schema: dict[str, Any] = create_model(graph.get_name("State"), **fields).model_json_schema()
    return schema


def _schemas(graph_id: str, graph: Any) -> dict[str, Any]:
    return {
        "input_schema": _schema(graph_id, "input", graph.get_input_jsonschema),
        "output_schema": _schema(graph_id, "output", graph.get_output_jsonschema),
        "state_schema": _schema(graph_id, "state", lambda: _state_jsonschema(graph)),
        "config_schema": _schema(graph_id, "config", graph.get_config_jsonschema),
        "context_schema": _schema(graph_id, "context", graph.get_context_jsonschema),
    }


@router.get("/assistants/{assistant_id}/schemas")
async def get_assistant_schemas(assistant_id: str, request: Request) -> dict[str, Any]:
    services = _services(request)
    assistant = await _by_id_or_graph(services, assistant_id)
    graph_id = assistant["graph_id"]
    async with services.graphs.open(graph_id, _config(assistant)) as graph:
        return {"graph_id": graph_id, **_schemas(graph_id, graph)}


async def _subgraphs(
    request: Request, assistant_id: str, namespace: str | None, recurse: bool
) -> dict[str, Any]:
    services = _services(request)
    assistant = await _by_id_or_graph(services, assistant_id)
    graph_id = assistant["graph_id"]
    async with services.graphs.open(graph_id, _config(assistant)) as graph:
        try:
            return {
                ns: _schemas(f"{graph_id}|{ns}", subgraph)
                async for ns, subgraph in graph.aget_subgraphs(namespace=namespace, recurse=recurse)
            }
        except NotImplementedError:
            raise Unprocessable("The graph does not support visualization") from None


@router.get("/assistants/{assistant_id}/subgraphs")
async def get_assistant_subgraphs(
    assistant_id: str, request: Request, recurse: bool = False
) -> dict[str, Any]:
    return await _subgraphs(request, assistant_id, None, recurse)


@router.get("/assistants/{assistant_id}/subgraphs/{namespace}")
async def get_assistant_subgraphs_in(
    assistant_id: str, namespace: str, request: Request, recurse: bool = False
) -> dict[str, Any]:
    return await _subgraphs(request, assistant_id, namespace, recurse)
