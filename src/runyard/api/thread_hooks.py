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


def interrupts_by_id(interrupts: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """The thread body's ``interrupts``: each pending interrupt keyed by its id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in interrupts:
        data = to_jsonable(item)
        key = str(data.get("id") if isinstance(data, dict) else len(out))
        out.setdefault(key, []).append(data)
    return out


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
            await self.threads.set_status(
                thread_id, status, values=to_jsonable(values), interrupts=interrupts_by_id(outcome.interrupts)
            )
        finally:
            self.executor.wake()
