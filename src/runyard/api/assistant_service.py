"""What the Assistants API and run creation share: lookup, and the config/context rules.

Assistants of graphs the project no longer has stay stored but are hidden (404, left out of
searches), as langgraph-api's graph scope hides them.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any
from uuid import UUID

from fastapi import Request

from .errors import BadRequest, NotFound, Unprocessable
from .services import Services
from .thread_ops import delete_thread

BOTH_CONFIGURABLE_AND_CONTEXT = (
    "Cannot specify both configurable and context. Prefer setting context alone. Context was "
    "introduced in LangGraph 0.6.0 and is the long term planned replacement for configurable."
)


def checked_uuid(assistant_id: str) -> str:
    """``assistant_id`` in canonical form; 422 when it is not a UUID (langgraph-api's answer)."""
    try:
        return str(UUID(assistant_id))
    except ValueError:
        raise Unprocessable(f"Invalid assistant ID: must be a UUID, got {assistant_id!r}") from None


async def visible(services: Services, assistant_id: str) -> dict[str, Any]:
    """The stored assistant whose graph this server serves; 404 otherwise."""
    row = await services.assistants.get(assistant_id)
    if row is None or row["graph_id"] not in services.graphs:
        raise NotFound(f"Assistant {assistant_id} not found")
    return row


async def for_run(services: Services, sent: str) -> dict[str, Any]:
    """The assistant a run names: a graph name (its system assistant) or an assistant id.

    Anything else is ``GraphNotFoundError`` (404 listing the graphs), a UUID nobody stored 404.
    """
    resolved = services.graphs.resolve_assistant(sent)
    row = await services.assistants.get(resolved)
    if row is None or row["graph_id"] not in services.graphs:
        raise NotFound(f"Assistant '{sent}' not found")
    return row


def synced(
    config: dict[str, Any], context: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """config's ``configurable`` and the context mirror each other, as langgraph-api keeps them.

    Both given is a 400; a configurable becomes the context, a context the configurable.
    """
    if config.get("configurable") and context:
        raise BadRequest(BOTH_CONFIGURABLE_AND_CONTEXT)
    if config.get("configurable"):
        context = copy.deepcopy(config["configurable"])
    elif context:
        config["configurable"] = copy.deepcopy(context)
    return config, context


async def delete_threads_of(request: Request, services: Services, assistant_id: str) -> int:
    """Delete every thread whose metadata names ``assistant_id``, runs and checkpoints included.

    Each goes through ``thread_ops.delete_thread``, as ``DELETE /threads/{id}`` does, so it is
    deleted exactly as a client deleting it would; one that vanished meanwhile is skipped.
    """
    del request  # kept for callers; the thread operations need only the services

    seen: set[str] = set()
    while True:
        page = await services.threads.search(metadata={"assistant_id": assistant_id}, limit=100)
        fresh = [row["thread_id"] for row in page if row["thread_id"] not in seen]
        if not fresh:  # none left, or only ones that would not go: never loop on them
            return len(seen)
        for thread_id in fresh:
            seen.add(thread_id)
            if not await delete_thread(services, thread_id):
                await services.threads.delete(thread_id)


async def cancel_runs_of(services: Services, assistant_id: str) -> None:
    """Cancel this process's active runs of ``assistant_id`` and wait for them to stop."""
    tasks = []
    for record in services.manager.unsettled():
        if record.assistant_id == assistant_id and record.status.is_active:
            await services.manager.cancel(record.run_id)
            if record.task is not None and not record.task.done():
                tasks.append(record.task)
    services.executor.wake()
    if tasks:
        await asyncio.wait(tasks, timeout=services.settings.drain_timeout)
