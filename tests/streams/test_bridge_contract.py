"""The ``StreamBridge`` contract (``runyard.streams.base``), run against every implementation.

A new bridge joins by adding one entry to ``IMPLEMENTATIONS``: a factory that takes the test's
``request`` (to reach server fixtures such as a Redis URL) and the retention to build with.

Payloads are compared as JSON values (``value``): a cross-process bridge hands back the JSON it
stored as an ``orjson.Fragment``, not the object that was published.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import orjson
import pytest

from helpers import wait_until
from runyard.streams import (
    HEARTBEAT,
    RUN_DONE_EVENT,
    MemoryStreamBridge,
    StreamBridge,
    StreamClosedError,
    StreamEndedError,
    StreamEvent,
    StreamGap,
    StreamItem,
    parse_event_id,
)

DEADLINE = 5.0  # seconds any single wait in these tests may take before it counts as a failure
DEFAULT_RETENTION = 100

DEFAULT_THREAD_RETENTION = 30.0

BridgeFactory = Callable[[pytest.FixtureRequest, int, float], Awaitable[StreamBridge]]
MakeBridge = Callable[..., Awaitable[StreamBridge]]


async def memory_bridge(
    request: pytest.FixtureRequest, retention: int, thread_retention: float
) -> StreamBridge:
    return MemoryStreamBridge(max_events_per_run=retention, thread_retention=thread_retention)


async def redis_bridge(
    request: pytest.FixtureRequest, retention: int, thread_retention: float
) -> StreamBridge:
    from runyard.streams.redis import RedisStreamBridge

    url: str = request.getfixturevalue("redis_url")
    # A key prefix per bridge: tests share the session's server and reuse run ids ("run-a").
    return RedisStreamBridge(
        url,
        max_events_per_run=retention,
        key_prefix=f"test:{uuid.uuid4().hex}",
        thread_retention=thread_retention,
    )


IMPLEMENTATIONS = [
    pytest.param(memory_bridge, id="memory"),
    pytest.param(redis_bridge, id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=IMPLEMENTATIONS)
async def make_bridge(request: pytest.FixtureRequest) -> AsyncIterator[MakeBridge]:
    """Build bridges of the implementation under test (with a given retention); close them after."""
    factory: BridgeFactory = request.param
    made: list[StreamBridge] = []

    async def make(
        retention: int = DEFAULT_RETENTION, thread_retention: float = DEFAULT_THREAD_RETENTION
    ) -> StreamBridge:
        bridge = await factory(request, retention, thread_retention)
        made.append(bridge)
        return bridge

    yield make
    for bridge in made:
        await bridge.close()


@pytest.fixture
async def bridge(make_bridge: MakeBridge) -> StreamBridge:
    """A bridge of the implementation under test with the default retention."""
    return await make_bridge()


@pytest.fixture
def run_id() -> str:
    """A run id no other test uses (a shared server may hold other tests' logs)."""
    return f"run-{uuid.uuid4()}"


class Reader:
    """Reads one subscription in a background task and records everything it yields."""

    def __init__(self, subscription: AsyncGenerator[StreamItem, None]) -> None:
        self.items: list[StreamItem] = []
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._read(subscription))

    async def _read(self, subscription: AsyncGenerator[StreamItem, None]) -> None:
        try:
            async with aclosing(subscription):
                async for item in subscription:
                    self.items.append(item)
                    self._changed.set()
        finally:
            self._changed.set()

    async def until(self, predicate: Callable[[list[StreamItem]], bool]) -> None:
        """Wait (bounded) until ``predicate(items)`` holds; fail if the subscription stops first."""
        async with asyncio.timeout(DEADLINE):
            while not predicate(self.items):
                if self.task.done():
                    self.task.result()
                    raise AssertionError(f"the subscription stopped first; it yielded {self.items!r}")
                self._changed.clear()
                await self._changed.wait()

    async def finish(self) -> list[StreamItem]:
        """Wait (bounded) for the subscription to stop; re-raise what it raised."""
        async with asyncio.timeout(DEADLINE):
            await self.task
        return self.items


