"""``SqlThreadStore``: the ``ThreadStore`` contract on SQLite or Postgres, in SQLAlchemy Core.

Writes are single statements, except the read-modify-writes (``update``'s metadata merge,
``touch``), whose first statement is an ``UPDATE ... RETURNING`` of the row: it takes Postgres'
row lock and SQLite's write lock before the row is read, so two merges never lose a key.
``create`` and ``copy`` insert with ``ON CONFLICT DO NOTHING``, so a taken id is found by the
database, whichever process holds it.

Searches page in SQL. On SQLite a metadata or values filter is a pre-filter in SQL plus an
exact containment check in Python (``sql_filters``), so there the rows are streamed in order and
paged after that check, stopping as soon as the page is full.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..persistence import migrate
from ..persistence.engine import create_engine
from ..persistence.thread_tables import threads
from ..runs.clock import now, parse_iso
from . import sql_filters
from .base import UNSET, IfExists, ThreadStore, TtlInput, Unset
from .errors import ThreadExistsError
from .validate import (
    TtlPolicy,
    check_if_exists,
    check_object,
    check_page,
    check_sort,
    check_status,
    minutes,
    parse_ttl,
)

# The SELECT list of every read; ``_to_row`` reads the columns by name.
_COLUMNS = tuple(threads.c)
_BY_ID = threads.c.thread_id


def _to_row(values: Row[Any]) -> dict[str, Any]:
    column = values._mapping
    strategy = column["ttl_strategy"]
    return {
        "thread_id": column["thread_id"],
        "created_at": column["created_at"].isoformat(),
        "updated_at": column["updated_at"].isoformat(),
        "state_updated_at": column["state_updated_at"].isoformat(),
        "metadata": column["metadata_json"],
        "status": column["status"],
        "config": column["config_json"],
        "values": column["values_json"],
        "interrupts": column["interrupts_json"],
        "user_id": column["user_id"],
        "ttl": None
        if strategy is None
        else TtlPolicy(strategy, minutes(column["ttl_minutes"])).as_row(column["expires_at"]),
    }


def _ttl_columns(policy: TtlPolicy | None, start: datetime) -> dict[str, Any]:
    if policy is None:
        return {"ttl_strategy": None, "ttl_minutes": None, "expires_at": None}
    return {
        "ttl_strategy": policy.strategy,
        "ttl_minutes": policy.minutes,
        "expires_at": policy.expires_at(start),
    }


def _new_columns(
    thread_id: str, user_id: str | None, policy: TtlPolicy | None, **fields: Any
) -> dict[str, Any]:
    stamp = now()
    return {
        "thread_id": thread_id,
        "user_id": user_id,
        "status": "idle",
        "metadata_json": {},
        "config_json": {},
        "values_json": None,
        "interrupts_json": {},
        "created_at": stamp,
        "updated_at": stamp,
        "state_updated_at": stamp,
        **_ttl_columns(policy, stamp),
        **fields,
    }


def _visible_to(user_id: str | None) -> list[ColumnElement[bool]]:
    return [] if user_id is None else [threads.c.user_id == user_id]


class SqlThreadStore(ThreadStore):
    """Thread rows in the ``threads`` table of a SQLite or Postgres database."""

    def __init__(self, engine: AsyncEngine, *, owns_engine: bool = False) -> None:
        self._engine = engine
        self._owns_engine = owns_engine
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert

    @classmethod
    def from_url(cls, url: str) -> SqlThreadStore:
        """A store on a new engine for ``url``, which ``close`` disposes of."""
        return cls(create_engine(url), owns_engine=True)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def setup(self) -> None:
        await migrate.upgrade(self._engine)

    async def close(self) -> None:
        if self._owns_engine:
            await self._engine.dispose()

    # -- helpers ---------------------------------------------------------------------------

    async def _try_insert(self, conn: AsyncConnection, columns: Mapping[str, Any]) -> dict[str, Any] | None:
        """Insert a new row; None when the id is taken."""
        statement = (
            self._insert(threads).values(**columns).on_conflict_do_nothing(index_elements=[_BY_ID])
        ).returning(*_COLUMNS)
        inserted = (await conn.execute(statement)).first()
        return None if inserted is None else _to_row(inserted)

    async def _rewrite(
        self,
        thread_id: str,
        user_id: str | None,
        change: Callable[[dict[str, Any], datetime], dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Lock the row by stamping ``updated_at``, then write the columns ``change`` returns."""
        stamp = now()
        by_id = [threads.c.thread_id == thread_id, *_visible_to(user_id)]
        async with self._engine.begin() as conn:
            lock = update(threads).where(*by_id).values(updated_at=stamp).returning(*_COLUMNS)
            locked = (await conn.execute(lock)).first()
            if locked is None:
                return None
            current = _to_row(locked)
            columns = change(current, stamp)
            if not columns:
                return current
            write = (
                update(threads).where(threads.c.thread_id == thread_id).values(**columns).returning(*_COLUMNS)
            )
            return _to_row((await conn.execute(write)).one())

    # -- writes ----------------------------------------------------------------------------

    async def create(
        self,
        thread_id: str | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        if_exists: IfExists = "raise",
        ttl: TtlInput = None,
    ) -> dict[str, Any]:
        mode = check_if_exists(if_exists)
        policy = parse_ttl(ttl)
        meta = check_object("metadata", metadata)
        thread_id = thread_id or str(uuid.uuid4())
        for _ in range(3):  # the existing row may vanish between our insert and our read
            async with self._engine.begin() as conn:
                row = await self._try_insert(
                    conn, _new_columns(thread_id, user_id, policy, metadata_json=meta)
                )
                if row is not None:
                    return row
                if mode == "raise":
                    raise ThreadExistsError(thread_id)
                found = (
                    await conn.execute(select(*_COLUMNS).where(threads.c.thread_id == thread_id))
                ).first()
            if found is not None:
                existing = _to_row(found)
                if user_id is not None and existing["user_id"] != user_id:
                    raise ThreadExistsError(thread_id)
                return existing
        raise ThreadExistsError(thread_id)

    async def update(
        self,
        thread_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        ttl: TtlInput = None,
        user_id: str | None = None,
    ) -> dict[str, Any] | None:
        patch = check_object("metadata", metadata)
        policy = parse_ttl(ttl)

        def change(current: dict[str, Any], stamp: datetime) -> dict[str, Any]:
            columns: dict[str, Any] = {}
            if patch:
                columns["metadata_json"] = {**current["metadata"], **patch}
            if policy is not None:
                columns.update(_ttl_columns(policy, stamp))
            return columns

        return await self._rewrite(thread_id, user_id, change)

    async def touch(self, thread_id: str) -> bool:
        def rearm(current: dict[str, Any], stamp: datetime) -> dict[str, Any]:
            policy = TtlPolicy.of(current["ttl"])
            return {} if policy is None else {"expires_at": policy.expires_at(stamp)}

        return await self._rewrite(thread_id, None, rearm) is not None

    async def delete(self, thread_id: str, *, user_id: str | None = None) -> bool:
        statement = (
            delete(threads).where(threads.c.thread_id == thread_id, *_visible_to(user_id)).returning(_BY_ID)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).first() is not None

    async def delete_all(self) -> int:
        async with self._engine.begin() as conn:
            return (await conn.execute(delete(threads))).rowcount

    async def set_status(
        self,
        thread_id: str,
        status: str,
        *,
        values: Any = UNSET,
        interrupts: Mapping[str, Any] | Unset | None = UNSET,
        config: Mapping[str, Any] | Unset | None = UNSET,
    ) -> bool:
        stamp = now()
        columns: dict[str, Any] = {"status": check_status(status), "updated_at": stamp}
        if interrupts is not UNSET:
            columns["interrupts_json"] = check_object("interrupts", interrupts)
        if config is not UNSET:
            columns["config_json"] = check_object("config", config)
        if values is not UNSET:
            columns["values_json"] = values
        if values is not UNSET or interrupts is not UNSET:
            columns["state_updated_at"] = stamp
        statement = (
            update(threads).where(threads.c.thread_id == thread_id).values(**columns).returning(_BY_ID)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(statement)).first() is not None

    async def copy(
        self, thread_id: str, new_thread_id: str | None = None, *, user_id: str | None = None
    ) -> dict[str, Any] | None:
        source = await self.get(thread_id, user_id=user_id)
        if source is None:
            return None
        new_thread_id = new_thread_id or str(uuid.uuid4())
        columns = _new_columns(
            new_thread_id,
            source["user_id"],
            TtlPolicy.of(source["ttl"]),
            status="idle" if source["status"] == "busy" else source["status"],
            metadata_json=source["metadata"],
            config_json=source["config"],
            values_json=source["values"],
            interrupts_json=source["interrupts"],
        )
        async with self._engine.begin() as conn:
            row = await self._try_insert(conn, columns)
        if row is None:
            raise ThreadExistsError(new_thread_id)
        return row

    # -- reads -----------------------------------------------------------------------------

    async def get(self, thread_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        statement = select(*_COLUMNS).where(threads.c.thread_id == thread_id, *_visible_to(user_id))
        async with self._engine.connect() as conn:
            found = (await conn.execute(statement)).first()
        return None if found is None else _to_row(found)

    async def search(
        self,
        *,
        ids: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str = "created_at",
        sort_order: str = "desc",
        user_id: str | None = None,
    ) -> list[dict[str, Any]]:
        field, descending = check_sort(sort_by, sort_order)
        check_page(limit, offset)
        conditions, check = sql_filters.where(
            ids=ids, metadata=metadata, values=values, status=status, user_id=user_id, postgres=self._postgres
        )
        order = sql_filters.ordering(field, descending=descending, postgres=self._postgres)
        statement = select(*_COLUMNS).where(*conditions).order_by(*order)
        if check is None:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(statement.limit(limit).offset(offset))).all()
            return [_to_row(row) for row in rows]
        return await self._page_checked(statement, check, limit=limit, offset=offset)

    async def _page_checked(
        self, statement: Select[Any], check: sql_filters.Check, *, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Stream the ordered rows, keep those ``check`` accepts, page over them, stop early."""
        page: list[dict[str, Any]] = []
        if limit == 0:
            return page
        skipped = 0
        async with self._engine.connect() as conn:
            result = await conn.stream(statement)
            try:
                async for values in result:
                    if not check(values.metadata_json, values.values_json):
                        continue
                    if skipped < offset:
                        skipped += 1
                        continue
                    page.append(_to_row(values))
                    if len(page) == limit:
                        break
            finally:
                await result.close()
        return page

    async def count(
        self,
        *,
        metadata: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        status: str | None = None,
        user_id: str | None = None,
    ) -> int:
        conditions, check = sql_filters.where(
            ids=None,
            metadata=metadata,
            values=values,
            status=status,
            user_id=user_id,
            postgres=self._postgres,
        )
        async with self._engine.connect() as conn:
            if check is None:
                counting = select(func.count()).select_from(threads).where(*conditions)
                return int((await conn.execute(counting)).scalar_one())
            listing = select(threads.c.metadata_json, threads.c.values_json).where(*conditions)
            result = await conn.stream(listing)
            try:
                return sum([1 async for meta, state in result if check(meta, state)])
            finally:
                await result.close()

    async def list_expired(self, now_iso: str, *, limit: int | None = None) -> list[str]:
        statement = (
            select(_BY_ID)
            .where(threads.c.expires_at.is_not(None), threads.c.expires_at <= parse_iso(now_iso))
            .order_by(threads.c.expires_at, _BY_ID.collate("C") if self._postgres else _BY_ID)
        )
        if limit is not None:
            statement = statement.limit(max(0, limit))
        async with self._engine.connect() as conn:
            return list((await conn.execute(statement)).scalars())
