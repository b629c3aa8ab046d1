"""The server's collaborators, opened in order at start-up and closed in reverse.

Order is the durability guarantee (ARCHITECTURE.md, decision 4): on the way down, intake stops
(the executor starts nothing new), in-flight runs are drained with ``RunManager.shutdown`` while
the checkpointer is still open, and only then do the checkpointer, the stores and the bridge
close. An ``AsyncExitStack`` holds the closing steps, so the order is written once.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..graphs import GraphRegistry
from ..persistence.checkpointer import open_checkpointer
from ..runs import RunManager
from ..runs.clock import now_iso
from ..runs.executor import RunExecutor
from ..runs.store.sql import SqlRunStore
from ..streams.memory import MemoryStreamBridge
from ..threads.base import ThreadStore
from ..threads.sql import SqlThreadStore
from .thread_hooks import ThreadHooks
from .thread_sweeper import ThreadSweeper
from .thread_ttl import ThreadTtlConfig, thread_ttl_config

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler may need, built once per server."""

    settings: Settings
    graphs: GraphRegistry
    manager: RunManager
    executor: RunExecutor
    bridge: MemoryStreamBridge
    threads: ThreadStore
    checkpointer: Any
    store: Any = None
    thread_ttl: ThreadTtlConfig = field(default_factory=ThreadTtlConfig)

    def assistant_config(self, graph_id: str) -> dict[str, Any]:
        """A copy of the config of ``graph_id``'s system assistant (``LANGGRAPH_CONFIG``), or ``{}``."""
        return copy.deepcopy(self.settings.assistant_configs.get(graph_id) or {})


@asynccontextmanager
async def open_services(settings: Settings, graphs: GraphRegistry) -> AsyncIterator[Services]:
    """Open every collaborator; on exit drain runs before anything they write to closes."""
    async with AsyncExitStack() as stack:
        run_store = SqlRunStore.from_url(settings.run_store_url)
        await run_store.setup()
        stack.push_async_callback(run_store.close)
        # On the run store's runner: one SQLite loop connection for both, so their writes never
        # contend for the lock. Its setup is the run store's (one migration covers both tables),
        # and the run store closes the runner, after everything that writes to either store.
        threads = SqlThreadStore.from_runner(run_store.runner)
        thread_ttl = thread_ttl_config(graphs.config.checkpointer, os.environ)
        bridge = MemoryStreamBridge(thread_retention=settings.stream_retention)
        stack.push_async_callback(bridge.close)
        checkpointer = await stack.enter_async_context(
            open_checkpointer(database_url=settings.database_url, sqlite_path=settings.checkpoint_path)
        )
        started_at = now_iso()
        manager = RunManager(store=run_store)
        executor = RunExecutor(
            manager,
            bridge,
            graphs,
            checkpointer=checkpointer,
            hooks=None,
            max_concurrency=settings.max_concurrency,
            stream_retention=settings.stream_retention,
        )
        executor.hooks = ThreadHooks(threads, manager, executor)
        services = Services(settings, graphs, manager, executor, bridge, threads, checkpointer)
        services.thread_ttl = thread_ttl
        # Last in, first out: on exit the drain runs before the checkpointer closes.
        stack.push_async_callback(_drain, services)
        sweeper = ThreadSweeper(services, thread_ttl)
        await sweeper.start()
        stack.push_async_callback(sweeper.stop)  # stops before the drain
        await executor.start()
        adopted = await manager.adopt_orphaned_runs(before=started_at, max_attempts=settings.max_attempts)
        for record in adopted:
            executor.submit(record)
        if adopted:
            logger.warning("Resuming %d run(s) left unfinished by a previous process", len(adopted))
        yield services


async def _drain(services: Services) -> None:
    await services.executor.stop()
    await services.manager.shutdown(timeout=services.settings.drain_timeout, requeue=True)