@pytest.fixture
async def start_reader() -> AsyncIterator[Callable[[AsyncGenerator[StreamItem, None]], Reader]]:
    """Start ``Reader``s; any still running when the test ends is cancelled."""
    readers: list[Reader] = []

    def start(subscription: AsyncGenerator[StreamItem, None]) -> Reader:
        reader = Reader(subscription)
        readers.append(reader)
        return reader

    yield start
    for reader in readers:
        reader.task.cancel()
    await asyncio.gather(*(reader.task for reader in readers), return_exceptions=True)


async def drain(subscription: AsyncGenerator[StreamItem, None]) -> list[StreamItem]:
    """Everything a subscription yields until it stops, within the deadline."""
    async with asyncio.timeout(DEADLINE), aclosing(subscription):
        return [item async for item in subscription]


async def publish_many(bridge: StreamBridge, run_id: str, count: int, *, first: int = 0) -> list[str]:
    """Publish ``values`` events numbered ``first``... and return their ids."""
    return [await bridge.publish(run_id, "values", {"n": n}) for n in range(first, first + count)]


def value(item: StreamEvent) -> Any:
    """An event's payload as a plain JSON value, whatever form the bridge yields it in."""
    return orjson.loads(orjson.dumps(item.data))


def numbers(items: list[StreamItem] | list[StreamEvent]) -> list[int]:
    """The ``n`` of every event among ``items`` (gaps and heartbeats left out)."""
    return [value(item)["n"] for item in items if isinstance(item, StreamEvent)]


async def _negate(check: Awaitable[bool]) -> bool:
    return not await check


def events(items: list[StreamItem]) -> list[StreamEvent]:
    return [item for item in items if isinstance(item, StreamEvent)]


# -- ids, order, fan-out ------------------------------------------------------------------------


async def test_publish_returns_unique_strictly_increasing_redis_style_ids(
    bridge: StreamBridge, run_id: str
) -> None:
    """Every id is "<ms>-<seq>" and ids strictly increase in publish order under parse_event_id."""
    ids = await publish_many(bridge, run_id, 50)
    keys = [parse_event_id(event_id) for event_id in ids]
    assert all(
        key is not None and event_id == f"{key[0]}-{key[1]}" for event_id, key in zip(ids, keys, strict=True)
    )
    assert all(earlier < later for earlier, later in itertools.pairwise(keys))  # type: ignore[operator]


async def test_subscription_replays_in_publish_order_with_ids_then_stops_at_end(
    bridge: StreamBridge, run_id: str
) -> None:
    """A subscription yields the events in publish order, with the ids publish returned, then stops."""
    await bridge.publish(run_id, "metadata", {"run_id": run_id})
    ids = await publish_many(bridge, run_id, 5)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id))
    assert [item.event for item in events(items)] == ["metadata"] + ["values"] * 5
    assert [item.id for item in events(items)][1:] == ids
    assert [value(item) for item in events(items)][1:] == [{"n": n} for n in range(5)]
    assert all(isinstance(item, StreamEvent) for item in items)


