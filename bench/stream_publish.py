"""Time ``MemoryStreamBridge.publish``, the call on the hot path of every run.

Prints figures; asserts nothing. ``python bench/stream_publish.py [--events N]``.

- publish alone: one run, nobody subscribed, the ring buffer full and trimming.
- publish with live subscribers: the same events fanned out to k subscribers that keep up,
  wall time per event for the whole exchange (publish + wake-ups + every subscriber's read).
- short runs: many runs of a 3-step graph's worth of events (metadata, 3 updates, values, end)
  then cleanup, as the executor would drive it.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from runyard.streams import MemoryStreamBridge, StreamEvent


async def publish_alone(events: int) -> float:
    bridge = MemoryStreamBridge()
    data = {"messages": [{"type": "ai", "content": "hello"}], "step": 1}
    started = time.perf_counter()
    for _ in range(events):
        await bridge.publish("run", "values", data)
    elapsed = time.perf_counter() - started
    await bridge.close()
    return elapsed / events


async def publish_with_subscribers(events: int, subscribers: int) -> float:
    bridge = MemoryStreamBridge()
    seen = [0] * subscribers

    async def read(index: int) -> None:
        async for item in bridge.subscribe("run", heartbeat_interval=None):
            if isinstance(item, StreamEvent):
                seen[index] += 1

    readers = [asyncio.create_task(read(i)) for i in range(subscribers)]
    await asyncio.sleep(0)  # let every reader reach its first wait
    started = time.perf_counter()
    for n in range(events):
        await bridge.publish("run", "values", n)
        if n % 64 == 63:
            await asyncio.sleep(0)  # yield as an executor awaiting the graph would, so readers keep up
    await bridge.publish_end("run")
    await asyncio.gather(*readers)
    elapsed = time.perf_counter() - started
    assert seen == [events] * subscribers, "a reader fell behind the retention: raise it or yield more"
    await bridge.close()
    return elapsed / events


async def short_runs(runs: int) -> tuple[float, float]:
    bridge = MemoryStreamBridge()
    started = time.perf_counter()
    for r in range(runs):
        run_id = f"run-{r}"
        await bridge.publish(run_id, "metadata", {"run_id": run_id, "attempt": 1})
        for step in ("a", "b", "c"):
            await bridge.publish(run_id, "updates", {step: {"value": step}})
        await bridge.publish(run_id, "values", {"value": "c"})
        await bridge.publish_end(run_id)
        await bridge.cleanup(run_id)
    elapsed = time.perf_counter() - started
    await bridge.close()
    return elapsed / runs, elapsed / (runs * 5)


async def main(events: int) -> None:
    for _ in range(2):  # the first round warms up; the second is reported
        alone = await publish_alone(events)
        fan_1 = await publish_with_subscribers(events // 4, 1)
        fan_10 = await publish_with_subscribers(events // 4, 10)
        per_run, per_event = await short_runs(events // 5)
    print(f"publish, no subscriber:            {alone * 1e6:6.2f} us/event  ({1 / alone:,.0f} events/s)")
    print(f"publish + 1 live subscriber:       {fan_1 * 1e6:6.2f} us/event  ({1 / fan_1:,.0f} events/s)")
    print(f"publish + 10 live subscribers:     {fan_10 * 1e6:6.2f} us/event  ({1 / fan_10:,.0f} events/s)")
    print(
        f"3-step run (5 events, end, clean): {per_run * 1e6:6.2f} us/run    ({per_event * 1e6:.2f} us/event)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    asyncio.run(main(parser.parse_args().events))
