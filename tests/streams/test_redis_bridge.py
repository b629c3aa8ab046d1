"""What ``RedisStreamBridge`` promises beyond the contract: processes share logs, Redis may fail.

The contract suite (``test_bridge_contract.py``) runs against this bridge too; here are the
cross-process cases (two bridges on separate connection pools, a publisher in a subprocess), the
key layout, and Redis failing mid-stream (a throwaway server killed, restarted empty, or paused).
"""

from __future__ import annotations

import asyncio
import operator
import os
import sys
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing, asynccontextmanager
from typing import Annotated, Any, TypedDict

import orjson
import pytest
import redis.asyncio as aioredis
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

import services
from helpers import wait_until
from runyard.runs import RunManager, RunStatus
from runyard.runs.executor import RunExecutor
from runyard.streams import (
    HEARTBEAT,
    StreamClosedError,
    StreamEndedError,
    StreamEvent,
    StreamGap,
    StreamItem,
    StreamUnavailableError,
    parse_event_id,
)
from runyard.streams.redis import RedisStreamBridge

pytestmark = pytest.mark.redis

DEADLINE = 10.0


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own (tests share the session's Redis)."""
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture
async def make(redis_url: str, prefix: str) -> AsyncIterator[Any]:
    """Build bridges on the session's Redis, each with its own connection pool; close them after."""
    made: list[RedisStreamBridge] = []

    def build(url: str = redis_url, **kwargs: Any) -> RedisStreamBridge:
        bridge = RedisStreamBridge(url, key_prefix=prefix, **kwargs)
        made.append(bridge)
        return bridge

    yield build
    for bridge in made:
        await bridge.close()


@pytest.fixture
def own_redis() -> Iterator[services.RedisServer]:
    """A throwaway Redis of this test's own, which it may kill and restart."""
    with services.local_redis() as server:
        yield server


async def drain(subscription: AsyncGenerator[StreamItem, None]) -> list[StreamItem]:
    async with asyncio.timeout(DEADLINE), aclosing(subscription):
        return [item async for item in subscription]


def numbers(items: list[StreamItem]) -> list[int]:
    return [orjson.loads(orjson.dumps(item.data))["n"] for item in items if isinstance(item, StreamEvent)]


async def publish_many(bridge: RedisStreamBridge, run_id: str, count: int, *, first: int = 0) -> list[str]:
    return [await bridge.publish(run_id, "values", {"n": n}) for n in range(first, first + count)]


# -- across processes ---------------------------------------------------------------------------


async def test_a_subscriber_on_another_bridge_follows_live_and_replays_from_an_id(make: Any) -> None:
    """Bridge B (its own connections, as another process has) reads what bridge A publishes."""
    publisher, reader = make(), make()
    subscription = reader.subscribe("run", heartbeat_interval=None)
    async with aclosing(subscription):
        first = asyncio.ensure_future(anext(subscription))
        ids = await publish_many(publisher, "run", 3)
        item = await asyncio.wait_for(first, DEADLINE)
        assert isinstance(item, StreamEvent) and item.id == ids[0]
        await publisher.publish_end("run")
        rest = [item async for item in subscription]
    assert [item.id for item in rest if isinstance(item, StreamEvent)] == ids[1:]
    assert numbers(await drain(reader.subscribe("run", last_event_id=ids[0]))) == [1, 2]
    assert await reader.exists("run") and await reader.ended("run")


async def test_events_published_by_a_subprocess_reach_a_subscriber_here(redis_url: str, make: Any) -> None:
    """A publisher in another OS process: the subscriber here sees every event in order, then the end."""
    reader = make()
    prefix = reader._prefix
    subscription = reader.subscribe("run", heartbeat_interval=None)
    script = (
        "import asyncio, sys\n"
        "from runyard.streams.redis import RedisStreamBridge\n"
        "async def main():\n"
        "    bridge = RedisStreamBridge(sys.argv[1], key_prefix=sys.argv[2])\n"
        "    for n in range(50):\n"
        "        await bridge.publish('run', 'values', {'n': n})\n"
        "    await bridge.publish_end('run')\n"
        "    await bridge.close()\n"
        "asyncio.run(main())\n"
    )
    async with aclosing(subscription):
        waiting = asyncio.ensure_future(anext(subscription))  # subscribed before the publisher starts
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, redis_url, prefix, env=os.environ.copy()
        )
        assert await asyncio.wait_for(process.wait(), DEADLINE * 3) == 0
        items = [await asyncio.wait_for(waiting, DEADLINE)]
        items += [item async for item in subscription]
    assert numbers(items) == list(range(50))


