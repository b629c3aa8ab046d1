"""One ``create_engine`` for both worlds: SQLite (embedded) and Postgres (cluster).

The URL picks the driver: ``sqlite://`` becomes aiosqlite, ``postgres://`` and ``postgresql://``
become psycopg 3. SQLite connections run in WAL mode with a busy timeout, so concurrent writers
wait for the write lock instead of failing at once; JSON columns go through orjson.

``create_sqlite_engine`` is the synchronous counterpart on the stdlib ``sqlite3`` driver, for the
SQLite fast path (``sqlite_runner``): the same per-connection settings, autocommit connections
(transactions are begun explicitly), and named parameters so compiled SQL binds plain dicts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_POSTGRES_DRIVERS = frozenset({"postgres", "postgresql", "postgresql+psycopg"})
_SQLITE_DRIVERS = frozenset({"sqlite", "sqlite+aiosqlite"})


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def normalize_url(url: str) -> URL:
    """Return ``url`` with the async driver runyard uses for its database.

    Raises ``ValueError`` for a database runyard does not support.
    """
    parsed = make_url(url)
    if parsed.drivername in _SQLITE_DRIVERS:
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"Unsupported database URL scheme '{parsed.drivername}': use sqlite:///path or postgresql://..."
    )


# A pooled Postgres connection idle this long is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_S = 1.0


def create_engine(url: str, *, busy_timeout_ms: int = 30_000) -> AsyncEngine:
    """An async engine for a SQLite or Postgres URL, tuned for runyard's short transactions.

    Postgres: the pool keeps up to 10 connections and opens 5 more under bursts (the cap is
    the default 15; the default 5 + 10 opened and closed a session every few runs at 16
    clients), and pings only a connection that sat idle (``_ping_when_idle``).
    """
    parsed = normalize_url(url)
    if parsed.drivername == "postgresql+psycopg":
        engine = create_async_engine(
            parsed,
            pool_size=10,
            max_overflow=5,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        _ping_when_idle(engine.sync_engine, PING_AFTER_IDLE_S)
        return engine
    _make_parent_dir(parsed)
    engine = create_async_engine(parsed, json_serializer=_json_dumps, json_deserializer=orjson.loads)
    _configure_sqlite_connections(engine.sync_engine, busy_timeout_ms)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """SQLAlchemy's pessimistic disconnect check, for connections idle over ``idle_s`` only.

    ``pool_pre_ping`` pings on every checkout: one more round trip per transaction, a third of
    a run's round trips. A connection handed back a moment ago was alive then; one that sat
    idle (a restarted server, a dropped session) is pinged, and a failed ping makes the pool
    discard it and connect again (``DisconnectionError``), as pre-ping does.
    """

    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["runyard_checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get("runyard_checked_in")
        if checked_in is None or time.monotonic() - checked_in < idle_s:
            return  # a new connection, or one in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("pooled connection failed its ping") from exc
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


def is_sqlite_file_url(url: str) -> bool:
    """Whether ``url`` names an on-disk SQLite database (not a private or shared in-memory one)."""
    parsed = normalize_url(url)
    if parsed.drivername != "sqlite+aiosqlite":
        return False
    database = parsed.database or ""
    if database in ("", ":memory:"):
        return False
    if database.startswith("file:"):  # a URI filename: file::memory: or ?mode=memory is in memory
        return ":memory:" not in database and parsed.query.get("mode") != "memory"
    return True


def create_sqlite_engine(url: str, *, busy_timeout_ms: int = 30_000) -> Engine:
    """A synchronous engine on the stdlib ``sqlite3`` driver for an on-disk SQLite ``url``.

    Connections are configured as ``create_engine``'s, and are in autocommit mode: whoever runs
    a transaction begins it explicitly (``BEGIN IMMEDIATE``). Compiled statements use named
    parameters (``:name``), so their parameters go to ``sqlite3`` as a plain dict.
    """
    if not is_sqlite_file_url(url):
        raise ValueError(f"Not an on-disk SQLite database URL: {url!r}")
    parsed = normalize_url(url).set(drivername="sqlite+pysqlite")
    _make_parent_dir(parsed)
    engine = create_sync_engine(
        parsed,
        paramstyle="named",
        isolation_level="AUTOCOMMIT",
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )
    _configure_sqlite_connections(engine, busy_timeout_ms)
    return engine


def configure_sqlite_connection(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    """WAL, synchronous=NORMAL (commits do not fsync, checkpoints do), foreign keys, busy timeout."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _configure_sqlite_connections(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        configure_sqlite_connection(dbapi_connection, busy_timeout_ms)


def _make_parent_dir(parsed: URL) -> None:
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def is_sqlite(engine: AsyncEngine | Engine) -> bool:
    """Whether ``engine`` talks to SQLite (one writer at a time, no advisory locks)."""
    return engine.dialect.name == "sqlite"
