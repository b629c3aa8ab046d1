"""Which store failures are retried, and how often."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy.exc import DatabaseError, OperationalError

from runyard.runs.retry import (
    PersistenceRetryPolicy,
    RetryCounter,
    call_with_retry,
    is_transient_persistence_error,
)


def _sqlite_error(message: str, code: int | None) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    if code is not None:
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"pg error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("Database Table Is Locked"),
        _sqlite_error("opaque", sqlite3.SQLITE_BUSY),
        _sqlite_error("opaque", sqlite3.SQLITE_LOCKED),
        OperationalError("UPDATE runs", {}, sqlite3.OperationalError("database is busy")),
        _PgError("40001"),
        _PgError("40P01"),
    ],
)
def test_transient_errors_are_recognised(exc: BaseException) -> None:
    """Lock and busy errors are transient, by message, by sqlite code, through SQLAlchemy's orig."""
    assert is_transient_persistence_error(exc)


def test_transient_error_found_through_cause_and_context() -> None:
    """A lock error wrapped by the store's own exception is still recognised."""
    caused = RuntimeError("store write failed")
    caused.__cause__ = sqlite3.OperationalError("database is locked")
    assert is_transient_persistence_error(caused)
    during = RuntimeError("while handling")
    during.__context__ = _sqlite_error("opaque", sqlite3.SQLITE_BUSY)
    assert is_transient_persistence_error(during)
    permanent = RuntimeError("wrapped")
    permanent.__cause__ = sqlite3.DatabaseError("no such table: runs")
    assert not is_transient_persistence_error(permanent)


@pytest.mark.parametrize(
    "exc",
    [
        DatabaseError("UPDATE runs", {}, sqlite3.DatabaseError("no such table: runs")),
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        _PgError("23505"),
        RuntimeError("pool closed"),
    ],
)
def test_permanent_errors_are_not_transient(exc: BaseException) -> None:
    """Defects and constraint violations are not mistaken for lock contention."""
    assert not is_transient_persistence_error(exc)


async def test_retry_stops_after_max_attempts_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    """A lock that never clears is retried max_attempts times in all, then raised."""
    calls = 0

    async def locked() -> None:
        nonlocal calls
        calls += 1
        raise sqlite3.OperationalError("database is locked")

    counter = RetryCounter()
    policy = PersistenceRetryPolicy(max_attempts=3, initial_delay=0)
    with pytest.raises(sqlite3.OperationalError):
        await call_with_retry(
            locked, policy=policy, describe="test", logger=logging.getLogger("t"), counter=counter
        )
    assert calls == 3
    assert counter.retries == 2


async def test_retry_returns_once_the_lock_clears() -> None:
    """Two lock errors then success returns the result after three attempts."""
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise sqlite3.OperationalError("database is locked")
        return "ok"

    policy = PersistenceRetryPolicy(max_attempts=5, initial_delay=0)
    assert await call_with_retry(flaky, policy=policy, describe="t", logger=logging.getLogger("t")) == "ok"
    assert calls == 3


def test_backoff_is_exponential_and_capped() -> None:
    """Delays grow by the factor and never exceed max_delay."""
    policy = PersistenceRetryPolicy(max_attempts=6, initial_delay=0.1, max_delay=0.5, backoff_factor=2.0)
    assert policy.delays() == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


def test_policy_rejects_nonsense() -> None:
    """Zero attempts or negative delays are configuration errors."""
    with pytest.raises(ValueError, match="max_attempts"):
        PersistenceRetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        PersistenceRetryPolicy(initial_delay=-1)
