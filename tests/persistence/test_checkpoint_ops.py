"""Copying a thread's checkpoints and keeping only its latest, on the real SQLite and Postgres savers."""

from __future__ import annotations

import operator
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from runyard.persistence.checkpoint_ops import copy_thread_checkpoints, keep_latest_checkpoints
from runyard.persistence.checkpointer import open_checkpointer


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    answer: str


def _build(saver: Any) -> Any:
    def first(state: State) -> dict[str, Any]:
        return {"log": ["first"]}

    def ask(state: State) -> dict[str, Any]:
        return {"answer": interrupt("why?"), "log": ["asked"]}

    builder = StateGraph(State)
    builder.add_node("first", first)
    builder.add_node("ask", ask)
    builder.add_edge(START, "first")
    builder.add_edge("first", "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def saver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    async with open_checkpointer(database_url=url, sqlite_path=tmp_path / "cp.db") as opened:
        yield opened


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


async def test_copy_carries_every_checkpoint_and_the_pending_interrupt(saver: Any) -> None:
    """The copy has the same history and resumes from the same interrupt; the source is untouched."""
    graph = _build(saver)
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    await graph.ainvoke({"log": ["start"]}, _config(source))
    history = [s async for s in graph.aget_state_history(_config(source))]

    copied = await copy_thread_checkpoints(saver, source, target)

    assert copied == len(history)
    copy_history = [s async for s in graph.aget_state_history(_config(target))]
    assert [s.values for s in copy_history] == [s.values for s in history]
    assert [s.config["configurable"]["checkpoint_id"] for s in copy_history] == [
        s.config["configurable"]["checkpoint_id"] for s in history
    ]
    assert all(s.config["configurable"]["thread_id"] == target for s in copy_history)
    state = await graph.aget_state(_config(target))
    assert state.next == ("ask",) and state.interrupts[0].value == "why?"
    result = await graph.ainvoke(Command(resume="because"), _config(target))
    assert result == {"log": ["start", "first", "asked"], "answer": "because"}
    assert (await graph.aget_state(_config(source))).next == ("ask",)


async def test_copy_of_a_thread_without_checkpoints_copies_nothing(saver: Any) -> None:
    assert await copy_thread_checkpoints(saver, str(uuid.uuid4()), str(uuid.uuid4())) == 0


async def test_keep_latest_leaves_one_checkpoint_that_still_resumes(saver: Any) -> None:
    graph = _build(saver)
    thread, other = str(uuid.uuid4()), str(uuid.uuid4())
    await graph.ainvoke({"log": ["start"]}, _config(thread))
    await graph.ainvoke({"log": ["start"]}, _config(other))
    before = await graph.aget_state(_config(thread))

    await keep_latest_checkpoints(saver, [thread])

    history = [s async for s in graph.aget_state_history(_config(thread))]
    assert len(history) == 1
    assert history[0].values == before.values and history[0].parent_config is None
    result = await graph.ainvoke(Command(resume="ok"), _config(thread))
    assert result["answer"] == "ok"
    assert len([s async for s in graph.aget_state_history(_config(other))]) > 1
