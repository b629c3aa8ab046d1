"""Create the threads table and its indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_threads_created_at": "created_at",
    "ix_threads_user_id": "user_id",
    "ix_threads_status": "status",
    "ix_threads_expires_at": "expires_at",
}


def _timestamp() -> sa.types.TypeEngine[Any]:
    # Postgres keeps the instant; SQLite keeps fixed-width UTC text that sorts chronologically.
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # if_not_exists: SQLite runs DDL outside a transaction, so a crash between the table and
    # the version stamp must not wedge the next start-up.
    op.create_table(
        "threads",
        sa.Column("thread_id", sa.String(), primary_key=True),
        sa.Column("user_id", sa.String()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("metadata_json", _json(), nullable=False),
        sa.Column("config_json", _json(), nullable=False),
        sa.Column("values_json", _json()),
        sa.Column("interrupts_json", _json(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("state_updated_at", _timestamp(), nullable=False),
        sa.Column("ttl_strategy", sa.String(16)),
        sa.Column("ttl_minutes", sa.Float()),
        sa.Column("expires_at", _timestamp()),
        if_not_exists=True,
    )
    for name, column in _INDEXES.items():
        op.create_index(name, "threads", [column], if_not_exists=True)
    if op.get_bind().dialect.name == "postgresql":
        # Serves metadata @> filters; jsonb_path_ops is smaller and faster for @> alone.
        op.create_index(
            "ix_threads_metadata",
            "threads",
            ["metadata_json"],
            postgresql_using="gin",
            postgresql_ops={"metadata_json": "jsonb_path_ops"},
            if_not_exists=True,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_threads_metadata", table_name="threads")
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="threads")
    op.drop_table("threads")
