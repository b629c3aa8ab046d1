"""Thread state and history in langgraph-api's shape, read through the thread's graph.

History is read into a list before the response is written: the SQLite and Postgres savers hold
a lock while ``alist`` yields, and a slow client must not block the runs writing checkpoints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import EmptyInputError, InvalidUpdateError
from langgraph.types import StateSnapshot, StateUpdate

from ..runs.executor import graph_input
from ..runs.serde import to_jsonable
from .errors import BadRequest, Conflict, NotFound, Unprocessable
from .services import Services
from .thread_hooks import interrupts_by_task

STATE_UPDATE_EVENT = "state_update"
"""The thread-stream event sent after a state write: ``{"state": ThreadState, "thread_id": ...}``."""

EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "checkpoint": None,
    "metadata": {},
    "created_at": None,
    "parent_checkpoint": None,
    "interrupts": [],
}


STATE_FIELDS = tuple(EMPTY_STATE)


def select_state(state: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """The fields of a ThreadState the client asked for (the SDK's ``select``): field names, or
    ``values.<key>`` for one state key."""
    if not select:
        return state
    out: dict[str, Any] = {}
    for field in select:
        if field.startswith("values.") and field != "values.":
            key = field.removeprefix("values.")
            values = state.get("values")
            picked = out.setdefault("values", {}) if "values" not in select else None
            if picked is not None and isinstance(values, dict) and key in values:
                picked[key] = values[key]
        elif field in STATE_FIELDS:
            out[field] = state[field]
        else:
            raise Unprocessable(
                f"select: unknown field {field!r}; use {', '.join(STATE_FIELDS)} or values.<key>"
            )
    return out


def _checkpoint_of(config: RunnableConfig | None) -> dict[str, Any] | None:
    if not config:
        return None
    configurable = config.get("configurable", {})
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def snapshot_json(snapshot: StateSnapshot) -> dict[str, Any]:
    tasks = []
    for task in snapshot.tasks:
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": str(task.error) if task.error else None,
                "interrupts": to_jsonable(list(task.interrupts)),
                "checkpoint": _checkpoint_of(task.state) if isinstance(task.state, dict) else None,
                "state": snapshot_json(task.state) if isinstance(task.state, StateSnapshot) else None,
                "result": to_jsonable(task.result),
            }
        )
    return {
        "values": to_jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": tasks,
        "checkpoint": _checkpoint_of(snapshot.config),
        "metadata": to_jsonable(snapshot.metadata or {}),
        "created_at": snapshot.created_at,
        "parent_checkpoint": _checkpoint_of(snapshot.parent_config),
        "interrupts": to_jsonable(list(snapshot.interrupts)),
    }


@contextmanager
def _bad_input_is_400(thread_id: str) -> Iterator[None]:
    """LangGraph's refusals of what the client asked (values that do not fit the state, a
    ``checkpoint_ns`` naming no subgraph) as 400s, as langgraph-api answers them."""
    try:
        yield
    except (InvalidUpdateError, EmptyInputError, ValueError) as exc:
        raise BadRequest(f"Thread {thread_id}: {exc}") from exc


async def thread_graph_id(services: Services, thread_id: str, *, user_id: str | None = None) -> str | None:
    thread = await services.threads.get(thread_id, user_id=user_id)
    if thread is None:
        raise NotFound(f"Thread {thread_id} not found")
    graph_id = (thread.get("metadata") or {}).get("graph_id")
    return graph_id if graph_id in services.graphs else None


def thread_config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    for key in ("checkpoint_id", "checkpoint_ns", "checkpoint_map"):
        if checkpoint and checkpoint.get(key) is not None:
            configurable[key] = checkpoint[key]
    return {"configurable": configurable}


async def get_state(
    services: Services, thread_id: str, *, checkpoint: dict[str, Any] | None = None, subgraphs: bool = False
) -> dict[str, Any]:
    graph_id = await thread_graph_id(services, thread_id)
    if graph_id is None:
        return dict(EMPTY_STATE)
    config = thread_config(thread_id, checkpoint)
    async with services.graphs.open(graph_id, config, checkpointer=services.checkpointer) as graph:
        with _bad_input_is_400(thread_id):
            snapshot = await graph.aget_state(config, subgraphs=subgraphs)
    # Without a saved checkpoint LangGraph echoes the config it was given (with the checkpoint_id
    # asked for, if any) and no creation time.
    saved = snapshot.created_at is not None and bool(
        snapshot.config and snapshot.config.get("configurable", {}).get("checkpoint_id")
    )
    if checkpoint and checkpoint.get("checkpoint_id") and not saved:
        raise NotFound(f"Checkpoint {checkpoint['checkpoint_id']} not found on thread {thread_id}")
    if not saved:
        return dict(EMPTY_STATE)
    return snapshot_json(snapshot)


async def get_history(
    services: Services,
    thread_id: str,
    *,
    limit: int = 10,
    before: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    graph_id = await thread_graph_id(services, thread_id)
    if graph_id is None:
        return []
    config = thread_config(thread_id, checkpoint)
    before_config = thread_config(thread_id, before) if before else None
    pushed = metadata if not metadata or all(_PLAIN_KEY.match(key) for key in metadata) else None
    async with services.graphs.open(graph_id, config, checkpointer=services.checkpointer) as graph:
        with _bad_input_is_400(thread_id):
            snapshots = [
                s
                async for s in graph.aget_state_history(
                    config,
                    limit=limit if pushed is metadata else None,
                    before=before_config,
                    filter=pushed,
                )
            ]
    if pushed is not metadata and metadata:
        # The SQLite saver splices filter keys into a JSON path ("$.<key>"), which a key with a
        # dot, quote or other punctuation breaks (a 500): such filters are applied here instead.
        snapshots = [s for s in snapshots if all((s.metadata or {}).get(k) == v for k, v in metadata.items())]
        snapshots = snapshots[:limit]
    return [snapshot_json(s) for s in snapshots]


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


_PSEUDO_NODES = ("__input__", "__copy__")
"""``as_node`` values LangGraph takes besides node names: write the input, copy the checkpoint."""


def _check_node(graph: Any, graph_id: str, as_node: str | None) -> None:
    if as_node is not None and as_node not in graph.nodes and as_node not in _PSEUDO_NODES:
        raise Unprocessable(
            f"Unknown node '{as_node}'. Nodes of graph '{graph_id}': {', '.join(graph.nodes)}"
        )


async def _after_write(services: Services, thread_id: str, graph: Any) -> None:
    """Bring the thread row in step with its new head, and tell whoever follows the thread."""
    snapshot = await graph.aget_state(thread_config(thread_id))
    values = snapshot.values if isinstance(snapshot.values, dict) else {}
    await services.threads.set_status(
        thread_id,
        "interrupted" if snapshot.next else "idle",
        values=to_jsonable(values),
        interrupts=interrupts_by_task(snapshot.tasks),
    )
    await services.bridge.publish_thread(
        thread_id, STATE_UPDATE_EVENT, {"state": snapshot_json(snapshot), "thread_id": thread_id}
    )


async def update_state(
    services: Services,
    thread_id: str,
    *,
    values: Any,
    as_node: str | None,
    checkpoint: dict[str, Any] | None,
) -> dict[str, Any]:
    graph_id = await thread_graph_id(services, thread_id)
    if graph_id is None:
        raise NotFound(f"Thread {thread_id} has no graph yet: run it once before updating its state")
    if await services.manager.has_inflight(thread_id):
        raise Conflict(f"Thread {thread_id} has a run in flight: update its state once the run ends")
    config = thread_config(thread_id, checkpoint)
    async with services.graphs.open(graph_id, config, checkpointer=services.checkpointer) as graph:
        _check_node(graph, graph_id, as_node)
        with _bad_input_is_400(thread_id):
            new_config = await graph.aupdate_state(config, values, as_node=as_node)
        await _after_write(services, thread_id, graph)
    return {"checkpoint": _checkpoint_of(new_config)}


async def apply_supersteps(
    services: Services, thread_id: str, graph_id: str, supersteps: list[dict[str, Any]]
) -> dict[str, Any]:
    """Write ``supersteps`` (``[{"updates": [{"values"|"command", "as_node"}]}]``) as checkpoints,
    one superstep each, as ``POST /threads`` with ``supersteps`` does (``abulk_update_state``)."""
    config = thread_config(thread_id)
    async with services.graphs.open(graph_id, config, checkpointer=services.checkpointer) as graph:
        steps: list[list[StateUpdate]] = []
        for superstep in supersteps:
            updates = []
            for update in superstep.get("updates") or []:
                _check_node(graph, graph_id, update.get("as_node"))
                command = update.get("command")
                value = graph_input({"command": command}) if command else update.get("values")
                updates.append(StateUpdate(value, update.get("as_node")))
            steps.append(updates)
        with _bad_input_is_400(thread_id):
            new_config = await graph.abulk_update_state(config, steps)
        await _after_write(services, thread_id, graph)
    return {"checkpoint": _checkpoint_of(new_config)}