async def test_a_cursor_trimmed_by_another_process_gets_a_gap(make: Any) -> None:
    """Retention and gaps hold across bridges: the gap names the range Redis still holds."""
    publisher, reader = make(max_events_per_run=5), make(max_events_per_run=5)
    ids = await publish_many(publisher, "run", 12)
    await publisher.publish_end("run")
    items = await drain(reader.subscribe("run", last_event_id=ids[2]))
    assert items[0] == StreamGap(requested_id=ids[2], earliest_id=ids[7], latest_id=ids[11])
    assert numbers(items) == [7, 8, 9, 10, 11]


async def test_end_and_cleanup_by_another_process_reach_this_one(make: Any) -> None:
    """The end marker and the cleanup tombstone live in Redis: they bind and wake every process."""
    owner, other = make(), make()
    await publish_many(owner, "run", 1)
    subscription = other.subscribe("run", heartbeat_interval=None)
    async with aclosing(subscription):
        assert numbers([await asyncio.wait_for(anext(subscription), DEADLINE)]) == [0]
        waiting = asyncio.ensure_future(anext(subscription))  # caught up: blocked in XREAD
        await owner.cleanup("run")
        with pytest.raises(StreamClosedError):
            await asyncio.wait_for(waiting, DEADLINE)
    assert not await other.exists("run")
    await publish_many(owner, "run", 1)
    await owner.publish_end("run")
    with pytest.raises(StreamEndedError):
        await other.publish("run", "values", {"n": 1})
    assert await other.ended("run")


async def test_ids_are_redis_stream_ids_with_the_absolute_position_as_seq(make: Any, redis_url: str) -> None:
    """Each event id is its Redis stream id; seq counts every event of the run, trimmed ones too."""
    bridge = make(max_events_per_run=3)
    ids = await publish_many(bridge, "run", 7)
    assert [parse_event_id(event_id)[1] for event_id in ids] == list(range(7))  # type: ignore[index]
    client = aioredis.Redis.from_url(redis_url)
    try:
        log, meta = bridge._keys("run")
        assert log.endswith(":{run}:log") and meta.endswith(":{run}:meta")  # one Cluster slot
        entries = await client.xrange(log)
        assert [raw.decode() for raw, _ in entries] == ids[-3:]
        assert entries[-1][1] == {b"e": b"values", b"d": b'{"n":6}'}  # the JSON, encoded once
    finally:
        await client.aclose()


async def test_payloads_come_back_as_the_stored_json_bytes(make: Any) -> None:
    """A reader gets the stored JSON as an orjson.Fragment: SSE framing writes the bytes as they are."""
    bridge = make()
    await bridge.publish("run", "values", orjson.Fragment(b'{"a":[1,2]}'))
    await bridge.publish_end("run")
    (item,) = await drain(bridge.subscribe("run"))
    assert isinstance(item, StreamEvent) and isinstance(item.data, orjson.Fragment)
    assert orjson.dumps({"x": item.data}) == b'{"x":{"a":[1,2]}}'


