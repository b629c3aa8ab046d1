"""The server's shutdown order: drain the runs, then close the checkpointer, then the stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from runyard.api import services as services_module
from runyard.config import Settings
from runyard.graphs import GraphRegistry
from runyard.runs import RunManager

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "langgraph.json"


class _ClosingSaver(InMemorySaver):
    """A checkpointer that refuses writes once closed, like a closed connection pool."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.writes_after_close = 0

    async def aput(self, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            self.writes_after_close += 1
            raise RuntimeError("checkpointer is closed")
        return await super().aput(*args, **kwargs)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            self.writes_after_close += 1
            raise RuntimeError("checkpointer is closed")
        return await super().aput_writes(*args, **kwargs)


async def test_services_drain_runs_before_closing_the_checkpointer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving open_services drains in-flight runs first, and no write reaches the closed saver."""
    events: list[str] = []
    saver = _ClosingSaver()

    @asynccontextmanager
    async def probe_checkpointer(**_: Any) -> AsyncIterator[Any]:
        try:
            yield saver
        finally:
            saver.closed = True
            events.append("checkpointer_closed")

    real_shutdown = RunManager.shutdown

    async def spy_shutdown(self: RunManager, **kwargs: Any) -> None:
        await real_shutdown(self, **kwargs)
        events.append("runs_drained")

    monkeypatch.setattr(services_module, "open_checkpointer", probe_checkpointer)
    monkeypatch.setattr(RunManager, "shutdown", spy_shutdown)
    settings = Settings(config_path=EXAMPLES, data_dir=tmp_path, drain_timeout=5.0)
    registry = GraphRegistry.from_file(EXAMPLES)
    async with services_module.open_services(settings, registry) as services:
        await services.threads.create("00000000-0000-4000-8000-000000000001")
        record = await services.manager.create_or_reject(
            "00000000-0000-4000-8000-000000000001",
            registry.assistant_id_for("slow"),
            kwargs={"input": {"delay": 5.0}, "config": {"configurable": {"graph_id": "slow"}}},
        )
        services.executor.submit(record)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (await saver.aget_tuple({"configurable": {"thread_id": record.thread_id}})) is None:
            assert loop.time() < deadline, "the run never wrote its first checkpoint"
            await asyncio.sleep(0.02)  # poll step inside the deadline loop
        assert record.status.value == "running"
    assert events == ["runs_drained", "checkpointer_closed"]
    assert saver.writes_after_close == 0
    assert record.task is not None and record.task.done()
    assert record.status.value == "pending"  # requeued: the next start resumes it
