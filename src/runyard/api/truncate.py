"""Dev mode's ``POST /internal/truncate``: wipe runs, threads, checkpoints, as the SDK test suites ask.

What each flag wipes (langgraph-api's flags; without a body, or with no flag set, everything):

- ``runs``: every run, in this process's registry and in the run store;
- ``threads``: every thread row;
- ``checkpointer``: every checkpoint of every thread;
- ``store``: every item of the long-term store;
- ``assistants``: every assistant but the system ones (with their versions), as langgraph-api.
  System assistants are always kept.

A live run would write into what is being wiped, so before runs, threads or checkpoints go, the
active runs of this process are cancelled and awaited (langgraph-api's in-memory runtime wipes
under them, which leaves workers writing into nothing). A run that does not stop within the drain
timeout makes the call fail with 409 and nothing wiped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..persistence.checkpointer import delete_all_checkpoints
from ..persistence.store import delete_all_items
from .errors import Conflict
from .services import Services


@dataclass(frozen=True)
class Truncation:
    """What to wipe."""

    runs: bool = True
    threads: bool = True
    checkpointer: bool = True
    store: bool = True
    assistants: bool = True

    @property
    def touches_runs(self) -> bool:
        """Whether a live run would write into something this wipes."""
        return self.runs or self.threads or self.checkpointer


async def _settle_runs(services: Services, timeout: float) -> None:
    """Cancel this process's active runs and wait, at most ``timeout`` seconds, for them to end."""
    for record in services.manager.unsettled():
        if record.status.is_active:
            await services.manager.cancel(record.run_id)
    services.executor.wake()  # runs cancelled before they started leave the queue now
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while unsettled := services.manager.unsettled():
        tasks = [r.task for r in unsettled if r.task is not None and not r.task.done()]
        remaining = deadline - loop.time()
        if remaining <= 0 or not tasks:
            raise Conflict(
                f"{len(unsettled)} run(s) did not stop within {timeout:.0f}s of being cancelled "
                f"({unsettled[0].run_id}, ...); nothing was truncated, try again"
            )
        await asyncio.wait(tasks, timeout=remaining)


async def truncate(services: Services, what: Truncation) -> dict[str, int]:
    """Wipe what ``what`` names; return how many runs, threads, checkpointed threads and store
    items went."""
    if what.touches_runs:
        await _settle_runs(services, services.settings.drain_timeout)
    deleted: dict[str, int] = {}
    if what.runs:
        deleted["runs"] = await services.manager.delete_all()
    if what.threads:
        deleted["threads"] = await services.threads.delete_all()
    if what.checkpointer:
        deleted["checkpointed_threads"] = await delete_all_checkpoints(services.checkpointer)
    if what.store and services.store is not None:
        deleted["store_items"] = await delete_all_items(services.store)
    if what.assistants:
        deleted["assistants"] = await services.assistants.delete_all(keep_system=True)
    return deleted
