"""The thread ttl sweeper: a task that, every ``sweep_interval_minutes``, applies each expired
thread's strategy: ``delete`` removes the thread with its runs and checkpoints, ``keep_latest``
prunes its checkpoints to the latest and re-arms its ttl.

A thread with a run in flight is left for a later sweep: deleting it would cancel a run
someone is waiting for. The expiry is checked again on the row just before acting, so a ttl
re-armed since the listing (a PATCH) wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from ..runs.clock import now, parse_iso
from .thread_ops import delete_thread, keep_latest
from .thread_ttl import ThreadTtlConfig

if TYPE_CHECKING:
    from .services import Services

logger = logging.getLogger(__name__)


class ThreadSweeper:
    """Applies thread ttls; ``start`` it with the services and ``stop`` it before they close."""

    def __init__(self, services: Services, config: ThreadTtlConfig) -> None:
        self.services = services
        self.config = config
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="runyard-thread-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        interval = self.config.sweep_interval_minutes * 60
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep_once()
            except Exception:
                logger.exception("Thread ttl sweep failed; retrying at the next interval")

    async def sweep_once(self) -> int:
        """Apply the strategy of every thread expired now; how many were swept."""
        threads = self.services.threads
        stamp = now()
        swept = 0
        for thread_id in await threads.list_expired(stamp.isoformat(), limit=self.config.sweep_limit):
            row = await threads.get(thread_id)
            if row is None or row["status"] == "busy" or await self.services.manager.has_inflight(thread_id):
                continue
            ttl = row["ttl"]
            if ttl is None or ttl["expires_at"] is None or parse_iso(ttl["expires_at"]) > stamp:
                continue
            if ttl["strategy"] == "keep_latest":
                await keep_latest(self.services, [thread_id])
                await threads.touch(thread_id)
            else:
                await delete_thread(self.services, thread_id)
            swept += 1
        if swept:
            logger.info("Thread ttl sweep: %d thread(s) swept", swept)
        return swept
