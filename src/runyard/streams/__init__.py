"""Stream bridges: the bounded, replayable per-run event logs SSE clients read, and SSE framing.

``MemoryStreamBridge`` is the embedded default. Implementations that need an optional
dependency (Redis) are imported from their own module only when chosen, never from here.
"""

from .base import (
    HEARTBEAT,
    RUN_DONE_EVENT,
    Heartbeat,
    StreamBridge,
    StreamEvent,
    StreamGap,
    StreamItem,
    parse_event_id,
    run_done_data,
)
from .errors import StreamClosedError, StreamEndedError, StreamError
from .memory import MemoryStreamBridge

__all__ = [
    "HEARTBEAT",
    "RUN_DONE_EVENT",
    "Heartbeat",
    "MemoryStreamBridge",
    "StreamBridge",
    "StreamClosedError",
    "StreamEndedError",
    "StreamError",
    "StreamEvent",
    "StreamGap",
    "StreamItem",
    "parse_event_id",
    "run_done_data",
]
