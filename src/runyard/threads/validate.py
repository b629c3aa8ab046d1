"""Checks every thread store runs on its input before writing or querying anything.

Each refusal is an ``InvalidThreadInputError`` whose message names the value and what is
accepted instead (ARCHITECTURE.md decision 7: bad input is a 4xx that names it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from ..persistence.input_checks import InputChecks
from ..runs.clock import parse_iso
from .base import IF_EXISTS_MODES, SORT_FIELDS, SORT_ORDERS, THREAD_STATUSES, TTL_STRATEGIES, TtlInput
from .errors import InvalidThreadInputError

_TTL_KEYS = ("strategy", "ttl")
MAX_TTL_MINUTES = 100 * 366 * 24 * 60
"""A century: any longer and the expiry instant would overflow a datetime (year 9999)."""


_CHECKS = InputChecks(
    InvalidThreadInputError,
    sort_fields=SORT_FIELDS,
    sort_orders=SORT_ORDERS,
    if_exists_modes=IF_EXISTS_MODES,
)
_one_of = _CHECKS.one_of
check_if_exists = _CHECKS.if_exists
check_sort = _CHECKS.sort
check_page = _CHECKS.page
check_object = _CHECKS.json_object


def check_status(status: object) -> str:
    """``status`` when it is a thread status."""
    return _one_of("thread status", status, THREAD_STATUSES)


def check_ids(ids: Sequence[str] | None) -> list[str] | None:
    """A list of thread ids (None filters nothing); a bare string is refused, not split."""
    return _CHECKS.string_list("ids", "a list of thread id strings", ids)


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
