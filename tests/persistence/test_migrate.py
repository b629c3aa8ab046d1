"""``migrate.upgrade``: idempotent, safe when several processes start at once, and true to tables.py."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from runyard.persistence import migrate, thread_tables
from runyard.persistence.engine import create_engine
from runyard.persistence.tables import metadata

VERSION_TABLE = "runyard_alembic_version"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of each kind."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def engines(database_url: str) -> AsyncIterator[Callable[[], AsyncEngine]]:
    """A factory of engines on the database, each one disposed of after the test."""
    made: list[AsyncEngine] = []

    def make() -> AsyncEngine:
        made.append(create_engine(database_url))
        return made[-1]

    yield make
    for engine in made:
        await engine.dispose()


def _head() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert head is not None
    return head


async def _versions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalars())


async def test_upgrade_reaches_head_and_is_idempotent(engines: Callable[[], AsyncEngine]) -> None:
    """upgrade creates the runs table and its indexes, and running it again changes nothing."""
    engine = engines()
    await migrate.upgrade(engine)
    await migrate.upgrade(engine)
    assert await _versions(engine) == [_head()]

    def indexes(conn: Connection) -> set[str]:
        return {str(index["name"]) for index in inspect(conn).get_indexes("runs")}

    async with engine.connect() as conn:
        assert {"ix_runs_thread_created", "ix_runs_status", "uq_runs_thread_running"} <= await conn.run_sync(
            indexes
        )


async def test_concurrent_upgrades_of_a_fresh_database_all_succeed(
    engines: Callable[[], AsyncEngine],
) -> None:
    """Several engines upgrading one empty database at once all succeed, and migrate it once."""
    await asyncio.gather(*(migrate.upgrade(engines()) for _ in range(4)))
    assert await _versions(engines()) == [_head()]


async def test_upgrades_from_separate_processes_all_succeed(database_url: str) -> None:
    """Processes starting together on one empty database each finish their upgrade without error."""
    script = (
        "import asyncio, sys\n"
        "from runyard.persistence import migrate\n"
        "from runyard.persistence.engine import create_engine\n"
        "async def main():\n"
        "    engine = create_engine(sys.argv[1])\n"
        "    try:\n"
        "        await migrate.upgrade(engine)\n"
        "    finally:\n"
        "        await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    for process in processes:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, stderr.decode()
    engine = create_engine(database_url)
    try:
        assert await _versions(engine) == [_head()]
    finally:
        await engine.dispose()


async def test_migrated_schema_matches_the_table_definitions(engines: Callable[[], AsyncEngine]) -> None:
    """The migrations build exactly the schema tables.py and thread_tables.py describe (no drift)."""
    engine = engines()
    await migrate.upgrade(engine)
    assert thread_tables.threads.metadata is metadata

    def diff(conn: Connection) -> list[object]:
        options = {"compare_type": True, "include_object": migrate.include_object(conn.dialect.name)}
        context = MigrationContext.configure(conn, opts=options)
        return [d for d in compare_metadata(context, metadata) if "alembic_version" not in repr(d)]

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_sqlite_upgrade_locks_a_file_beside_the_database(sqlite_url: str) -> None:
    """On SQLite the migration lock is a <dbfile>.migrate.lock file next to the database."""
    engine = create_engine(sqlite_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    database = engine.url.database
    assert database is not None
    assert await asyncio.to_thread(Path(f"{database}.migrate.lock").exists)
