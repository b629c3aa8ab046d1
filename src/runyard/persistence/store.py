"""The long-term store (LangGraph's ``BaseStore``) for the chosen world, opened and closed with the server.

One object serves both sides: the ``/store`` routes and every run's graph (``Runtime.store``,
``get_store()``), so what a graph writes the API reads.

SQLite: ``AsyncSqliteStore`` on its own file in the state directory (apart from the run store and
the checkpointer, so the three writer stacks never contend for one SQLite lock). Postgres:
``AsyncPostgresStore`` on its own psycopg pool with the settings the library requires
(autocommit, no prepared statements, dict rows). ``langgraph.json``'s ``store`` section adds:

- ``index``: semantic search. ``embed`` is a ``./file.py:fn`` / ``module:fn`` spec (a callable
  or a LangChain ``Embeddings``), or a LangChain ``provider:model`` id (needs ``langchain`` and,
  usually, the network). On SQLite the vectors live in ``sqlite-vec``; on Postgres in pgvector,
  which the database must have.
- ``ttl``: ``default_ttl`` (minutes) for items put without one, ``refresh_on_read``, and
  ``sweep_interval_minutes`` (fractions allowed). The store's own sweeper deletes expired items.
  Without ``ttl`` the sweeper still runs every 5 minutes, so an item put with its own ``ttl``
  expires either way (the libraries' sweepers do nothing without a TTL config).
- ``path``: a custom store instead of the built-in one: a ``BaseStore``, or a callable, context
  manager or coroutine producing one, as langgraph-api accepts. No sweeper runs for it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.store.base import BaseStore

from ..graphs.config import IndexConfig, ProjectConfig, StoreConfig
from ..graphs.errors import ConfigError
from ..graphs.loader import load_object

logger = logging.getLogger(__name__)

DEFAULT_SWEEP_MINUTES = 5.0
"""How often expired items are swept when ``store.ttl`` does not say (the libraries' default)."""
SWEEPER_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class StorePlan:
    """``langgraph.json``'s ``store`` section with its code imported: what ``open_store`` opens."""

    index: dict[str, Any] | None = None
    """The index config for the built-in store, ``embed`` resolved to an object."""
    ttl: dict[str, Any] | None = None
    custom: Any = None
    """The object ``store.path`` names, or ``None`` for the built-in store."""
    custom_source: str | None = None


def _embeddings(file: Path, index: IndexConfig) -> Any:
    """``store.index.embed`` as an object ``langgraph.store.base.ensure_embeddings`` accepts."""
    if index.embed_spec is not None:
        value = load_object(index.embed_spec, what=f"{file}: store.index.embed")
        from langchain_core.embeddings import Embeddings

        if not isinstance(value, Embeddings) and not callable(value):
            raise ConfigError(
                f"{file}: store.index.embed: {index.embed!r} is a {type(value).__name__}, "
                "expected an embedding function or a LangChain Embeddings"
            )
        return value
    if ":" not in index.embed:
        raise ConfigError(
            f"{file}: store.index.embed: {index.embed!r} is neither './file.py:function' nor a "
            "LangChain 'provider:model' id (e.g. 'openai:text-embedding-3-small')"
        )
    try:
        from langchain.embeddings import init_embeddings  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(
            f"{file}: store.index.embed: {index.embed!r} is a LangChain provider id, which needs "
            "the 'langchain' package (pip install 'langchain>=0.3.9'); or name a Python function "
            "instead ('./embeddings.py:embed')"
        ) from exc
    try:
        return init_embeddings(index.embed)
    except Exception as exc:
        raise ConfigError(f"{file}: store.index.embed: {index.embed!r}: {type(exc).__name__}: {exc}") from exc


def _index(file: Path, index: IndexConfig) -> dict[str, Any]:
    extra = dict(index.model_extra or {})
    config: dict[str, Any] = {**extra, "dims": index.dims, "embed": _embeddings(file, index)}
    if index.fields is not None:
        config["fields"] = list(index.fields)
    return config


def plan_store(project: ProjectConfig) -> StorePlan:
    """Import what ``store`` names; raise ``ConfigError`` naming the key at fault.

    Called when the app is built, so a bad spec stops ``runyard serve`` with a message before it
    listens, and again when the services open (imports are cached, nothing runs twice).
    """
    config: StoreConfig | None = project.store
    if config is None:
        return StorePlan(ttl={"sweep_interval_minutes": DEFAULT_SWEEP_MINUTES})
    file = project.path
    if config.path is not None:
        value = load_object(config.path, what=f"{file}: store.path")
        if not (isinstance(value, BaseStore) or callable(value) or _is_producer(value)):
            raise ConfigError(
                f"{file}: store.path: {config.path.source!r} is a {type(value).__name__}; expected a "
                "BaseStore, or a function, context manager or coroutine that produces one"
            )
        if config.index is not None or config.ttl is not None:
            logger.warning("%s: store.index and store.ttl do not apply to a custom store (store.path)", file)
        return StorePlan(custom=value, custom_source=config.path.source)
    ttl: dict[str, Any] = {"sweep_interval_minutes": DEFAULT_SWEEP_MINUTES}
    if config.ttl is not None:
        ttl = {
            "refresh_on_read": config.ttl.refresh_on_read,
            "default_ttl": config.ttl.default_ttl,
            "sweep_interval_minutes": config.ttl.sweep_interval_minutes or DEFAULT_SWEEP_MINUTES,
        }
    index = _index(file, config.index) if config.index is not None else None
    return StorePlan(index=index, ttl=ttl)


def _is_producer(value: object) -> bool:
    return (
        hasattr(value, "__aenter__")
        or hasattr(value, "__enter__")
        or inspect.isawaitable(value)
        or inspect.isasyncgen(value)
    )


@asynccontextmanager
async def _custom(value: Any, source: str) -> AsyncIterator[BaseStore]:
    """The custom store ``value`` is or produces, entered for the server's lifetime."""
    async with AsyncExitStack() as stack:
        for _ in range(5):  # e.g. a factory returning a context manager yielding a store
            if isinstance(value, BaseStore):
                yield value
                return
            if hasattr(value, "__aenter__"):
                value = await stack.enter_async_context(value)
            elif hasattr(value, "__enter__"):
                value = stack.enter_context(value)
            elif inspect.isawaitable(value):
                value = await value
            elif callable(value):
                value = value()
            else:
                break
        if not isinstance(value, BaseStore):
            raise ConfigError(
                f"store.path: {source!r} produced a {type(value).__name__}, not a langgraph BaseStore"
            )
        yield value


async def _started(store: Any, ttl: dict[str, Any] | None) -> None:
    await store.setup()
    if ttl:
        await store.start_ttl_sweeper()


@asynccontextmanager
async def _postgres(database_url: str, plan: StorePlan) -> AsyncIterator[BaseStore]:
    from langgraph.store.postgres.aio import AsyncPostgresStore
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=10,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    await pool.open(wait=True)
    try:
        store = AsyncPostgresStore(pool, index=plan.index, ttl=plan.ttl)  # type: ignore[arg-type]
        try:
            await _started(store, plan.ttl)
        except Exception as exc:
            if plan.index is not None and "vector" in str(exc):
                raise ConfigError(
                    "store.index: semantic search on Postgres needs the pgvector extension ('vector') "
                    f"in the database; install it or remove store.index ({type(exc).__name__}: {exc})"
                ) from exc
            raise
        await _fractional_ttls(pool)
        try:
            yield store
        finally:
            await store.stop_ttl_sweeper(timeout=SWEEPER_STOP_TIMEOUT)
    finally:
        await pool.close()


# AsyncPostgresStore keeps an item's ttl in an INT column: the expiry set at put time honours a
# fraction of a minute, but a refresh on read recomputes it from the rounded value, so an item
# put with ttl=0.1 expires at once on its first read. SQLite's column is REAL; make Postgres's a
# double too (once; a no-op on later starts), so a TTL means the same on both backends.
_TTL_COLUMN_AS_DOUBLE = """
DO $$
BEGIN
    IF (SELECT data_type FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'store' AND column_name = 'ttl_minutes'
    ) = 'integer' THEN
        ALTER TABLE store ALTER COLUMN ttl_minutes TYPE double precision;
    END IF;
END $$
"""


async def _fractional_ttls(pool: Any) -> None:
    async with pool.connection() as conn:
        await conn.execute(_TTL_COLUMN_AS_DOUBLE)


def _sqlite_module(indexed: bool) -> Any:
    """The DB-API module to open the store's file with.

    The vector index lives in the ``sqlite-vec`` extension, and many Python builds (pyenv's,
    macOS's) compile ``sqlite3`` without extension loading. For an indexed store on such a
    build, ``pysqlite3`` (a drop-in ``sqlite3`` with its own SQLite, extension loading on) opens
    the file instead.
    """
    import sqlite3

    if not indexed or hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    try:
        return importlib.import_module("pysqlite3.dbapi2")
    except ImportError as exc:
        raise ConfigError(
            "store.index: semantic search on SQLite loads the sqlite-vec extension, which this "
            "Python's sqlite3 cannot do; install pysqlite3-binary (pip install pysqlite3-binary), "
            "or use Postgres with pgvector"
        ) from exc


@asynccontextmanager
async def _sqlite(path: Path, plan: StorePlan) -> AsyncIterator[BaseStore]:
    import aiosqlite
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    path.parent.mkdir(parents=True, exist_ok=True)
    module = _sqlite_module(plan.index is not None)
    # aiosqlite.connect with the chosen module's connect (the store wants autocommit mode).
    connection = aiosqlite.Connection(lambda: module.connect(str(path), isolation_level=None), 64)
    async with connection as conn:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            await conn.execute(f"PRAGMA {pragma}")
        store = AsyncSqliteStore(conn, index=plan.index, ttl=plan.ttl)  # type: ignore[arg-type]
        await _started(store, plan.ttl)
        try:
            yield store
        finally:
            await store.stop_ttl_sweeper(timeout=SWEEPER_STOP_TIMEOUT)


@asynccontextmanager
async def open_store(
    plan: StorePlan, *, database_url: str | None, sqlite_path: Path
) -> AsyncIterator[BaseStore]:
    """Yield a ready store, its sweeper running; closing it comes after the runs' drain."""
    if plan.custom is not None:
        opened = _custom(plan.custom, plan.custom_source or "store.path")
    elif database_url:
        opened = _postgres(database_url, plan)
    else:
        opened = _sqlite(sqlite_path, plan)
    async with opened as store:
        yield store


async def delete_all_items(store: BaseStore, *, page: int = 500) -> int:
    """Delete every item the store holds; return how many went.

    Goes through the store's own ``asearch``/``adelete``, so it works for any store. Meant for
    dev mode's ``POST /internal/truncate`` only.
    """
    deleted = 0
    while True:
        items = await store.asearch((), limit=page, refresh_ttl=False)
        if not items:
            return deleted
        for item in items:
            await store.adelete(item.namespace, item.key)
        deleted += len(items)