async def test_logs_expire_by_themselves_and_cleanup_leaves_a_short_lived_tombstone(
    make: Any, redis_url: str
) -> None:
    """Every write sets the TTL; a delayed cleanup shortens it; cleanup() keeps only a tombstone."""
    bridge = make(ttl=600)
    client = aioredis.Redis.from_url(redis_url)
    try:
        log, meta = bridge._keys("run")
        await publish_many(bridge, "run", 2)
        assert 0 < await client.pttl(log) <= 600_000 and 0 < await client.pttl(meta) <= 600_000
        await bridge.publish_end("run")
        await bridge.cleanup("run", delay=30)
        assert 0 < await client.pttl(log) <= 30_000 and 0 < await client.pttl(meta) <= 30_000
        await bridge.cleanup("run")
        assert not await bridge.exists("run")
        assert [fields for _, fields in await client.xrange(log)] == [{b"gone": b"1"}]
        assert 0 < await client.pttl(log) <= 60_000
    finally:
        await client.aclose()


# -- thread logs across processes ---------------------------------------------------------------


async def _until_followed(bridge: RedisStreamBridge, thread_id: str) -> str:
    """Wait until ``thread_id`` is followed (by any process); the id of the ``probe`` that showed it."""
    async with asyncio.timeout(DEADLINE):
        while (probe := await bridge.publish_thread(thread_id, "probe", {})) is None:
            await asyncio.sleep(0.01)
    return probe


async def _thread_events(
    subscription: AsyncGenerator[StreamItem, None], until: str
) -> list[tuple[str, str, Any]]:
    """``(id, event, value)`` of each non-probe event, up to and including one named ``until``."""
    got: list[tuple[str, str, Any]] = []
    async with asyncio.timeout(DEADLINE):
        async for item in subscription:
            if isinstance(item, StreamEvent) and item.event != "probe":
                got.append((item.id, item.event, orjson.loads(orjson.dumps(item.data))))
                if item.event == until:
                    return got
    raise AssertionError(f"the thread subscription ended; it yielded {got!r}")


async def test_a_thread_follower_sees_a_bound_run_from_one_process_and_thread_events_from_another(
    make: Any,
) -> None:
    """Follower, executor and a third process each on their own connections, as in a cluster.

    The executor's run is bound to the thread: its events and its run-done marker reach the
    follower, between them the third bridge's ``state_update``; then a client that reconnects
    to yet another bridge with ``Last-Event-ID`` gets what came after it, from the thread log.
    """
    follower, executor, other, resumer = make(), make(), make(), make()
    subscription = follower.subscribe_thread("thread", heartbeat_interval=None)
    async with aclosing(subscription):
        waiting = asyncio.ensure_future(anext(subscription))  # the follower holds the thread
        await _until_followed(other, "thread")
        await waiting
        await executor.bind_thread("run", "thread")
        run_ids = await publish_many(executor, "run", 2)
        state_id = await other.publish_thread("thread", "state_update", {"n": 10})
        run_ids += await publish_many(executor, "run", 1, first=2)
        await executor.publish_end("run")
        got = await _thread_events(subscription, "metadata")
    assert [(event, data) for _, event, data in got] == [
        ("values", {"n": 0}),
        ("values", {"n": 1}),
        ("state_update", {"n": 10}),
        ("values", {"n": 2}),
        ("metadata", {"status": "run_done", "run_id": "run"}),
    ]
    thread_ids = [event_id for event_id, _, _ in got]
    assert state_id == thread_ids[2]
    keys = [parse_event_id(event_id) for event_id in thread_ids]
    assert keys == sorted(keys)  # type: ignore[type-var]
    # The thread log issues its own ids: seq is the position in it, after the probe (0).
    assert [key[1] for key in keys if key is not None] == [1, 2, 3, 4, 5]
    assert [parse_event_id(event_id)[1] for event_id in run_ids] == [0, 1, 2]  # type: ignore[index]
    assert numbers(await drain(executor.subscribe("run"))) == [0, 1, 2]  # the run's log is whole

    # The follower left; within thread_retention a client resumes on another bridge.
    resumed = resumer.subscribe_thread("thread", last_event_id=thread_ids[1], heartbeat_interval=None)
    async with aclosing(resumed):
        again = await _thread_events(resumed, "metadata")
    assert again == got[2:]


