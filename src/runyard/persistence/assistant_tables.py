"""The ``assistants`` and ``assistant_versions`` tables, on the same ``MetaData`` as the runs table.

``assistants`` holds each assistant as its latest version says (the row the API shows);
``assistant_versions`` every version ever written, keyed by ``(assistant_id, version)``. A
version row is never changed: ``PATCH`` adds one, ``/latest`` copies one back into
``assistants``. Deleting an assistant deletes its versions in the same transaction (no foreign
key: SQLite enforces none without a pragma).

JSON columns are JSONB on Postgres, so metadata filters are ``@>`` containment, served by a GIN
index that only Postgres creates. Importing this module registers both tables on
``tables.metadata`` (the migrations environment does).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, Integer, String, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

from .tables import UtcTimestamp, metadata


def _json() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


assistants = Table(
    "assistants",
    metadata,
    Column("assistant_id", String(), primary_key=True),
    Column("graph_id", String(), nullable=False),
    Column("name", String(), nullable=False),
    Column("description", String()),
    Column("config_json", _json(), nullable=False),
    Column("context_json", _json(), nullable=False),
    Column("metadata_json", _json(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("created_at", UtcTimestamp(), nullable=False),
    Column("updated_at", UtcTimestamp(), nullable=False),
    Index("ix_assistants_graph_id", "graph_id"),
    Index("ix_assistants_created_at", "created_at"),
    Index(
        "ix_assistants_metadata",
        "metadata_json",
        postgresql_using="gin",
        postgresql_ops={"metadata_json": "jsonb_path_ops"},
        info={"dialects": ("postgresql",)},  # read by migrate.include_object
    ).ddl_if(dialect="postgresql"),
)

assistant_versions = Table(
    "assistant_versions",
    metadata,
    Column("assistant_id", String(), primary_key=True),
    Column("version", Integer(), primary_key=True),
    Column("graph_id", String(), nullable=False),
    Column("name", String(), nullable=False),
    Column("description", String()),
    Column("config_json", _json(), nullable=False),
    Column("context_json", _json(), nullable=False),
    Column("metadata_json", _json(), nullable=False),
    Column("created_at", UtcTimestamp(), nullable=False),
)
