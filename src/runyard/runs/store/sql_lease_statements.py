"""The lease statements of ``SqlRunStore`` (cluster mode), built once per dialect.

On Postgres every lease instant is the database's ``now()``, so processes on machines whose
clocks differ still agree on when a lease lapsed; on SQLite (one machine) the caller binds the
time as ``b_now``. A claim picks its run in a subquery with ``FOR UPDATE SKIP LOCKED`` on
Postgres, so processes claiming at once take different runs instead of queueing on one row;
the outer UPDATE repeats the guard, which Postgres re-checks against the row's newest version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, literal_column, null, or_, select, update
from sqlalchemy.sql.expression import BindParameter

from ...persistence.tables import UtcTimestamp, runs
from ..schemas import RunStatus
from .sql_statements import _PENDING, _RUNNING, FIELD_COLUMNS


class LeaseStatements:
    """Claim, renew, release and fenced writes, for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str) -> None:
        pg = dialect == "postgresql"
        self.uses_db_clock = pg
        columns = [runs.c[name] for name in FIELD_COLUMNS.values()]
        now: ColumnElement[Any] = func.now() if pg else bindparam("b_now", type_=UtcTimestamp())
        seconds: BindParameter[float] = bindparam("b_lease_seconds")
        if pg:
            lease: ColumnElement[Any] = now + literal_column("interval '1 second'") * seconds
        else:
            lease = bindparam("b_lease", type_=UtcTimestamp())
        owner: BindParameter[str] = bindparam("b_owner")
        by_id = runs.c.run_id == bindparam("b_run_id")
        pending = or_(runs.c.status == _PENDING, runs.c.status.is_(None))
        active = or_(runs.c.status.in_([_PENDING, _RUNNING]), runs.c.status.is_(None))

        candidate = runs.alias("candidate")
        other = runs.alias("other")
        other_pending = or_(other.c.status == _PENDING, other.c.status.is_(None))
        due_pending = and_(
            or_(candidate.c.status == _PENDING, candidate.c.status.is_(None)),
            or_(candidate.c.not_before.is_(None), candidate.c.not_before <= now),
            ~exists().where(
                other.c.thread_id == candidate.c.thread_id,
                other.c.run_id != candidate.c.run_id,
                or_(
                    other.c.status == _RUNNING,
                    and_(other.c.lease_expires_at.is_not(None), other.c.lease_expires_at > now),
                    and_(
                        other_pending,
                        or_(
                            other.c.created_at < candidate.c.created_at,
                            and_(
                                other.c.created_at == candidate.c.created_at,
                                other.c.run_id < candidate.c.run_id,
                            ),
                        ),
                    ),
                ),
            ),
        )
        max_attempts: BindParameter[int] = bindparam("b_max_attempts")
        lapsed = and_(
            candidate.c.status == _RUNNING,
            candidate.c.lease_expires_at.is_not(None),
            candidate.c.lease_expires_at <= now,
            func.coalesce(candidate.c.attempt, 0) < max_attempts,
        )
        pick = (
            select(candidate.c.run_id)
            .where(or_(due_pending, lapsed))
            .order_by(candidate.c.created_at, candidate.c.run_id)
            .limit(1)
        )
        if pg:
            pick = pick.with_for_update(skip_locked=True)
        claimable_row = or_(
            pending,
            and_(
                runs.c.status == _RUNNING,
                runs.c.lease_expires_at.is_not(None),
                runs.c.lease_expires_at <= now,
            ),
        )
        self.claim = (
            update(runs)
            .where(runs.c.run_id == pick.scalar_subquery(), claimable_row)
            .values(
                status=_RUNNING,
                owner=owner,
                attempt=func.coalesce(runs.c.attempt, 0) + 1,
                lease_expires_at=lease,
                cancel_action=null(),
                updated_at=now,
            )
            .returning(*columns)
        )
        self.renew = (
            update(runs)
            .where(runs.c.owner == owner, runs.c.lease_expires_at.is_not(None))
            .values(lease_expires_at=lease)
            .returning(runs.c.run_id, runs.c.status, runs.c.cancel_action)
        )
        # Letting go is two writes in one transaction: a run still running (fenced, drained)
        # goes back to pending for any process to claim, then whatever hold is left is dropped.
        mine = runs.c.owner == owner
        self.requeue_run = (
            update(runs)
            .where(by_id, mine, runs.c.status == _RUNNING)
            .values(status=_PENDING, owner=null(), lease_expires_at=null(), updated_at=now)
        )
        self.unhold_run = (
            update(runs)
            .where(by_id, mine, runs.c.lease_expires_at.is_not(None))
            .values(lease_expires_at=null())
        )
        self.requeue_owner = (
            update(runs)
            .where(mine, runs.c.status == _RUNNING)
            .values(status=_PENDING, owner=null(), lease_expires_at=null(), updated_at=now)
            .returning(runs.c.run_id)
        )
        self.unhold_owner = (
            update(runs).where(mine, runs.c.lease_expires_at.is_not(None)).values(lease_expires_at=null())
        )
        self.abandon_lapsed = (
            update(runs)
            .where(
                runs.c.status == _RUNNING,
                runs.c.lease_expires_at.is_not(None),
                runs.c.lease_expires_at <= now,
                func.coalesce(runs.c.attempt, 0) >= max_attempts,
            )
            .values(
                status=literal_column(f"'{RunStatus.error.value}'"),
                error=bindparam("b_error"),
                lease_expires_at=null(),
                updated_at=now,
            )
            .returning(*columns)
        )
        self.request_cancel = (
            update(runs)
            .where(by_id, active)
            .values(
                status=literal_column(f"'{RunStatus.interrupted.value}'"),
                cancel_action=bindparam("b_action"),
                updated_at=now,
            )
        )
        status: BindParameter[str] = bindparam("b_status")
        self.finish_owned = (
            update(runs)
            .where(by_id, runs.c.owner == owner, or_(active, runs.c.status == status))
            .values(status=status, updated_at=now)
        )
        self.finish_owned_error = self.finish_owned.values(error=bindparam("b_error"))
