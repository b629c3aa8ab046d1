"""Durable threads: the ``ThreadStore`` contract, its memory implementation, and its errors.

``SqlThreadStore`` lives in ``runyard.threads.sql`` and is imported only when a SQL database is
chosen. The package sits beside ``runs/`` above ``persistence/``: it imports only
``runyard.persistence`` and ``runyard.runs.clock``.
"""

from .base import THREAD_FIELDS, THREAD_STATUSES, UNSET, ThreadStore
from .errors import InvalidThreadInputError, ThreadError, ThreadExistsError
from .memory import MemoryThreadStore

__all__ = [
    "THREAD_FIELDS",
    "THREAD_STATUSES",
    "UNSET",
    "InvalidThreadInputError",
    "MemoryThreadStore",
    "ThreadError",
    "ThreadExistsError",
    "ThreadStore",
]
