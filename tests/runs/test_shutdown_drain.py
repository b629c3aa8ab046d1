"""RunManager.shutdown(): drain in-flight runs before the checkpointer closes (DeerFlow #3373).

Run tasks write checkpoints through a shared checkpointer. If the lifespan closed it while a run
was still mid-graph, LangGraph's final checkpoint put would hit a closed connection pool from a
task no run code can catch. shutdown() therefore cancels every in-flight run and waits for it,
within a bound, so the last write lands first; it decides statuses only after the drain, and it
reports (rather than swallows) a status it could not persist.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from helpers import wait_until
from runyard.runs import RunManager, RunRecord, RunStatus
from runyard.runs.store.memory import MemoryRunStore


# At module level so LangGraph can resolve the Annotated reducer from the module's globals.
class CounterState(TypedDict):
    count: Annotated[int, operator.add]


class ClosingSaver(InMemorySaver):
    """An InMemorySaver whose writes fail once closed, the way a closed connection pool does."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.writes_after_close: list[str] = []

    def close(self) -> None:
        self.closed = True

    def _refuse_if_closed(self, method: str) -> None:
        if self.closed:
            self.writes_after_close.append(method)
            raise RuntimeError("checkpointer is closed")

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse_if_closed("aput")
        return await super().aput(*args, **kwargs)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> Any:
        self._refuse_if_closed("aput_writes")
        return await super().aput_writes(*args, **kwargs)


class StatusWritesFailStore(MemoryRunStore):
    """A store that is reachable for inserts but fails every status write."""

    async def update_status(self, run_id: str, status: str, *, error: str | None = None) -> bool:
        raise RuntimeError("store unavailable")


@asynccontextmanager
async def owned_task(record: RunRecord, coro: Any) -> AsyncIterator[asyncio.Task[Any]]:
    """Attach ``coro`` to ``record`` as its run task, and make sure it is gone when the test ends."""
    record.task = asyncio.create_task(coro)
    try:
        yield record.task
    finally:
        if not record.task.done():
            record.task.cancel()
        with suppress(asyncio.CancelledError):
            await record.task


async def running_record(manager: RunManager, thread_id: str) -> RunRecord:
    record = await manager.create(thread_id)
    await manager.set_status(record.run_id, RunStatus.running)
    return record


async def test_shutdown_cancels_and_awaits_inflight_run() -> None:
    """shutdown() cancels an in-flight run task, waits for it to end, and marks it interrupted."""
    manager = RunManager()
    record = await running_record(manager, "t-drain")
    started = asyncio.Event()
    saw_cancel = asyncio.Event()

    async def run() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            saw_cancel.set()
            raise

    async with owned_task(record, run()) as task:
        await asyncio.wait_for(started.wait(), timeout=1.0)

        await manager.shutdown(timeout=5.0)

        assert task.done()
        assert saw_cancel.is_set()
        assert record.status == RunStatus.interrupted
        assert record.abort_event.is_set()


async def test_shutdown_is_bounded_when_run_ignores_cancellation() -> None:
    """A run that swallows cancellation cannot hold shutdown() past its timeout."""
    manager = RunManager()
    record = await running_record(manager, "t-stubborn")
    started = asyncio.Event()
    release = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if release.is_set():
                    raise
                # Otherwise swallow it: a run stuck in slow cleanup.

    async with owned_task(record, stubborn()) as task:
        try:
            await asyncio.wait_for(started.wait(), timeout=1.0)
            loop = asyncio.get_running_loop()

            began = loop.time()
            await manager.shutdown(timeout=0.3)
            elapsed = loop.time() - began

            assert elapsed < 2.0, f"shutdown took {elapsed:.2f}s; the drain is not bounded"
            assert not task.done(), "the stubborn run should still be alive after the bounded drain"
            assert record.status == RunStatus.interrupted
        finally:
            release.set()  # lets owned_task's cancel end the stubborn task


