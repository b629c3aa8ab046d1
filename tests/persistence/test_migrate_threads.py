"""Migration 0002 (threads) on a database that already holds runs: upgrade, downgrade, upgrade again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from runyard.persistence import migrate
from runyard.persistence.engine import create_engine
from runyard.persistence.tables import runs
from runyard.threads.sql import SqlThreadStore

VERSION_TABLE = "runyard_alembic_version"
THREAD_INDEXES = {"ix_threads_created_at", "ix_threads_user_id", "ix_threads_status", "ix_threads_expires_at"}
RUN_ROWS = [
    {"run_id": "r1", "thread_id": "t1", "status": "success", "metadata_json": {"k": "β"}},
    {"run_id": "r2", "thread_id": "t1", "status": "pending", "metadata_json": {}},
]


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


async def _version(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalars())


async def _tables_and_thread_indexes(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    def read(conn: Connection) -> tuple[set[str], set[str]]:
        inspector = inspect(conn)
        names = set(inspector.get_table_names())
        indexes = {str(i["name"]) for i in inspector.get_indexes("threads")} if "threads" in names else set()
        return names, indexes

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def _seed_runs(engine: AsyncEngine) -> None:
    stamp = datetime(2026, 1, 1, 12, tzinfo=UTC)
    async with engine.begin() as conn:
        for row in RUN_ROWS:
            await conn.execute(
                runs.insert().values(**row, kwargs_json={}, created_at=stamp, updated_at=stamp)
            )


async def _run_rows(engine: AsyncEngine) -> list[dict[str, object]]:
    columns = (runs.c.run_id, runs.c.thread_id, runs.c.status, runs.c.metadata_json)
    async with engine.connect() as conn:
        result = await conn.execute(select(*columns).order_by(runs.c.run_id))
        return [dict(row._mapping) for row in result]


async def test_upgrade_from_0001_keeps_runs_and_adds_threads(engine: AsyncEngine) -> None:
    """A database at 0001 with runs in it reaches head: the runs are untouched, threads work."""
    await _alembic(engine, "upgrade", "0001")
    await _seed_runs(engine)
    tables, _ = await _tables_and_thread_indexes(engine)
    assert "threads" not in tables

    await migrate.upgrade(engine)
    assert await _version(engine) == [
        ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    ]
    assert await _run_rows(engine) == RUN_ROWS
    tables, indexes = await _tables_and_thread_indexes(engine)
    assert {"runs", "threads"} <= tables
    expected = THREAD_INDEXES | ({"ix_threads_metadata"} if engine.dialect.name == "postgresql" else set())
    assert indexes == expected

    store = SqlThreadStore(engine)
    await store.create("t1", metadata={"owner": "u1"})
    assert [row["thread_id"] for row in await store.search(metadata={"owner": "u1"})] == ["t1"]


async def test_downgrade_to_0001_drops_threads_and_keeps_runs(engine: AsyncEngine) -> None:
    """Downgrading removes the threads table alone; upgrading again gives an empty, working one."""
    await migrate.upgrade(engine)
    await _seed_runs(engine)
    store = SqlThreadStore(engine)
    await store.create("t1")

    await _alembic(engine, "downgrade", "0001")
    assert await _version(engine) == ["0001"]
    tables, _ = await _tables_and_thread_indexes(engine)
    assert "threads" not in tables and "runs" in tables
    assert await _run_rows(engine) == RUN_ROWS

    await migrate.upgrade(engine)
    assert await store.count() == 0
    assert (await store.create("t1"))["thread_id"] == "t1"
