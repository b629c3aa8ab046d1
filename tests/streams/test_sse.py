"""SSE framing (``runyard.streams.sse``): the exact bytes, and that the SDK's own parser reads them."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from langgraph_sdk.schema import StreamPart
from langgraph_sdk.sse import BytesLineDecoder, SSEDecoder
from pydantic import BaseModel

from runyard.streams import HEARTBEAT, StreamEvent, StreamGap
from runyard.streams.sse import (
    END_FRAME,
    HEARTBEAT_FRAME,
    encode_data,
    format_event,
    format_frame,
    format_gap,
    format_item,
)


def sdk_parse(stream: bytes) -> list[StreamPart]:
    """What langgraph-sdk's SSE reader yields for these bytes (fed in small chunks, like a socket)."""
    lines = BytesLineDecoder()
    decoder = SSEDecoder()
    parts: list[StreamPart] = []
    chunks = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    for chunk in chunks:
        for line in lines.decode(chunk):
            part = decoder.decode(bytes(line))
            if part is not None and (part.event or decoder.has_data):
                parts.append(part)
    for line in lines.flush():
        part = decoder.decode(bytes(line))
        if part is not None and (part.event or decoder.has_data):
            parts.append(part)
    return parts


def test_event_frame_is_event_data_id_with_crlf_lines() -> None:
    """A bridge event frames as langgraph-api's: event, data (compact JSON), id, blank line, all CRLF."""
    item = StreamEvent(id="1795361023307-3", event="values", data={"messages": [], "n": 1})
    assert format_event(item) == (
        b'event: values\r\ndata: {"messages":[],"n":1}\r\nid: 1795361023307-3\r\n\r\n'
    )


def test_event_frame_without_id_for_streams_that_send_none() -> None:
    """with_id=False leaves out the id line (langgraph-api sends ids only for resumable runs)."""
    item = StreamEvent(id="5-0", event="updates", data={"node": {"x": 1}})
    assert format_event(item, with_id=False) == b'event: updates\r\ndata: {"node":{"x":1}}\r\n\r\n'


def test_metadata_frame_matches_the_first_event_of_a_run() -> None:
    """The metadata frame a run starts with has the reference's exact shape."""
    frame = format_frame("metadata", {"run_id": "r-1", "attempt": 1}, event_id="10-0")
    assert frame == b'event: metadata\r\ndata: {"run_id":"r-1","attempt":1}\r\nid: 10-0\r\n\r\n'


def test_subgraph_event_names_pass_through() -> None:
    """Event names with namespace suffixes (updates|child:uuid) are written as they are."""
    assert format_frame("updates|child:1", None).startswith(b"event: updates|child:1\r\ndata: null\r\n")


def test_heartbeat_frame_is_an_sse_comment() -> None:
    """A heartbeat is the comment ": heartbeat" ended by a blank line; parsers yield nothing for it."""
    assert HEARTBEAT_FRAME == b": heartbeat\r\n\r\n"
    assert format_item(HEARTBEAT) == HEARTBEAT_FRAME
    assert sdk_parse(HEARTBEAT_FRAME) == []


def test_end_frame_is_a_terminal_end_event_with_null_data() -> None:
    """The end frame is "event: end" with null data, the name the SDK treats as terminal."""
    assert END_FRAME == b"event: end\r\ndata: null\r\n\r\n"
    (part,) = sdk_parse(END_FRAME)
    assert (part.event, part.id) == ("end", None) and part.data is None


def test_gap_frame_names_the_cursor_and_retained_range_and_has_no_id() -> None:
    """A StreamGap frames as event "gap" with a machine-readable payload and no id line."""
    gap = StreamGap(requested_id="10-2", earliest_id="10-7", latest_id="12-11")
    assert format_gap(gap, run_id="r-1") == (
        b'event: gap\r\ndata: {"code":"stream_replay_gap","run_id":"r-1","requested_event_id":"10-2",'
        b'"earliest_available_event_id":"10-7","latest_available_event_id":"12-11",'
        b'"recovery":"reload_durable_state"}\r\n\r\n'
    )
    assert format_item(StreamGap(None, "1-0", "1-1")) == (
        b'event: gap\r\ndata: {"code":"stream_replay_gap","requested_event_id":null,'
        b'"earliest_available_event_id":"1-0","latest_available_event_id":"1-1",'
        b'"recovery":"reload_durable_state"}\r\n\r\n'
    )


def test_sdk_reads_a_whole_stream_back_with_ids_and_keeps_its_cursor_across_a_gap() -> None:
    """langgraph-sdk parses runyard's frames to the same events, ids and data; a gap leaves the cursor alone."""
    items: list[Any] = [
        StreamEvent("1-0", "metadata", {"run_id": "r"}),
        HEARTBEAT,
        StreamEvent("1-1", "values", {"text": "héllo ✓\nline two"}),
        StreamGap("1-1", "1-5", "1-6"),
        StreamEvent("1-5", "messages", [{"content": "x"}, {"langgraph_node": "a"}]),
    ]
    stream = b"".join(format_item(item) for item in items) + END_FRAME
    parts = sdk_parse(stream)
    assert [(part.event, part.data, part.id) for part in parts] == [
        ("metadata", {"run_id": "r"}, "1-0"),
        ("values", {"text": "héllo ✓\nline two"}, "1-1"),
        ("gap", parts[2].data, "1-1"),
        ("messages", [{"content": "x"}, {"langgraph_node": "a"}], "1-5"),
        ("end", None, "1-5"),
    ]
    assert parts[2].data["earliest_available_event_id"] == "1-5"


def test_data_is_compact_utf8_json_on_one_line() -> None:
    """Non-ASCII text stays UTF-8 and line breaks inside strings are escaped, so data is one line."""
    frame = format_frame("custom", {"t": "é\r\n✓"})
    assert frame == 'event: custom\r\ndata: {"t":"é\\r\\n✓"}\r\n\r\n'.encode()


def test_data_encoding_handles_non_string_keys_models_and_stray_objects() -> None:
    """Integer keys, datetimes and pydantic models encode; anything else falls back to its str()."""

    class Point(BaseModel):
        x: int

    class Odd:
        def __str__(self) -> str:
            return "odd"

    when = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert encode_data({1: Point(x=2), "at": when, "odd": Odd()}) == (
        b'{"1":{"x":2},"at":"2025-01-02T03:04:05+00:00","odd":"odd"}'
    )


@pytest.mark.parametrize(("field", "kwargs"), [("event", {"event": "a\nb"}), ("id", {"event_id": "1\r0"})])
def test_line_breaks_in_event_names_and_ids_are_refused(field: str, kwargs: dict[str, str]) -> None:
    """A line break in the event name or id would split the frame, so it raises ValueError."""
    event = kwargs.pop("event", "values")
    with pytest.raises(ValueError, match=f"SSE {field}"):
        format_frame(event, {}, **kwargs)


def test_format_item_rejects_what_is_not_a_stream_item() -> None:
    """Only StreamEvent, StreamGap and Heartbeat have frames."""
    with pytest.raises(TypeError):
        format_item("values")  # type: ignore[arg-type]
