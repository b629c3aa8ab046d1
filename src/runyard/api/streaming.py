"""Response bodies that follow a run: SSE streams and the keep-alive JSON of ``/wait``/``/join``.

Both read the run's log in the stream bridge. A run that finished so long ago that its log is
gone ends at once (SSE) or answers from the thread's stored values (JSON): a join never hangs.
When the client goes away, ``on_disconnect="cancel"`` cancels the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import orjson

from ..runs.record import RunRecord
from ..streams.base import Heartbeat, StreamBridge, StreamEvent
from ..streams.errors import StreamClosedError
from ..streams.sse import format_item

logger = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"

OnExit = Callable[[bool], Awaitable[None]]


async def _log_gone(bridge: StreamBridge, record: RunRecord) -> bool:
    return record.status.is_terminal and not await bridge.exists(record.run_id)


async def sse_body(
    bridge: StreamBridge,
    record: RunRecord,
    *,
    last_event_id: str | None,
    with_ids: bool,
    heartbeat: float,
    modes: set[str] | None = None,
    on_exit: OnExit | None = None,
) -> AsyncIterator[bytes]:
    """The SSE frames of a run, from ``last_event_id``; ``on_exit(completed)`` runs at the end."""
    completed = False
    try:
        if not await _log_gone(bridge, record):
            subscription = bridge.subscribe(
                record.run_id, last_event_id=last_event_id, heartbeat_interval=heartbeat
            )
            async with aclosing(subscription) as items:
                async for item in items:
                    if modes is not None and isinstance(item, StreamEvent) and not _wanted(item.event, modes):
                        continue
                    yield format_item(item, with_id=with_ids, run_id=record.run_id)
        # No ``end`` frame: langgraph-api sends none, and the SDK would hand it to the app as an
        # extra part. A clean close is enough; the SDK then sees the run's terminal status.
        completed = True
    except StreamClosedError:
        completed = True
    finally:
        if on_exit is not None:
            await asyncio.shield(on_exit(completed))


def _wanted(event: str, modes: set[str]) -> bool:
    base = event.split("|", 1)[0]
    if base in ("metadata", "error", "gap"):
        return True
    if base.startswith("messages"):
        return "messages" in modes or "messages-tuple" in modes
    return base in modes


async def final_values(
    bridge: StreamBridge,
    record: RunRecord,
    *,
    keepalive: float,
    fallback: Callable[[], Awaitable[Any]],
    on_exit: OnExit | None = None,
) -> AsyncIterator[bytes]:
    """``/wait`` and ``/join``: newlines while the run works, then its final values as JSON.

    Leading whitespace is valid JSON, and it keeps proxies from closing an idle connection.
    The body is the last ``values`` event, ``{"__error__": ...}`` when the run failed, or the
    thread's stored values when the run's log is gone.
    """
    completed = False
    last_values: Any = None
    error: Any = None
    try:
        if not await _log_gone(bridge, record):
            subscription = bridge.subscribe(record.run_id, heartbeat_interval=keepalive)
            async with aclosing(subscription) as items:
                async for item in items:
                    if isinstance(item, Heartbeat):
                        yield b"\n"
                    elif isinstance(item, StreamEvent):
                        if item.event == "values":
                            last_values = item.data
                        elif item.event == "error":
                            error = item.data
        completed = True
        if error is not None:
            yield orjson.dumps({"__error__": error})
        elif last_values is not None:
            yield orjson.dumps(last_values)
        else:
            yield orjson.dumps(await fallback())
    except StreamClosedError:
        completed = True
        yield orjson.dumps(await fallback())
    finally:
        if on_exit is not None:
            await asyncio.shield(on_exit(completed))
