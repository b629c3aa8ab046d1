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
from ..runs.delay import due_at
from ..runs.schemas import DisconnectMode
from .assistant_service import for_run as assistant_for_run
from .errors import BadRequest, Conflict, NotFound, Unprocessable
from .models import RunCreate
from .services import Services
from .webhooks import WebhookRefused


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


async def preflight(services: Services, body: RunCreate, *, stateless: bool) -> dict[str, Any]:
    """Refuse what can be refused from the request alone; the run's assistant row otherwise.

    Writes nothing, so a batch can check every payload before creating any run.
    """
    refused = body.unsupported_fields()
    if refused:
        raise Unprocessable(f"Not supported by runyard yet: {', '.join(refused)}")
    if body.context and body.config is not None and body.config.configurable:
        raise BadRequest("Cannot specify both configurable and context. Prefer setting context alone.")
    assistant = await assistant_for_run(services, body.assistant_id)
    if stateless and body.command is not None and body.command.resume is not None:
        raise BadRequest("You must provide a thread_id when resuming.")
    checkpoint_id = _checkpoint(body).get("checkpoint_id")
    if stateless and checkpoint_id:
        raise NotFound(f"Checkpoint {checkpoint_id} not found: a stateless run starts on a new thread")
    return assistant


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
    assistant = await preflight(services, body, stateless=temporary)
    assistant_id, graph_id = assistant["assistant_id"], assistant["graph_id"]
    owner = {"graph_id": graph_id, "assistant_id": assistant_id}  # DELETE ?delete_threads finds these
    await check_webhook(services, body)
    if temporary:
        thread_id = str(uuid.uuid4())
        await services.threads.create(thread_id, metadata={**owner, "temporary": True}, user_id=user_id)
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
                metadata=owner,
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
            metadata = thread.get("metadata") or {}
            if any(metadata.get(key) != value for key, value in owner.items()):
                # State reads go through the thread's graph; remember which one it runs.
                await services.threads.update(thread_id, metadata=owner)
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
    config, context = _run_config(assistant["config"], body, assistant["context"])
    config["configurable"]["graph_id"] = graph_id
    # As langgraph-api stamps them: the delay (with ``created_at`` it makes the run's due time,
    # which a restart reads back; see ``runs.delay``) and the extra LangSmith project.
    config["configurable"]["__after_seconds__"] = body.after_seconds or 0
    if body.langsmith_tracer is not None:
        config["configurable"]["__langsmith_project__"] = body.langsmith_tracer.project_name
        config["configurable"]["__langsmith_example_id__"] = body.langsmith_tracer.example_id
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
        "webhook": body.webhook,
        "feedback_keys": body.feedback_keys,
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
            not_before=due_at(body.after_seconds),
        )
    except BaseException:
        if temporary:
            await services.threads.delete(thread_id)
        raise
    await services.threads.set_status(thread_id, "busy")
    services.executor.submit(record, delay=body.after_seconds or 0.0)
    return record


async def check_webhook(services: Services, body: RunCreate) -> None:
    """Refuse a webhook URL the project's policy does not allow (422 naming it and why)."""
    if body.webhook is None:
        return
    try:
        await services.webhook_policy.validate(body.webhook)
    except WebhookRefused as exc:
        raise Unprocessable(f"webhook {body.webhook!r} refused: {exc}") from exc


def _run_config(
    assistant: dict[str, Any], body: RunCreate, assistant_context: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run's config and context: the run's own over its assistant's, as langgraph-api merges.

    context and configurable mirror each other: either one the run gives reaches the graph both
    as ``config["configurable"]`` and as ``Runtime.context``. The assistant's config merges
    under the run's key by key, and its ``configurable`` under the run's ``configurable``; the
    assistant's context merges under the run's context (langgraph-api's ``Runs.put``). A system
    assistant's context is empty, so its ``LANGGRAPH_CONFIG`` reaches ``configurable`` only.
    """
    assistant = copy.deepcopy(assistant)
    own = copy.deepcopy(body.config.as_dict()) if body.config is not None else {}
    configurable = own.pop("configurable", None) or {}
    context = copy.deepcopy(body.context) if body.context else dict(configurable)
    context = copy.deepcopy(assistant_context or {}) | context
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
