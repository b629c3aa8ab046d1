"""The SQL that ``SqlRunStore`` runs, built once per dialect as SQLAlchemy Core statements.

Statements take their values as named parameters (``b_*`` for WHERE clauses and stamps, column
names for row values), so each one compiles once and is cached for the engine's life.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import BindParameter, ColumnClause

from ...persistence.tables import COLUMN_FOR_FIELD, UtcTimestamp, runs
from ..schemas import RunStatus
from .base import ROW_FIELDS

# Row key (``ROW_FIELDS``) to column name, in row order: the SELECT list of every read.
FIELD_COLUMNS: dict[str, str] = {field: COLUMN_FOR_FIELD.get(field, field) for field in ROW_FIELDS}
# Columns ``put`` replaces on an existing row (``created_at`` only when one is given).
PUT_COLUMNS = (
    "thread_id",
    "assistant_id",
    "user_id",
    "status",
    "on_disconnect",
    "multitask_strategy",
    "metadata_json",
    "kwargs_json",
    "error",
    "model_name",
    "not_before",
    "updated_at",
)

_PENDING: ColumnClause[str] = literal_column("'pending'")
_RUNNING: ColumnClause[str] = literal_column("'running'")
# INSERT's rowcount is dropped with the cursor unless asked for (async psycopg).
_KEEP_ROWCOUNT = {"preserve_rowcount": True}


def _is_active(status: ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(status.in_([_PENDING, _RUNNING]), status.is_(None))


def _is_pending(status: ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(status == _PENDING, status.is_(None))


class RunStatements:
    """Every statement the store runs, for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str) -> None:
        self._pg = dialect == "postgresql"
        self._insert = postgresql.insert if self._pg else sqlite.insert
        self._columns = [runs.c[name] for name in FIELD_COLUMNS.values()]
        self._other = runs.alias("other")
        self._stamp = bindparam("b_now", type_=UtcTimestamp())
        self._by_id = runs.c.run_id == bindparam("b_run_id")
        self._build_inserts()
        self._build_admission()
        self._build_reads()
        self._build_transitions()

    def _ordered(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # Python's str order, which MemoryRunStore sorts by, is Postgres' "C" collation.
        return column.collate("C") if self._pg else column

    def _build_inserts(self) -> None:
        plain = self._insert(runs)
        self.put = plain.on_conflict_do_update(
            index_elements=[runs.c.run_id], set_={name: plain.excluded[name] for name in PUT_COLUMNS}
        )
        self.put_created = plain.on_conflict_do_update(
            index_elements=[runs.c.run_id],
            set_={name: plain.excluded[name] for name in (*PUT_COLUMNS, "created_at")},
        )
        self.insert_if_absent = plain.on_conflict_do_nothing(
            index_elements=[runs.c.run_id]
        ).execution_options(**_KEEP_ROWCOUNT)
        # Admission replaces a row with the same id, as MemoryRunStore does (a retried admit).
        self._replace_all = [column.name for column in self._columns if column.name != "run_id"]
        self.admit = plain.on_conflict_do_update(
            index_elements=[runs.c.run_id], set_={name: plain.excluded[name] for name in self._replace_all}
        )

    def _build_admission(self) -> None:
        self.thread_lock: Executable | None = (
            text("SELECT pg_advisory_xact_lock(hashtextextended(:thread_id, 0))") if self._pg else None
        )
        params = {column.name: bindparam(column.name, type_=column.type) for column in self._columns}

        def value(column: ColumnClause[Any]) -> ColumnElement[Any]:
            # Postgres types a bare parameter in a SELECT list as text; say what it is.
            return cast(params[column.name], column.type) if self._pg else params[column.name]

        other = self._other
        idle_thread = ~exists().where(other.c.thread_id == params["thread_id"], _is_active(other.c.status))
        guarded = self._insert(runs).from_select(
            [column.name for column in self._columns],
            select(*[value(column) for column in self._columns]).where(idle_thread),
        )
        self.admit_if_idle = guarded.on_conflict_do_update(
            index_elements=[runs.c.run_id],
            set_={name: guarded.excluded[name] for name in self._replace_all},
        ).execution_options(**_KEEP_ROWCOUNT)
        self.interrupt_thread = (
            update(runs)
            .where(runs.c.thread_id == bindparam("b_thread_id"), _is_active(runs.c.status))
            .values(
                status=RunStatus.interrupted.value,
                cancel_action=bindparam("b_action"),
                updated_at=self._stamp,
            )
            .returning(runs.c.run_id, runs.c.seq)
        )

    def _build_reads(self) -> None:
        rows = select(*self._columns)
        self.get = rows.where(self._by_id)
        self.get_for_user = self.get.where(runs.c.user_id == bindparam("b_user_id"))
        newest_first = (runs.c.created_at.desc(), runs.c.seq)
        on_thread = runs.c.thread_id == bindparam("b_thread_id")
        limit: BindParameter[int] = bindparam("b_limit")
        self.list_by_thread = rows.where(on_thread).order_by(*newest_first).limit(limit)
        self.list_by_thread_for_user = (
            rows.where(on_thread, runs.c.user_id == bindparam("b_user_id"))
            .order_by(*newest_first)
            .limit(limit)
        )
        self.next_pending = (
            rows.where(on_thread, _is_pending(runs.c.status))
            .order_by(runs.c.created_at, self._ordered(runs.c.run_id))
            .limit(1)
        )
        self.list_inflight = rows.where(_is_active(runs.c.status)).order_by(runs.c.created_at, runs.c.seq)
        self.list_inflight_before = self.list_inflight.where(
            runs.c.created_at < bindparam("b_before", type_=UtcTimestamp())
        )
        self.thread_of = select(runs.c.thread_id).where(self._by_id)

    def _build_transitions(self) -> None:
        status: BindParameter[str] = bindparam("b_status")
        may_become = and_(self._by_id, or_(_is_active(runs.c.status), runs.c.status == status))
        self.set_status = update(runs).where(may_become).values(status=status, updated_at=self._stamp)
        self.set_status_error = self.set_status.values(error=bindparam("b_error"))

        other = self._other
        older_pending = or_(
            other.c.created_at < runs.c.created_at,
            and_(
                other.c.created_at == runs.c.created_at,
                self._ordered(other.c.run_id) < self._ordered(runs.c.run_id),
            ),
        )
        self.start = (
            update(runs)
            .where(
                self._by_id,
                _is_pending(runs.c.status),
                ~exists().where(other.c.thread_id == runs.c.thread_id, other.c.status == _RUNNING),
                ~exists().where(
                    other.c.thread_id == runs.c.thread_id, _is_pending(other.c.status), older_pending
                ),
            )
            .values(
                status=_RUNNING,
                owner=bindparam("b_owner"),
                attempt=func.coalesce(runs.c.attempt, literal_column("0")) + literal_column("1"),
                lease_expires_at=bindparam("b_lease", type_=UtcTimestamp()),
                updated_at=self._stamp,
            )
        )
        # SET columns come from the parameters' keys (usage columns plus updated_at).
        self.write_usage = update(runs).where(self._by_id)
        self.write_progress = update(runs).where(self._by_id, runs.c.status == _RUNNING)
        self.set_model_name = (
            update(runs).where(self._by_id).values(model_name=bindparam("b_model"), updated_at=self._stamp)
        )
        self.delete = delete(runs).where(self._by_id)
