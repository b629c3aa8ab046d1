"""``subgraph``: a parent graph that calls a compiled child graph as one of its nodes.

Run with ``{"topic": "..."}``. The parent's ``plan`` node starts the notes, the ``research``
node is the child graph (``gather`` then ``summarise``, each adding a note; ``summarise`` also
adds an ``AIMessage`` with the summary), and ``publish`` marks the result done. Stream with
``stream_subgraphs=True`` to see the child's events under the ``|research:<task id>``
namespace; without it, the summary message arrives as the output of the parent's ``research``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages


class ChildState(TypedDict, total=False):
    topic: str
    notes: list[str]
    messages: Annotated[list[AnyMessage], add_messages]


class ParentState(TypedDict, total=False):
    topic: str
    notes: list[str]
    messages: Annotated[list[AnyMessage], add_messages]
    done: bool


def gather(state: ChildState) -> dict[str, Any]:
    """Child step 1: note what was gathered."""
    return {"notes": [*state.get("notes", []), f"gathered {state.get('topic', '')}".strip()]}


def summarise(state: ChildState) -> dict[str, Any]:
    """Child step 2: note the summary and say it."""
    summary = f"Summary of {state.get('topic', 'nothing')}"
    return {"notes": [*state.get("notes", []), "summarised"], "messages": [AIMessage(summary)]}


child_builder = StateGraph(ChildState)
child_builder.add_node("gather", gather)
child_builder.add_node("summarise", summarise)
child_builder.add_edge(START, "gather")
child_builder.add_edge("gather", "summarise")
child_builder.add_edge("summarise", END)
child = child_builder.compile()


def plan(state: ParentState) -> dict[str, Any]:
    """Parent step 1: start the notes."""
    return {"notes": [f"plan {state.get('topic', '')}".strip()]}


def publish(state: ParentState) -> dict[str, Any]:
    """Parent step 3: mark the result done."""
    return {"done": True}


builder = StateGraph(ParentState)
builder.add_node("plan", plan)
builder.add_node("research", child)
builder.add_node("publish", publish)
builder.add_edge(START, "plan")
builder.add_edge("plan", "research")
builder.add_edge("research", "publish")
builder.add_edge("publish", END)
graph = builder.compile()
