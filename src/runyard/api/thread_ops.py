"""Whole-thread operations that span the thread row, its runs and its checkpoints.

Deleting, copying and pruning each touch three stores (threads, runs, the checkpointer); the
routes, ``POST /threads/prune`` and the ttl sweeper share these so the order is written once:
runs are stopped before their checkpoints go, and the row goes last, so a crash midway leaves
a thread that can be deleted again rather than orphaned checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from ..persistence.checkpoint_ops import (
    PruneNotSupportedError,
    copy_thread_checkpoints,
    keep_latest_checkpoints,
)
from .errors import Unprocessable

if TYPE_CHECKING:
    from .services import Services

logger = logging.getLogger(__name__)

MAX_RUNS_PER_THREAD = 100_000


async def delete_thread(services: Services, thread_id: str, *, user_id: str | None = None) -> bool:
    """Cancel and delete the thread's runs, then its checkpoints, then its row.

    False when the thread is missing (or hidden from ``user_id``).
    """
    if await services.threads.get(thread_id, user_id=user_id) is None:
        return False
    records = await services.manager.list_by_thread(thread_id, limit=MAX_RUNS_PER_THREAD)
    for record in records:
        if record.status.is_active:
            await services.manager.cancel(record.run_id)
    services.executor.wake()  # runs cancelled before they started leave the queue now
    for record in records:
        if record.task is not None and not record.task.done():
            await asyncio.wait([record.task])
        elif services.queue is not None and record.status.is_active:
            # Cluster mode: another process may still be stopping it; its checkpoint writes
            # must be over before the thread's checkpoints go.
            await services.queue.wait_released(record.run_id, timeout=services.settings.drain_timeout * 3)
        await services.manager.delete(record.run_id)
    await services.checkpointer.adelete_thread(thread_id)
    return await services.threads.delete(thread_id, user_id=user_id)


async def copy_thread(
    services: Services, thread_id: str, *, user_id: str | None = None
) -> dict[str, Any] | None:
    """A new thread with the row (metadata, values, status) and every checkpoint of ``thread_id``.

    None when the source is missing. If copying the checkpoints fails, the half copy is removed.
    """
    row = await services.threads.copy(thread_id, user_id=user_id)
    if row is None:
        return None
    new_id = row["thread_id"]
    try:
        await copy_thread_checkpoints(services.checkpointer, thread_id, new_id)
    except BaseException:
        await services.checkpointer.adelete_thread(new_id)
        await services.threads.delete(new_id)
        raise
    return row


async def keep_latest(services: Services, thread_ids: list[str]) -> None:
    """Keep only the latest checkpoint of each thread (422 when the checkpointer cannot)."""
    try:
        await keep_latest_checkpoints(services.checkpointer, thread_ids)
    except PruneNotSupportedError as exc:
        raise Unprocessable(f"keep_latest is not supported: {exc}") from exc


async def prune_threads(services: Services, thread_ids: list[str], strategy: str) -> int:
    """``POST /threads/prune``: how many of the given threads existed and were pruned.

    ``delete`` removes each thread as ``DELETE /threads/{id}`` does; ``keep_latest`` keeps the
    thread and its latest checkpoint. Unknown ids are skipped, as langgraph-api does.
    """
    existing = [tid for tid in dict.fromkeys(thread_ids) if await services.threads.get(tid) is not None]
    if strategy == "keep_latest":
        await keep_latest(services, existing)
        return len(existing)
    pruned = 0
    for thread_id in existing:
        pruned += await delete_thread(services, thread_id)
    return pruned
