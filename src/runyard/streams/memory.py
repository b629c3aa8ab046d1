"""``MemoryStreamBridge``: the stream bridge of one process (the embedded default).

Each run's log is a ring buffer of its latest ``max_events_per_run`` events. An event's id is
``"<ms>-<seq>"``: ``seq`` is the event's absolute position in the run's log (0, 1, 2...), so a
cursor this log issued is found by arithmetic, in O(1), whatever the retention; ``ms`` is the
wall clock in milliseconds, never going back within a log, so ids look like (and order like)
Redis stream ids and stay ordered across a cleanup and a new log for the same run.

Wake-ups use one ``asyncio.Event`` per log, created only when a subscriber has to wait and
replaced after each wake-up: a publish with nobody waiting costs an attribute check, and a
publish wakes every waiting subscriber at once without a lock. Nothing polls.

Thread logs (contract invariant 11) are the same ring buffers, keyed by thread id in a dict of
their own, and exist only while someone follows the thread (plus ``thread_retention``): a
publish pays one truthiness check of that dict when no thread is followed anywhere.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import AsyncGenerator
from time import time_ns
from typing import Any

from .base import (
    HEARTBEAT,
    RUN_DONE_EVENT,
    StreamBridge,
    StreamEvent,
    StreamGap,
    StreamItem,
    parse_event_id,
    run_done_data,
)
from .errors import StreamClosedError, StreamEndedError

DEFAULT_MAX_EVENTS_PER_RUN = 1024
DEFAULT_THREAD_RETENTION = 120.0


class _RunLog:
    """One run's ring buffer and its wake-up state. Positions are absolute sequence numbers."""

    __slots__ = (
        "buffer",
        "capacity",
        "closed",
        "ended",
        "last_ms",
        "last_trimmed",
        "next_seq",
        "subscribers",
        "waiter",
    )

    def __init__(self, capacity: int, ms_floor: int) -> None:
        self.buffer: list[StreamEvent] = []
        self.capacity = capacity
        self.next_seq = 0  # the seq of the next event; also how many were ever published
        self.last_ms = ms_floor  # ids' ms never go below this, so they never go back
        self.last_trimmed: StreamEvent | None = None  # the newest event the ring overwrote
        self.ended = False
        self.closed = False
        self.waiter: asyncio.Event | None = None
        self.subscribers = 0

    @property
    def start_seq(self) -> int:
        """The seq of the earliest retained event (== next_seq when the log is empty)."""
        return self.next_seq - len(self.buffer)

    def at(self, seq: int) -> StreamEvent:
        return self.buffer[seq % self.capacity]

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter.set()

    def resolve(self, last_event_id: str | None) -> int:
        """The seq a subscription with this cursor reads first (invariant 5 of the contract).

        A result below ``start_seq`` means events after the cursor were trimmed: the
        subscription yields a gap before reading on.
        """
        if last_event_id is None:
            return 0
        key = parse_event_id(last_event_id)
        if key is None or self.next_seq == 0:
            return 0
        seq = key[1]
        start = self.start_seq
        if start <= seq < self.next_seq and self.at(seq).id == last_event_id:
            return seq + 1  # the fast path: a cursor this log issued and still holds
        return self._resolve_by_order(key)

    def _resolve_by_order(self, key: tuple[int, int]) -> int:
        """Place a cursor that is not a retained id of this log by ``(ms, seq)`` order."""
        start = self.start_seq
        if key > _key(self.at(self.next_seq - 1)):
            return 0  # newer than anything this log issued: not a cursor of ours
        if self.last_trimmed is not None:
            trimmed_key = _key(self.last_trimmed)
            if key < trimmed_key:
                return 0  # events after the cursor were trimmed: a gap
            if key == trimmed_key:
                return start
        retained = range(start, self.next_seq)
        return start + bisect_right(retained, key, key=lambda seq: _key(self.at(seq)))


def _append(log: _RunLog, event: str, data: Any) -> str:
    """Add an event to ``log`` (trimming the oldest when full), wake its readers, return its id."""
    ms = time_ns() // 1_000_000
    if ms > log.last_ms:
        log.last_ms = ms
    else:
        ms = log.last_ms
    seq = log.next_seq
    event_id = f"{ms}-{seq}"
    item = StreamEvent(event_id, event, data)
    buffer = log.buffer
    if seq < log.capacity:
        buffer.append(item)
    else:
        slot = seq % log.capacity
        log.last_trimmed = buffer[slot]
        buffer[slot] = item
    log.next_seq = seq + 1
    if log.waiter is not None:
        log.wake()
    return event_id


