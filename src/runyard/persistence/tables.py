"""The ``runs`` table: one row per run, the durable arbiter of its status.

Timestamps are timezone-aware on both databases: ``TIMESTAMP WITH TIME ZONE`` on Postgres, and
on SQLite a fixed-width UTC string (``2026-01-01T00:00:00.000000+00:00``), so that comparing
and sorting the text compares and sorts the instants.

The partial unique index ``uq_runs_thread_running`` is the database's guarantee of at most one
running run per thread, whichever process writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

from ..runs.clock import parse_iso

metadata = MetaData()

RUNNING_WHERE = text("status = 'running'")
LEASED_WHERE = text("lease_expires_at IS NOT NULL")


class UtcTimestamp(TypeDecorator[datetime]):
    """An aware UTC ``datetime``; binds ``datetime`` or ISO-8601 strings (naive means UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        moment = parse_iso(value).astimezone(UTC)
        if dialect.name == "sqlite":
            return moment.isoformat(timespec="microseconds")
        return moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return parse_iso(value).astimezone(UTC)


def _json() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


runs = Table(
    "runs",
    metadata,
    # Insertion order: the tie-break of listings whose created_at values are equal.
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(), nullable=False),
    Column("thread_id", String(), nullable=False),
    Column("assistant_id", String()),
    Column("user_id", String()),
    Column("status", String(16)),
    Column("on_disconnect", String(16)),
    Column("multitask_strategy", String(16)),
    Column("metadata_json", _json(), nullable=False),
    Column("kwargs_json", _json(), nullable=False),
    Column("error", Text()),
    Column("model_name", String()),
    Column("created_at", UtcTimestamp(), nullable=False),
    Column("updated_at", UtcTimestamp(), nullable=False),
    Column("owner", String()),
    Column("attempt", Integer(), nullable=False, server_default="0"),
    Column("lease_expires_at", UtcTimestamp()),
    # The first cancel's action, for an owner in another process (migration 0005).
    Column("cancel_action", String(16)),
    # A delayed run (``after_seconds``) is not claimed before this instant (migration 0005).
    Column("not_before", UtcTimestamp()),
    Column("total_input_tokens", BigInteger(), nullable=False, server_default="0"),
    Column("total_output_tokens", BigInteger(), nullable=False, server_default="0"),
    Column("total_tokens", BigInteger(), nullable=False, server_default="0"),
    Column("llm_call_count", Integer(), nullable=False, server_default="0"),
    Column("message_count", Integer(), nullable=False, server_default="0"),
    Column("token_usage_by_model", _json()),
    Column("last_ai_message", Text()),
    Column("first_human_message", Text()),
    UniqueConstraint("run_id", name="uq_runs_run_id"),
    Index("ix_runs_thread_created", "thread_id", "created_at"),
    Index("ix_runs_status", "status"),
    Index(
        "ix_runs_leased",
        "owner",
        "lease_expires_at",
        sqlite_where=LEASED_WHERE,
        postgresql_where=LEASED_WHERE,
    ),
    Index(
        "uq_runs_thread_running",
        "thread_id",
        unique=True,
        sqlite_where=RUNNING_WHERE,
        postgresql_where=RUNNING_WHERE,
    ),
)

# Row keys (``ROW_FIELDS``) whose column has another name.
COLUMN_FOR_FIELD: dict[str, str] = {"metadata": "metadata_json", "kwargs": "kwargs_json"}
