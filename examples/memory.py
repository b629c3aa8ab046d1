"""``memory``: a graph that remembers facts across threads in the server's long-term store.

The ``remember`` node writes the input ``fact`` as an item under ``("memories", <user_id>)``
through ``Runtime.store`` (the run's context names the user; ``anonymous`` otherwise), keyed by
the input ``key`` or a fresh id. The ``recall`` node reads the user's memories back through
``langgraph.config.get_store()``, the other way a node reaches the same store, searching with
``query`` when given (semantic when the server's ``store.index`` is configured), and puts them
in the state. Memories outlive the thread: a run on another thread, or the ``/store`` API
(``client.store.search_items(["memories", user_id])``), sees them.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, TypedDict

from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

NAMESPACE = "memories"


@dataclasses.dataclass
class MemoryContext:
    user_id: str = "anonymous"


class MemoryState(TypedDict, total=False):
    fact: str
    key: str
    query: str
    memories: list[dict[str, Any]]


async def remember(state: MemoryState, runtime: Runtime[MemoryContext]) -> dict[str, Any]:
    """Store the input fact, if any, for the run's user."""
    if runtime.store is None:
        raise RuntimeError("this graph needs a store: run it on a server (or compile it with one)")
    fact = state.get("fact")
    if not fact:
        return {}
    key = state.get("key") or str(uuid.uuid4())
    await runtime.store.aput((NAMESPACE, runtime.context.user_id), key, {"text": fact})
    return {"key": key}


async def recall(state: MemoryState, runtime: Runtime[MemoryContext]) -> dict[str, Any]:
    """Read the user's memories back (best match first when there is a query)."""
    found = await get_store().asearch(
        (NAMESPACE, runtime.context.user_id), query=state.get("query"), limit=20
    )
    return {
        "memories": [{"key": item.key, "text": item.value.get("text"), "score": item.score} for item in found]
    }


builder = StateGraph(MemoryState, context_schema=MemoryContext)
builder.add_node("remember", remember)
builder.add_node("recall", recall)
builder.add_edge(START, "remember")
builder.add_edge("remember", "recall")
builder.add_edge("recall", END)
graph = builder.compile()
