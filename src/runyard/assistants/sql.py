"""``SqlAssistantStore``: the ``AssistantStore`` contract on SQLite or Postgres, in SQLAlchemy Core.

Every write is one transaction on the statement runner (``persistence.runner``). ``update`` and
``set_latest`` start with an ``UPDATE ... RETURNING`` of the assistant row, which takes Postgres'
row lock (SQLite's write lock is already held), so two patches of one assistant never number
the same version or lose a metadata key. ``create`` inserts with ``ON CONFLICT DO NOTHING`` and
writes version 1 only when the insert happened.

Searches page in SQL. On SQLite a metadata filter is a pre-filter in SQL plus an exact
containment check in Python (the thread store's ``sql_filters``), so there the rows passing the
pre-filter are read in order and paged after that check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ..persistence.assistant_tables import assistant_versions, assistants
from ..persistence.runner import Outcome, StatementRunner, Step
from ..persistence.sql_store import SqlStore
from ..persistence.tables import UtcTimestamp
from ..runs.clock import now
from ..threads import sql_filters
from ..threads.containment import json_contains
from .base import SYSTEM_METADATA, AssistantStore, Filters, version_row
from .errors import AssistantExistsError, AssistantVersionNotFoundError

_COLUMNS = tuple(assistants.c)
_NAMES = tuple(column.name for column in _COLUMNS)
_VERSION_COLUMNS = tuple(assistant_versions.c)
_VERSION_NAMES = tuple(column.name for column in _VERSION_COLUMNS)
_JSON_FIELDS = {"config_json": "config", "context_json": "context", "metadata_json": "metadata"}
_CASE_INSENSITIVE = frozenset({"name", "graph_id"})


def _to_row(values: Sequence[Any], names: Sequence[str] = _NAMES) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        if name in ("created_at", "updated_at"):
            row[name] = value.isoformat()
        else:
            row[_JSON_FIELDS.get(name, name)] = value
    return row


def _first(outcome: Outcome) -> dict[str, Any] | None:
    return _to_row(outcome.rows[0]) if outcome.rows else None


def _columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Row fields as column values (``config`` -> ``config_json``, ...)."""
    renamed = {value: key for key, value in _JSON_FIELDS.items()}
    return {renamed.get(key, key): value for key, value in fields.items()}


class _Statements:
    """The fixed statements of a store, built once; WHERE values are ``b_*`` binds."""

    def __init__(self, postgres: bool) -> None:
        insert = postgresql.insert if postgres else sqlite.insert
        by_id = assistants.c.assistant_id == bindparam("b_assistant_id")
        version_of = assistant_versions.c.assistant_id == bindparam("b_assistant_id")
        stamp = bindparam("b_now", type_=UtcTimestamp())
        self.insert = (
            insert(assistants)
            .on_conflict_do_nothing(index_elements=[assistants.c.assistant_id])
            .returning(*_COLUMNS)
        )
        self.insert_version = insert(assistant_versions)
        self.get = select(*_COLUMNS).where(by_id)
        self.lock = update(assistants).where(by_id).values(updated_at=stamp).returning(*_COLUMNS)
        self.max_version = select(func.max(assistant_versions.c.version)).where(version_of)
        self.get_version = select(*_VERSION_COLUMNS).where(
            version_of, assistant_versions.c.version == bindparam("b_version")
        )
        self.rewrite = update(assistants).where(by_id).returning(*_COLUMNS)
        self.delete = delete(assistants).where(by_id).returning(assistants.c.assistant_id)
        self.delete_versions = delete(assistant_versions).where(version_of)
        if postgres:
            system = sql_filters.contains(assistants.c.metadata_json, SYSTEM_METADATA)
        else:
            created_by = func.json_extract(assistants.c.metadata_json, "$.created_by")
            system = func.coalesce(created_by == "system", False)
        self.delete_users = delete(assistants).where(~system)
        self.delete_every = delete(assistants)
        # Run after one of the two above, in the same transaction.
        self.delete_orphan_versions = delete(assistant_versions).where(
            assistant_versions.c.assistant_id.not_in(select(assistants.c.assistant_id))
        )


