"""Threads: create, read, update, delete, search, count, copy, prune, state, history and the
thread stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field, field_validator

from ...streams.base import RUN_DONE_EVENT, StreamEvent
from ...streams.errors import StreamClosedError
from ...streams.sse import format_item
from ..errors import BadRequest, NotFound, Unprocessable
from ..extract import check_extract, extract_value
from ..models import (
    Checkpoint,
    Strict,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    ThreadTtl,
)
from ..pagination import paginate
from ..services import Services
from ..state import (
    STATE_UPDATE_EVENT,
    apply_supersteps,
    get_history,
    get_state,
    select_state,
    update_state,
)
from ..streaming import SSE_HEADERS, SSE_MEDIA_TYPE
from ..thread_ops import copy_thread, delete_thread, prune_threads

router = APIRouter(tags=["threads"])
METADATA_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
"""Keys a history metadata filter may use (the SQLite saver's rule, applied on every backend)."""


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _ttl(raw: ThreadTtl | float | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, int | float):
        return {"strategy": "delete", "ttl": raw}
    return raw.model_dump()


def thread_json(row: dict[str, Any], *, include_ttl: bool = False) -> dict[str, Any]:
    """The Thread body: the row without ``user_id``, and ``ttl`` only when asked for
    (``?include=ttl``), in langgraph-api's shape ``{strategy, ttl_minutes, expires_at}``."""
    out = {key: value for key, value in row.items() if key not in ("user_id", "ttl")}
    ttl = row.get("ttl")
    if include_ttl and ttl is not None:
        out["ttl"] = {"strategy": ttl["strategy"], "ttl_minutes": ttl["ttl"], "expires_at": ttl["expires_at"]}
    return out


@router.post("/threads")
async def create_thread(body: ThreadCreate, request: Request) -> dict[str, Any]:
    services = _services(request)
    thread_id = body.thread_id
    if thread_id is not None:
        try:
            thread_id = str(UUID(thread_id))
        except ValueError as exc:
            raise Unprocessable(f"thread_id must be a UUID, got {body.thread_id!r}") from exc
    metadata = dict(body.metadata or {})
    if body.graph_id:
        metadata.setdefault("graph_id", body.graph_id)
    supersteps = [step.model_dump(exclude_none=True) for step in body.supersteps or []]
    graph_id = metadata.get("graph_id")
    if supersteps and graph_id not in services.graphs:
        # Checked before anything is written: langgraph-api creates the thread, then fails.
        known = ", ".join(services.graphs.graph_ids)
        raise BadRequest(
            f"supersteps need the thread's graph: set metadata.graph_id (or graph_id) to one of {known}"
            if graph_id is None
            else f"supersteps: unknown graph_id {graph_id!r}; graphs: {known}"
        )
    existed = thread_id is not None and await services.threads.get(thread_id) is not None
    ttl = _ttl(body.ttl) or services.thread_ttl.default_for_new_thread()
    row = await services.threads.create(thread_id, metadata=metadata, if_exists=body.if_exists, ttl=ttl)
    if supersteps:
        try:
            await apply_supersteps(services, row["thread_id"], str(graph_id), supersteps)
        except BaseException:
            if not existed:  # nothing half-made stays behind
                await delete_thread(services, row["thread_id"])
            raise
        row = await services.threads.get(row["thread_id"]) or row
    return thread_json(row)


@router.post("/threads/prune")
async def prune(body: ThreadPrune, request: Request) -> dict[str, int]:
    return {"pruned_count": await prune_threads(_services(request), body.thread_ids, body.strategy)}


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, request: Request, response: Response) -> list[dict[str, Any]]:
    """One page of threads; ``X-Pagination-Total`` and ``X-Pagination-Next`` as langgraph-api sets them."""
    services = _services(request)
    unknown = [name for name in body.select or () if name not in SELECTABLE]
    if unknown:
        raise Unprocessable(f"select: unknown field(s) {', '.join(unknown)}; use {', '.join(SELECTABLE)}")
    paths = check_extract(body.extract, SELECTABLE) if body.extract else {}
    try:
        rows = await services.threads.search(
            ids=body.ids,
            metadata=body.metadata,
            values=body.values,
            status=body.status,
            limit=body.limit + 1,  # one more tells whether a next page exists
            offset=body.offset,
            sort_by=body.sort_by or "created_at",
            sort_order=body.sort_order or "desc",
        )
    except ValueError as exc:
        raise Unprocessable(str(exc)) from exc
    rows = paginate(rows, limit=body.limit, offset=body.offset, response=response)
    out = []
    for row in rows:
        thread = thread_json(row)
        if body.select:
            thread = {key: value for key, value in thread.items() if key in body.select}
        if paths:
            thread["extracted"] = {alias: extract_value(row, path) for alias, path in paths.items()}
        out.append(thread)
    return out


