"""Bounded retries of short store writes under transient database pressure.

A final status that fails to land leaves a run "running" forever in every reader's eyes, so the
manager retries status writes when the failure is transient: SQLite's lock and busy errors
(another writer holds the file) and Postgres serialization failures and deadlocks. Anything else
(a missing table, a constraint, a closed pool) is permanent and is not retried: retrying it only
delays the error.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_TRANSIENT_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database is busy",
)
_TRANSIENT_SQLITE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# serialization_failure, deadlock_detected, lock_not_available
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


@dataclass(frozen=True)
class PersistenceRetryPolicy:
    """How hard to retry a transient store failure: attempts in all, and exponential backoff."""

    max_attempts: int = 5
    initial_delay: float = 0.05
    max_delay: float = 1.0
    backoff_factor: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def delays(self) -> list[float]:
        """The sleeps between attempts, ``max_attempts - 1`` of them."""
        out: list[float] = []
        delay = self.initial_delay
        for _ in range(self.max_attempts - 1):
            out.append(delay)
            delay = min(self.max_delay, delay * self.backoff_factor)
        return out


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception reachable through SQLAlchemy's ``orig`` and Python's cause/context links."""
    seen: set[int] = set()
    pending = [exc]
    out: list[BaseException] = []
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return out


def is_transient_persistence_error(exc: BaseException) -> bool:
    """Return True when a store failure is worth retrying (lock contention, not a defect)."""
    for current in _chain(exc):
        if (
            isinstance(current, sqlite3.Error)
            and getattr(current, "sqlite_errorcode", None) in _TRANSIENT_SQLITE_CODES
        ):
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate in _TRANSIENT_SQLSTATES:
            return True
        message = str(current).lower()
        if any(fragment in message for fragment in _TRANSIENT_MESSAGES):
            return True
    return False


class RetryCounter:
    """Counts the retries a manager made; the benchmark reports it, operators can export it."""

    __slots__ = ("retries",)

    def __init__(self) -> None:
        self.retries = 0


async def call_with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: PersistenceRetryPolicy,
    describe: str,
    logger: logging.Logger,
    counter: RetryCounter | None = None,
) -> T:
    """Await ``operation()``, retrying transient failures as ``policy`` allows.

    The last failure, or the first permanent one, propagates unchanged.
    """
    delays = policy.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as exc:
            if attempt >= policy.max_attempts or not is_transient_persistence_error(exc):
                raise
            logger.warning(
                "Transient persistence failure during %s (attempt %d/%d); retrying",
                describe,
                attempt,
                policy.max_attempts,
                exc_info=True,
            )
            if counter is not None:
                counter.retries += 1
            delay = delays[attempt - 1]
            if delay > 0:
                await asyncio.sleep(delay)
