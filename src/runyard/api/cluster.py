"""Cluster mode's Redis side: one client for the stream bridge and the signals, checked at start.

Redis that cannot be reached at start is an error naming it (never a silent single-process
fallback): the process would otherwise accept runs that no other process could see or cancel.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..streams.base import StreamBridge
from ..streams.redis import RedisStreamBridge
from ..streams.redis_signals import RedisSignalBus
from ..streams.signals import SignalBus

CONNECT_TIMEOUT = 5.0


class ClusterUnavailableError(RuntimeError):
    """A service cluster mode needs could not be reached at start; the message names it."""


async def open_cluster_transport(
    stack: AsyncExitStack, redis_url: str, *, thread_retention: float
) -> tuple[StreamBridge, SignalBus]:
    """The stream bridge and signal bus on ``redis_url``; closed by ``stack``."""
    # socket_timeout=None: with one, redis-py wraps each command in wait_for, which on Python 3.11
    # can swallow a cancellation (a listener that never stops); each call here has its own deadline.
    client = Redis.from_url(
        redis_url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=None, health_check_interval=10
    )
    stack.push_async_callback(client.aclose)
    try:
        await asyncio.wait_for(client.ping(), CONNECT_TIMEOUT)
    except (RedisError, OSError, TimeoutError) as exc:
        raise ClusterUnavailableError(f"Cannot reach Redis at {redis_url}: {exc}") from exc
    signals = RedisSignalBus(client)
    stack.push_async_callback(signals.close)
    bridge = RedisStreamBridge(redis_url, thread_retention=thread_retention)
    stack.push_async_callback(bridge.close)
    return bridge, signals
