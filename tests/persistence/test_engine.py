"""``create_engine``: URL normalisation and the per-connection SQLite settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from runyard.persistence import engine as engine_module
from runyard.persistence.engine import (
    create_engine,
    create_sqlite_engine,
    is_sqlite,
    is_sqlite_file_url,
    normalize_url,
)


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///runs.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///runs.db", "sqlite+aiosqlite"),
        ("postgresql://u@localhost/db", "postgresql+psycopg"),
        ("postgres://u@localhost/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@localhost/db", "postgresql+psycopg"),
    ],
)
def test_urls_are_normalised_to_the_async_drivers(url: str, driver: str) -> None:
    """Every accepted spelling of a SQLite or Postgres URL maps to aiosqlite or psycopg 3."""
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@localhost/db", "postgresql+asyncpg://u@localhost/db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    """A database or driver runyard does not support is a ValueError naming the scheme."""
    with pytest.raises(ValueError, match="Unsupported database URL"):
        normalize_url(url)


async def test_postgres_engine_uses_psycopg_without_a_ping_per_checkout() -> None:
    """A Postgres URL gives a psycopg 3 engine; it pings idle connections only (no pre-ping)."""
    engine = create_engine("postgres://u@localhost/db")
    try:
        assert not is_sqlite(engine)
        assert engine.dialect.driver == "psycopg"
        assert not engine.pool._pre_ping
    finally:
        await engine.dispose()


async def test_a_dropped_idle_postgres_connection_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pooled connection whose session died while idle is pinged, discarded and reopened."""
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        killer = create_engine(postgres_url)
        try:
            async with killer.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await killer.dispose()
        async with engine.connect() as conn:
            other = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert other != pid
    finally:
        await engine.dispose()


async def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    """Every SQLite connection runs in WAL mode, synchronous=NORMAL, with foreign keys and a busy timeout."""
    path = tmp_path / "missing" / "dir" / "runs.db"
    engine = create_engine(f"sqlite:///{path}", busy_timeout_ms=1234)
    try:
        assert is_sqlite(engine)
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 1234}
        assert path.exists()
    finally:
        await engine.dispose()


async def test_sqlite_busy_timeout_defaults_to_thirty_seconds(tmp_path: Path) -> None:
    """Writers wait up to 30 s for SQLite's write lock unless told otherwise."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 30_000
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("url", "on_disk"),
    [
        ("sqlite:///runs.db", True),
        ("sqlite+aiosqlite:////var/lib/runyard/runs.db", True),
        ("sqlite:///file:runs.db?uri=true", True),
        ("sqlite://", False),
        ("sqlite:///:memory:", False),
        ("sqlite:///file::memory:?uri=true", False),
        ("sqlite:///file:shared?mode=memory&cache=shared&uri=true", False),
        ("postgresql://u@localhost/db", False),
    ],
)
def test_on_disk_sqlite_urls_are_told_apart(url: str, on_disk: bool) -> None:
    """Only a database file gets the SQLite fast path; in-memory databases live in one connection."""
    assert is_sqlite_file_url(url) is on_disk


def test_sync_sqlite_engine_is_configured_like_the_async_one(tmp_path: Path) -> None:
    """The stdlib sqlite3 engine: same pragmas, autocommit connections, named parameters."""
    path = tmp_path / "missing" / "runs.db"
    engine = create_sqlite_engine(f"sqlite:///{path}", busy_timeout_ms=4321)
    try:
        assert engine.dialect.driver == "pysqlite" and engine.dialect.paramstyle == "named"
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            assert conn.connection.driver_connection.isolation_level is None
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 4321}
        assert path.exists()
    finally:
        engine.dispose()


def test_sync_sqlite_engine_refuses_in_memory_databases() -> None:
    """An in-memory database cannot be shared by a loop connection and worker threads."""
    with pytest.raises(ValueError, match="on-disk"):
        create_sqlite_engine("sqlite://")