async def test_live_subscriber_follows_events_published_after_it_caught_up(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """A subscription that has read everything waits and yields each new event as it comes."""
    await publish_many(bridge, run_id, 1)
    reader = start_reader(bridge.subscribe(run_id))
    await reader.until(lambda items: numbers(items) == [0])
    await publish_many(bridge, run_id, 1, first=1)
    await reader.until(lambda items: numbers(items) == [0, 1])
    await publish_many(bridge, run_id, 2, first=2)
    await bridge.publish_end(run_id)
    assert numbers(await reader.finish()) == [0, 1, 2, 3]


async def test_subscriber_before_the_first_event_misses_nothing(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """A subscription opened before the run publishes waits, then yields everything from the first event."""
    reader = start_reader(bridge.subscribe(run_id, heartbeat_interval=0.02))
    await reader.until(lambda items: HEARTBEAT in items)  # it is waiting on a log with no events
    assert not await bridge.exists(run_id)
    await publish_many(bridge, run_id, 3)
    await bridge.publish_end(run_id)
    assert numbers(await reader.finish()) == [0, 1, 2]


async def test_events_fan_out_to_every_concurrent_subscriber(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """Several subscriptions of one run each see every event, in order, exactly once."""
    readers = [start_reader(bridge.subscribe(run_id)) for _ in range(4)]
    for n in range(30):
        await bridge.publish(run_id, "values", {"n": n})
        if n == 10:  # let them catch up once, so some events are read live and some replayed
            for reader in readers:
                await reader.until(lambda items: len(numbers(items)) == 11)
    await bridge.publish_end(run_id)
    for reader in readers:
        assert numbers(await reader.finish()) == list(range(30))


async def test_runs_have_separate_logs(bridge: StreamBridge) -> None:
    """Events of one run never appear in another run's subscription."""
    await publish_many(bridge, "run-a", 3)
    await publish_many(bridge, "run-b", 2, first=100)
    await bridge.publish_end("run-a")
    await bridge.publish_end("run-b")
    assert numbers(await drain(bridge.subscribe("run-a"))) == [0, 1, 2]
    assert numbers(await drain(bridge.subscribe("run-b"))) == [100, 101]


@pytest.mark.parametrize(
    "data",
    [None, "text with\nnewline", 42, 1.5, True, [1, "two", None], {"nested": {"list": [1, {"k": "v"}]}}],
    ids=["null", "string", "int", "float", "bool", "list", "object"],
)
async def test_json_data_comes_back_equal(bridge: StreamBridge, run_id: str, data: Any) -> None:
    """Any JSON-ready payload is yielded as the same JSON value as was published."""
    await bridge.publish(run_id, "custom", data)
    await bridge.publish_end(run_id)
    (item,) = await drain(bridge.subscribe(run_id))
    assert isinstance(item, StreamEvent) and item.event == "custom" and value(item) == data


# -- resume, gaps and cursors -------------------------------------------------------------------


async def test_resume_after_a_given_id_yields_only_later_events(bridge: StreamBridge, run_id: str) -> None:
    """A Last-Event-ID the log issued resumes right after that event."""
    ids = await publish_many(bridge, run_id, 10)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id=ids[4]))
    assert items and all(isinstance(item, StreamEvent) for item in items)
    assert numbers(items) == [5, 6, 7, 8, 9]


async def test_resume_from_the_latest_id_waits_for_new_events(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """Resuming from the newest id replays nothing and then follows live events."""
    ids = await publish_many(bridge, run_id, 3)
    reader = start_reader(bridge.subscribe(run_id, last_event_id=ids[-1], heartbeat_interval=0.02))
    await reader.until(lambda items: HEARTBEAT in items)
    assert numbers(reader.items) == []
    await publish_many(bridge, run_id, 2, first=3)
    await bridge.publish_end(run_id)
    assert numbers(await reader.finish()) == [3, 4]


async def test_cursor_older_than_retention_yields_gap_then_earliest_retained(
    make_bridge: MakeBridge, run_id: str
) -> None:
    """A trimmed cursor gets a StreamGap naming the retained range first, never a silent partial replay."""
    bridge = await make_bridge(5)
    ids = await publish_many(bridge, run_id, 12)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id=ids[2]))
    assert items[0] == StreamGap(requested_id=ids[2], earliest_id=ids[7], latest_id=ids[11])
    assert items[1:] == events(items) and numbers(items) == [7, 8, 9, 10, 11]


async def test_cursor_at_the_last_trimmed_event_resumes_without_gap(
    make_bridge: MakeBridge, run_id: str
) -> None:
    """The newest trimmed id is still an exact cursor: nothing after it was lost, so no gap."""
    bridge = await make_bridge(5)
    ids = await publish_many(bridge, run_id, 12)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id=ids[6]))
    assert all(isinstance(item, StreamEvent) for item in items)
    assert numbers(items) == [7, 8, 9, 10, 11]


async def test_whole_stream_request_on_trimmed_log_starts_with_gap(
    make_bridge: MakeBridge, run_id: str
) -> None:
    """With no cursor the client asked for the whole stream, so trimmed events are reported as a gap."""
    bridge = await make_bridge(3)
    ids = await publish_many(bridge, run_id, 5)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id))
    assert items[0] == StreamGap(requested_id=None, earliest_id=ids[2], latest_id=ids[4])
    assert numbers(items) == [2, 3, 4]


async def test_untrimmed_log_has_no_gap_without_cursor(make_bridge: MakeBridge, run_id: str) -> None:
    """A log filled exactly to its retention has lost nothing, so a full replay has no gap."""
    bridge = await make_bridge(5)
    await publish_many(bridge, run_id, 5)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id))
    assert numbers(items) == [0, 1, 2, 3, 4] and len(items) == 5


