"""One ``create_engine`` for both worlds: SQLite (embedded) and Postgres (cluster).

The URL picks the driver: ``sqlite://`` becomes aiosqlite, ``postgres://`` and ``postgresql://``
become psycopg 3. SQLite connections run in WAL mode with a busy timeout, so concurrent writers
wait for the write lock instead of failing at once; JSON columns go through orjson.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
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


def create_engine(url: str, *, busy_timeout_ms: int = 30_000) -> AsyncEngine:
    """An async engine for a SQLite or Postgres URL, tuned for runyard's short transactions."""
    parsed = normalize_url(url)
    if parsed.drivername == "postgresql+psycopg":
        return create_async_engine(
            parsed,
            pool_pre_ping=True,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(parsed, json_serializer=_json_dumps, json_deserializer=orjson.loads)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    return engine


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether ``engine`` talks to SQLite (one writer at a time, no advisory locks)."""
    return engine.dialect.name == "sqlite"
