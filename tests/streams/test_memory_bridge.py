"""What ``MemoryStreamBridge`` promises beyond the contract: its id scheme, bounds and bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing

import pytest

from runyard.streams import MemoryStreamBridge, StreamEvent, StreamGap, parse_event_id
from runyard.streams import memory as memory_module


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the bridge's wall clock, in milliseconds."""

    def set_ms(ms: int) -> None:
        monkeypatch.setattr(memory_module, "time_ns", lambda: ms * 1_000_000)

    return set_ms


async def test_seq_is_the_absolute_position_in_the_run_log() -> None:
    """An id's seq counts every event the run ever published, trimmed ones included."""
    bridge = MemoryStreamBridge(max_events_per_run=3)
    ids = [await bridge.publish("run", "values", n) for n in range(10)]
    assert [parse_event_id(event_id)[1] for event_id in ids] == list(range(10))  # type: ignore[index]


async def test_ids_keep_increasing_when_the_clock_goes_back(clock: Callable[[int], None]) -> None:
    """A wall clock that steps back never makes an id smaller: ms holds at the highest seen."""
    bridge = MemoryStreamBridge()
    clock(5000)
    first = await bridge.publish("run", "values", 0)
    clock(4000)
    second = await bridge.publish("run", "values", 1)
    assert (first, second) == ("5000-0", "5000-1")


async def test_log_recreated_in_the_same_millisecond_still_issues_larger_ids(
    clock: Callable[[int], None],
) -> None:
    """After a cleanup, a new log for the run starts above the old log's ms, even on a frozen clock."""
    bridge = MemoryStreamBridge()
    clock(7000)
    old = await bridge.publish("run", "values", 0)
    await bridge.cleanup("run")
    new = await bridge.publish("run", "values", 1)
    assert (old, new) == ("7000-0", "7001-0")


async def test_foreign_cursor_between_two_ids_resumes_after_it_by_order(clock: Callable[[int], None]) -> None:
    """A cursor the log never issued lands between its neighbours in (ms, seq) order, with no gap."""
    bridge = MemoryStreamBridge()
    clock(1000)
    await bridge.publish("run", "values", 0)
    await bridge.publish("run", "values", 1)
    clock(2000)
    await bridge.publish("run", "values", 2)
    await bridge.publish_end("run")
    async with aclosing(bridge.subscribe("run", last_event_id="1500-0")) as subscription:
        items = [item async for item in subscription]
    assert [item.data for item in items if isinstance(item, StreamEvent)] == [2] and len(items) == 1


async def test_foreign_cursor_between_trimmed_and_retained_resumes_without_gap(
    clock: Callable[[int], None],
) -> None:
    """A foreign cursor newer than the last trimmed event lost nothing, so it gets no gap."""
    bridge = MemoryStreamBridge(max_events_per_run=2)
    clock(1000)
    await bridge.publish("run", "values", 0)  # trimmed
    clock(3000)
    await bridge.publish("run", "values", 1)
    await bridge.publish("run", "values", 2)
    await bridge.publish_end("run")
    async with aclosing(bridge.subscribe("run", last_event_id="2000-0")) as subscription:
        items = [item async for item in subscription]
    assert [item.data for item in items if isinstance(item, StreamEvent)] == [1, 2] and len(items) == 2
    async with aclosing(bridge.subscribe("run", last_event_id="999-0")) as subscription:
        items = [item async for item in subscription]
    assert isinstance(items[0], StreamGap)


async def test_retention_never_exceeds_the_bound() -> None:
    """However many events a run publishes, its log holds at most max_events_per_run of them."""
    bridge = MemoryStreamBridge(max_events_per_run=4)
    for n in range(100):
        await bridge.publish("run", "values", n)
    assert len(bridge._logs["run"].buffer) == 4


async def test_log_made_by_a_subscriber_alone_is_forgotten_when_it_leaves() -> None:
    """An early subscription's empty log does not outlive the subscription (no leak from stray joins)."""
    bridge = MemoryStreamBridge()
    subscription = bridge.subscribe("never-published", heartbeat_interval=0.01)
    assert await anext(subscription) is not None  # a heartbeat: the log exists while it waits
    assert "never-published" in bridge._logs
    await subscription.aclose()
    assert "never-published" not in bridge._logs


async def test_close_cancels_pending_delayed_cleanups() -> None:
    """close drops scheduled removals, so no timer outlives the bridge."""
    bridge = MemoryStreamBridge()
    await bridge.publish("run", "values", 0)
    await bridge.cleanup("run", delay=3600)
    handle = bridge._cleanups["run"]
    await bridge.close()
    assert handle.cancelled() and not bridge._cleanups


@pytest.mark.parametrize("bound", [0, -1])
def test_retention_must_be_positive(bound: int) -> None:
    """A bridge that could hold no event is refused at construction."""
    with pytest.raises(ValueError, match="max_events_per_run"):
        MemoryStreamBridge(max_events_per_run=bound)
