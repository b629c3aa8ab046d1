"""The ``StreamBridge`` contract: a bounded, replayable event log per run, and its invariants.

A run's executor publishes events (``metadata``, ``values``, ``updates``...) to the bridge; any
number of SSE responses subscribe to the same run and read them, live or replayed from a
``Last-Event-ID``. The log is not the source of truth (the run row and the checkpoints are): it is
bounded, and a reader that asks for events it no longer holds is told so, never served a silent
partial replay.

Invariants every implementation keeps (``tests/streams/test_bridge_contract.py`` checks each one
against every implementation):

1. **Ids.** ``publish`` returns the event's id, a Redis-stream-style string ``"<ms>-<seq>"``
   (two decimal integers). Ids are unique within a run and strictly increase in publish order,
   where the order is that of ``parse_event_id``: the ``(ms, seq)`` pair. Plain string comparison
   is *not* that order (``"999-0" > "1000-0"``); compare parsed keys. Ids also keep increasing
   when a run's log is cleaned up and published to again, as long as the clock does not go back.
2. **Order and fan-out.** Every subscription of a run sees its events in publish order, each at
   most once. Any number of subscriptions read one shared log; none sees another's cursor.
3. **Bounded, and publishers never wait.** Each run keeps at most a fixed number of its latest
   events. ``publish`` never waits for a subscriber; a subscriber that falls further behind than
   the retention gets a ``StreamGap`` and carries on from the earliest retained event.
4. **No silent loss.** Whenever events a subscription should have yielded were trimmed before it
   read them, a ``StreamGap`` comes first, naming the cursor it resumed from and the retained
   range; the subscription then continues from the earliest retained event.
5. **Cursor.** ``last_event_id`` picks where a subscription starts:

   - ``None``: the beginning of the stream (every retained event; a gap first if some were
     trimmed).
   - an id this log issued: right after it. The last trimmed id is still exact: no gap.
   - a well-formed id that is not one of this log's, but not newer than its latest event (a
     cursor from an earlier life of the log): after it in ``(ms, seq)`` order, with a gap if
     events after it were trimmed.
   - anything else, treated as "no usable cursor", the same as ``None``: a malformed id (``""``,
     the ``"-1"`` the JS SDK sends when it has none, ``"abc"``) or a well-formed id newer than
     anything this log issued (a cursor from another process or clock). Replaying what the client
     may already have is the safe side: a duplicate is visible, a skipped event is not.
6. **End.** ``publish_end`` appends the end marker: a subscription yields every retained event
   before it and then stops (``StopAsyncIteration``). That includes subscriptions waiting live
   and ones that start after the end. ``publish_end`` is idempotent; ``publish`` after it raises
   ``StreamEndedError``.
7. **Early subscribers.** A subscription may start before the run's first event (an SSE
   response opens before the run starts): it waits and misses nothing.
8. **Heartbeat.** A subscription that has waited ``heartbeat_interval`` seconds with nothing to
   yield yields ``HEARTBEAT`` and keeps waiting; a heartbeat never replaces an available event.
   ``None`` turns heartbeats off.
9. **Cleanup.** ``cleanup`` removes the run's log, at once or ``delay`` seconds later (it then
   returns at once; the removal is scheduled by the bridge). A subscription still reading the log
   raises ``StreamClosedError`` at its next step; callers delay the cleanup after the end so
   readers can finish. ``exists``/``ended`` are False afterwards.
10. **Close.** ``close`` is idempotent. Every subscription raises ``StreamClosedError`` at its next
    step (waiting ones are woken at once); pending delayed cleanups are dropped. Afterwards
    ``publish`` and ``subscribe`` raise ``StreamClosedError``, ``publish_end`` and ``cleanup`` do
    nothing (they usually run in ``finally`` blocks during shutdown), ``exists``/``ended`` are
    False.

11. **Thread logs.** ``bind_thread`` ties a run to its thread. While a thread log exists, every
    event published for a run bound to that thread is appended to it too (under a thread-log id:
    ids are issued per log, with invariant 1), and ``publish_end`` of such a run appends
    ``RUN_DONE_EVENT`` with ``run_done_data(run_id)``; ``publish_thread`` appends a thread-level
    event (``state_update``). ``subscribe_thread`` reads the thread log like a run's (invariants 2,
    3, 4, 5, 8) except that without ``last_event_id`` it yields only events published after the
    call (langgraph-api's thread stream replays nothing to a fresh client); it never ends on its
    own (only ``close``: ``StreamClosedError``). The call itself (not the first ``__anext__``)
    creates the log when there is none, so a route that subscribes before it answers misses
    nothing. A thread log lives until ``thread_retention`` seconds after its last subscription
    closed (or after a subscription that was never read was made), so a client that reconnects
    with ``Last-Event-ID`` within that time misses nothing. While no thread log
    exists, run and thread events are not kept for it (``publish_thread`` returns None): an
    implementation may keep more, never less. That is what makes the thread stream free on the
    hot path when nobody follows a thread.

Data: an event's ``data`` must be encodable as JSON by orjson (SSE framing and cross-process
bridges encode it). An in-process bridge may keep a reference instead of a copy, so a publisher
must not mutate ``data`` after publishing, and readers share it read-only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

_MAX_ID_PART_DIGITS = 20  # a Redis stream id part is an unsigned 64-bit integer
_MAX_ID_PART = 2**64 - 1


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of a run's log: its id, its SSE event name, and its JSON-ready payload."""

    id: str
    event: str
    data: Any