def _version_columns(row: Mapping[str, Any], version: int, stamp: Any) -> dict[str, Any]:
    return _columns(version_row(row, version, stamp))


class SqlAssistantStore(SqlStore, AssistantStore):
    """Assistants in the ``assistants`` and ``assistant_versions`` tables of SQLite or Postgres."""

    def __init__(self, database: AsyncEngine | StatementRunner, *, owns_engine: bool = False) -> None:
        super().__init__(database, owns_engine=owns_engine)
        self._sql = _Statements(self._postgres)

    # -- writes ----------------------------------------------------------------------------

    async def _create(self, row: dict[str, Any], if_exists: str) -> dict[str, Any]:
        assistant_id = row["assistant_id"]
        stamp = now()
        columns = _columns(row) | {"version": 1, "created_at": stamp, "updated_at": stamp}

        def first_version(outcomes: Sequence[Outcome]) -> Step | None:
            if not outcomes[0].rows:
                return None
            return self._sql.insert_version, _version_columns(row, 1, stamp)

        for _ in range(3):  # the existing row may vanish between our insert and our read
            inserted, _version = await self._db.write((self._sql.insert, columns), first_version)
            created = _first(inserted)
            if created is not None:
                return created
            if if_exists == "raise":
                raise AssistantExistsError(assistant_id)
            existing = await self.get(assistant_id)
            if existing is not None:
                return existing
        raise AssistantExistsError(assistant_id)

    async def _update(
        self, assistant_id: str, change: Callable[[Mapping[str, Any]], dict[str, Any]]
    ) -> dict[str, Any] | None:
        stamp = now()
        ids = {"b_assistant_id": assistant_id}

        def new_version(outcomes: Sequence[Outcome]) -> int:
            highest = outcomes[1].rows[0][0] if outcomes[1].rows else None
            return int(highest or 0) + 1

        def rewrite(outcomes: Sequence[Outcome]) -> Step | None:
            current = _first(outcomes[0])
            if current is None:
                return None
            changes = change(current)
            columns = _columns(changes) | {"version": new_version(outcomes), "updated_at": stamp}
            return self._sql.rewrite, columns | ids

        def record(outcomes: Sequence[Outcome]) -> Step | None:
            written = _first(outcomes[2])
            if written is None:
                return None
            return self._sql.insert_version, _version_columns(written, written["version"], stamp)

        steps = ((self._sql.lock, ids | {"b_now": stamp}), (self._sql.max_version, ids), rewrite, record)
        outcomes = await self._db.write(*steps)
        return _first(outcomes[2])

    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any] | None:
        stamp = now()
        ids = {"b_assistant_id": assistant_id}

        def rewrite(outcomes: Sequence[Outcome]) -> Step | None:
            if not outcomes[0].rows:
                return None
            if not outcomes[1].rows:  # raised inside the transaction: it rolls back the stamp
                raise AssistantVersionNotFoundError(assistant_id, version)
            stored = _to_row(outcomes[1].rows[0], _VERSION_NAMES)
            fields = ("graph_id", "config", "context", "metadata", "name", "description", "version")
            columns = _columns({key: stored[key] for key in fields}) | {"updated_at": stamp}
            return self._sql.rewrite, columns | ids

        locked, found, written = await self._db.write(
            (self._sql.lock, ids | {"b_now": stamp}),
            (self._sql.get_version, ids | {"b_version": version}),
            rewrite,
        )
        return _first(written) if locked.rows and found.rows else None

    async def delete(self, assistant_id: str) -> bool:
        ids = {"b_assistant_id": assistant_id}
        deleted, _versions = await self._db.write((self._sql.delete, ids), (self._sql.delete_versions, ids))
        return bool(deleted.rows)

    async def delete_all(self, *, keep_system: bool = True) -> int:
        first = self._sql.delete_users if keep_system else self._sql.delete_every
        deleted, _versions = await self._db.write((first, {}), (self._sql.delete_orphan_versions, {}))
        return deleted.rowcount

    # -- reads -----------------------------------------------------------------------------

    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        rows = await self._db.read(self._sql.get, {"b_assistant_id": assistant_id})
        return _to_row(rows[0]) if rows else None

    def _where(self, filters: Filters) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
        """The WHERE conditions, and the metadata pattern SQLite still owes a check ({} if none)."""
        graph_id, name, pattern, allowed = filters
        conditions: list[ColumnElement[bool]] = []
        if graph_id:
            conditions.append(assistants.c.graph_id == graph_id)
        if allowed is not None and self._postgres:
            conditions.append(assistants.c.graph_id.in_(allowed))
        elif allowed is not None:
            # One JSON array bind: the SQLite runner executes compiled SQL, no expanding IN.
            listed = func.json_each(literal(json.dumps(allowed))).table_valued("value")
            conditions.append(assistants.c.graph_id.in_(select(listed.c.value)))
        if name:
            conditions.append(assistants.c.name.icontains(name, autoescape=True))
        if not pattern:
            return conditions, {}
        if self._postgres:
            conditions.append(sql_filters.contains(assistants.c.metadata_json, pattern))
            return conditions, {}
        conditions.extend(sql_filters.sqlite_prefilter(assistants.c.metadata_json, pattern))
        return conditions, pattern

    def _ordering(self, field: str, descending: bool) -> list[ColumnElement[Any]]:
        keys: list[ColumnElement[Any]] = []
        for key in (field, "assistant_id") if field != "assistant_id" else ("assistant_id",):
            column: ColumnElement[Any] = assistants.c[key]
            if key in _CASE_INSENSITIVE:
                column = func.lower(column)
            if self._postgres and key not in ("created_at", "updated_at"):
                column = column.collate("C")  # code point order, as SQLite and Python sort text
            keys.append(column.desc() if descending else column.asc())
        return keys

    async def _search(
        self, filters: Filters, field: str, descending: bool, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        conditions, owed = self._where(filters)
        statement: Select[Any] = (
            select(*_COLUMNS).where(*conditions).order_by(*self._ordering(field, descending))
        )
        if not owed:
            return [
                _to_row(values) for values in await self._db.read(statement.limit(limit).offset(offset), {})
            ]
        if limit == 0:
            return []
        page: list[dict[str, Any]] = []
        skipped = 0
        for values in await self._db.read(statement, {}):
            row = _to_row(values)
            if not json_contains(row["metadata"], owed):
                continue
            if skipped < offset:
                skipped += 1
                continue
            page.append(row)
            if len(page) == limit:
                break
        return page

    async def _count(self, filters: Filters) -> int:
        conditions, owed = self._where(filters)
        if not owed:
            (found,) = await self._db.read(
                select(func.count()).select_from(assistants).where(*conditions), {}
            )
            return int(found[0])
        listing = select(assistants.c.metadata_json).where(*conditions)
        return sum(1 for (meta,) in await self._db.read(listing, {}) if json_contains(meta, owed))

    async def _list_versions(
        self, assistant_id: str, pattern: dict[str, Any], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        statement = (
            select(*_VERSION_COLUMNS)
            .where(assistant_versions.c.assistant_id == assistant_id)
            .order_by(assistant_versions.c.version.desc())
        )
        if pattern and self._postgres:
            statement = statement.where(sql_filters.contains(assistant_versions.c.metadata_json, pattern))
            pattern = {}
        if not pattern:
            statement = statement.limit(limit).offset(offset)
        rows = [_to_row(values, _VERSION_NAMES) for values in await self._db.read(statement, {})]
        if pattern:
            rows = [row for row in rows if json_contains(row["metadata"], pattern)][offset : offset + limit]
        return rows
