"""``echo``: a graph that writes what it was run with into its state.

The ``echo`` node copies the run's ``config["configurable"]`` (the plain values only: ids,
strings, numbers) and its runtime context (``Runtime.context``, typed by ``EchoContext``) into
the state, next to the input ``text``. Use it to see what a server passes to a graph: the
Agent Server puts ``run_id``, ``thread_id``, ``graph_id`` and ``assistant_id`` in
``configurable``, and the run's ``context`` in ``Runtime.context``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

_PLAIN = (str, int, float, bool)


@dataclasses.dataclass
class EchoContext:
    """The runtime context this graph declares; a server drops keys it does not name."""

    user_name: str = "anonymous"
    tone: str = "plain"


class EchoState(TypedDict, total=False):
    text: str
    seen_configurable: dict[str, Any]
    seen_context: dict[str, Any] | None


def plain_configurable(config: RunnableConfig) -> dict[str, Any]:
    """``config["configurable"]`` without LangGraph's internal keys and non-JSON values."""
    configurable = config.get("configurable", {})
    return {
        key: value
        for key, value in configurable.items()
        if not key.startswith("__") and (value is None or isinstance(value, _PLAIN))
    }


def echo(state: EchoState, runtime: Runtime[EchoContext]) -> dict[str, Any]:
    """Copy the configurable values and the runtime context into the state."""
    context = runtime.context
    return {
        "seen_configurable": plain_configurable(get_config()),
        "seen_context": dataclasses.asdict(context) if dataclasses.is_dataclass(context) else context,
    }


builder = StateGraph(EchoState, context_schema=EchoContext)
builder.add_node("echo", echo)
builder.add_edge(START, "echo")
builder.add_edge("echo", END)
graph = builder.compile()
