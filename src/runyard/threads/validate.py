"""Checks every thread store runs on its input before writing or querying anything.

Each refusal is an ``InvalidThreadInputError`` whose message names the value and what is
accepted instead (ARCHITECTURE.md decision 7: bad input is a 4xx that names it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from ..runs.clock import parse_iso
from .base import IF_EXISTS_MODES, SORT_FIELDS, SORT_ORDERS, THREAD_STATUSES, TTL_STRATEGIES, TtlInput
from .errors import InvalidThreadInputError

_TTL_KEYS = ("strategy", "ttl")
MAX_TTL_MINUTES = 100 * 366 * 24 * 60
"""A century: any longer and the expiry instant would overflow a datetime (year 9999)."""


def _one_of(kind: str, value: object, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidThreadInputError(f"Unknown {kind} {value!r}: use one of {', '.join(allowed)}")
    return value


def check_status(status: object) -> str:
    """``status`` when it is a thread status."""
    return _one_of("thread status", status, THREAD_STATUSES)


def check_if_exists(if_exists: object) -> str:
    return _one_of("if_exists mode", if_exists, IF_EXISTS_MODES)


def check_sort(sort_by: object, sort_order: object) -> tuple[str, bool]:
    """The sort field and whether the order is descending."""
    field = _one_of("sort field", sort_by, SORT_FIELDS)
    return field, _one_of("sort order", sort_order, SORT_ORDERS) == "desc"


def check_page(limit: int, offset: int) -> None:
    for name, value in (("limit", limit), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidThreadInputError(f"{name} must be a non-negative integer, got {value!r}")


def check_ids(ids: Sequence[str] | None) -> list[str] | None:
    """A list of thread ids (None filters nothing); a bare string is refused, not split."""
    if ids is None:
        return None
    if isinstance(ids, str | bytes) or not all(isinstance(thread_id, str) for thread_id in ids):
        raise InvalidThreadInputError(f"ids must be a list of thread id strings, got {ids!r}")
    return list(ids)


def check_object(name: str, value: object) -> dict[str, Any]:
    """A JSON object argument (metadata, a filter) as a dict; None is the empty object."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidThreadInputError(f"{name} must be a JSON object, got {type(value).__name__}")
    return dict(value)


class TtlPolicy(NamedTuple):
    """A thread's ttl as stored: what happens on expiry, and after how many minutes."""

    strategy: str
    minutes: int | float

    @classmethod
    def of(cls, row_ttl: Mapping[str, Any] | None) -> TtlPolicy | None:
        """The policy a row's ``ttl`` value describes (None for no ttl)."""
        return None if row_ttl is None else cls(row_ttl["strategy"], row_ttl["ttl"])

    def expires_at(self, start: datetime) -> datetime:
        return start + timedelta(minutes=self.minutes)

    def as_row(self, expires_at: str | datetime | None) -> dict[str, Any]:
        """The row's ``ttl`` value."""
        moment = parse_iso(expires_at).isoformat() if expires_at is not None else None
        return {"strategy": self.strategy, "ttl": self.minutes, "expires_at": moment}


def minutes(value: object) -> int | float:
    """A positive, finite number of minutes; integral values come back as ``int``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidThreadInputError(f"ttl must be a number of minutes, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidThreadInputError(f"ttl must be a positive number of minutes, got {value!r}")
    if value > MAX_TTL_MINUTES:
        raise InvalidThreadInputError(
            f"ttl must be at most {MAX_TTL_MINUTES} minutes (a century), got {value!r}"
        )
    return int(value) if float(value).is_integer() else float(value)


def parse_ttl(ttl: TtlInput) -> TtlPolicy | None:
    """The policy for ``ttl``: minutes, or ``{"ttl": minutes, "strategy": "delete"}``."""
    if ttl is None:
        return None
    if not isinstance(ttl, Mapping):
        return TtlPolicy("delete", minutes(ttl))
    unknown = sorted(str(key) for key in ttl if key not in _TTL_KEYS)
    if unknown:
        raise InvalidThreadInputError(
            f"Unknown ttl field(s) {', '.join(unknown)}: use {', '.join(_TTL_KEYS)}"
        )
    if "ttl" not in ttl:
        raise InvalidThreadInputError("ttl needs a 'ttl' field: the number of minutes")
    strategy = _one_of("ttl strategy", ttl.get("strategy", "delete"), TTL_STRATEGIES)
    return TtlPolicy(strategy, minutes(ttl["ttl"]))
