"""Threads: create, read, update, delete, search, count, state and history."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field, field_validator

from ..errors import NotFound, Unprocessable
from ..models import Checkpoint, Strict, ThreadCount, ThreadCreate, ThreadPatch, ThreadSearch, ThreadTtl
from ..services import Services
from ..state import get_history, get_state, update_state

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


def thread_json(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in ("user_id",)}


@router.post("/threads")
async def create_thread(body: ThreadCreate, request: Request) -> dict[str, Any]:
    services = _services(request)
    if body.supersteps:
        raise Unprocessable("Not supported by runyard yet: supersteps")
    thread_id = body.thread_id
    if thread_id is not None:
        try:
            thread_id = str(UUID(thread_id))
        except ValueError as exc:
            raise Unprocessable(f"thread_id must be a UUID, got {body.thread_id!r}") from exc
    metadata = dict(body.metadata or {})
    if body.graph_id:
        metadata.setdefault("graph_id", body.graph_id)
    row = await services.threads.create(
        thread_id, metadata=metadata, if_exists=body.if_exists, ttl=_ttl(body.ttl)
    )
    return thread_json(row)


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, request: Request) -> list[dict[str, Any]]:
    services = _services(request)
    try:
        rows = await services.threads.search(
            ids=body.ids,
            metadata=body.metadata,
            values=body.values,
            status=body.status,
            limit=body.limit,
            offset=body.offset,
            sort_by=body.sort_by or "created_at",
            sort_order=body.sort_order or "desc",
        )
    except ValueError as exc:
        raise Unprocessable(str(exc)) from exc
    out = [thread_json(r) for r in rows]
    if body.select:
        out = [{k: v for k, v in r.items() if k in body.select} for r in out]
    return out


@router.post("/threads/count")
async def count_threads(body: ThreadCount, request: Request) -> int:
    return await _services(request).threads.count(
        metadata=body.metadata, values=body.values, status=body.status
    )


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: UUID, request: Request) -> dict[str, Any]:
    row = await _services(request).threads.get(str(thread_id))
    if row is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread_json(row)


@router.patch("/threads/{thread_id}")
async def patch_thread(thread_id: UUID, body: ThreadPatch, request: Request) -> dict[str, Any]:
    row = await _services(request).threads.update(str(thread_id), metadata=body.metadata, ttl=_ttl(body.ttl))
    if row is None:
        raise NotFound(f"Thread {thread_id} not found")
    return thread_json(row)


@router.delete("/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: UUID, request: Request) -> Response:
    services = _services(request)
    tid = str(thread_id)
    if await services.threads.get(tid) is None:
        raise NotFound(f"Thread {thread_id} not found")
    records = await services.manager.list_by_thread(tid, limit=100_000)
    for record in records:
        if record.status.is_active:
            await services.manager.cancel(record.run_id)
    services.executor.wake()  # runs cancelled before they started leave the queue now
    for record in records:
        if record.task is not None and not record.task.done():
            await asyncio.wait([record.task])
        await services.manager.delete(record.run_id)
    await services.checkpointer.adelete_thread(tid)
    await services.threads.delete(tid)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/state")
async def thread_state(thread_id: UUID, request: Request, subgraphs: bool = False) -> dict[str, Any]:
    return await get_state(_services(request), str(thread_id), subgraphs=subgraphs)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def thread_state_at(
    thread_id: UUID, checkpoint_id: UUID, request: Request, subgraphs: bool = False
) -> dict[str, Any]:
    return await get_state(
        _services(request),
        str(thread_id),
        checkpoint={"checkpoint_id": str(checkpoint_id)},
        subgraphs=subgraphs,
    )


class _CheckpointBody(Strict):
    checkpoint: Checkpoint
    subgraphs: bool = False


@router.post("/threads/{thread_id}/state/checkpoint")
async def thread_state_at_checkpoint(
    thread_id: UUID, body: _CheckpointBody, request: Request
) -> dict[str, Any]:
    return await get_state(
        _services(request),
        str(thread_id),
        checkpoint=body.checkpoint.model_dump(exclude_none=True),
        subgraphs=body.subgraphs,
    )


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
    limit: int = Field(default=10, ge=1, le=1000)
    before: Checkpoint | _CheckpointConfig | str | None = None
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="Checkpoint metadata to match; keys may hold letters, digits, '_', '.' and '-'",
        json_schema_extra={"propertyNames": {"pattern": METADATA_KEY.pattern}},
    )
    checkpoint: Checkpoint | None = None

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
    return await get_history(
        _services(request),
        str(thread_id),
        limit=body.limit,
        before=_before(body.before),
        metadata=body.metadata,
        checkpoint=body.checkpoint.model_dump(exclude_none=True) if body.checkpoint else None,
    )


@router.get("/threads/{thread_id}/history")
async def thread_history_get(
    thread_id: UUID,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: str | None = None,
) -> list[dict[str, Any]]:
    return await get_history(_services(request), str(thread_id), limit=limit, before=_before(before))
