"""Server-Sent Events framing, byte for byte as langgraph-api writes it.

An event frame is ``event: <name>\\r\\ndata: <json>\\r\\n`` plus ``id: <id>\\r\\n`` when the stream
carries ids, closed by an empty line (``\\r\\n``): the order (event, data, id) and the CRLF line
ends observed from ``langgraph dev`` (reference/agent-server.md §1.5). The JSON is compact orjson
output, which never holds a raw line break, so ``data`` is always one line.

Frames besides the bridge's events:

- ``HEARTBEAT_FRAME``, the SSE comment ``: heartbeat``: clients and SSE parsers skip comments,
  and it keeps proxies from timing out an idle response.
- ``END_FRAME``, ``event: end`` with ``data: null``. langgraph-api 0.16.7 sends none (it just
  closes the response), but the SDK treats ``end`` (and ``error``) as terminal: without it a clean
  close looks like a dropped connection, and the SDK asks the run's status to decide whether to
  reconnect. Send it after the bridge's subscription stops, never after ``StreamClosedError``.
- the gap frame (``format_gap``), ``event: gap``, for a ``StreamGap``: events the client has not
  seen are gone from the log. Why a name of its own rather than ``error``: the SDK and useStream
  treat ``error`` as the run's failure and stop, while a gap is not a failure and the stream goes
  on with the earliest retained event. An unknown event name reaches the application untouched
  (v1 ``StreamPart(event="gap")``, v2 ``{"type": "gap"}``), so a client that knows it can reload
  the thread's state and one that does not simply sees one more event. DeerFlow uses the same
  name and payload keys, so its clients recognise runyard's gaps. The frame carries no ``id``:
  it is not an event of the log, and the client's cursor moves with the next event's id.
"""

from __future__ import annotations

from typing import Any

import orjson

from .base import Heartbeat, StreamEvent, StreamGap, StreamItem

HEARTBEAT_FRAME = b": heartbeat\r\n\r\n"
END_FRAME = b"event: end\r\ndata: null\r\n\r\n"

GAP_EVENT = "gap"
GAP_CODE = "stream_replay_gap"
GAP_RECOVERY = "reload_durable_state"

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode_data(data: Any) -> bytes:
    """``data`` as compact JSON (orjson), the ``data:`` line's payload.

    Objects orjson cannot encode natively go through ``model_dump()`` when they have one
    (pydantic models) and ``str()`` otherwise: the runs layer hands the bridge JSON-ready data,
    and one stray object must not break a client's stream.
    """
    return orjson.dumps(data, default=_fallback, option=_JSON_OPTIONS)


def format_frame(event: str, data: Any, *, event_id: str | None = None) -> bytes:
    """One SSE event frame; ``event_id`` adds the ``id:`` line."""
    name = _field_value("event", event)
    frame = b"event: " + name + b"\r\ndata: " + encode_data(data) + b"\r\n"
    if event_id is not None:
        frame += b"id: " + _field_value("id", event_id) + b"\r\n"
    return frame + b"\r\n"


def format_event(item: StreamEvent, *, with_id: bool = True) -> bytes:
    """The frame of a bridge event; ``with_id=False`` for a stream that sends no ids.

    langgraph-api sends ``id:`` lines only for runs created with ``stream_resumable=true``.
    """
    return format_frame(item.event, item.data, event_id=item.id if with_id else None)


def gap_payload(gap: StreamGap, *, run_id: str | None = None) -> dict[str, Any]:
    """The gap frame's JSON: what was asked, what the log still holds, and what to do."""
    payload: dict[str, Any] = {"code": GAP_CODE}
    if run_id is not None:
        payload["run_id"] = run_id
    payload["requested_event_id"] = gap.requested_id
    payload["earliest_available_event_id"] = gap.earliest_id
    payload["latest_available_event_id"] = gap.latest_id
    payload["recovery"] = GAP_RECOVERY
    return payload


def format_gap(gap: StreamGap, *, run_id: str | None = None) -> bytes:
    """The ``gap`` frame for a ``StreamGap`` (no ``id:`` line; see the module docstring)."""
    return format_frame(GAP_EVENT, gap_payload(gap, run_id=run_id))


def format_item(item: StreamItem, *, with_id: bool = True, run_id: str | None = None) -> bytes:
    """The frame of anything a bridge subscription yields."""
    if isinstance(item, StreamEvent):
        return format_event(item, with_id=with_id)
    if isinstance(item, StreamGap):
        return format_gap(item, run_id=run_id)
    if isinstance(item, Heartbeat):
        return HEARTBEAT_FRAME
    raise TypeError(f"not a stream item: {item!r}")


def _field_value(field: str, value: str) -> bytes:
    """A field's value as UTF-8, refusing line breaks, which would end the field early."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"an SSE {field} cannot contain a line break: {value!r}")
    return value.encode()


def _fallback(obj: Any) -> Any:
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return model_dump()
    return str(obj)
