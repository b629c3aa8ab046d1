"""Turning a run request into an admitted run: assistant, thread, kwargs, admission, schedule.

Everything that can be refused is refused here, before the run exists: a missing thread or
checkpoint, a resume with nothing to resume, a key runyard cannot honour. Nothing stored
changes for a refused request.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from ..runs import RunRecord
from ..runs.schemas import DisconnectMode
from .errors import BadRequest, Conflict, NotFound, Unprocessable
from .models import RunCreate
from .services import Services


def run_json(record: RunRecord) -> dict[str, Any]:
    """The ``Run`` body langgraph-api returns."""
    return {
        "run_id": record.run_id,
        "thread_id": record.thread_id,
        "assistant_id": record.assistant_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "status": record.status.value,
        "metadata": record.metadata,
        "kwargs": record.kwargs,
        "multitask_strategy": record.multitask_strategy,
    }


def resolve_graph(services: Services, assistant_id: str) -> tuple[str, str]:
    """``(assistant_id, graph_id)`` for what a client sent (a graph name or an assistant UUID)."""
    resolved = services.graphs.resolve_assistant(assistant_id)
    graph_id = services.graphs.graph_id_for_assistant(resolved)
    if graph_id is None:
        raise NotFound(f"Assistant '{assistant_id}' not found")
    return resolved, graph_id


def preflight(services: Services, body: RunCreate, *, stateless: bool) -> tuple[str, str]:
    """Refuse what can be refused from the request alone; ``(assistant_id, graph_id)`` otherwise.

    Reads and writes nothing, so a batch can check every payload before creating any run.
    """
    refused = body.unsupported_fields()
    if refused:
        raise Unprocessable(f"Not supported by runyard yet: {', '.join(refused)}")
    if body.context and body.config is not None and body.config.configurable:
        raise BadRequest("Cannot specify both configurable and context. Prefer setting context alone.")
    resolved = resolve_graph(services, body.assistant_id)
    if stateless and body.command is not None and body.command.resume is not None:
        raise BadRequest("You must provide a thread_id when resuming.")
    checkpoint_id = _checkpoint(body).get("checkpoint_id")
    if stateless and checkpoint_id:
        raise NotFound(f"Checkpoint {checkpoint_id} not found: a stateless run starts on a new thread")
    return resolved


async def create_run(
    services: Services,
    body: RunCreate,
    *,
    thread_id: str | None,
    force_values: bool = False,
    user_id: str | None = None,
) -> RunRecord:
    """Validate, admit and schedule a run; ``thread_id=None`` makes a stateless run."""
    temporary = thread_id is None
    assistant_id, graph_id = preflight(services, body, stateless=temporary)
    if temporary:
        thread_id = str(uuid.uuid4())
        await services.threads.create(
            thread_id, metadata={"graph_id": graph_id, "temporary": True}, user_id=user_id
        )
    else:
        assert thread_id is not None
        thread = await services.threads.get(thread_id, user_id=user_id)
        if thread is None:
            if body.if_not_exists != "create":
                raise NotFound(
                    f"Thread {thread_id} not found. Create it first, or pass if_not_exists='create'."
                )
            await services.threads.create(
                thread_id,
                metadata={"graph_id": graph_id},
                user_id=user_id,
                if_exists="do_nothing",
                ttl=services.thread_ttl.default_for_new_thread(),
            )
        else:
            resuming = body.command is not None and body.command.resume is not None
            if (
                resuming
                and thread["status"] != "interrupted"
                and not await services.manager.has_inflight(thread_id)
            ):
                raise Conflict(
                    f"Thread {thread_id} has no pending interrupt to resume (status {thread['status']})"
                )
            if (thread.get("metadata") or {}).get("graph_id") != graph_id:
                # State reads go through the thread's graph; remember which one it runs.
                await services.threads.update(
                    thread_id, metadata={"graph_id": graph_id, "assistant_id": assistant_id}
                )
    checkpoint = _checkpoint(body)
    if checkpoint.get("checkpoint_id"):
        found = await services.checkpointer.aget_tuple(
            {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint.get("checkpoint_ns") or "",
                }
                | {"checkpoint_id": checkpoint["checkpoint_id"]}
            }
        )
        if found is None:
            raise NotFound(f"Checkpoint {checkpoint['checkpoint_id']} not found on thread {thread_id}")
    modes = list(body.stream_mode or ["values"])
    if force_values and "values" not in modes:
        modes.append("values")
    config, context = _run_config(services.assistant_config(graph_id), body)
    config["configurable"]["graph_id"] = graph_id
    durability = body.durability
    if durability is None and body.checkpoint_during is not None:
        durability = "async" if body.checkpoint_during else "exit"
    kwargs: dict[str, Any] = {
        "input": body.input,
        "command": body.command.model_dump(exclude_none=True) if body.command else None,
        "config": config,
        "context": context,
        "stream_mode": modes,
        "interrupt_before": body.interrupt_before,
        "interrupt_after": body.interrupt_after,
        "subgraphs": body.stream_subgraphs,
        "resumable": body.stream_resumable,
        "temporary": temporary,
        "checkpoint": checkpoint or None,
        "durability": durability or "async",
    }
    if temporary:
        kwargs["on_completion"] = body.on_completion or "delete"
    on_disconnect = DisconnectMode(body.on_disconnect) if body.on_disconnect else DisconnectMode.continue_
    try:
        record = await services.manager.create_or_reject(
            thread_id,
            assistant_id,
            on_disconnect=on_disconnect,
            metadata=dict(body.metadata or {}) | {"assistant_id": assistant_id},
            kwargs=kwargs,
            multitask_strategy=body.multitask_strategy,
            user_id=user_id,
        )
    except BaseException:
        if temporary:
            await services.threads.delete(thread_id)
        raise
    await services.threads.set_status(thread_id, "busy")
    services.executor.submit(record, delay=body.after_seconds or 0.0)
    return record


def _run_config(assistant: dict[str, Any], body: RunCreate) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's config and context: the run's own over its assistant's, as langgraph-api merges.

    context and configurable mirror each other: either one the run gives reaches the graph both
    as ``config["configurable"]`` and as ``Runtime.context``. The assistant's config merges
    under the run's key by key, and its ``configurable`` under the run's ``configurable``; it
    reaches ``config["configurable"]`` only, not the context (langgraph-api's ``Runs.put``).
    """
    own = copy.deepcopy(body.config.as_dict()) if body.config is not None else {}
    configurable = own.pop("configurable", None) or {}
    context = copy.deepcopy(body.context) if body.context else dict(configurable)
    configurable.update(context)
    config = assistant | own
    config["configurable"] = (assistant.get("configurable") or {}) | configurable
    return config, context


def _checkpoint(body: RunCreate) -> dict[str, Any]:
    checkpoint: dict[str, Any] = {}
    if body.checkpoint is not None:
        checkpoint = body.checkpoint.model_dump(exclude_none=True)
        checkpoint.pop("thread_id", None)
    if body.checkpoint_id:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    return checkpoint
