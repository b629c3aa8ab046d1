"""``SqlThreadStore``: the ``ThreadStore`` contract on SQLite or Postgres, in SQLAlchemy Core.

Writes are single statements, except the read-modify-writes (``update``'s metadata merge,
``touch``), whose first statement is an ``UPDATE ... RETURNING`` of the row: it takes Postgres'
row lock and SQLite's write lock before the row is read, so two merges never lose a key.
``create`` and ``copy`` insert with ``ON CONFLICT DO NOTHING``, so a taken id is found by the
database, whichever process holds it.

Searches page in SQL. On SQLite a metadata or values filter is a pre-filter in SQL plus an
exact containment check in Python (``sql_filters``), so there the rows passing the pre-filter
are read in order (one snapshot) and paged after that check.

Statements reach the database through a statement runner (``persistence.runner``), as the run
store's do, and can share the run store's: on an on-disk SQLite file they run on stdlib
``sqlite3`` on the event loop (``persistence.sqlite_runner``), on Postgres on the async engine.
The fixed statements are built once per store (the SQLite runner caches compiled SQL by
statement object); a search's, which depend on its filters, are built per call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ..persistence.runner import Outcome, StatementRunner, Step
from ..persistence.sql_store import SqlStore
from ..persistence.tables import UtcTimestamp
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

# The SELECT list of every read; ``_to_row`` reads the columns by position.
_COLUMNS = tuple(threads.c)
_NAMES = tuple(column.name for column in _COLUMNS)
_BY_ID = threads.c.thread_id


def _to_row(values: Sequence[Any]) -> dict[str, Any]:
    column = dict(zip(_NAMES, values, strict=True))
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


def _first(outcome: Outcome) -> dict[str, Any] | None:
    return _to_row(outcome.rows[0]) if outcome.rows else None


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


class _Statements:
    """The fixed statements of a store, built once: values come as parameters.

    WHERE values are ``b_*`` binds; an INSERT or UPDATE sets the columns named by the other
    parameters (SQLAlchemy compiles one per set of names).
    """

    def __init__(self, postgres: bool) -> None:
        insert = postgresql.insert if postgres else sqlite.insert
        by_id = threads.c.thread_id == bindparam("b_thread_id")
        by_user = threads.c.user_id == bindparam("b_user_id")
        stamp = bindparam("b_now", type_=UtcTimestamp())
        self.insert = insert(threads).on_conflict_do_nothing(index_elements=[_BY_ID]).returning(*_COLUMNS)
        self.get = select(*_COLUMNS).where(by_id)
        self.get_for_user = select(*_COLUMNS).where(by_id, by_user)
        # The first statement of a read-modify-write: takes the row's lock, then reads it.
        self.lock = update(threads).where(by_id).values(updated_at=stamp).returning(*_COLUMNS)
        self.lock_for_user = (
            update(threads).where(by_id, by_user).values(updated_at=stamp).returning(*_COLUMNS)
        )
        self.rewrite = update(threads).where(by_id).returning(*_COLUMNS)
        self.set_status = update(threads).where(by_id).returning(_BY_ID)
        self.delete = delete(threads).where(by_id).returning(_BY_ID)
        self.delete_for_user = delete(threads).where(by_id, by_user).returning(_BY_ID)
        self.delete_all = delete(threads)


class SqlThreadStore(SqlStore, ThreadStore):
    """Thread rows in the ``threads`` table of a SQLite or Postgres database."""

    def __init__(self, database: AsyncEngine | StatementRunner, *, owns_engine: bool = False) -> None:
        super().__init__(database, owns_engine=owns_engine)
        self._sql = _Statements(self._postgres)

    # -- helpers ---------------------------------------------------------------------------

    async def _try_insert(self, columns: Mapping[str, Any]) -> dict[str, Any] | None:
        """Insert a new row; None when the id is taken."""
        (inserted,) = await self._db.write((self._sql.insert, columns))
        return _first(inserted)

    async def _rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [_to_row(values) for values in await self._db.read(statement, params)]

    async def _rewrite(
        self,
        thread_id: str,
        user_id: str | None,
        change: Callable[[dict[str, Any], datetime], dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Lock the row by stamping ``updated_at``, then write the columns ``change`` returns."""
        stamp = now()
        params: dict[str, Any] = {"b_thread_id": thread_id, "b_now": stamp}
        lock = self._sql.lock
        if user_id is not None:
            params["b_user_id"] = user_id
            lock = self._sql.lock_for_user

        def write_change(outcomes: Sequence[Outcome]) -> Step | None:
            current = _first(outcomes[0])
            if current is None:
                return None
            columns = change(current, stamp)
            if not columns:
                return None
            return self._sql.rewrite, {**columns, "b_thread_id": thread_id}

        locked, written = await self._db.write((lock, params), write_change)
        return _first(written) or _first(locked)

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
            row = await self._try_insert(_new_columns(thread_id, user_id, policy, metadata_json=meta))
            if row is not None:
                return row
            if mode == "raise":
                raise ThreadExistsError(thread_id)
            existing = await self.get(thread_id)
            if existing is not None:
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
        if user_id is None:
            step: Step = (self._sql.delete, {"b_thread_id": thread_id})
        else:
            step = (self._sql.delete_for_user, {"b_thread_id": thread_id, "b_user_id": user_id})
        (deleted,) = await self._db.write(step)
        return bool(deleted.rows)

    async def delete_all(self) -> int:
        (deleted,) = await self._db.write((self._sql.delete_all, {}))
        return deleted.rowcount

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
        columns["b_thread_id"] = thread_id
        (updated,) = await self._db.write((self._sql.set_status, columns))
        return bool(updated.rows)

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
        row = await self._try_insert(columns)
        if row is None:
            raise ThreadExistsError(new_thread_id)
        return row

    # -- reads -----------------------------------------------------------------------------

    async def get(self, thread_id: str, *, user_id: str | None = None) -> dict[str, Any] | None:
        if user_id is None:
            rows = await self._rows(self._sql.get, {"b_thread_id": thread_id})
        else:
            rows = await self._rows(self._sql.get_for_user, {"b_thread_id": thread_id, "b_user_id": user_id})
        return rows[0] if rows else None

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
            return await self._rows(statement.limit(limit).offset(offset), {})
        if limit == 0:
            return []
        # SQLite only: the rows that pass the pre-filter, checked and paged here.
        page: list[dict[str, Any]] = []
        skipped = 0
        for values_ in await self._db.read(statement, {}):
            row = _to_row(values_)
            if not check(row["metadata"], row["values"]):
                continue
            if skipped < offset:
                skipped += 1
                continue
            page.append(row)
            if len(page) == limit:
                break
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
        if check is None:
            counting = select(func.count()).select_from(threads).where(*conditions)
            (found,) = await self._db.read(counting, {})
            return int(found[0])
        listing = select(threads.c.metadata_json, threads.c.values_json).where(*conditions)
        return sum(1 for meta, state in await self._db.read(listing, {}) if check(meta, state))

    async def list_expired(self, now_iso: str, *, limit: int | None = None) -> list[str]:
        statement = (
            select(_BY_ID)
            .where(threads.c.expires_at.is_not(None), threads.c.expires_at <= parse_iso(now_iso))
            .order_by(threads.c.expires_at, _BY_ID.collate("C") if self._postgres else _BY_ID)
        )
        if limit is not None:
            statement = statement.limit(max(0, limit))
        return [found[0] for found in await self._db.read(statement, {})]