async def test_a_thread_costs_nothing_until_followed_and_is_released_into_its_retention(
    make: Any, redis_url: str, prefix: str
) -> None:
    """No thread keys while nobody follows; a follower's hold ends thread_retention after it closes."""
    follower = make(thread_retention=3.0, idle_check=0.1, operation_timeout=2.0)
    executor = make()
    client = aioredis.Redis.from_url(redis_url)
    try:
        await executor.bind_thread("run", "thread")
        await publish_many(executor, "run", 3)
        assert await executor.publish_thread("thread", "state_update", {}) is None
        assert await client.keys(f"{prefix}:thread:*") == []
        marker = follower._thread_keys("thread")[0]
        subscription = follower.subscribe_thread("thread", heartbeat_interval=None)
        async with aclosing(subscription):
            waiting = asyncio.ensure_future(anext(subscription))
            await _until_followed(executor, "thread")
            await waiting
            # A lease (2 idle_check + operation_timeout) plus the retention, renewed while it reads.
            await asyncio.sleep(1.5)
            assert 3000 < await client.pttl(marker) <= 5200
            assert await executor.publish_thread("thread", "values", {"n": 1}) is not None
        assert 0 < await client.pttl(marker) <= 3000
        await publish_many(executor, "run", 1, first=3)  # still kept for a reconnect
        log = follower._thread_keys("thread")[1]
        entries = [fields for _, fields in await client.xrange(log) if fields[b"e"] != b"probe"]
        assert [orjson.loads(fields[b"d"])["n"] for fields in entries] == [1, 3]
    finally:
        await client.aclose()


async def test_a_thread_follower_that_dies_stops_holding_the_thread_after_its_lease(
    redis_url: str, make: Any, prefix: str
) -> None:
    """A follower in another OS process holds the thread while it lives, killed it holds it no more."""
    script = (
        "import asyncio, sys\n"
        "from runyard.streams.redis import RedisStreamBridge\n"
        "async def main():\n"
        "    bridge = RedisStreamBridge(sys.argv[1], key_prefix=sys.argv[2], thread_retention=0.2,\n"
        "                               idle_check=0.1, operation_timeout=0.5)\n"
        "    async for item in bridge.subscribe_thread('thread', heartbeat_interval=None):\n"
        "        print(item.event, flush=True)\n"
        "asyncio.run(main())\n"
    )
    here = make()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, redis_url, prefix, env=os.environ.copy(), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        await _until_followed(here, "thread")
        assert await asyncio.wait_for(process.stdout.readline(), DEADLINE) == b"probe\n"
        await asyncio.sleep(1.5)  # well past its lease (0.7 s): renewed
        assert await here.publish_thread("thread", "values", {}) is not None
        process.kill()  # no unfollow: only the lease ends the hold
        await process.wait()

        async def released() -> bool:
            return await here.publish_thread("thread", "values", {}) is None

        await wait_until(released, timeout=DEADLINE)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# -- Redis failing ------------------------------------------------------------------------------


async def test_ping_names_an_unreachable_server() -> None:
    """A Redis that cannot be reached at start is a clear error naming where it was looked for."""
    port = services.free_port()
    bridge = RedisStreamBridge(f"redis://:secret@127.0.0.1:{port}/0", operation_timeout=2)
    try:
        with pytest.raises(StreamUnavailableError, match=f"127.0.0.1:{port}") as caught:
            await bridge.ping()
        assert "secret" not in str(caught.value)
    finally:
        await bridge.close()


async def test_publish_while_redis_is_down_raises_unavailable_and_readers_see_the_gap(
    own_redis: services.RedisServer,
) -> None:
    """An event Redis did not take is lost visibly: counted here, and a gap for readers later."""
    bridge = RedisStreamBridge(own_redis.url, operation_timeout=2, retry_after=0)
    try:
        ids = await publish_many(bridge, "run", 2)
        own_redis.stop()
        with pytest.raises(StreamUnavailableError, match="run"):
            await bridge.publish("run", "values", {"n": 2})
        assert bridge.publish_failures == 1
        own_redis.start()  # empty: the log and its meta are gone
        ids += [await bridge.publish("run", "values", {"n": 3})]
        await bridge.publish_end("run")
        items = await drain(bridge.subscribe("run", last_event_id=ids[1]))
        assert isinstance(items[0], StreamGap) and items[0].requested_id == ids[1]
        assert numbers(items) == [3]
        assert parse_event_id(ids[2]) > parse_event_id(ids[1])  # type: ignore[operator]
    finally:
        await bridge.close()


