"""Create the assistants and assistant_versions tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {"ix_assistants_graph_id": "graph_id", "ix_assistants_created_at": "created_at"}


def _timestamp() -> sa.types.TypeEngine[Any]:
    # Postgres keeps the instant; SQLite keeps fixed-width UTC text that sorts chronologically.
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def _version_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("graph_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String()),
        sa.Column("config_json", _json(), nullable=False),
        sa.Column("context_json", _json(), nullable=False),
        sa.Column("metadata_json", _json(), nullable=False),
    ]


def upgrade() -> None:
    # if_not_exists: SQLite runs DDL outside a transaction, so a crash between the table and
    # the version stamp must not wedge the next start-up.
    op.create_table(
        "assistants",
        sa.Column("assistant_id", sa.String(), primary_key=True),
        *_version_columns(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        if_not_exists=True,
    )
    for name, column in _INDEXES.items():
        op.create_index(name, "assistants", [column], if_not_exists=True)
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_assistants_metadata",
            "assistants",
            ["metadata_json"],
            postgresql_using="gin",
            postgresql_ops={"metadata_json": "jsonb_path_ops"},
            if_not_exists=True,
        )
    op.create_table(
        "assistant_versions",
        sa.Column("assistant_id", sa.String(), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        *_version_columns(),
        sa.Column("created_at", _timestamp(), nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("assistant_versions")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_assistants_metadata", table_name="assistants")
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="assistants")
    op.drop_table("assistants")
