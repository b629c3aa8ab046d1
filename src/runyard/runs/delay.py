"""When a delayed run (``after_seconds``) comes due, read back from what the store keeps.

The runs table has no due-time column, and the migration numbers are all taken; the due time is
``created_at`` plus the delay the API stamps into ``kwargs.config.configurable`` as
``__after_seconds__`` (langgraph-api's key), both durable. A restart thus honours the original
schedule: a run whose time passed while the server was down starts at once.
"""

from __future__ import annotations

from datetime import timedelta

from .clock import now, parse_iso
from .record import RunRecord


def remaining_delay(record: RunRecord) -> float:
    """Seconds until ``record`` may start (0 when it is due, or was never delayed)."""
    configurable = (record.kwargs.get("config") or {}).get("configurable") or {}
    try:
        delay = float(configurable.get("__after_seconds__") or 0)
    except (TypeError, ValueError):
        return 0.0
    if delay <= 0 or not record.created_at:
        return 0.0
    due = parse_iso(record.created_at) + timedelta(seconds=delay)
    return max(0.0, (due - now()).total_seconds())
