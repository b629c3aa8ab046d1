"""Threads: create, read, update, delete, search, count, state and history."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from ..errors import NotFound, Unprocessable
from ..models import ThreadCount, ThreadCreate, ThreadPatch, ThreadSearch
from ..services import Services
from ..state import get_history, get_state, update_state

router = APIRouter(tags=["threads"])


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _ttl(raw: dict[str, Any] | float | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, int | float):
        return {"strategy": "delete", "ttl": raw}
    return raw


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


class _CheckpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkpoint: dict[str, Any]
    subgraphs: bool = False


@router.post("/threads/{thread_id}/state/checkpoint")
async def thread_state_at_checkpoint(
    thread_id: UUID, body: _CheckpointBody, request: Request
) -> dict[str, Any]:
    return await get_state(
        _services(request), str(thread_id), checkpoint=body.checkpoint, subgraphs=body.subgraphs
    )


class _StateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: Any = None
    as_node: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None


@router.post("/threads/{thread_id}/state")
async def thread_update_state(thread_id: UUID, body: _StateUpdate, request: Request) -> dict[str, Any]:
    checkpoint = dict(body.checkpoint or {})
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    return await update_state(
        _services(request),
        str(thread_id),
        values=body.values,
        as_node=body.as_node,
        checkpoint=checkpoint or None,
    )


class _HistoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = 10
    before: dict[str, Any] | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


def _before(raw: dict[str, Any] | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return {"checkpoint_id": raw}
    if "configurable" in raw:
        return dict(raw["configurable"])
    return raw


@router.post("/threads/{thread_id}/history")
async def thread_history(thread_id: UUID, body: _HistoryBody, request: Request) -> list[dict[str, Any]]:
    return await get_history(
        _services(request),
        str(thread_id),
        limit=body.limit,
        before=_before(body.before),
        metadata=body.metadata,
        checkpoint=body.checkpoint,
    )


@router.get("/threads/{thread_id}/history")
async def thread_history_get(
    thread_id: UUID,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: str | None = None,
) -> list[dict[str, Any]]:
    return await get_history(_services(request), str(thread_id), limit=limit, before=_before(before))
