"""The truncation behind ``POST /internal/truncate``, in process: live runs are settled first, and a
run that will not stop makes it refuse (409) with nothing wiped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from runyard.api.errors import Conflict
from runyard.api.truncate import Truncation, truncate
from runyard.assistants import MemoryAssistantStore
from runyard.config import Settings
from runyard.runs import RunManager
from runyard.runs.store.memory import MemoryRunStore
from runyard.threads.memory import MemoryThreadStore


def _services(drain_timeout: float) -> Any:
    return SimpleNamespace(
        manager=RunManager(store=MemoryRunStore()),
        executor=SimpleNamespace(wake=lambda: None),
        threads=MemoryThreadStore(),
        assistants=MemoryAssistantStore(),
        checkpointer=InMemorySaver(),
        store=InMemoryStore(),
        settings=Settings(drain_timeout=drain_timeout),
    )


async def _obedient(record: Any) -> None:
    """A run task that stops as soon as its run is cancelled, as the executor's does."""
    await record.abort_event.wait()


async def _stubborn(release: asyncio.Event, started: asyncio.Event) -> None:
    """A run task that swallows its cancellation (a node stuck in a thread) until released."""
    started.set()
    while not release.is_set():
        try:
            await release.wait()
        except asyncio.CancelledError:
            continue


@pytest.fixture
async def release() -> AsyncIterator[asyncio.Event]:
    event = asyncio.Event()
    yield event
    event.set()


async def test_a_live_run_is_cancelled_then_everything_is_wiped() -> None:
    """An active run is cancelled and awaited; then runs, threads, checkpoints and store items go."""
    services = _services(drain_timeout=5)
    await services.threads.create("t1")
    await services.store.aput(("users", "u1"), "k", {"v": 1})
    record = await services.manager.create("t1", "a1")
    record.task = asyncio.create_task(_obedient(record))
    deleted = await truncate(services, Truncation())
    assert record.task.done()
    assert deleted == {"runs": 1, "threads": 1, "checkpointed_threads": 0, "store_items": 1, "assistants": 0}
    assert await services.store.asearch(()) == []
    assert await services.manager.get(record.run_id) is None
    assert await services.threads.get("t1") is None


async def test_a_run_that_will_not_stop_refuses_the_truncation(release: asyncio.Event) -> None:
    """A run still going after the drain timeout makes truncate raise Conflict and wipe nothing."""
    services = _services(drain_timeout=0.2)
    await services.threads.create("t1")
    record = await services.manager.create("t1", "a1")
    started = asyncio.Event()
    record.task = asyncio.create_task(_stubborn(release, started))
    await started.wait()
    with pytest.raises(Conflict, match="did not stop"):
        await truncate(services, Truncation())
    assert await services.threads.get("t1") is not None
    assert await services.manager.get(record.run_id) is not None


async def test_a_store_only_truncation_leaves_live_runs_alone(release: asyncio.Event) -> None:
    """Wiping only the store touches no run: an active one keeps going."""
    services = _services(drain_timeout=0.2)
    record = await services.manager.create("t1", "a1")
    started = asyncio.Event()
    record.task = asyncio.create_task(_stubborn(release, started))
    await started.wait()
    wiped = await truncate(
        services, Truncation(runs=False, threads=False, checkpointer=False, assistants=False)
    )
    assert wiped == {"store_items": 0}
    assert record.status.is_active and not record.task.done()
