"""``RedisSignalBus``: signals over Redis pub/sub, one channel for every process of a cluster.

Pub/sub keeps nothing: a process that is not subscribed when a signal goes out misses it, and
that is acceptable by design (``streams.signals``: signals are hints; the store is the truth).
A listener whose connection drops resubscribes with a capped backoff, so a Redis restart
delays signals and never ends a process's listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .signals import Signal, SignalBus

logger = logging.getLogger(__name__)

_BACKOFF_START = 0.05
_BACKOFF_MAX = 2.0
PUBLISH_TIMEOUT = 1.0  # a hung Redis must not hold up the run that signals (it is only a hint)


class RedisSignalBus(SignalBus):
    def __init__(self, client: Redis, *, channel: str = "runyard:signals") -> None:
        self._client = client
        self._channel = channel
        self._closed = asyncio.Event()
        self.publish_failures = 0

    async def publish(self, signal: Signal) -> None:
        try:
            await asyncio.wait_for(self._client.publish(self._channel, signal.encode()), PUBLISH_TIMEOUT)
        except (RedisError, OSError, TimeoutError) as exc:
            self.publish_failures += 1
            logger.warning("Could not publish a %s signal to Redis: %s", signal.kind, exc)

    async def listen(self) -> AsyncIterator[Signal]:
        backoff = _BACKOFF_START
        while not self._closed.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                backoff = _BACKOFF_START
                while not self._closed.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    signal = Signal.decode(message["data"])
                    if signal is not None:
                        yield signal
            except (RedisError, OSError) as exc:
                logger.warning("Redis signal subscription lost (%s); resubscribing in %.2fs", exc, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), timeout=backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        self._closed.set()
