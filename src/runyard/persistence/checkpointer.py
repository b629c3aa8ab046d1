"""The LangGraph checkpointer for the chosen world, opened and closed with the server.

SQLite: LangGraph's ``SqliteSaver`` with async methods on the event loop (``loop_sqlite_saver``;
same schema and file as ``AsyncSqliteSaver``, without aiosqlite's thread hand-offs) on its own file in the state directory (a separate file from the
run store, so the two writer stacks never contend for one SQLite lock; DeerFlow #3353).
Postgres: ``AsyncPostgresSaver`` on a psycopg pool with the settings its README requires
(autocommit, no prepared statements, dict rows); the saver alone would hold one connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any


@asynccontextmanager
async def _postgres(database_url: str) -> AsyncIterator[Any]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=20,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    await pool.open(wait=True)
    try:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
        yield saver
    finally:
        await pool.close()


@asynccontextmanager
async def _sqlite(path: Path) -> AsyncIterator[Any]:
    from .loop_sqlite_saver import LoopSqliteSaver

    saver = await LoopSqliteSaver.open(path)
    try:
        yield saver
    finally:
        await saver.aclose()


@asynccontextmanager
async def open_checkpointer(*, database_url: str | None, sqlite_path: Path) -> AsyncIterator[Any]:
    """Yield a ready checkpointer; closing it is the caller's last step after the drain."""
    opened = _postgres(database_url) if database_url else _sqlite(sqlite_path)
    async with opened as saver:
        yield saver


async def delete_all_checkpoints(saver: Any) -> int:
    """Delete the checkpoints of every thread the saver holds; return how many threads had some.

    Goes through the saver's own ``alist``/``adelete_thread``, so it works for any saver. Slow
    for a large history, and meant for dev mode's ``POST /internal/truncate`` only.
    """
    thread_ids = {str(item.config["configurable"]["thread_id"]) async for item in saver.alist(None)}
    for thread_id in thread_ids:
        await saver.adelete_thread(thread_id)
    return len(thread_ids)
