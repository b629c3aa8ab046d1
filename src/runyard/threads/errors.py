"""The thread store's exceptions, and the HTTP status the API maps each to.

    ThreadError                  base of everything the thread store raises on purpose
    ├── ThreadExistsError        409: ``create`` (``if_exists="raise"``) or ``copy`` found the id taken
    └── InvalidThreadInputError  422: an unknown status, sort field, sort order, ``if_exists``
                                 or ttl value (also a ``ValueError``); the message names the
                                 values that are accepted

A missing thread is not an exception: reads return None, writes return None or False, so the
API decides between 404 and an idempotent success. Driver errors are not wrapped.
"""

from __future__ import annotations


class ThreadError(Exception):
    """Base class of the thread store's deliberate errors."""


class ThreadExistsError(ThreadError):
    """A thread with this id already exists."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"Thread {thread_id} already exists")
        self.thread_id = thread_id


class InvalidThreadInputError(ThreadError, ValueError):
    """A value the thread store does not accept; the message names the accepted ones."""