async def test_a_hung_redis_costs_one_timeout_then_writes_fail_fast_until_retry_after(
    own_redis: services.RedisServer,
) -> None:
    """Redis paused (not down): one write waits operation_timeout, the next ones fail at once."""
    bridge = RedisStreamBridge(own_redis.url, operation_timeout=0.5, retry_after=30)
    loop = asyncio.get_running_loop()
    try:
        await publish_many(bridge, "run", 1)
        own_redis.pause()
        try:
            started = loop.time()
            with pytest.raises(StreamUnavailableError, match="did not take"):
                await bridge.publish("run", "values", {"n": 1})
            assert loop.time() - started < DEADLINE
            started = loop.time()
            with pytest.raises(StreamUnavailableError, match="a moment ago"):
                await bridge.publish("run", "values", {"n": 2})
            with pytest.raises(StreamUnavailableError, match="a moment ago"):
                await bridge.publish_end("run")
            assert loop.time() - started < 0.4  # no second timeout
        finally:
            own_redis.resume()
        assert bridge.publish_failures == 3
    finally:
        await bridge.close()


async def test_reader_resumes_without_loss_when_its_connection_drops(
    own_redis: services.RedisServer,
) -> None:
    """Connections killed while Redis keeps its data: the reader reconnects and misses nothing."""
    publisher = RedisStreamBridge(own_redis.url)
    reader = RedisStreamBridge(own_redis.url)
    admin = aioredis.Redis.from_url(own_redis.url)
    try:
        await publish_many(publisher, "run", 2)
        subscription = reader.subscribe("run", heartbeat_interval=None)
        async with aclosing(subscription):
            items = [await asyncio.wait_for(anext(subscription), DEADLINE) for _ in range(2)]
            pending = asyncio.ensure_future(anext(subscription))  # blocked in XREAD
            await wait_until(lambda: _blocked_clients(admin), DEADLINE)
            await admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            try:
                await publish_many(publisher, "run", 2, first=2)  # its pooled connection died too
                await publisher.publish_end("run")
                items.append(await asyncio.wait_for(pending, DEADLINE))
            finally:
                pending.cancel()
            items += [item async for item in subscription]
        assert numbers(items) == [0, 1, 2, 3]
        assert all(isinstance(item, StreamEvent) for item in items)
    finally:
        await admin.aclose()
        await publisher.close()
        await reader.close()


async def _blocked_clients(admin: aioredis.Redis) -> bool:
    info = await admin.info("clients")
    return int(info["blocked_clients"]) > 0


async def test_reader_continues_on_the_republished_log_with_a_gap_for_what_was_lost(
    own_redis: services.RedisServer,
) -> None:
    """Redis restarted empty, the run published on: the reader goes on, told of the lost event."""
    publisher = RedisStreamBridge(own_redis.url, operation_timeout=2, retry_after=0)
    reader = RedisStreamBridge(own_redis.url)
    try:
        ids = await publish_many(publisher, "run", 1)
        subscription = reader.subscribe("run", heartbeat_interval=None)
        async with aclosing(subscription):
            assert numbers([await asyncio.wait_for(anext(subscription), DEADLINE)]) == [0]
            own_redis.stop()
            with pytest.raises(StreamUnavailableError):
                await publish_many(publisher, "run", 1, first=1)
            own_redis.start()
            ids += await publish_many(publisher, "run", 1, first=2)
            await publisher.publish_end("run")
            rest = [item async for item in subscription]
        assert rest[0] == StreamGap(requested_id=ids[0], earliest_id=ids[1], latest_id=ids[1])
        assert numbers(rest) == [2]
    finally:
        await publisher.close()
        await reader.close()


