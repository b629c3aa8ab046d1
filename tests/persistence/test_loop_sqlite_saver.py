"""``LoopSqliteSaver``: LangGraph's checkpoints on the loop, a worker when the file is locked."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph

from runyard.persistence.loop_sqlite_saver import LoopSqliteSaver


class State(TypedDict):
    steps: list[str]


def _graph(saver: Any) -> Any:
    def step(name: str) -> Any:
        def node(state: State) -> dict[str, list[str]]:
            return {"steps": [*state["steps"], name]}

        return node

    builder = StateGraph(State)
    for name in ("a", "b", "c"):
        builder.add_node(name, step(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


def _config(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture
async def saver(tmp_path: Path) -> AsyncIterator[LoopSqliteSaver]:
    opened = await LoopSqliteSaver.open(tmp_path / "checkpoints.db")
    yield opened
    await opened.aclose()


async def test_a_graph_runs_and_its_state_and_history_read_back(saver: LoopSqliteSaver) -> None:
    graph = _graph(saver)
    assert await graph.ainvoke({"steps": []}, _config("t1")) == {"steps": ["a", "b", "c"]}
    state = await graph.aget_state(_config("t1"))
    assert state.values == {"steps": ["a", "b", "c"]}
    history = [snapshot async for snapshot in graph.aget_state_history(_config("t1"))]
    assert len(history) == 5  # input, a, b, c and the start
    assert [h.config["configurable"]["checkpoint_id"] for h in history] == sorted(
        (h.config["configurable"]["checkpoint_id"] for h in history), reverse=True
    )
    limited = [t async for t in saver.alist(_config("t1"), limit=2)]
    assert len(limited) == 2
    assert saver.busy_fallbacks == 0


async def test_update_state_and_delete_thread(saver: LoopSqliteSaver) -> None:
    graph = _graph(saver)
    await graph.ainvoke({"steps": []}, _config("t1"))
    await graph.ainvoke({"steps": []}, _config("t2"))
    await graph.aupdate_state(_config("t1"), {"steps": ["x"]})
    assert (await graph.aget_state(_config("t1"))).values == {"steps": ["x"]}
    await saver.adelete_thread("t1")
    assert await saver.aget_tuple(_config("t1")) is None
    assert await saver.aget_tuple(_config("t2")) is not None


async def test_pending_writes_are_kept(saver: LoopSqliteSaver) -> None:
    graph = _graph(saver)
    await graph.ainvoke({"steps": []}, _config("t1"))
    head = await saver.aget_tuple(_config("t1"))
    assert head is not None
    await saver.aput_writes(head.config, [("steps", ["w"])], "task-1")
    again = await saver.aget_tuple(_config("t1"))
    assert again is not None
    assert [(task, channel, value) for task, channel, value in again.pending_writes] == [
        ("task-1", "steps", ["w"])
    ]


async def test_reads_a_file_written_by_async_sqlite_saver(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.db"
    async with AsyncSqliteSaver.from_conn_string(str(path)) as old:
        await _graph(old).ainvoke({"steps": []}, _config("t1"))
    saver = await LoopSqliteSaver.open(path)
    try:
        graph = _graph(saver)
        assert (await graph.aget_state(_config("t1"))).values == {"steps": ["a", "b", "c"]}
        assert await graph.ainvoke({"steps": ["z"]}, _config("t1")) == {"steps": ["z", "a", "b", "c"]}
    finally:
        await saver.aclose()


async def test_a_locked_file_moves_the_write_to_a_worker_that_waits(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.db"
    saver = await LoopSqliteSaver.open(path)
    try:
        graph = _graph(saver)
        holder = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        release.start()
        try:
            result = await asyncio.wait_for(graph.ainvoke({"steps": []}, _config("t1")), 30)
        finally:
            release.join()
            holder.close()
        assert result == {"steps": ["a", "b", "c"]}
        assert saver.busy_fallbacks >= 1
        assert (await graph.aget_state(_config("t1"))).values == {"steps": ["a", "b", "c"]}
        history = [t async for t in saver.alist(_config("t1"))]
        assert len(history) == 5  # no write lost, none doubled
    finally:
        await saver.aclose()


async def test_wal_checkpoints_run_aside(tmp_path: Path) -> None:
    saver = LoopSqliteSaver(tmp_path / "checkpoints.db", checkpoint_every=3)
    saver.setup()
    try:
        await _graph(saver).ainvoke({"steps": []}, _config("t1"))
        for _ in range(100):
            if saver.checkpoints:
                break
            await asyncio.sleep(0.05)
        assert saver.checkpoints >= 1
    finally:
        await saver.aclose()
