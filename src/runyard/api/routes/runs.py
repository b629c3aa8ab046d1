"""Runs: thread runs, stateless runs, streams, waits, joins and cancels."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from ...runs import RunRecord
from ...runs.schemas import DisconnectMode, RunStatus
from ...runs.stream_modes import normalize
from ...streams.sse import format_frame
from ..errors import Conflict, NotFound, Unprocessable
from ..models import MAX_OFFSET, CancelMany, RunCreate
from ..run_service import check_webhook, create_run, preflight, run_json
from ..services import Services
from ..streaming import SSE_HEADERS, SSE_MEDIA_TYPE, final_values, sse_body

router = APIRouter(tags=["runs"])

ThreadId = Annotated[UUID, "thread id"]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _cancel(services: Services, run_id: str, action: str = "interrupt") -> bool:
    """Cancel a live run and wake the executor, which ends the stream of a run cancelled before
    it started (a queued or delayed one) and settles its thread."""
    cancelled = await services.manager.cancel(run_id, action=action)
    if cancelled:
        services.executor.wake()
    return cancelled


async def _run_of(services: Services, thread_id: str, run_id: str) -> RunRecord:
    record = await services.manager.get(run_id)
    if record is None or record.thread_id != thread_id:
        raise NotFound(f"Run {run_id} not found on thread {thread_id}")
    return record


def _stream_response(
    services: Services,
    record: RunRecord,
    *,
    location: str,
    content_location: str,
    last_event_id: str | None = None,
    modes: set[str] | None = None,
    cancel_on_disconnect: bool = False,
) -> StreamingResponse:
    async def on_exit(completed: bool) -> None:
        if not completed and cancel_on_disconnect and record.status.is_active:
            await _cancel(services, record.run_id)

    body = sse_body(
        services.bridge,
        record,
        last_event_id=last_event_id,
        with_ids=bool(record.kwargs.get("resumable")),
        heartbeat=services.settings.heartbeat_interval,
        modes=modes,
        on_exit=on_exit,
    )
    headers = SSE_HEADERS | {"Location": location, "Content-Location": content_location}
    return StreamingResponse(body, media_type=SSE_MEDIA_TYPE, headers=headers)


def _wait_response(
    services: Services, record: RunRecord, *, location: str, cancel_on_disconnect: bool
) -> StreamingResponse:
    async def fallback() -> Any:
        thread = await services.threads.get(record.thread_id)
        return (thread or {}).get("values") or {}

    async def on_exit(completed: bool) -> None:
        if not completed and cancel_on_disconnect and record.status.is_active:
            await _cancel(services, record.run_id)

    body = final_values(
        services.bridge,
        record,
        keepalive=services.settings.wait_keepalive_interval,
        fallback=fallback,
        on_exit=on_exit,
    )
    headers = {"Location": location, "Content-Location": location.rsplit("/", 1)[0]}
    return StreamingResponse(body, media_type="application/json", headers=headers)


# -- thread runs ------------------------------------------------------------------------------


@router.post("/threads/{thread_id}/runs")
async def create_thread_run(
    thread_id: UUID, body: RunCreate, request: Request, response: Response
) -> dict[str, Any]:
    services = _services(request)
    record = await create_run(services, body, thread_id=str(thread_id))
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{record.run_id}"
    return run_json(record)


@router.post("/threads/{thread_id}/runs/stream")
async def stream_thread_run(thread_id: UUID, body: RunCreate, request: Request) -> StreamingResponse:
    services = _services(request)
    record = await create_run(services, body, thread_id=str(thread_id))
    base = f"/threads/{thread_id}/runs/{record.run_id}"
    return _stream_response(
        services,
        record,
        location=f"{base}/stream",
        content_location=base,
        cancel_on_disconnect=record.on_disconnect is DisconnectMode.cancel,
    )


@router.post("/threads/{thread_id}/runs/wait")
async def wait_thread_run(thread_id: UUID, body: RunCreate, request: Request) -> StreamingResponse:
    services = _services(request)
    record = await create_run(services, body, thread_id=str(thread_id), force_values=True)
    location = f"/threads/{thread_id}/runs/{record.run_id}/join"
    return _wait_response(
        services,
        record,
        location=location,
        cancel_on_disconnect=record.on_disconnect is DisconnectMode.cancel,
    )


@router.get("/threads/{thread_id}/runs")
async def list_thread_runs(
    thread_id: UUID,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    status: RunStatus | None = None,
) -> list[dict[str, Any]]:
    services = _services(request)
    if await services.threads.get(str(thread_id)) is None:
        raise NotFound(f"Thread {thread_id} not found")
    records = await services.manager.list_by_thread(
        str(thread_id), limit=limit + offset if status is None else 10_000
    )
    if status is not None:
        records = [r for r in records if r.status is status]
    return [run_json(r) for r in records[offset : offset + limit]]


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_thread_run(thread_id: UUID, run_id: UUID, request: Request) -> dict[str, Any]:
    return run_json(await _run_of(_services(request), str(thread_id), str(run_id)))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_thread_run(thread_id: UUID, run_id: UUID, request: Request) -> Response:
    services = _services(request)
    record = await _run_of(services, str(thread_id), str(run_id))
    if record.status.is_active:
        raise Conflict(f"Run {run_id} is {record.status.value}; cancel it before deleting it")
    await services.manager.delete(record.run_id)
    return Response(status_code=204)


# What langgraph-api answers a join of a run it does not know (on that thread): not a 404 but
# its stream's ``error`` event, the serialised ``HTTPException(404, "Run not found")``.
RUN_NOT_FOUND = {"error": "HTTPException", "message": "404: Run not found"}


async def _joinable(services: Services, thread_id: str, run_id: str) -> RunRecord | None:
    record = await services.manager.get(run_id)
    return record if record is not None and record.thread_id == thread_id else None


@router.get("/threads/{thread_id}/runs/{run_id}/join", response_model=None)
async def join_thread_run(
    thread_id: UUID, run_id: UUID, request: Request, cancel_on_disconnect: bool = False
) -> Response:
    services = _services(request)
    record = await _joinable(services, str(thread_id), str(run_id))
    if record is None:
        return Response(
            orjson.dumps({"__error__": RUN_NOT_FOUND}),
            media_type="application/json",
            headers={
                "Location": f"/threads/{thread_id}/runs/{run_id}/join",
                "Content-Location": f"/threads/{thread_id}/runs/{run_id}",
            },
        )
    return _wait_response(
        services,
        record,
        location=f"/threads/{thread_id}/runs/{run_id}/join",
        cancel_on_disconnect=cancel_on_disconnect,
    )


@router.get("/threads/{thread_id}/runs/{run_id}/stream", response_model=None)
async def join_thread_run_stream(
    thread_id: UUID,
    run_id: UUID,
    request: Request,
    cancel_on_disconnect: bool = False,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    services = _services(request)
    modes = _parse_modes(stream_mode)
    base = f"/threads/{thread_id}/runs/{run_id}"
    record = await _joinable(services, str(thread_id), str(run_id))
    if record is None:
        headers = SSE_HEADERS | {"Location": f"{base}/stream", "Content-Location": base}
        frame = format_frame("error", RUN_NOT_FOUND)
        return Response(frame, media_type=SSE_MEDIA_TYPE, headers=headers)
    return _stream_response(
        services,
        record,
        location=f"{base}/stream",
        content_location=base,
        last_event_id=last_event_id,
        modes=modes,
        cancel_on_disconnect=cancel_on_disconnect,
    )


def _parse_modes(raw: list[str] | None) -> set[str] | None:
    """The modes a join asks for: repeated ``stream_mode`` values, each a mode or a JSON list."""
    if not raw:
        return None
    modes: list[str] = []
    for item in raw:
        if not item:  # the SDK sends ``stream_mode=`` when it has none
            continue
        if not item.startswith("["):
            modes.append(item)
            continue
        try:
            parsed = orjson.loads(item)
        except orjson.JSONDecodeError as exc:
            raise Unprocessable(f"stream_mode {item!r} is neither a mode nor a JSON list: {exc}") from exc
        if not isinstance(parsed, list) or not all(isinstance(mode, str) for mode in parsed):
            raise Unprocessable(f"stream_mode {item!r}: a JSON list of mode names was expected")
        modes.extend(parsed)
    return set(normalize(modes)) if modes else None


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", response_model=None)
async def cancel_thread_run(
    thread_id: UUID,
    run_id: UUID,
    request: Request,
    wait: bool = False,
    action: Literal["interrupt", "rollback"] = "interrupt",
) -> Response:
    services = _services(request)
    record = await _run_of(services, str(thread_id), str(run_id))
    if record.status is not RunStatus.interrupted and not record.status.is_active:
        raise NotFound(f"No matching runs to cancel: run {run_id} is already {record.status.value}")
    if not await _cancel(services, record.run_id, action):
        raise NotFound(f"No matching runs to cancel: run {run_id} is not active on this server")
    if wait:
        live = await services.manager.get(record.run_id)
        if live is not None and live.task is not None:
            await _settled(live)
        elif services.queue is not None:
            await services.queue.wait_released(record.run_id, timeout=services.settings.drain_timeout * 3)
        return Response(content=b"{}", media_type="application/json")
    return Response(status_code=202)


async def _settled(record: RunRecord) -> None:
    if record.task is not None and not record.task.done():
        await asyncio.wait([record.task])


# -- stateless runs ---------------------------------------------------------------------------


@router.post("/runs")
async def create_stateless_run(body: RunCreate, request: Request, response: Response) -> dict[str, Any]:
    record = await create_run(_services(request), body, thread_id=None)
    response.headers["Content-Location"] = f"/runs/{record.run_id}"
    return run_json(record)


@router.post("/runs/batch")
async def create_stateless_run_batch(
    body: Annotated[list[RunCreate], Body(min_length=1, max_length=1000)], request: Request
) -> list[dict[str, Any]]:
    """Create several stateless background runs (the SDK's ``runs.create_batch``); their Run bodies
    come back in the order given. Every payload is checked before any run is created, so a bad
    one refuses the whole batch."""
    services = _services(request)
    for payload in body:
        await preflight(services, payload, stateless=True)
        await check_webhook(services, payload)
    return [run_json(await create_run(services, payload, thread_id=None)) for payload in body]


@router.post("/runs/stream")
async def stream_stateless_run(body: RunCreate, request: Request) -> StreamingResponse:
    services = _services(request)
    record = await create_run(services, body, thread_id=None)
    base = f"/threads/{record.thread_id}/runs/{record.run_id}"
    return _stream_response(
        services,
        record,
        location=f"{base}/stream",
        content_location=f"/runs/{record.run_id}",
        cancel_on_disconnect=record.on_disconnect is DisconnectMode.cancel,
    )


@router.post("/runs/wait")
async def wait_stateless_run(body: RunCreate, request: Request) -> StreamingResponse:
    services = _services(request)
    record = await create_run(services, body, thread_id=None, force_values=True)
    return _wait_response(
        services,
        record,
        location=f"/threads/{record.thread_id}/runs/{record.run_id}/join",
        cancel_on_disconnect=record.on_disconnect is DisconnectMode.cancel,
    )


@router.post("/runs/cancel", status_code=204)
async def cancel_many(
    body: CancelMany, request: Request, action: Literal["interrupt", "rollback"] = "interrupt"
) -> Response:
    services = _services(request)
    if body.status is not None:
        wanted = {"pending": {RunStatus.pending}, "running": {RunStatus.running}}.get(
            body.status, {RunStatus.pending, RunStatus.running}
        )
        targets = [r.run_id for r in services.manager.live_records() if r.status in wanted]
        store = services.manager.store
        if services.queue is not None and store is not None:
            # Cluster mode: the runs other processes execute or will claim are in the store.
            rows = await store.list_inflight()
            targets += [
                row["run_id"]
                for row in rows
                if RunStatus(row["status"] or "pending") in wanted and row["run_id"] not in targets
            ]
    else:
        targets = []
        for run_id in body.run_ids or []:
            record = await services.manager.get(run_id)
            if record is not None and record.thread_id == body.thread_id and record.status.is_active:
                targets.append(run_id)
    cancelled = [run_id for run_id in targets if await _cancel(services, run_id, action)]
    if not cancelled:
        raise NotFound("No matching runs to cancel")
    return Response(status_code=204)