async def test_shutdown_is_noop_without_inflight_runs() -> None:
    """shutdown() on an idle manager returns cleanly, repeatedly, and leaves finished runs alone."""
    manager = RunManager()
    await manager.shutdown(timeout=1.0)

    record = await manager.create("t-done")
    await manager.set_status(record.run_id, RunStatus.success)
    await manager.shutdown(timeout=1.0)

    assert record.status == RunStatus.success
    assert not record.abort_event.is_set()


async def test_drain_flushes_real_graph_checkpoint_before_close() -> None:
    """With a real LangGraph graph, draining before close lets the last checkpoint land on an open saver."""
    saver = ClosingSaver()

    async def slow_step(_state: CounterState) -> dict[str, int]:
        await asyncio.sleep(0.1)
        return {"count": 1}

    builder = StateGraph(CounterState)
    for name in ("a", "b", "c"):
        builder.add_node(name, slow_step)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    graph = builder.compile(checkpointer=saver)

    manager = RunManager()
    record = await running_record(manager, "t-e2e")
    config = {"configurable": {"thread_id": "t-e2e"}}
    started = asyncio.Event()

    async def run() -> None:
        started.set()
        async for _ in graph.astream({"count": 0}, config=config):
            pass

    async with owned_task(record, run()) as task:
        await asyncio.wait_for(started.wait(), timeout=1.0)
        # The run is genuinely mid-graph once its first checkpoint exists.
        await wait_until(lambda: saver.aget_tuple(config), timeout=5.0)

        # Drain while the checkpointer is open, then close it: the lifespan's order.
        await manager.shutdown(timeout=5.0)
        saver.close()

        assert saver.writes_after_close == [], (
            f"a checkpoint write hit the closed saver: {saver.writes_after_close}"
        )
        assert task.done(), "shutdown returned before the run task ended"
        assert await saver.aget_tuple(config) is not None

    # Nothing left over from the run may write once the task is gone, either.
    assert saver.writes_after_close == []


async def test_shutdown_preserves_status_of_run_completed_during_drain() -> None:
    """A run that reaches success during the drain keeps success, in memory and in the store."""
    store = MemoryRunStore()
    manager = RunManager(store=store)
    record = await running_record(manager, "t-complete")

    async def finishes_anyway() -> None:
        # The run had in effect finished when the drain cancelled it: it swallows the
        # cancellation and records its real outcome.
        with suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        await manager.set_status(record.run_id, RunStatus.success)

    async with owned_task(record, finishes_anyway()) as task:
        await asyncio.sleep(0)  # yield once so the task reaches its await point

        await manager.shutdown(timeout=5.0)

        assert task.done()
        assert record.status == RunStatus.success, f"shutdown overwrote the in-memory status: {record.status}"
        row = await store.get(record.run_id)
        assert row is not None
        assert row["status"] == "success", f"shutdown overwrote the persisted status: {row}"


async def test_shutdown_surfaces_failed_interrupted_persist(caplog: pytest.LogCaptureFixture) -> None:
    """An interrupted status the drain cannot persist is logged with its run_id, not swallowed."""
    store = StatusWritesFailStore()
    manager = RunManager(store=store)
    record = await manager.create("t-failpersist")
    record.status = RunStatus.running  # in memory only: the failing status write is the drain's
    started = asyncio.Event()

    async def run() -> None:
        started.set()
        await asyncio.Event().wait()  # until the drain cancels it

    async with owned_task(record, run()):
        await asyncio.wait_for(started.wait(), timeout=1.0)

        with caplog.at_level(logging.WARNING, logger="runyard.runs.manager"):
            await manager.shutdown(timeout=5.0)

        assert "Could not persist interrupted status for run" in caplog.text, caplog.text
        assert any(
            "Could not persist interrupted status for run" in r.getMessage()
            and record.run_id in r.getMessage()
            for r in caplog.records
        ), caplog.text
        assert record.status == RunStatus.interrupted
