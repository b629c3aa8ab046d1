"""Cluster leases: a durable cancel request and the index that lease sweeps and renewals read.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-23

``cancel_action`` carries the first cancel's action (interrupt or rollback) to an owner in
another process: it sees it on its next heartbeat even when the Redis message was lost.
``not_before`` is when a delayed run (``after_seconds``) becomes claimable, so any process, or
the same one after a restart, honours the original schedule. ``ix_runs_leased`` covers the two queries every process runs each heartbeat: its own held runs
(by owner) and the lapsed leases it may take over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.types.TypeEngine[Any]:
    return sa.DateTime(timezone=True).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("cancel_action", sa.String(16)))
        batch.add_column(sa.Column("not_before", _timestamp()))
    op.create_index(
        "ix_runs_leased",
        "runs",
        ["owner", "lease_expires_at"],
        sqlite_where=sa.text("lease_expires_at IS NOT NULL"),
        postgresql_where=sa.text("lease_expires_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_leased", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("not_before")
        batch.drop_column("cancel_action")
