"""``ClusterQueue``: how one process takes its share of runs from a database shared by many.

Every process runs one (ARCHITECTURE.md, decision 3). It claims runs for its executor (pending
ones, and running ones whose lease lapsed because their owner died), renews the leases of what
it holds on a heartbeat, and fences itself: when it cannot confirm a renewal, it stops its runs
before the last lease it did confirm runs out, so another process that takes a run over never
overlaps with it. Signals (``streams.signals``) make this prompt: a new run or a freed thread
wakes idle processes, a cancel reaches the owner at once; polling is only the fallback.

Time on the owner's side is the event loop's monotonic clock, measured from the moment a
renewal was *sent*: the database stamped the lease at or after that moment, so the owner's
idea of its deadline is never later than the database's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..streams.signals import Signal, SignalBus
from .manager import RunManager
from .record import RunRecord
from .schemas import RunStatus
from .store.base import RunStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseSettings:
    """Timings of cluster mode. Takeover after a crash takes at most about
    ``lease_seconds + poll_interval``; a fenced owner stops ``fence_margin`` before its lease ends."""

    lease_seconds: float = 3.0
    heartbeat_interval: float = 1.0
    poll_interval: float = 1.0
    fence_margin: float = 1.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.heartbeat_interval + self.fence_margin >= self.lease_seconds:
            raise ValueError(
                "lease_seconds must exceed heartbeat_interval + fence_margin, or a healthy owner "
                "would fence itself between two heartbeats"
            )


Settle = Callable[[RunRecord], Awaitable[None]]


class ClusterQueue:
    """Claims, leases and cross-process cancels for one process; see the module docstring."""

    def __init__(
        self,
        manager: RunManager,
        store: RunStore,
        signals: SignalBus,
        *,
        settings: LeaseSettings | None = None,
        executes: bool = True,
    ) -> None:
        self.manager = manager
        self.store = store
        self.signals = signals
        self.settings = settings or LeaseSettings()
        self.executes = executes
        self.owner = manager.owner
        self._held: dict[str, RunRecord] = {}
        self._confirmed_until = 0.0  # loop time the last confirmed lease runs out
        self._tasks: list[asyncio.Task[None]] = []
        self._watchdog: asyncio.TimerHandle | None = None
        self._wake: Callable[[], None] = lambda: None
        self._settle: Settle | None = None
        self._claiming = True
        self.fenced_runs = 0
        manager.remote = self

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, *, wake: Callable[[], None], settle: Settle) -> None:
        """Begin heartbeats, listening and polling. ``wake`` asks the executor to claim;
        ``settle`` ends what a run left behind when it ended without an owner to say so (its
        stream, its thread's status): a run abandoned after its last attempt, a run cancelled
        before anyone claimed it."""
        self._wake = wake
        self._settle = settle
        self._confirmed_until = asyncio.get_running_loop().time() + self.settings.lease_seconds
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="runyard-heartbeat"),
            asyncio.create_task(self._listen_loop(), name="runyard-signals"),
            asyncio.create_task(self._poll_loop(), name="runyard-poll"),
        ]

    def stop_claiming(self) -> None:
        self._claiming = False

    async def release_all(self) -> None:
        """After the drain: hand back whatever did not finish, and tell the others at once."""
        self._claiming = False
        try:
            requeued = await self.store.requeue_owned(self.owner)
        except Exception:
            logger.warning("Could not release this process's runs; their leases will lapse", exc_info=True)
            return
        self._held.clear()
        if requeued:
            logger.warning("Released %d unfinished run(s) for another process to resume", len(requeued))
            await self.signals.publish(Signal("wake"))

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- claims ----------------------------------------------------------------------------

    def _lease_ok(self) -> bool:
        loop_now = asyncio.get_running_loop().time()
        return loop_now < self._confirmed_until - self.settings.fence_margin

    async def claim(self) -> RunRecord | None:
        """One run for the executor to start now, or None (nothing claimable, or not allowed)."""
        if not (self.executes and self._claiming and self._lease_ok()):
            return None
        try:
            row = await self.store.claim(
                self.owner, lease_seconds=self.settings.lease_seconds, max_attempts=self.settings.max_attempts
            )
        except Exception:
            logger.warning("Claiming a run failed; will retry", exc_info=True)
            return None
        if row is None:
            return None
        record = self.manager.adopt_claimed(row)
        self._held[record.run_id] = record
        if record.attempt > 1:
            logger.warning(
                "Resuming run %s from its last checkpoint (attempt %d)", record.run_id, record.attempt
            )
        return record

    async def announce(self) -> None:
        """A run was admitted here: wake every process (this one included) to claim it."""
        self._wake()
        await self.signals.publish(Signal("wake"))

    async def finish(self, record: RunRecord, status: RunStatus, error: str | None) -> bool:
        """The owner's final status, fenced. False when the run is no longer this process's
        (taken over after a lapse): then its outcome is the new owner's to write."""
        try:
            if await self.store.finish_owned(record.run_id, self.owner, status.value, error=error):
                self.manager.note_status(record, status, error=error)
                return True
            row = await self.store.get(record.run_id)
        except Exception:
            logger.warning("Could not write the outcome of run %s", record.run_id, exc_info=True)
            return False
        if row is None or row.get("owner") != self.owner:
            logger.warning(
                "Run %s was taken over by %s; dropping this attempt's outcome",
                record.run_id,
                None if row is None else row.get("owner"),
            )
            return False
        # Still ours, but a cancel or another terminal write got there first: that status stands.
        self.manager.note_status(record, RunStatus(row["status"]), error=row.get("error"))
        return True

    async def release(self, record: RunRecord) -> None:
        """The run's task has stopped: free its thread for the next run, here or elsewhere."""
        self._held.pop(record.run_id, None)
        try:
            await self.store.release(record.run_id, self.owner)
        except Exception:
            logger.warning("Could not release run %s; its lease will lapse", record.run_id, exc_info=True)
        await self.signals.publish(Signal("wake"))

    # -- cancels ---------------------------------------------------------------------------

    async def cancel(self, run_id: str, action: str) -> bool:
        """Cancel from any process: durable first (the first cancel's action wins), then the
        owner is told at once; a run nobody claimed yet is settled here."""
        row = await self.store.request_cancel(run_id, action)
        if row is None or row.get("status") != RunStatus.interrupted.value:
            return False
        winning = row.get("cancel_action") or action
        if self.manager.cancel_local(run_id, winning) is not None:
            return True
        if row.get("lease_expires_at") is None and row.get("owner") is None:
            await self._settle_unclaimed(row, winning)
        else:
            await self.signals.publish(Signal("cancel", run_id, winning))
        return True

    async def wait_released(self, run_id: str, *, timeout: float) -> bool:
        """Wait until no process holds the run any more (its owner has stopped it); False on
        timeout. Polls the store: this is a client's ``cancel?wait=true``, not a hot path."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            row = await self.store.get(run_id)
            if row is None or (
                row.get("lease_expires_at") is None and row.get("status") != RunStatus.running.value
            ):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    async def cancelled_elsewhere(self, run_ids: list[str], action: str) -> None:
        for run_id in run_ids:
            row = await self.store.get(run_id)
            if row is not None and row.get("lease_expires_at") is None and row.get("owner") is None:
                await self._settle_unclaimed(row, action)
            else:
                await self.signals.publish(Signal("cancel", run_id, action))

    async def _settle_unclaimed(self, row: dict[str, Any], action: str) -> None:
        record = RunRecord.from_row(row)
        record.abort_action = action
        if self._settle is not None:
            await self._settle(record)

    # -- background loops ------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.heartbeat_interval
        while True:
            sent = loop.time()
            try:
                held = await asyncio.wait_for(
                    self.store.renew(self.owner, lease_seconds=self.settings.lease_seconds), timeout=interval
                )
            except Exception as exc:  # includes the timeout: a renewal we cannot confirm
                logger.warning("Lease renewal failed: %s", exc or type(exc).__name__)
                self._fence_if_due()
            else:
                self._confirmed_until = sent + self.settings.lease_seconds
                self._arm_watchdog()
                await self._reconcile(held)
            await asyncio.sleep(max(0.0, sent + interval - loop.time()))

    def _arm_watchdog(self) -> None:
        """Fence at the deadline itself, not at the next heartbeat: a renewal may hang."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_at(self._confirmed_until - self.settings.fence_margin, self._fence_if_due)

    def _fence_if_due(self) -> None:
        if self._lease_ok():
            return
        for record in list(self._held.values()):
            self._fence(record, "its lease could not be renewed")

    def _fence(self, record: RunRecord, why: str) -> None:
        """Stop an attempt without a word to the store: another process owns the run's future."""
        self._held.pop(record.run_id, None)
        if record.task is None or record.task.done():
            return
        self.fenced_runs += 1
        logger.error("Fencing run %s: %s", record.run_id, why)
        record.fenced = True
        record.abort_event.set()
        record.task.cancel()

    async def _reconcile(self, held: list[dict[str, Any]]) -> None:
        answered = {row["run_id"]: row for row in held}
        for run_id, record in list(self._held.items()):
            row = answered.get(run_id)
            if row is None:
                self._fence(record, "another process took it over")
            elif row["status"] == RunStatus.interrupted.value and not record.abort_event.is_set():
                self.manager.cancel_local(run_id, row.get("cancel_action") or "interrupt")
        for run_id in answered.keys() - self._held.keys():
            # A hold with no attempt behind it here (fenced earlier, now reachable again).
            with contextlib.suppress(Exception):
                await self.store.release(run_id, self.owner)

    async def _listen_loop(self) -> None:
        async for signal in self.signals.listen():
            if signal.kind == "wake":
                self._wake()
            elif signal.kind == "cancel" and signal.run_id is not None:
                self.manager.cancel_local(signal.run_id, signal.action or "interrupt")

    async def _poll_loop(self) -> None:
        """The fallback for lost signals, and the sweep of runs out of attempts."""
        message = (
            f"Run abandoned after {self.settings.max_attempts} attempt(s): the processes executing it "
            f"stopped before it finished (max_attempts={self.settings.max_attempts})"
        )
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            self._wake()
            try:
                abandoned = await self.store.abandon_lapsed(
                    max_attempts=self.settings.max_attempts, error=message
                )
            except Exception:
                logger.warning("Sweeping abandoned runs failed", exc_info=True)
                continue
            for row in abandoned:
                logger.error("Run %s: %s", row["run_id"], message)
                if self._settle is not None:
                    await self._settle(RunRecord.from_row(row))
