"""Statement runners: how a store's SQLAlchemy Core statements reach the database.

A store builds its statements once and hands them, with their parameters, to a runner:

- ``write(*steps)`` runs the steps in order as one transaction and returns, for each, the
  number of rows it matched and the rows it returned (RETURNING), type-processed. A step may
  also be a ``Then``: a plain function, called inside the transaction with the outcomes so far,
  that returns the next step (or None to skip it), for a read-modify-write under one lock;
- ``read(statement, params)`` runs one SELECT and returns its type-processed rows.

Errors come out as SQLAlchemy's (``IntegrityError``, ``OperationalError``, ...) with the driver's
error as ``orig``, whichever runner ran the statement. Build statements once and reuse them: the
SQLite runner keeps their compiled SQL by statement object.

``create_runner`` picks the runner by URL: an on-disk SQLite database gets ``SqliteRunner``
(``sqlite_runner``: stdlib ``sqlite3`` on the event loop, see there for why); Postgres, and
in-memory SQLite databases (which live and die with one connection), get ``AsyncEngineRunner``
on SQLAlchemy's async engine (psycopg 3, aiosqlite).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine, Executable
from sqlalchemy.ext.asyncio import AsyncEngine

from . import migrate
from .engine import create_engine, is_sqlite_file_url

# A statement and its parameters (bind names to values).
Step = tuple[Executable, Mapping[str, Any]]


class Outcome(NamedTuple):
    """What one statement of a write did: rows matched, and rows returned (RETURNING)."""

    rowcount: int
    rows: list[Sequence[Any]]


# A step decided inside the transaction from the outcomes of the steps before it; None skips it
# (its outcome is then empty). It must not block or await: on SQLite it runs under the write lock.
Then = Callable[[Sequence[Outcome]], Step | None]

_SKIPPED = Outcome(0, [])


class StatementRunner(Protocol):
    """Runs Core statements; one ``write`` is one transaction."""

    @property
    def dialect_name(self) -> str: ...

    @property
    def engine(self) -> AsyncEngine | Engine:
        """The SQLAlchemy engine underneath (its pool shows connections in use)."""
        ...

    async def upgrade_schema(self) -> None:
        """Apply pending migrations (``migrate.upgrade``), safely from many processes at once."""
        ...

    async def write(self, *steps: Step | Then) -> list[Outcome]: ...

    async def read(self, statement: Executable, params: Mapping[str, Any]) -> list[Sequence[Any]]: ...

    async def close(self) -> None: ...


class AsyncEngineRunner:
    """Statements on SQLAlchemy's async engine: a pooled connection and transaction per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def dialect_name(self) -> str:
        return self._engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def upgrade_schema(self) -> None:
        await migrate.upgrade(self._engine)

    async def write(self, *steps: Step | Then) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with self._engine.begin() as conn:
            for step in steps:
                decided = step(outcomes) if callable(step) else step
                if decided is None:
                    outcomes.append(_SKIPPED)
                    continue
                statement, params = decided
                result = await conn.execute(statement, params)
                rows: list[Sequence[Any]] = list(result.all()) if result.returns_rows else []
                outcomes.append(Outcome(result.rowcount, rows))
        return outcomes

    async def read(self, statement: Executable, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        async with self._engine.connect() as conn:
            result = await conn.execute(statement, params)
            return list(result.all())

    async def close(self) -> None:
        await self._engine.dispose()


def create_runner(url: str, *, busy_timeout_ms: int = 30_000) -> StatementRunner:
    """The runner for ``url``: ``SqliteRunner`` for an on-disk SQLite file, else the async engine.

    ``busy_timeout_ms`` is how long a SQLite writer waits for the write lock (off the loop).
    """
    if is_sqlite_file_url(url):
        # Imported here: sqlite_runner builds on this module's Step and Outcome.
        from .sqlite_runner import SqliteRunner

        return SqliteRunner(url, busy_timeout_ms=busy_timeout_ms)
    return AsyncEngineRunner(create_engine(url, busy_timeout_ms=busy_timeout_ms))