@dataclass(frozen=True, slots=True)
class StreamGap:
    """Events a subscription should have yielded are gone from the log (invariant 4).

    ``requested_id`` is the cursor the subscription resumed from: the ``last_event_id`` it was
    given (``None`` when it asked for the whole stream, or the raw string when that was unusable),
    or the id of the last event it yielded when it fell behind while reading. ``earliest_id`` and
    ``latest_id`` bound what the log still holds; the next item is the event ``earliest_id``.
    A client that needs everything reloads the durable state (the thread's checkpoint).
    """

    requested_id: str | None
    earliest_id: str
    latest_id: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The subscription is alive but has had nothing to yield for ``heartbeat_interval``."""


HEARTBEAT = Heartbeat()
"""The one ``Heartbeat`` instance subscriptions yield."""

StreamItem: TypeAlias = StreamEvent | StreamGap | Heartbeat


RUN_DONE_EVENT = "metadata"
"""The thread-log event that marks the end of one of the thread's runs (langgraph-api's name)."""


def run_done_data(run_id: str) -> dict[str, str]:
    """The payload of ``RUN_DONE_EVENT``: ``{"status": "run_done", "run_id": ...}``."""
    return {"status": "run_done", "run_id": run_id}


def parse_event_id(event_id: str) -> tuple[int, int] | None:
    """The ``(ms, seq)`` key that orders event ids, or None when ``event_id`` is not one.

    Accepts ``"<ms>-<seq>"`` and a bare ``"<ms>"`` (read as ``"<ms>-0"``, as Redis does), each
    part an unsigned 64-bit decimal integer without sign, spaces or underscores.
    """
    ms_text, sep, seq_text = event_id.partition("-")
    if not sep:
        seq_text = "0"
    ms = _parse_id_part(ms_text)
    seq = _parse_id_part(seq_text)
    if ms is None or seq is None:
        return None
    return ms, seq


def _parse_id_part(text: str) -> int | None:
    if not text or len(text) > _MAX_ID_PART_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= _MAX_ID_PART else None


class StreamBridge(ABC):
    """A per-run event log that SSE responses read and resume from.

    See the module docstring for the invariants every implementation keeps.
    """

    cross_process: ClassVar[bool] = False
    """True when a subscriber in one process sees events published in another."""

    @abstractmethod
    async def publish(self, run_id: str, event: str, data: Any) -> str:
        """Append an event to the run's log (creating the log if needed) and return its id.

        The id is greater than every id the run's log issued before (invariant 1). Never waits
        for subscribers (invariant 3). Raises ``StreamEndedError`` after ``publish_end`` and
        ``StreamClosedError`` after ``close``.
        """

    @abstractmethod
    async def publish_end(self, run_id: str) -> None:
        """Mark the run's log as ended (creating it if needed); idempotent (invariant 6).

        Subscriptions stop once they have yielded every event before the end. A no-op after
        ``close``.
        """

    @abstractmethod
    def subscribe(
        self,
        run_id: str,
        *,
        last_event_id: str | None = None,
        heartbeat_interval: float | None = 15.0,
    ) -> AsyncGenerator[StreamItem, None]:
        """Read the run's events: the retained ones after ``last_event_id``, then live ones.

        Yields ``StreamEvent``s in publish order, a ``StreamGap`` before any stretch of events
        that was trimmed (invariants 4 and 5), and ``HEARTBEAT`` after ``heartbeat_interval``
        idle seconds (invariant 8). Stops after the end marker (invariant 6); raises
        ``StreamClosedError`` when the log is cleaned up or the bridge closed first.

        The result is an async generator, and nothing happens until the first ``__anext__``: a
        ``ValueError`` for a ``heartbeat_interval`` that is not positive, or ``StreamClosedError``
        after ``close``, surfaces there. Close it (``aclose``, ``contextlib.aclosing``) when
        leaving before the end, so the bridge forgets the subscription at once.
        """

    @abstractmethod
    async def exists(self, run_id: str) -> bool:
        """True when the run's log holds an event or its end marker and was not cleaned up.

        A subscription alone (invariant 7) does not make a log exist.
        """

    @abstractmethod
    async def ended(self, run_id: str) -> bool:
        """True when ``publish_end`` was called for the run and its log was not cleaned up."""

    @abstractmethod
    async def cleanup(self, run_id: str, *, delay: float = 0) -> None:
        """Remove the run's log now, or schedule its removal ``delay`` seconds from now.

        Returns at once either way (invariant 9). A later call replaces a pending one. A no-op
        for an unknown run and after ``close``.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release everything and end every subscription with ``StreamClosedError`` (invariant 10)."""

    @abstractmethod
    async def bind_thread(self, run_id: str, thread_id: str) -> None:
        """Tie ``run_id`` to ``thread_id``: its later events also reach the thread's log (invariant 11).

        Call it before the run's first event. A no-op after ``close``.
        """

    @abstractmethod
    async def publish_thread(self, thread_id: str, event: str, data: Any) -> str | None:
        """Append a thread-level event to the thread's log; its id, or None when no log exists.

        Never waits for subscribers. None after ``close``.
        """

    @abstractmethod
    def subscribe_thread(
        self,
        thread_id: str,
        *,
        last_event_id: str | None = None,
        heartbeat_interval: float | None = 15.0,
    ) -> AsyncGenerator[StreamItem, None]:
        """Read the thread's log: retained events after ``last_event_id`` (none without one),
        then live ones.

        Like ``subscribe`` (gaps, heartbeats, cursor rules), except that it never stops by
        itself. Unlike ``subscribe`` it acts when called: it creates the thread log when there
        is none, raises ``ValueError`` for a bad ``heartbeat_interval`` and ``StreamClosedError``
        after ``close`` at once. The log is kept ``thread_retention`` seconds after the last
        subscription closes.
        """
