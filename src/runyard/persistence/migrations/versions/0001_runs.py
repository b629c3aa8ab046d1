"""Create the runs table and its indexes.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUNNING = sa.text("status = 'running'")


def _timestamp() -> sa.types.TypeEngine[Any]:
    # Postgres keeps the instant; SQLite keeps fixed-width UTC text that sorts chronologically.
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # if_not_exists: SQLite runs DDL outside a transaction, so a crash between the table and
    # the version stamp must not wedge the next start-up.
    op.create_table(
        "runs",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=False),
        sa.Column("assistant_id", sa.String()),
        sa.Column("user_id", sa.String()),
        sa.Column("status", sa.String(16)),
        sa.Column("on_disconnect", sa.String(16)),
        sa.Column("multitask_strategy", sa.String(16)),
        sa.Column("metadata_json", _json(), nullable=False),
        sa.Column("kwargs_json", _json(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("model_name", sa.String()),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.Column("owner", sa.String()),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_expires_at", _timestamp()),
        sa.Column("total_input_tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("total_output_tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("llm_call_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("message_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("token_usage_by_model", _json()),
        sa.Column("last_ai_message", sa.Text()),
        sa.Column("first_human_message", sa.Text()),
        sa.UniqueConstraint("run_id", name="uq_runs_run_id"),
        if_not_exists=True,
    )
    op.create_index("ix_runs_thread_created", "runs", ["thread_id", "created_at"], if_not_exists=True)
    op.create_index("ix_runs_status", "runs", ["status"], if_not_exists=True)
    op.create_index(
        "uq_runs_thread_running",
        "runs",
        ["thread_id"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("uq_runs_thread_running", table_name="runs")
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_index("ix_runs_thread_created", table_name="runs")
    op.drop_table("runs")
