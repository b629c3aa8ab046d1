"""``fail``: a graph whose second node raises, for seeing how a server reports a failed run.

Run with ``{}``: ``prepare`` succeeds, then ``explode`` raises ``ValueError("boom")``. Run with
``{"kind": "custom"}`` and it raises ``BoomError``, an exception class of its own, whose message
a server should not show to clients (langgraph-api masks it as "An internal error occurred").
"""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph


class BoomError(Exception):
    """An application error whose text may carry details that must not leak."""


class FailState(TypedDict, total=False):
    kind: str
    prepared: bool


def prepare(state: FailState) -> dict[str, Any]:
    """Succeed, so the thread has a checkpoint before the failure."""
    return {"prepared": True}


def explode(state: FailState) -> dict[str, Any]:
    """Raise ``ValueError("boom")``, or ``BoomError`` when the input's ``kind`` is ``"custom"``."""
    if state.get("kind") == "custom":
        raise BoomError("secret detail: db password is hunter2")
    raise ValueError("boom")


builder = StateGraph(FailState)
builder.add_node("prepare", prepare)
builder.add_node("explode", explode)
builder.add_edge(START, "prepare")
builder.add_edge("prepare", "explode")
builder.add_edge("explode", END)
graph = builder.compile()