def _key(event: StreamEvent) -> tuple[int, int]:
    key = parse_event_id(event.id)
    assert key is not None, "the bridge only stores ids it made"
    return key


class MemoryStreamBridge(StreamBridge):
    """The in-process ``StreamBridge``: bounded ring buffers, O(1) resume, no polling.

    ``max_events_per_run`` bounds each run's retained events (the end marker is not counted).
    It bounds memory by count, not bytes: a run streaming large ``values`` states holds up to
    that many of them until its log is cleaned up. Use it from one event loop (its methods are
    not thread-safe, and need none: no method awaits between reading and writing a log).
    """

    def __init__(
        self,
        max_events_per_run: int = DEFAULT_MAX_EVENTS_PER_RUN,
        *,
        thread_retention: float = DEFAULT_THREAD_RETENTION,
    ) -> None:
        if max_events_per_run < 1:
            raise ValueError(f"max_events_per_run must be at least 1, not {max_events_per_run}")
        if thread_retention < 0:
            raise ValueError(f"thread_retention must not be negative, not {thread_retention}")
        self._capacity = max_events_per_run
        self._thread_retention = thread_retention
        self._logs: dict[str, _RunLog] = {}
        self._cleanups: dict[str, asyncio.TimerHandle] = {}
        self._thread_of: dict[str, str] = {}  # run id -> thread id, until the run's log goes
        self._thread_logs: dict[str, _RunLog] = {}
        self._thread_cleanups: dict[str, asyncio.TimerHandle] = {}
        self._ms_floor = 0  # above every ms of a log cleaned up so far (ids stay ordered)
        self._closed = False

    async def publish(self, run_id: str, event: str, data: Any) -> str:
        log = self._logs.get(run_id)
        if log is None:
            log = self._open(run_id)
        elif log.ended:
            raise StreamEndedError(run_id)
        event_id = _append(log, event, data)
        if self._thread_logs:  # the whole cost of thread streams while nobody follows a thread
            self._mirror(run_id, event, data)
        return event_id

    def _mirror(self, run_id: str, event: str, data: Any) -> None:
        thread_id = self._thread_of.get(run_id)
        thread_log = None if thread_id is None else self._thread_logs.get(thread_id)
        if thread_log is not None:
            _append(thread_log, event, data)

    async def publish_end(self, run_id: str) -> None:
        if self._closed:
            return
        log = self._logs.get(run_id) or self._open(run_id)
        if not log.ended:
            log.ended = True
            log.wake()
            if self._thread_logs:
                self._mirror(run_id, RUN_DONE_EVENT, run_done_data(run_id))

    async def subscribe(
        self,
        run_id: str,
        *,
        last_event_id: str | None = None,
        heartbeat_interval: float | None = 15.0,
    ) -> AsyncGenerator[StreamItem, None]:
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be positive or None, not {heartbeat_interval}")
        log = self._logs.get(run_id) or self._open(run_id)
        log.subscribers += 1
        try:
            async for item in _follow(
                log, run_id, log.resolve(last_event_id), last_event_id, heartbeat_interval
            ):
                yield item
        finally:
            log.subscribers -= 1
            self._forget_if_unused(run_id, log)

    async def bind_thread(self, run_id: str, thread_id: str) -> None:
        if not self._closed:
            self._thread_of[run_id] = thread_id

    async def publish_thread(self, thread_id: str, event: str, data: Any) -> str | None:
        log = self._thread_logs.get(thread_id)
        return None if log is None else _append(log, event, data)

    def subscribe_thread(
        self,
        thread_id: str,
        *,
        last_event_id: str | None = None,
        heartbeat_interval: float | None = 15.0,
    ) -> AsyncGenerator[StreamItem, None]:
        if heartbeat_interval is not None and not heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be positive or None, not {heartbeat_interval}")
        if self._closed:
            raise StreamClosedError(thread_id)
        log = self._thread_logs.get(thread_id)
        if log is None:
            log = self._thread_logs[thread_id] = _RunLog(self._capacity, self._ms_floor)
        # The log exists from now on; a subscription never read still lets it go in time.
        self._schedule_thread_removal(thread_id)
        position = log.next_seq if last_event_id is None else log.resolve(last_event_id)
        return self._read_thread(thread_id, log, position, last_event_id, heartbeat_interval)

    async def _read_thread(
        self,
        thread_id: str,
        log: _RunLog,
        position: int,
        last_event_id: str | None,
        heartbeat_interval: float | None,
    ) -> AsyncGenerator[StreamItem, None]:
        pending = self._thread_cleanups.pop(thread_id, None)
        if pending is not None:
            pending.cancel()
        log.subscribers += 1
        try:
            async for item in _follow(log, thread_id, position, last_event_id, heartbeat_interval):
                yield item
        finally:
            log.subscribers -= 1
            if log.subscribers == 0 and not log.closed and self._thread_logs.get(thread_id) is log:
                self._schedule_thread_removal(thread_id)

    def _schedule_thread_removal(self, thread_id: str) -> None:
        pending = self._thread_cleanups.pop(thread_id, None)
        if pending is not None:
            pending.cancel()
        log = self._thread_logs.get(thread_id)
        if log is not None and log.subscribers == 0:
            loop = asyncio.get_running_loop()
            self._thread_cleanups[thread_id] = loop.call_later(
                self._thread_retention, self._remove_thread, thread_id
            )

    async def exists(self, run_id: str) -> bool:
        log = self._logs.get(run_id)
        return log is not None and (log.next_seq > 0 or log.ended)

    async def ended(self, run_id: str) -> bool:
        log = self._logs.get(run_id)
        return log is not None and log.ended

    async def cleanup(self, run_id: str, *, delay: float = 0) -> None:
        if self._closed:
            return
        pending = self._cleanups.pop(run_id, None)
        if pending is not None:
            pending.cancel()
        if delay > 0:
            loop = asyncio.get_running_loop()
            self._cleanups[run_id] = loop.call_later(delay, self._remove, run_id)
        else:
            self._remove(run_id)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for handle in [*self._cleanups.values(), *self._thread_cleanups.values()]:
            handle.cancel()
        self._cleanups.clear()
        self._thread_cleanups.clear()
        self._thread_of.clear()
        logs = [*self._logs.values(), *self._thread_logs.values()]
        self._logs.clear()
        self._thread_logs.clear()
        for log in logs:
            log.closed = True
            log.wake()

    def _open(self, run_id: str) -> _RunLog:
        if self._closed:
            raise StreamClosedError()
        log = self._logs[run_id] = _RunLog(self._capacity, self._ms_floor)
        return log

    def _remove(self, run_id: str) -> None:
        self._cleanups.pop(run_id, None)
        self._thread_of.pop(run_id, None)
        log = self._logs.pop(run_id, None)
        if log is None:
            return
        # A later log for this run starts its ids above this one's, so they stay ordered.
        self._ms_floor = max(self._ms_floor, log.last_ms + 1)
        log.closed = True
        log.wake()

    def _remove_thread(self, thread_id: str) -> None:
        self._thread_cleanups.pop(thread_id, None)
        log = self._thread_logs.pop(thread_id, None)
        if log is not None:
            self._ms_floor = max(self._ms_floor, log.last_ms + 1)
            log.closed = True
            log.wake()

    def _forget_if_unused(self, run_id: str, log: _RunLog) -> None:
        """Drop a log that only a subscription created, once no subscription reads it."""
        if log.subscribers == 0 and log.next_seq == 0 and not log.ended and self._logs.get(run_id) is log:
            del self._logs[run_id]


async def _follow(
    log: _RunLog, name: str, position: int, last_event_id: str | None, heartbeat_interval: float | None
) -> AsyncGenerator[StreamItem, None]:
    """Read ``log`` from ``position`` (where ``last_event_id`` put it) until its end marker (a
    thread log has none)."""
    cursor = last_event_id
    while True:
        if log.closed:
            raise StreamClosedError(name)
        if position < log.next_seq:
            start = log.start_seq
            if position < start:
                yield StreamGap(cursor, log.at(start).id, log.at(log.next_seq - 1).id)
                position = start
                continue
            item = log.at(position)
            position += 1
            cursor = item.id
            yield item
            continue
        if log.ended:
            return
        if await _wait(log, heartbeat_interval):
            yield HEARTBEAT


async def _wait(log: _RunLog, heartbeat_interval: float | None) -> bool:
    """Wait for the log to change; True when ``heartbeat_interval`` passed first."""
    waiter = log.waiter
    if waiter is None:
        waiter = log.waiter = asyncio.Event()
    if heartbeat_interval is None:
        await waiter.wait()
        return False
    try:
        async with asyncio.timeout(heartbeat_interval):
            await waiter.wait()
    except TimeoutError:
        return True
    return False
