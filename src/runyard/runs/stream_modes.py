"""The Agent Server's stream modes, and how each maps onto LangGraph's.

The API names differ from LangGraph's in two places: ``messages-tuple`` is LangGraph's
``messages`` passed through as ``[chunk, metadata]``, while the API's ``messages`` accumulates the
chunks of each message and sends ``messages/metadata``, ``messages/partial`` and
``messages/complete`` events (langgraph-api's shape, which Agent Chat UI reads). ``events`` is
served as langgraph-api serves it: the run streams through ``astream_events(version="v2")`` with
the other requested modes passed along; the root graph's ``on_chain_stream`` events carry those
modes' chunks (handled as ``astream`` items), every other event goes out whole as ``events``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from typing import Any

API_STREAM_MODES: tuple[str, ...] = (
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "events",
    "debug",
    "tasks",
    "checkpoints",
)

_TO_LANGGRAPH = {
    "values": "values",
    "updates": "updates",
    "messages": "messages",
    "messages-tuple": "messages",
    "custom": "custom",
    "debug": "debug",
    "tasks": "tasks",
    "checkpoints": "checkpoints",
}


class UnknownStreamModeError(ValueError):
    """A stream mode the Agent Server API does not define."""


def normalize(modes: str | Iterable[str] | None) -> list[str]:
    """The requested API modes as a de-duplicated list (default ``values``); unknown ones raise."""
    if modes is None:
        return ["values"]
    items = [modes] if isinstance(modes, str) else list(modes)
    if not items:
        return ["values"]
    out: list[str] = []
    for mode in items:
        if mode not in API_STREAM_MODES:
            raise UnknownStreamModeError(
                f"Unknown stream mode '{mode}'. Supported stream modes: {', '.join(API_STREAM_MODES)}"
            )
        if mode not in out:
            out.append(mode)
    return out


def langgraph_modes(api_modes: list[str]) -> list[str]:
    """LangGraph modes to run with: the requested ones plus ``values`` and ``updates``, which the
    executor always reads (the final state answers ``/wait`` and carries ``__interrupt__``; the
    root ``__interrupt__`` update also marks a stop at a static breakpoint, which values do not)."""
    out = ["values", "updates"]
    for mode in api_modes:
        mapped = _TO_LANGGRAPH.get(mode)
        if mapped is not None and mapped not in out:
            out.append(mapped)
    return out


def _checkpoint_of(config: Any) -> dict[str, Any] | None:
    if not isinstance(config, dict) or not config.get("configurable"):
        return None
    configurable = config["configurable"]
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def _debug_task(task: Any) -> Any:
    if not isinstance(task, dict):
        return task
    state = task.get("state")
    if not isinstance(state, dict) or not state.get("configurable"):
        return task
    out = {k: v for k, v in task.items() if k != "state"}
    out["checkpoint"] = state["configurable"]
    return out


def debug_event(chunk: Any) -> Any:
    """A ``debug`` chunk as langgraph-api sends it: checkpoint payloads also carry
    ``checkpoint`` and ``parent_checkpoint`` (what Studio reads), and a task's subgraph
    ``state`` config becomes its ``checkpoint``."""
    if not isinstance(chunk, dict) or chunk.get("type") != "checkpoint":
        return chunk
    payload = chunk.get("payload")
    if not isinstance(payload, dict):
        return chunk
    payload = {
        **payload,
        "checkpoint": _checkpoint_of(payload.get("config")),
        "parent_checkpoint": _checkpoint_of(payload.get("parent_config")),
        "tasks": [_debug_task(t) for t in payload.get("tasks") or []],
    }
    return {**chunk, "payload": payload}


HIDDEN_TAG = "langsmith:hidden"
"""Events of runnables tagged so are never sent (as langgraph-api skips them)."""


async def split_events(
    events: AsyncIterator[dict[str, Any]], publish: Callable[[dict[str, Any]], Awaitable[None]]
) -> AsyncIterator[Any]:
    """From ``astream_events`` v2: yield what ``astream`` would have (the root graph's stream
    chunks), and ``publish`` every other event as an ``events`` frame, in order.

    The root is the event without parents (langgraph-api compares with the run id, which a
    retried attempt does not carry as its root run id).
    """
    async with aclosing(events) as stream:  # type: ignore[type-var]
        async for event in stream:
            tags = event.get("tags")
            if tags and HIDDEN_TAG in tags:
                continue
            if event.get("event") == "on_chain_stream" and not event.get("parent_ids"):
                yield event["data"]["chunk"]
            else:
                await publish(event)