async def test_after_a_restart_a_new_log_from_another_publisher_starts_with_a_gap(
    own_redis: services.RedisServer,
) -> None:
    """Another process publishing to an emptied Redis starts at seq 0: the reader is told of the loss."""
    before = RedisStreamBridge(own_redis.url)
    after = RedisStreamBridge(own_redis.url)  # another process: it knows nothing of the old log
    reader = RedisStreamBridge(own_redis.url)
    try:
        ids = await publish_many(before, "run", 3)
        subscription = reader.subscribe("run", heartbeat_interval=None)
        async with aclosing(subscription):
            items = [await asyncio.wait_for(anext(subscription), DEADLINE) for _ in range(3)]
            own_redis.restart()
            ids += await publish_many(after, "run", 1, first=3)
            await after.publish_end("run")
            items += [item async for item in subscription]
        assert items[3] == StreamGap(requested_id=ids[2], earliest_id=ids[3], latest_id=ids[3])
        assert numbers(items) == [0, 1, 2, 3]
    finally:
        for bridge in (before, after, reader):
            await bridge.close()


async def test_reader_of_a_log_lost_in_a_redis_restart_ends_instead_of_hanging(
    own_redis: services.RedisServer,
) -> None:
    """Redis restarted empty: the waiting reader ends with StreamClosedError, so the API answers from the store."""
    publisher = RedisStreamBridge(own_redis.url)
    reader = RedisStreamBridge(own_redis.url, idle_check=0.2)
    try:
        await publish_many(publisher, "run", 1)
        subscription = reader.subscribe("run", heartbeat_interval=None)
        async with aclosing(subscription):
            assert numbers([await asyncio.wait_for(anext(subscription), DEADLINE)]) == [0]
            own_redis.restart()
            with pytest.raises(StreamClosedError):
                await asyncio.wait_for(anext(subscription), DEADLINE)
    finally:
        await publisher.close()
        await reader.close()


async def test_reader_waiting_for_a_first_event_ends_when_redis_comes_back_empty(
    own_redis: services.RedisServer,
) -> None:
    """A reader that never saw the log ends too after an outage: the run may have ended unseen."""
    reader = RedisStreamBridge(own_redis.url, reconnect_timeout=30)
    try:
        subscription = reader.subscribe("run", heartbeat_interval=None)
        async with aclosing(subscription):
            pending = asyncio.ensure_future(anext(subscription))
            admin = aioredis.Redis.from_url(own_redis.url)
            try:
                await wait_until(lambda: _blocked_clients(admin), DEADLINE)
            finally:
                await admin.aclose()
            own_redis.restart()  # its blocked connection dies with the old server
            with pytest.raises(StreamClosedError):
                await asyncio.wait_for(pending, DEADLINE)
    finally:
        await reader.close()


async def test_reader_gives_up_with_unavailable_when_redis_stays_down(
    own_redis: services.RedisServer,
) -> None:
    """With Redis gone for longer than reconnect_timeout the reader raises (heartbeating meanwhile)."""
    publisher = RedisStreamBridge(own_redis.url)
    reader = RedisStreamBridge(own_redis.url, reconnect_timeout=1.0, operation_timeout=1.0)
    try:
        await publish_many(publisher, "run", 1)
        subscription = reader.subscribe("run", heartbeat_interval=0.2)
        items: list[StreamItem] = []
        async with aclosing(subscription):
            items.append(await asyncio.wait_for(anext(subscription), DEADLINE))
            own_redis.stop()
            with pytest.raises(StreamUnavailableError, match="cannot be read"):
                await _read_into(subscription, items)
        assert numbers(items) == [0] and HEARTBEAT in items
    finally:
        await publisher.close()
        await reader.close()


async def _read_into(subscription: AsyncGenerator[StreamItem, None], items: list[StreamItem]) -> None:
    async with asyncio.timeout(DEADLINE):
        async for item in subscription:
            items.append(item)


class CountState(TypedDict):
    steps: Annotated[list[str], operator.add]