@router.post("/threads/count")
async def count_threads(body: ThreadCount, request: Request) -> int:
    return await _services(request).threads.count(
        metadata=body.metadata, values=body.values, status=body.status
    )


_INCLUDABLE = ("ttl",)
SELECTABLE = (
    "thread_id",
    "created_at",
    "updated_at",
    "state_updated_at",
    "metadata",
    "config",
    "status",
    "values",
    "interrupts",
)
"""The Thread fields a search may ``select`` (langgraph-api's list)."""


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: UUID, request: Request, include: str | None = None) -> dict[str, Any]:
    fields = [part.strip() for part in (include or "").split(",") if part.strip()]
    unknown = [name for name in fields if name not in _INCLUDABLE]
    if unknown:
        raise Unprocessable(f"include: unknown field(s) {', '.join(unknown)}; use {', '.join(_INCLUDABLE)}")
    row = await _services(request).threads.get(str(thread_id))
    if row is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread_json(row, include_ttl="ttl" in fields)


@router.patch("/threads/{thread_id}", response_model=None)
async def patch_thread(
    thread_id: UUID, body: ThreadPatch, request: Request, prefer: Annotated[str | None, Header()] = None
) -> dict[str, Any] | Response:
    row = await _services(request).threads.update(str(thread_id), metadata=body.metadata, ttl=_ttl(body.ttl))
    if row is None:
        raise NotFound(f"Thread {thread_id} not found")
    if prefer == "return=minimal":
        return Response(status_code=204)
    return thread_json(row)


@router.delete("/threads/{thread_id}", status_code=204)
async def delete(thread_id: UUID, request: Request) -> Response:
    if not await delete_thread(_services(request), str(thread_id)):
        raise NotFound(f"Thread {thread_id} not found")
    return Response(status_code=204)


@router.post("/threads/{thread_id}/copy")
async def copy(thread_id: UUID, request: Request) -> dict[str, Any]:
    row = await copy_thread(_services(request), str(thread_id))
    if row is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread_json(row)


THREAD_STREAM_MODES = ("run_modes", "lifecycle", "state_update")


def _thread_stream_modes(raw: list[str]) -> set[str]:
    modes = {part.strip() for value in raw for part in value.split(",") if part.strip()}
    unknown = sorted(modes - set(THREAD_STREAM_MODES))
    if unknown:
        raise Unprocessable(
            f"Invalid stream mode(s) {', '.join(unknown)}: use {', '.join(THREAD_STREAM_MODES)}"
        )
    return modes or {"run_modes"}


def _thread_event_wanted(item: StreamEvent, modes: set[str]) -> bool:
    """langgraph-api's filter: run events for ``run_modes``, ``state_update`` for itself, and
    for ``lifecycle`` the ``metadata`` events, which open (run id, attempt) and close (run_done)
    each run: the executor sends no other ``metadata``."""
    if item.event == STATE_UPDATE_EVENT:
        return "state_update" in modes
    return "run_modes" in modes or ("lifecycle" in modes and item.event == RUN_DONE_EVENT)


