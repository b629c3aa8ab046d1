"""``slow``: three steps that each sleep, count, and report progress on the ``custom`` stream.

The delay per step is ``config["configurable"]["delay"]`` (per run), else the state's ``delay``
(from this or an earlier input on the thread), else 0.5 s.
Each step emits ``{"step": i, "status": "started"}`` and ``{"step": i, "status": "finished",
"count": n}`` through ``get_stream_writer()``. Good for watching a run progress, cancelling it
half-way, or queueing runs behind it on one thread.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

DEFAULT_DELAY = 0.5
STEPS = 3


class SlowState(TypedDict, total=False):
    delay: float
    count: Annotated[int, operator.add]
    steps: Annotated[list[str], operator.add]


def delay_for(state: SlowState, config: RunnableConfig) -> float:
    """The per-step delay: the run's configurable one, else the state's, else ``DEFAULT_DELAY``."""
    value = config.get("configurable", {}).get("delay")
    if value is None:
        value = state.get("delay", DEFAULT_DELAY)
    return max(0.0, float(value))


def make_step(index: int) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Node ``step_<index>``."""

    async def step(state: SlowState, config: RunnableConfig) -> dict[str, Any]:
        write = get_stream_writer()
        write({"step": index, "status": "started"})
        await asyncio.sleep(delay_for(state, config))
        count = state.get("count", 0) + 1
        write({"step": index, "status": "finished", "count": count})
        return {"count": 1, "steps": [f"step_{index}"]}

    step.__name__ = f"step_{index}"
    return step


builder = StateGraph(SlowState)
previous = START
for index in range(1, STEPS + 1):
    builder.add_node(f"step_{index}", make_step(index))
    builder.add_edge(previous, f"step_{index}")
    previous = f"step_{index}"
builder.add_edge(previous, END)
graph = builder.compile()
