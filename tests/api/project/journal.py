"""A test graph whose nodes append to a journal file, so tests can count node executions.

Each of four steps writes ``<run_id> <node> start`` then sleeps ``configurable.delay`` seconds
(default 0.4) then writes ``<run_id> <node> end``; the journal's path comes from the
``RUNYARD_TEST_JOURNAL`` environment variable of the server process.
"""

from __future__ import annotations

import asyncio
import operator
import os
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    done: Annotated[list[str], operator.add]


def _write(line: str) -> None:
    with open(os.environ["RUNYARD_TEST_JOURNAL"], "a") as journal:
        journal.write(line + "\n")
        journal.flush()
        os.fsync(journal.fileno())


def make(name: str) -> Any:
    async def node(state: State, config: RunnableConfig) -> dict[str, Any]:
        run_id = config["configurable"]["run_id"]
        _write(f"{run_id} {name} start")
        await asyncio.sleep(float(config["configurable"].get("delay", 0.4)))
        _write(f"{run_id} {name} end")
        return {"done": [name]}

    node.__name__ = name
    return node


builder = StateGraph(State)
previous = START
for step in ("step_1", "step_2", "step_3", "step_4"):
    builder.add_node(step, make(step))
    builder.add_edge(previous, step)
    previous = step
builder.add_edge(previous, END)
graph = builder.compile()
