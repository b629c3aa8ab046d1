"""Bring the database schema to the newest migration at start-up, safely from many processes.

Several processes may start against one database at once. Each holds a lock for the duration of
the upgrade, so exactly one applies a migration and the others then find the schema at head:
on Postgres a session-level advisory lock on the migrating connection, on SQLite an exclusive
``flock`` on ``<dbfile>.migrate.lock`` beside the database file.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .engine import is_sqlite

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# An arbitrary fixed key: "runyard" spelled in ASCII, shared by every runyard process.
ADVISORY_LOCK_KEY = 0x72756E79617264
VERSION_TABLE = "runyard_alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for runyard's migrations, with no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's ``include_object`` hook for ``dialect``: skip objects meant for other dialects.

    A schema object whose ``info["dialects"]`` does not name ``dialect`` (the Postgres-only GIN
    index of ``threads``) is neither created nor expected there.
    """

    def include(obj: Any, _name: str | None, _type: str, _reflected: bool, _compare_to: Any) -> bool:
        dialects = getattr(obj, "info", {}).get("dialects")
        return dialects is None or dialect in dialects

    return include


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer runyard than this one: running on it could corrupt
    what the newer processes wrote, so this process refuses to start (say which versions)."""


def _upgrade_sync(connection: Connection) -> None:
    config = alembic_config(connection)
    script = ScriptDirectory.from_config(config)
    current = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE}
    ).get_current_revision()
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise SchemaTooNewError(
                f"The database schema is at revision {current}, which this runyard does not know "
                f"(it knows up to {script.get_current_head()}): another process runs a newer runyard. "
                "Run the same version on every process."
            ) from None
    command.upgrade(config, "head")


def _lock_file(database: str) -> int:
    """Open and exclusively lock ``<database>.migrate.lock``, blocking until it is free."""
    fd = os.open(f"{os.path.expanduser(database)}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _unlock_file(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    database = engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # a private database: nobody else can migrate it
        return
    fd = await asyncio.to_thread(_lock_file, database)
    try:
        yield
    finally:
        _unlock_file(fd)


@asynccontextmanager
async def _postgres_advisory_lock(conn: AsyncConnection) -> AsyncIterator[None]:
    await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    await conn.commit()  # the lock belongs to the session and outlives this transaction
    try:
        yield
    finally:
        try:
            await conn.rollback()
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            await conn.commit()
        except Exception:
            # Never hand a connection that may still hold the lock back to the pool.
            await conn.invalidate()
            raise


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every pending migration to ``engine``'s database. Idempotent."""
    if is_sqlite(engine):
        async with _sqlite_file_lock(engine), engine.connect() as conn:
            await conn.run_sync(_upgrade_sync)
            await conn.commit()
        return
    async with engine.connect() as conn, _postgres_advisory_lock(conn):
        await conn.run_sync(_upgrade_sync)
        await conn.commit()
