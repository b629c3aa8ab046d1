"""The benchmark graphs of docs' peer-server comparison (``tiny`` and ``slow`` there).

``fast`` (``bench_fast``): three nodes in sequence on ``MessagesState``, each appending
``AIMessage("step i")`` for i = 1, 2, 3. ``slow`` (``bench_slow``): the same, each node first
awaiting ``asyncio.sleep(0.05)``. The final ``messages`` are the input's followed by
"step 1", "step 2", "step 3". No model, no I/O: what is measured is the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

STEPS = 3
SLOW_SLEEP = 0.05


def make_step(index: int, sleep: float) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Node ``step_<index>``: optionally sleep, then append ``AIMessage("step <index>")``."""

    async def step(state: MessagesState) -> dict[str, Any]:
        if sleep:
            await asyncio.sleep(sleep)
        return {"messages": [AIMessage(f"step {index}")]}

    step.__name__ = f"step_{index}"
    return step


def build(sleep: float) -> CompiledStateGraph[MessagesState, None, MessagesState, MessagesState]:
    """The three-step graph, each step sleeping ``sleep`` seconds first."""
    builder = StateGraph(MessagesState)
    previous = START
    for index in range(1, STEPS + 1):
        builder.add_node(f"step_{index}", make_step(index, sleep))
        builder.add_edge(previous, f"step_{index}")
        previous = f"step_{index}"
    builder.add_edge(previous, END)
    return builder.compile()


fast = build(0.0)
slow = build(SLOW_SLEEP)
