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

from ..assistants.base import AssistantStore
from ..assistants.memory import MemoryAssistantStore
from ..assistants.sql import SqlAssistantStore
from ..config import Settings
from ..graphs import GraphRegistry
from ..persistence.checkpointer import open_checkpointer
from ..persistence.store import open_store, plan_store
from ..runs import RunManager
from ..runs.clock import now_iso
from ..runs.delay import remaining_delay
from ..runs.executor import RunExecutor
from ..runs.queue import ClusterQueue, LeaseSettings
from ..runs.store.sql import SqlRunStore
from ..streams.base import StreamBridge
from ..streams.memory import MemoryStreamBridge
from ..streams.signals import SignalBus
from ..threads.base import ThreadStore
from ..threads.sql import SqlThreadStore
from .cluster import open_cluster_transport
from .system_assistants import register_system_assistants
from .thread_hooks import ThreadHooks
from .thread_sweeper import ThreadSweeper
from .thread_ttl import ThreadTtlConfig, thread_ttl_config
from .webhooks import WebhookHooks, WebhookPolicy, WebhookSender, webhook_policy

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler may need, built once per server."""

    settings: Settings
    graphs: GraphRegistry
    manager: RunManager
    executor: RunExecutor
    bridge: StreamBridge
    threads: ThreadStore
    checkpointer: Any
    store: Any = None
    assistants: AssistantStore = field(default_factory=MemoryAssistantStore)
    queue: ClusterQueue | None = None
    webhook_policy: WebhookPolicy = field(default_factory=WebhookPolicy)
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
        assistants = SqlAssistantStore.from_runner(run_store.runner)
        await register_system_assistants(assistants, graphs, settings)
        thread_ttl = thread_ttl_config(graphs.config.checkpointer, os.environ)
        signals: SignalBus | None = None
        if settings.cluster:
            bridge, signals = await open_cluster_transport(
                stack, str(settings.redis_url), thread_retention=settings.stream_retention
            )
        else:
            bridge = MemoryStreamBridge(thread_retention=settings.stream_retention)
            stack.push_async_callback(bridge.close)
        checkpointer = await stack.enter_async_context(
            open_checkpointer(database_url=settings.database_url, sqlite_path=settings.checkpoint_path)
        )
        # After the checkpointer, before the drain: on exit the drain runs first, then the store
        # closes (stopping its sweeper), then the checkpointer.
        store = await stack.enter_async_context(
            open_store(
                plan_store(graphs.config), database_url=settings.database_url, sqlite_path=settings.store_path
            )
        )
        started_at = now_iso()
        manager = RunManager(store=run_store)
        queue = None
        if signals is not None:
            lease = LeaseSettings(
                lease_seconds=settings.lease_seconds,
                heartbeat_interval=settings.lease_heartbeat,
                poll_interval=settings.claim_poll_interval,
                fence_margin=min(1.0, (settings.lease_seconds - settings.lease_heartbeat) / 2),
                max_attempts=settings.max_attempts,
            )
            queue = ClusterQueue(manager, run_store, signals, settings=lease, executes=settings.execute_runs)
        executor = RunExecutor(
            manager,
            bridge,
            graphs,
            checkpointer=checkpointer,
            store=store,
            hooks=None,
            max_concurrency=settings.max_concurrency,
            stream_retention=settings.stream_retention,
            queue=queue,
        )
        executor.hooks = ThreadHooks(threads, manager, executor)
        services = Services(
            settings,
            graphs,
            manager,
            executor,
            bridge,
            threads,
            checkpointer,
            store,
            assistants=assistants,
            queue=queue,
        )
        services.webhook_policy = webhook_policy(graphs)
        webhooks = WebhookSender(services.webhook_policy)
        stack.push_async_callback(webhooks.close)  # after the drain: drained runs call theirs
        from .run_service import run_json  # run_service imports this module

        executor.hooks = WebhookHooks(executor.hooks, webhooks, run_json)
        services.thread_ttl = thread_ttl
        # Last in, first out: on exit the drain runs before the checkpointer closes.
        stack.push_async_callback(_drain, services)
        sweeper = ThreadSweeper(services, thread_ttl)
        await sweeper.start()
        stack.push_async_callback(sweeper.stop)  # stops before the drain
        await executor.start()
        if queue is not None:
            # Cluster mode: a dead process's runs come back through lapsed leases, claimed by
            # whichever process is free; adopting by age here would steal live processes' runs.
            yield services
            return
        adopted = await manager.adopt_orphaned_runs(before=started_at, max_attempts=settings.max_attempts)
        for record in adopted:
            executor.submit(record, delay=remaining_delay(record))
        if adopted:
            logger.warning("Resuming %d run(s) left unfinished by a previous process", len(adopted))
        yield services


async def _drain(services: Services) -> None:
    await services.executor.stop()
    await services.manager.shutdown(timeout=services.settings.drain_timeout, requeue=True)
    if services.queue is not None:
        # What did not finish goes back to pending at once, so another process resumes it now
        # rather than after its lease lapses; heartbeats stop only after that.
        await services.queue.release_all()
        await services.queue.stop()
