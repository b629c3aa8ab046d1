"""When a delayed run (``after_seconds``) comes due, read back from what the store keeps.

The due instant is the run row's ``not_before`` (migration 0005), which cluster mode's claims
also read; rows admitted before that column existed fall back to ``created_at`` plus the delay
the API stamps into ``kwargs.config.configurable`` as ``__after_seconds__`` (langgraph-api's key).
A restart thus honours the original schedule: a run whose time passed while the server was down
starts at once.
"""

from __future__ import annotations

from datetime import timedelta

from .clock import now, parse_iso
from .record import RunRecord


def due_at(after_seconds: float | None) -> str | None:
    """The ``not_before`` of a run admitted now with ``after_seconds``; None without a delay."""
    if not after_seconds or after_seconds <= 0:
        return None
    return (now() + timedelta(seconds=after_seconds)).isoformat()


def remaining_delay(record: RunRecord) -> float:
    """Seconds until ``record`` may start (0 when it is due, or was never delayed)."""
    if record.not_before:
        return max(0.0, (parse_iso(record.not_before) - now()).total_seconds())
    configurable = (record.kwargs.get("config") or {}).get("configurable") or {}
    try:
        delay = float(configurable.get("__after_seconds__") or 0)
    except (TypeError, ValueError):
        return 0.0
    if delay <= 0 or not record.created_at:
        return 0.0
    due = parse_iso(record.created_at) + timedelta(seconds=delay)
    return max(0.0, (due - now()).total_seconds())
