"""``hitl``: human in the loop. Draft a note, stop at ``interrupt()`` for review, apply the answer.

Run with ``{"topic": "..."}``; the run ends interrupted with the value
``{"question": ..., "draft": ...}``. Resume with ``Command(resume=answer)`` where ``answer`` is:

- ``"approve"`` (or ``true``, ``{"approved": true}``): the draft becomes final;
- ``"reject"`` (or ``false``, ``{"approved": false}``): nothing is published;
- any other string (or ``{"edit": "..."}``): that text replaces the draft and becomes final.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

QUESTION = "Approve this draft? Answer 'approve', 'reject', or send a replacement text."
Decision = Literal["approved", "rejected", "edited"]


class HitlState(TypedDict, total=False):
    topic: str
    draft: str
    decision: Decision
    final: str


def interpret(answer: object, draft: str) -> tuple[Decision, str]:
    """The decision and the resulting text for a reviewer's ``answer`` to ``draft``."""
    if isinstance(answer, dict):
        if isinstance(answer.get("edit"), str):
            return "edited", answer["edit"]
        answer = bool(answer.get("approved"))
    if isinstance(answer, str):
        word = answer.strip().lower()
        if word in {"approve", "approved", "yes", "ok"}:
            return "approved", draft
        if word in {"reject", "rejected", "no"}:
            return "rejected", draft
        return "edited", answer
    return ("approved", draft) if answer else ("rejected", draft)


def write_draft(state: HitlState) -> dict[str, Any]:
    """Write the draft the reviewer will see."""
    topic = state.get("topic") or "runyard"
    return {"draft": f"A short note about {topic}: it runs LangGraph graphs as durable runs."}


def review(state: HitlState) -> dict[str, Any]:
    """Stop for the reviewer; on resume, record their decision."""
    answer = interrupt({"question": QUESTION, "draft": state["draft"]})
    decision, text = interpret(answer, state["draft"])
    return {"decision": decision, "draft": text}


def finish(state: HitlState) -> dict[str, Any]:
    """Publish the reviewed text, or nothing if it was rejected."""
    return {"final": "" if state["decision"] == "rejected" else state["draft"]}


builder = StateGraph(HitlState)
builder.add_node("write_draft", write_draft)
builder.add_node("review", review)
builder.add_node("finish", finish)
builder.add_edge(START, "write_draft")
builder.add_edge("write_draft", "review")
builder.add_edge("review", "finish")
builder.add_edge("finish", END)
graph = builder.compile()