MALFORMED_CURSORS = ["", "-1", "abc", "1-2-3", " 5-0", "5-", "-5", "1_0-0", "\u0661-0", "9" * 30]


@pytest.mark.parametrize("cursor", MALFORMED_CURSORS)
async def test_malformed_cursor_replays_from_the_beginning(
    bridge: StreamBridge, run_id: str, cursor: str
) -> None:
    """An unusable Last-Event-ID (the JS SDK sends "-1") counts as no cursor: every retained event."""
    await publish_many(bridge, run_id, 4)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id=cursor))
    assert items == events(items) and numbers(items) == [0, 1, 2, 3]


async def test_malformed_cursor_on_trimmed_log_reports_gap_with_the_raw_cursor(
    make_bridge: MakeBridge, run_id: str
) -> None:
    """A malformed cursor on a trimmed log gets a gap naming what the client sent, then the retained events."""
    bridge = await make_bridge(2)
    ids = await publish_many(bridge, run_id, 4)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id="-1"))
    assert items[0] == StreamGap(requested_id="-1", earliest_id=ids[2], latest_id=ids[3])
    assert numbers(items) == [2, 3]


async def test_cursor_newer_than_anything_issued_replays_from_the_beginning(
    bridge: StreamBridge, run_id: str
) -> None:
    """A well-formed id beyond the log's latest is not a cursor of this log: replay all (duplicates over loss)."""
    await publish_many(bridge, run_id, 3)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id=f"{2**63}-0"))
    assert numbers(items) == [0, 1, 2]


async def test_foreign_cursor_older_than_the_log_resumes_by_order(bridge: StreamBridge, run_id: str) -> None:
    """An id the log never issued (an earlier life of it) that sorts before every event resumes from the first."""
    await publish_many(bridge, run_id, 10)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id="1-7"))  # seq 7 exists, with another ms
    assert items == events(items) and numbers(items) == list(range(10))


async def test_slow_subscriber_gets_gap_and_never_holds_up_the_publisher(
    make_bridge: MakeBridge, run_id: str
) -> None:
    """A reader that falls behind the retention gets a gap from its own cursor; publishing never waits for it."""
    bridge = await make_bridge(5)
    first = await bridge.publish(run_id, "values", {"n": 0})
    subscription = bridge.subscribe(run_id)
    async with aclosing(subscription):
        item = await asyncio.wait_for(anext(subscription), DEADLINE)
        assert isinstance(item, StreamEvent) and item.id == first
        async with asyncio.timeout(DEADLINE):  # the reader is paused; publishing must not wait
            ids = [first, *await publish_many(bridge, run_id, 20, first=1)]
        await bridge.publish_end(run_id)
        rest = [item async for item in subscription]
    assert rest[0] == StreamGap(requested_id=first, earliest_id=ids[16], latest_id=ids[20])
    assert numbers(rest) == [16, 17, 18, 19, 20]


# -- heartbeats ---------------------------------------------------------------------------------


async def test_idle_subscription_yields_heartbeats_and_keeps_waiting(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """With nothing to yield for heartbeat_interval a subscription yields HEARTBEAT, then still gets events."""
    await publish_many(bridge, run_id, 1)
    reader = start_reader(bridge.subscribe(run_id, heartbeat_interval=0.02))
    await reader.until(lambda items: items.count(HEARTBEAT) >= 2)
    assert numbers(reader.items[:1]) == [0]  # the available event came first, not a heartbeat
    await publish_many(bridge, run_id, 1, first=1)
    await bridge.publish_end(run_id)
    assert numbers(await reader.finish()) == [0, 1]


async def test_no_heartbeat_when_disabled(bridge: StreamBridge, run_id: str) -> None:
    """heartbeat_interval=None turns heartbeats off: an idle subscription yields nothing."""
    await publish_many(bridge, run_id, 1)
    subscription = bridge.subscribe(run_id, heartbeat_interval=None)
    async with aclosing(subscription):
        assert numbers([await asyncio.wait_for(anext(subscription), DEADLINE)]) == [0]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(subscription), 0.1)


@pytest.mark.parametrize("interval", [0, -1.0, float("nan")])
async def test_non_positive_heartbeat_interval_is_rejected(
    bridge: StreamBridge, run_id: str, interval: float
) -> None:
    """A heartbeat_interval that is not positive raises ValueError when the subscription starts."""
    with pytest.raises(ValueError, match="heartbeat_interval"):
        await drain(bridge.subscribe(run_id, heartbeat_interval=interval))