@router.get("/threads/{thread_id}/stream")
async def join_thread_stream(
    thread_id: UUID,
    request: Request,
    stream_modes: Annotated[list[str] | None, Query()] = None,
    stream_mode: Annotated[list[str] | None, Query(description="the SDK's name for stream_modes")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Every event of every run on the thread, and ``state_update`` after a state write, from
    now (or after ``Last-Event-ID``) until the client leaves."""
    services = _services(request)
    modes = _thread_stream_modes([*(stream_modes or []), *(stream_mode or [])])
    tid = str(thread_id)
    if await services.threads.get(tid) is None:
        raise NotFound(f"Thread {thread_id} not found")
    subscription = services.bridge.subscribe_thread(
        tid, last_event_id=last_event_id or None, heartbeat_interval=services.settings.heartbeat_interval
    )

    async def body() -> AsyncIterator[bytes]:
        async with aclosing(subscription) as items:
            try:
                async for item in items:
                    if isinstance(item, StreamEvent) and not _thread_event_wanted(item, modes):
                        continue
                    yield format_item(item, with_id=True)
            except StreamClosedError:
                return

    return StreamingResponse(body(), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)


Select = Annotated[list[str] | None, Query(description="fields to return; values.<key> for one key")]


@router.get("/threads/{thread_id}/state")
async def thread_state(
    thread_id: UUID, request: Request, subgraphs: bool = False, select: Select = None
) -> dict[str, Any]:
    state = await get_state(_services(request), str(thread_id), subgraphs=subgraphs)
    return select_state(state, select)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def thread_state_at(
    thread_id: UUID, checkpoint_id: UUID, request: Request, subgraphs: bool = False, select: Select = None
) -> dict[str, Any]:
    state = await get_state(
        _services(request),
        str(thread_id),
        checkpoint={"checkpoint_id": str(checkpoint_id)},
        subgraphs=subgraphs,
    )
    return select_state(state, select)


class _CheckpointBody(Strict):
    checkpoint: Checkpoint
    subgraphs: bool = False
    select: list[str] | None = None


@router.post("/threads/{thread_id}/state/checkpoint")
async def thread_state_at_checkpoint(
    thread_id: UUID, body: _CheckpointBody, request: Request
) -> dict[str, Any]:
    state = await get_state(
        _services(request),
        str(thread_id),
        checkpoint=body.checkpoint.model_dump(exclude_none=True),
        subgraphs=body.subgraphs,
    )
    return select_state(state, body.select)


class _StateUpdate(Strict):
    values: Any = None
    as_node: str | None = None
    checkpoint: Checkpoint | None = None
    checkpoint_id: str | None = None


@router.post("/threads/{thread_id}/state")
async def thread_update_state(thread_id: UUID, body: _StateUpdate, request: Request) -> dict[str, Any]:
    checkpoint = body.checkpoint.model_dump(exclude_none=True) if body.checkpoint else {}
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    return await update_state(
        _services(request),
        str(thread_id),
        values=body.values,
        as_node=body.as_node,
        checkpoint=checkpoint or None,
    )


class _CheckpointConfig(Strict):
    """A checkpoint as a config: ``{"configurable": {"checkpoint_id": ...}}``."""

    configurable: Checkpoint


class _HistoryBody(Strict):
    limit: int = Field(default=1, ge=1, le=1000)  # langgraph-api's default; the SDK always sends one
    before: Checkpoint | _CheckpointConfig | str | None = None
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Checkpoint metadata to match; keys may hold letters, digits, '_', '.' and '-'",
        json_schema_extra={"propertyNames": {"pattern": METADATA_KEY.pattern}},
    )
    checkpoint: Checkpoint | None = None
    select: list[str] | None = None

    @field_validator("metadata")
    @classmethod
    def _keys(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            if not METADATA_KEY.match(key):
                raise ValueError(f"metadata filter key {key!r}: use letters, digits, '_', '.' and '-' only")
        return value


def _before(raw: Checkpoint | _CheckpointConfig | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return {"checkpoint_id": raw}
    if isinstance(raw, _CheckpointConfig):
        raw = raw.configurable
    return raw.model_dump(exclude_none=True)


@router.post("/threads/{thread_id}/history")
async def thread_history(thread_id: UUID, body: _HistoryBody, request: Request) -> list[dict[str, Any]]:
    states = await get_history(
        _services(request),
        str(thread_id),
        limit=body.limit,
        before=_before(body.before),
        metadata=body.metadata,
        checkpoint=body.checkpoint.model_dump(exclude_none=True) if body.checkpoint else None,
    )
    return [select_state(state, body.select) for state in states]


@router.get("/threads/{thread_id}/history")
async def thread_history_get(
    thread_id: UUID,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1,
    before: str | None = None,
) -> list[dict[str, Any]]:
    return await get_history(_services(request), str(thread_id), limit=limit, before=_before(before))
