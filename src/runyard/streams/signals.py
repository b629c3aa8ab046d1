"""Signals between processes: "a run may be claimable" (wake) and "cancel this run" (cancel).

They make cluster mode react at once instead of on the next poll: a new run, or a thread freed
for its next enqueued run, wakes idle processes; a cancel reaches the run's owner in
milliseconds. They are hints, never the truth: a lost signal costs latency, not correctness,
because every process also polls the run store and the owner's heartbeat reads durable cancel
requests. So publishing never raises, and a listener survives its transport going away.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import orjson

SignalKind = Literal["wake", "cancel"]


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    run_id: str | None = None
    action: str | None = None

    def encode(self) -> bytes:
        return orjson.dumps({"kind": self.kind, "run_id": self.run_id, "action": self.action})

    @classmethod
    def decode(cls, raw: bytes | str) -> Signal | None:
        """The signal in ``raw``, or None for anything that is not one (another publisher)."""
        try:
            data = orjson.loads(raw)
            kind = data["kind"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if kind not in ("wake", "cancel"):
            return None
        return cls(kind, data.get("run_id"), data.get("action"))


class SignalBus(ABC):
    """Fan-out of signals to every listening process (including the publisher's own)."""

    @abstractmethod
    async def publish(self, signal: Signal) -> None:
        """Send ``signal`` to every listener; never raises (a lost signal only costs latency)."""

    @abstractmethod
    def listen(self) -> AsyncIterator[Signal]:
        """Signals published from now on, until the bus closes or the iterator is closed."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop every listener and release connections."""


class MemorySignalBus(SignalBus):
    """In one process: each listener gets its own queue."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Signal | None]] = set()

    async def publish(self, signal: Signal) -> None:
        for queue in self._queues:
            queue.put_nowait(signal)

    async def listen(self) -> AsyncIterator[Signal]:
        queue: asyncio.Queue[Signal | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            while (signal := await queue.get()) is not None:
                yield signal
        finally:
            self._queues.discard(queue)

    async def close(self) -> None:
        for queue in self._queues:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
