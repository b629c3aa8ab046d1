"""Four steps that journal who ran them and when, so cluster tests can check ownership.

Each step appends ``<run_id> <step> start <pid> <time>`` then sleeps ``configurable.delay``
seconds (default 0.3), then appends ``... end ...``; the journal's path is the server process's
``RUNYARD_TEST_JOURNAL``. Times are ``time.time()``: one machine, one clock for every process.
"""

from __future__ import annotations

import asyncio
import operator
import os
import time
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

STEPS = ("step_1", "step_2", "step_3", "step_4")


class State(TypedDict, total=False):
    done: Annotated[list[str], operator.add]


def _write(run_id: str, step: str, phase: str) -> None:
    with open(os.environ["RUNYARD_TEST_JOURNAL"], "a") as journal:
        journal.write(f"{run_id} {step} {phase} {os.getpid()} {time.time():.6f}\n")
        journal.flush()


def make(name: str) -> Any:
    async def node(state: State, config: RunnableConfig) -> dict[str, Any]:
        run_id = config["configurable"]["run_id"]
        _write(run_id, name, "start")
        await asyncio.sleep(float(config["configurable"].get("delay", 0.3)))
        _write(run_id, name, "end")
        return {"done": [name]}

    node.__name__ = name
    return node


builder = StateGraph(State)
previous = START
for step in STEPS:
    builder.add_node(step, make(step))
    builder.add_edge(previous, step)
    previous = step
builder.add_edge(previous, END)
graph = builder.compile()