class _Graphs:
    """A GraphSource with one graph whose second step waits for the test's signal."""

    def __init__(self, gate: asyncio.Event, reached: asyncio.Event) -> None:
        async def first(_state: CountState) -> dict[str, list[str]]:
            return {"steps": ["first"]}

        async def second(_state: CountState) -> dict[str, list[str]]:
            reached.set()
            await gate.wait()
            return {"steps": ["second"]}

        async def third(_state: CountState) -> dict[str, list[str]]:
            return {"steps": ["third"]}

        builder = StateGraph(CountState)
        builder.add_node("first", first)
        builder.add_node("second", second)
        builder.add_node("third", third)
        builder.add_edge(START, "first")
        builder.add_edge("first", "second")
        builder.add_edge("second", "third")
        builder.add_edge("third", END)
        self.builder = builder

    @asynccontextmanager
    async def open(
        self, graph_id: str, config: Any = None, *, checkpointer: Any = None, store: Any = None
    ) -> AsyncIterator[Any]:
        yield self.builder.compile(checkpointer=checkpointer, store=store)


async def test_a_run_finishes_with_its_status_when_redis_dies_mid_run(
    own_redis: services.RedisServer,
) -> None:
    """Events the run publishes while Redis is down are lost, the run is not: it ends success."""
    gate, reached = asyncio.Event(), asyncio.Event()
    bridge = RedisStreamBridge(own_redis.url, operation_timeout=2)
    manager = RunManager()
    executor = RunExecutor(manager, bridge, _Graphs(gate, reached), checkpointer=InMemorySaver())
    await executor.start()
    try:
        record = await manager.create_or_reject(
            "thread-1",
            "assistant-1",
            kwargs={"input": {"steps": []}, "config": {"configurable": {"graph_id": "g"}}},
        )
        executor.submit(record)
        await asyncio.wait_for(reached.wait(), DEADLINE)
        assert await bridge.exists(record.run_id)
        own_redis.stop()
        gate.set()
        await wait_until(lambda: record.status.is_terminal, DEADLINE, message="the run never finished")
        assert record.status is RunStatus.success
        stored = await manager.get(record.run_id)
        assert stored is not None and stored.status is RunStatus.success
        assert bridge.publish_failures >= 2  # the last values and the end marker, at least
    finally:
        gate.set()
        await executor.stop()
        await manager.shutdown(timeout=5.0)
        await bridge.close()


async def test_thread_publishes_raise_unavailable_and_a_thread_follower_gives_up_when_redis_stays_down(
    own_redis: services.RedisServer,
) -> None:
    """Thread logs fail like run logs: publishes raise at once, the follower raises after retrying."""
    follower = RedisStreamBridge(own_redis.url, reconnect_timeout=1.0, operation_timeout=1.0)
    executor = RedisStreamBridge(own_redis.url, operation_timeout=1.0, retry_after=0)
    try:
        await executor.bind_thread("run", "thread")
        subscription = follower.subscribe_thread("thread", heartbeat_interval=0.2)
        items: list[StreamItem] = []
        async with aclosing(subscription):
            waiting = asyncio.ensure_future(anext(subscription))
            await _until_followed(executor, "thread")
            items.append(await asyncio.wait_for(waiting, DEADLINE))
            await executor.publish("run", "values", {"n": 0})
            async with asyncio.timeout(DEADLINE):
                while not any(isinstance(item, StreamEvent) and item.event == "values" for item in items):
                    items.append(await anext(subscription))
            own_redis.stop()
            with pytest.raises(StreamUnavailableError, match="run"):
                await executor.publish("run", "values", {"n": 1})
            with pytest.raises(StreamUnavailableError, match="thread"):
                await executor.publish_thread("thread", "state_update", {"n": 2})
            with pytest.raises(StreamUnavailableError, match="run"):
                await executor.publish_end("run")
            assert executor.publish_failures == 3
            with pytest.raises(StreamUnavailableError, match="thread thread cannot be read"):
                await _read_into(subscription, items)
        assert numbers(
            [item for item in items if isinstance(item, StreamEvent) and item.event != "probe"]
        ) == [0]
    finally:
        await follower.close()
        await executor.close()
