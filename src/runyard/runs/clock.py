"""Timestamps for run rows: timezone-aware ISO-8601, strictly increasing within a process.

Runs created in the same microsecond would otherwise tie, and "newest first" listings (and the
creation order that ``enqueue`` starts runs in) would depend on the store's tie-breaking.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_last: datetime | None = None
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now() -> datetime:
    """Return the current UTC time, at least one microsecond after the previous call."""
    global _last
    current = datetime.now(UTC)
    with _lock:
        if _last is not None and current <= _last:
            current = _last + timedelta(microseconds=1)
        _last = current
    return current


def now_iso() -> str:
    return now().isoformat()


def parse_iso(value: str | datetime | None) -> datetime:
    """Parse a stored timestamp into an aware datetime; naive values are taken as UTC.

    Empty or missing values sort first (the epoch) instead of failing a listing.
    """
    if value is None or value == "":
        return _EPOCH
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def to_iso(value: str | datetime | None) -> str | None:
    """Normalise a timestamp to the aware ISO-8601 form rows carry."""
    if value is None or value == "":
        return None
    return parse_iso(value).isoformat()
