"""``SqlStore``: what every SQL store on a ``StatementRunner`` does before its own statements.

The run, thread and assistant stores all take an engine or a runner, open their own runner from
a URL, share another store's runner, migrate the schema on ``setup`` and close the runner only
when they opened it. They inherit that from here and keep only their statements and queries.
"""

from __future__ import annotations

from typing import Self

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from .runner import AsyncEngineRunner, StatementRunner, create_runner


class SqlStore:
    """A store on one statement runner (``persistence.runner``); mix in before the store contract."""

    def __init__(self, database: AsyncEngine | StatementRunner, *, owns_engine: bool = False) -> None:
        """A store on ``database``: an async engine, or a runner.

        A runner may be another store's (``SqlRunStore.runner``), so that all share one
        connection. ``close`` closes ``database`` only when ``owns_engine``.
        """
        self._db = AsyncEngineRunner(database) if isinstance(database, AsyncEngine) else database
        self._owns_engine = owns_engine
        self._postgres = self._db.dialect_name == "postgresql"

    @classmethod
    def from_url(cls, url: str, *, busy_timeout_ms: int = 30_000) -> Self:
        """A store on a new runner for ``url`` (see ``create_runner``), which ``close`` closes.

        ``busy_timeout_ms``: how long a SQLite write waits for the lock (in a worker thread).
        """
        return cls(create_runner(url, busy_timeout_ms=busy_timeout_ms), owns_engine=True)

    @classmethod
    def from_runner(cls, runner: StatementRunner) -> Self:
        """A store on an existing runner, which its owner closes (``close`` leaves it open)."""
        return cls(runner)

    @property
    def engine(self) -> AsyncEngine | Engine:
        return self._db.engine

    @property
    def runner(self) -> StatementRunner:
        """What runs the statements (``SqliteRunner`` counts its lock fallbacks and checkpoints)."""
        return self._db

    async def setup(self) -> None:
        await self._db.upgrade_schema()

    async def close(self) -> None:
        if self._owns_engine:
            await self._db.close()
