"""Keeps a thread's status, values and interrupts in step with its runs.

A thread is ``busy`` from the moment a run is admitted on it until its last active run ends;
then ``interrupted`` when the run stopped at ``interrupt()`` or a static breakpoint or was
cancelled, ``error`` when it failed, ``idle`` otherwise (langgraph-api's joint status).
"""

from __future__ import annotations

import logging
from typing import Any

from ..runs import RunManager
from ..runs.executor import RunExecutor, RunOutcome
from ..runs.record import RunRecord
from ..runs.schemas import RunStatus
from ..runs.serde import to_jsonable
from ..threads.base import ThreadStore

logger = logging.getLogger(__name__)


INTERRUPT_CHANNEL = "__interrupt__"


def interrupts_by_id(interrupts: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Pending interrupts keyed by their own id: the fallback when their tasks are unknown."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in interrupts:
        data = to_jsonable(item)
        key = str(data.get("id") if isinstance(data, dict) else len(out))
        out.setdefault(key, []).append(data)
    return out


def interrupts_by_task(tasks: Any) -> dict[str, list[Any]]:
    """The thread body's ``interrupts`` from a snapshot's tasks: task id -> its interrupts
    (langgraph-api's keys)."""
    return {task.id: to_jsonable(list(task.interrupts)) for task in tasks if task.interrupts}


async def saved_interrupts(checkpointer: Any, thread_id: str, interrupts: list[Any]) -> dict[str, list[Any]]:
    """The thread body's ``interrupts`` after a run: read from the head checkpoint's pending
    writes (one read, only when the run stopped at interrupts), keyed by task id."""
    if not interrupts:
        return {}
    try:
        saved = await checkpointer.aget_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    except Exception:
        logger.warning("Could not read the interrupts of thread %s", thread_id, exc_info=True)
        saved = None
    out: dict[str, list[Any]] = {}
    for task_id, channel, value in (saved.pending_writes if saved is not None else None) or ():
        if channel == INTERRUPT_CHANNEL:
            items = value if isinstance(value, list | tuple) else [value]
            out.setdefault(task_id, []).extend(to_jsonable(list(items)))
    return out or interrupts_by_id(interrupts)


class ThreadHooks:
    """The executor's ``RunHooks`` for the thread resource."""

    def __init__(self, threads: ThreadStore, manager: RunManager, executor: RunExecutor) -> None:
        self.threads = threads
        self.manager = manager
        self.executor = executor

    async def run_started(self, record: RunRecord) -> None:
        await self.threads.set_status(record.thread_id, "busy")

    async def run_finished(self, outcome: RunOutcome) -> None:
        record = outcome.record
        thread_id = record.thread_id
        try:
            if record.kwargs.get("temporary") and record.kwargs.get("on_completion", "delete") == "delete":
                await self.executor.checkpointer.adelete_thread(thread_id)
                await self.threads.delete(thread_id)
                return
            if await self.manager.has_inflight(thread_id):
                return
            if outcome.status in (RunStatus.error, RunStatus.timeout):
                status = "error"
            elif outcome.status is RunStatus.interrupted or outcome.interrupts or outcome.paused:
                status = "interrupted"
            else:
                status = "idle"
            if outcome.rolled_back or not isinstance(outcome.values, dict):
                await self.threads.set_status(thread_id, status)
                return
            values = {k: v for k, v in outcome.values.items() if k != "__interrupt__"}
            interrupts = await saved_interrupts(self.executor.checkpointer, thread_id, outcome.interrupts)
            await self.threads.set_status(
                thread_id, status, values=to_jsonable(values), interrupts=interrupts
            )
        finally:
            self.executor.wake()
