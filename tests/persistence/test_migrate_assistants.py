"""Migration 0003 (assistants) on a database that already holds runs and threads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from runyard.assistants.sql import SqlAssistantStore
from runyard.persistence import migrate
from runyard.persistence.engine import create_engine
from runyard.threads.sql import SqlThreadStore

VERSION_TABLE = "runyard_alembic_version"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh, empty database of each kind."""
    made = create_engine(str(request.getfixturevalue(f"{request.param}_url")))
    yield made
    await made.dispose()


async def _alembic(engine: AsyncEngine, action: str, revision: str) -> None:
    def run(conn: Connection) -> None:
        getattr(command, action)(migrate.alembic_config(conn), revision)

    async with engine.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))


async def _version(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalars())


async def test_upgrade_from_0002_keeps_threads_and_adds_assistants(engine: AsyncEngine) -> None:
    await _alembic(engine, "upgrade", "0002")
    threads = SqlThreadStore(engine)
    await threads.create("t1", metadata={"k": "v"})
    assert not {"assistants", "assistant_versions"} & await _tables(engine)

    await migrate.upgrade(engine)
    assert {"assistants", "assistant_versions", "threads", "runs"} <= await _tables(engine)
    assert (await threads.get("t1") or {})["metadata"] == {"k": "v"}
    store = SqlAssistantStore(engine)
    await store.create("a1", graph_id="g", metadata={"team": "x"})
    await store.update("a1", name="renamed")
    assert [row["assistant_id"] for row in await store.search(metadata={"team": "x"})] == ["a1"]
    assert [v["version"] for v in await store.versions("a1")] == [2, 1]


async def test_downgrade_to_0002_drops_assistants_alone(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    threads = SqlThreadStore(engine)
    await threads.create("t1")
    store = SqlAssistantStore(engine)
    await store.create("a1", graph_id="g")

    await _alembic(engine, "downgrade", "0002")
    assert await _version(engine) == ["0002"]
    tables = await _tables(engine)
    assert "assistants" not in tables and "assistant_versions" not in tables and "threads" in tables
    assert await threads.get("t1") is not None

    await migrate.upgrade(engine)
    assert await store.count() == 0
    assert (await store.create("a1", graph_id="g"))["version"] == 1
