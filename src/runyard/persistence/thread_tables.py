"""The ``threads`` table: one row per thread, on the same ``MetaData`` as the runs table.

JSON columns are JSONB on Postgres, so metadata and values filters are ``@>`` containment; the
metadata column carries a GIN index (``jsonb_path_ops``, which serves exactly ``@>``) that only
Postgres creates. Values are not indexed: they are rewritten after every run, and a values
search is rare. Timestamps use ``UtcTimestamp`` (fixed-width UTC text on SQLite, so sorting the
text sorts the instants). The ttl is three nullable columns, set together or not at all.

Importing this module registers the table on ``tables.metadata``; the migrations environment
does, so autogenerate and the schema checks see every table. An object whose ``info["dialects"]``
names dialects exists only on those (``migrate.include_object`` tells Alembic's comparison).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Float, Index, String, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from .tables import UtcTimestamp, metadata


def _json(*, nullable_as_sql_null: bool = False) -> TypeEngine[Any]:
    # none_as_null: a None value is SQL NULL ("no state yet"), not the JSON literal null.
    return JSON(none_as_null=nullable_as_sql_null).with_variant(
        JSONB(none_as_null=nullable_as_sql_null), "postgresql"
    )


threads = Table(
    "threads",
    metadata,
    Column("thread_id", String(), primary_key=True),
    Column("user_id", String()),
    Column("status", String(16), nullable=False),
    Column("metadata_json", _json(), nullable=False),
    Column("config_json", _json(), nullable=False),
    Column("values_json", _json(nullable_as_sql_null=True)),
    Column("interrupts_json", _json(), nullable=False),
    Column("created_at", UtcTimestamp(), nullable=False),
    Column("updated_at", UtcTimestamp(), nullable=False),
    Column("state_updated_at", UtcTimestamp(), nullable=False),
    Column("ttl_strategy", String(16)),
    Column("ttl_minutes", Float()),
    Column("expires_at", UtcTimestamp()),
    Index("ix_threads_created_at", "created_at"),
    Index("ix_threads_user_id", "user_id"),
    Index("ix_threads_status", "status"),
    Index("ix_threads_expires_at", "expires_at"),
    Index(
        "ix_threads_metadata",
        "metadata_json",
        postgresql_using="gin",
        postgresql_ops={"metadata_json": "jsonb_path_ops"},
        info={"dialects": ("postgresql",)},  # read by migrate.include_object
    ).ddl_if(dialect="postgresql"),
)