# -- end ----------------------------------------------------------------------------------------


async def test_end_stops_every_subscriber_waiting_live(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """publish_end wakes the subscriptions waiting for events and they stop cleanly."""
    await publish_many(bridge, run_id, 2)
    readers = [start_reader(bridge.subscribe(run_id, heartbeat_interval=None)) for _ in range(3)]
    for reader in readers:  # each has caught up and waits; no heartbeat would wake it
        await reader.until(lambda items: numbers(items) == [0, 1])
    await bridge.publish_end(run_id)
    for reader in readers:
        assert numbers(await reader.finish()) == [0, 1]


async def test_subscriber_after_end_gets_the_retained_events_then_stops(
    bridge: StreamBridge, run_id: str
) -> None:
    """A subscription that starts after the end still replays the log, then stops."""
    ids = await publish_many(bridge, run_id, 3)
    await bridge.publish_end(run_id)
    assert numbers(await drain(bridge.subscribe(run_id))) == [0, 1, 2]
    assert numbers(await drain(bridge.subscribe(run_id, last_event_id=ids[0]))) == [1, 2]
    assert await drain(bridge.subscribe(run_id, last_event_id=ids[2])) == []


async def test_subscriber_after_end_of_trimmed_log_gets_gap_first(
    make_bridge: MakeBridge, run_id: str
) -> None:
    """Replaying an ended log whose start was trimmed still reports the gap before the events."""
    bridge = await make_bridge(2)
    ids = await publish_many(bridge, run_id, 6)
    await bridge.publish_end(run_id)
    items = await drain(bridge.subscribe(run_id, last_event_id=ids[1]))
    assert items[0] == StreamGap(requested_id=ids[1], earliest_id=ids[4], latest_id=ids[5])
    assert numbers(items) == [4, 5]


async def test_end_without_events_makes_a_log_that_stops_subscribers_at_once(
    bridge: StreamBridge, run_id: str
) -> None:
    """publish_end on a run with no events creates an ended log: subscribers stop with nothing."""
    await bridge.publish_end(run_id)
    assert await bridge.exists(run_id) and await bridge.ended(run_id)
    assert await drain(bridge.subscribe(run_id)) == []


async def test_publish_after_end_raises_and_end_is_idempotent(bridge: StreamBridge, run_id: str) -> None:
    """Nothing may follow the end marker; a second publish_end changes nothing."""
    await publish_many(bridge, run_id, 1)
    await bridge.publish_end(run_id)
    await bridge.publish_end(run_id)
    with pytest.raises(StreamEndedError):
        await bridge.publish(run_id, "values", {"n": 1})
    assert numbers(await drain(bridge.subscribe(run_id))) == [0]


# -- exists, cleanup, close ---------------------------------------------------------------------


async def test_exists_and_ended_follow_the_log_lifecycle(bridge: StreamBridge, run_id: str) -> None:
    """exists turns True at the first event, ended at publish_end, and both False after cleanup."""
    assert (await bridge.exists(run_id), await bridge.ended(run_id)) == (False, False)
    await publish_many(bridge, run_id, 1)
    assert (await bridge.exists(run_id), await bridge.ended(run_id)) == (True, False)
    await bridge.publish_end(run_id)
    assert (await bridge.exists(run_id), await bridge.ended(run_id)) == (True, True)
    await bridge.cleanup(run_id)
    assert (await bridge.exists(run_id), await bridge.ended(run_id)) == (False, False)
    await bridge.cleanup(run_id)  # unknown run: a no-op


async def test_delayed_cleanup_returns_at_once_and_removes_later(bridge: StreamBridge, run_id: str) -> None:
    """cleanup(delay=...) keeps the log for the delay, then removes it without anyone awaiting it."""
    await publish_many(bridge, run_id, 1)
    await bridge.publish_end(run_id)
    async with asyncio.timeout(0.5):  # returns at once, not after the delay
        await bridge.cleanup(run_id, delay=0.3)
    assert await bridge.exists(run_id)
    await wait_until(lambda: _negate(bridge.exists(run_id)), DEADLINE, message="the log was never removed")


async def test_later_cleanup_replaces_a_pending_one(bridge: StreamBridge, run_id: str) -> None:
    """A second cleanup call supersedes a pending delayed one (here: an hour becomes now)."""
    await publish_many(bridge, run_id, 1)
    await bridge.cleanup(run_id, delay=3600)
    await bridge.cleanup(run_id)
    assert not await bridge.exists(run_id)


async def test_cleanup_ends_reading_subscribers_with_closed_error(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """Removing a log that never ended wakes its subscribers with StreamClosedError, not a clean end."""
    await publish_many(bridge, run_id, 1)
    reader = start_reader(bridge.subscribe(run_id, heartbeat_interval=None))
    await reader.until(lambda items: numbers(items) == [0])  # caught up; only a wake-up ends its wait
    await bridge.cleanup(run_id)
    with pytest.raises(StreamClosedError):
        await reader.finish()
    assert numbers(reader.items) == [0]


async def test_new_log_after_cleanup_issues_larger_ids(bridge: StreamBridge, run_id: str) -> None:
    """Publishing to a run after its cleanup starts a fresh log whose ids sort after the old ones."""
    old = await publish_many(bridge, run_id, 3)
    await bridge.cleanup(run_id)
    new = await publish_many(bridge, run_id, 2, first=3)
    assert parse_event_id(new[0]) > parse_event_id(old[-1])  # type: ignore[operator]
    await bridge.publish_end(run_id)
    assert numbers(await drain(bridge.subscribe(run_id))) == [3, 4]
    assert numbers(await drain(bridge.subscribe(run_id, last_event_id=old[-1]))) == [3, 4]


async def test_close_wakes_waiting_subscribers_with_closed_error(
    bridge: StreamBridge, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    """close ends every subscription, including ones waiting for events, with StreamClosedError."""
    await publish_many(bridge, run_id, 1)
    # No heartbeats: only close can end these waits. Tasks run in start order, so once the
    # second has read its event the first is already waiting on its run's (empty) log.
    early = start_reader(bridge.subscribe(f"{run_id}-not-started", heartbeat_interval=None))
    waiting = start_reader(bridge.subscribe(run_id, heartbeat_interval=None))
    await waiting.until(lambda items: numbers(items) == [0])
    assert not early.task.done()
    await bridge.close()
    for reader in (waiting, early):
        with pytest.raises(StreamClosedError):
            await reader.finish()


async def test_after_close_publish_and_subscribe_raise_and_the_rest_do_nothing(
    bridge: StreamBridge, run_id: str
) -> None:
    """After close publish/subscribe raise StreamClosedError; publish_end, cleanup and close are no-ops."""
    await publish_many(bridge, run_id, 1)
    await bridge.close()
    with pytest.raises(StreamClosedError):
        await bridge.publish(run_id, "values", {})
    with pytest.raises(StreamClosedError):
        await drain(bridge.subscribe(run_id))
    await bridge.publish_end(run_id)
    await bridge.cleanup(run_id, delay=1)
    await bridge.close()
    assert (await bridge.exists(run_id), await bridge.ended(run_id)) == (False, False)


# -- thread logs (invariant 11) -----------------------------------------------------------------


@pytest.fixture
def thread_id() -> str:
    return f"thread-{uuid.uuid4()}"


async def test_thread_subscriber_sees_every_bound_run_then_its_done_marker(
    bridge: StreamBridge, thread_id: str, start_reader: Callable[..., Reader]
) -> None:
    """Two runs of a thread, one after the other: the thread log carries both, each closed by run_done."""
    reader = start_reader(bridge.subscribe_thread(thread_id, heartbeat_interval=None))
    first, second = f"run-{uuid.uuid4()}", f"run-{uuid.uuid4()}"
    for run in (first, second):
        await bridge.bind_thread(run, thread_id)
        await publish_many(bridge, run, 2)
        await bridge.publish_end(run)
    await reader.until(lambda items: len(events(items)) == 6)
    got = events(reader.items)
    assert [(e.event, value(e)) for e in got] == [
        ("values", {"n": 0}),
        ("values", {"n": 1}),
        (RUN_DONE_EVENT, {"status": "run_done", "run_id": first}),
        ("values", {"n": 0}),
        ("values", {"n": 1}),
        (RUN_DONE_EVENT, {"status": "run_done", "run_id": second}),
    ]
    keys = [parse_event_id(e.id) for e in got]
    assert None not in keys and keys == sorted(keys) and len(set(keys)) == 6  # type: ignore[type-var]
    assert not reader.task.done(), "a thread subscription never ends by itself"


async def test_a_fresh_thread_subscription_sees_only_what_comes_after_it(
    bridge: StreamBridge, thread_id: str, start_reader: Callable[..., Reader]
) -> None:
    """Without Last-Event-ID nothing retained is replayed, even while another client holds the log."""
    start_reader(bridge.subscribe_thread(thread_id, heartbeat_interval=None))
    assert await bridge.publish_thread(thread_id, "values", {"n": 0}) is not None
    late = start_reader(bridge.subscribe_thread(thread_id, heartbeat_interval=None))
    await bridge.publish_thread(thread_id, "values", {"n": 1})
    await late.until(lambda items: 1 in numbers(items))
    assert numbers(late.items) == [1]


async def test_publish_thread_is_dropped_without_a_log_and_kept_with_one(
    bridge: StreamBridge, thread_id: str, start_reader: Callable[..., Reader]
) -> None:
    assert await bridge.publish_thread(thread_id, "state_update", {"n": -1}) is None
    reader = start_reader(bridge.subscribe_thread(thread_id, heartbeat_interval=None))
    event_id = await bridge.publish_thread(thread_id, "state_update", {"n": 1})
    assert event_id is not None and parse_event_id(event_id) is not None
    await reader.until(lambda items: 1 in numbers(items))
    assert numbers(reader.items) == [1]


async def test_unbound_runs_never_reach_a_thread_log(
    bridge: StreamBridge, thread_id: str, run_id: str, start_reader: Callable[..., Reader]
) -> None:
    reader = start_reader(bridge.subscribe_thread(thread_id, heartbeat_interval=None))
    await publish_many(bridge, run_id, 3)
    await bridge.publish_end(run_id)
    await bridge.publish_thread(thread_id, "values", {"n": 99})
    await reader.until(lambda items: 99 in numbers(items))
    assert numbers(reader.items) == [99]


async def test_thread_reconnect_within_retention_replays_what_it_missed(
    bridge: StreamBridge, thread_id: str, run_id: str
) -> None:
    """A client that drops and comes back with Last-Event-ID gets the events published meanwhile."""
    await bridge.bind_thread(run_id, thread_id)
    subscription = bridge.subscribe_thread(thread_id, heartbeat_interval=None)
    async with asyncio.timeout(DEADLINE), aclosing(subscription):
        await bridge.publish_thread(thread_id, "values", {"n": 0})
        item = await anext(subscription)
    assert isinstance(item, StreamEvent) and value(item) == {"n": 0}
    await publish_many(bridge, run_id, 3, first=1)  # nobody subscribed, the log is retained
    resumed = bridge.subscribe_thread(thread_id, last_event_id=item.id, heartbeat_interval=None)
    got: list[int] = []
    async with asyncio.timeout(DEADLINE), aclosing(resumed):
        async for event in resumed:
            got += numbers([event])
            if len(got) == 3:
                break
    assert got == [1, 2, 3]


async def test_thread_log_goes_after_retention_even_if_never_read(
    make_bridge: MakeBridge, thread_id: str
) -> None:
    bridge = await make_bridge(thread_retention=0.05)
    subscription = bridge.subscribe_thread(thread_id, heartbeat_interval=None)
    assert await bridge.publish_thread(thread_id, "values", {"n": 0}) is not None

    async def gone() -> bool:
        return await bridge.publish_thread(thread_id, "values", {"n": 1}) is None

    await wait_until(gone, timeout=DEADLINE)
    await subscription.aclose()


async def test_thread_subscription_idles_with_heartbeats_and_close_ends_it(
    make_bridge: MakeBridge, thread_id: str
) -> None:
    bridge = await make_bridge()
    subscription = bridge.subscribe_thread(thread_id, heartbeat_interval=0.01)
    async with asyncio.timeout(DEADLINE), aclosing(subscription):
        assert await anext(subscription) is HEARTBEAT
        await bridge.close()
        with pytest.raises(StreamClosedError):
            await anext(subscription)
    assert await bridge.publish_thread(thread_id, "values", {}) is None
    with pytest.raises(StreamClosedError):
        bridge.subscribe_thread(thread_id)
