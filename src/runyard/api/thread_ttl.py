"""Thread time-to-live settings, read as langgraph-api reads them.

``LANGGRAPH_THREAD_TTL`` (minutes, or a JSON object) wins over ``langgraph.json``'s
``checkpointer.ttl``: ``{"strategy": "delete" | "keep_latest", "default_ttl": <minutes>,
"sweep_interval_minutes": <minutes>, "sweep_limit": <threads>}``. ``default_ttl`` applies to
threads created without a ttl of their own. The sweeper runs whatever the settings, since a
thread may carry its own ttl; its interval may be a fraction of a minute (tests use that).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..graphs import ConfigError
from ..threads.base import TTL_STRATEGIES

DEFAULT_SWEEP_MINUTES = 5.0
DEFAULT_SWEEP_LIMIT = 1000
_KEYS = ("strategy", "default_ttl", "sweep_interval_minutes", "sweep_limit")


@dataclass(frozen=True)
class ThreadTtlConfig:
    """What happens to threads whose ttl ran out, and how often the sweeper looks."""

    strategy: str = "delete"
    default_ttl: float | None = None
    """Minutes; None: threads created without a ttl never expire."""
    sweep_interval_minutes: float = DEFAULT_SWEEP_MINUTES
    sweep_limit: int = DEFAULT_SWEEP_LIMIT

    def default_for_new_thread(self) -> dict[str, Any] | None:
        """The ttl a thread created without one gets (the store's ``{"strategy", "ttl"}`` form)."""
        if self.default_ttl is None:
            return None
        return {"strategy": self.strategy, "ttl": self.default_ttl}


def _positive(where: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(f"{where}: must be a positive number of minutes, got {value!r}")
    return float(value)


def _parse(where: str, raw: object) -> ThreadTtlConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be an object with {', '.join(_KEYS)}, got {type(raw).__name__}")
    unknown = sorted(str(key) for key in raw if key not in _KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(_KEYS)}")
    strategy = raw.get("strategy", "delete")
    if strategy not in TTL_STRATEGIES:
        raise ConfigError(f"{where}.strategy: {strategy!r} is not one of {', '.join(TTL_STRATEGIES)}")
    default = raw.get("default_ttl")
    interval = raw.get("sweep_interval_minutes")
    limit = raw.get("sweep_limit", DEFAULT_SWEEP_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"{where}.sweep_limit: must be a positive integer, got {limit!r}")
    return ThreadTtlConfig(
        strategy=str(strategy),
        default_ttl=None if default is None else _positive(f"{where}.default_ttl", default),
        sweep_interval_minutes=DEFAULT_SWEEP_MINUTES
        if interval is None
        else _positive(f"{where}.sweep_interval_minutes", interval),
        sweep_limit=limit,
    )


def thread_ttl_config(checkpointer: Mapping[str, Any] | None, env: Mapping[str, str]) -> ThreadTtlConfig:
    """The settings from ``LANGGRAPH_THREAD_TTL`` or else ``checkpointer.ttl``; defaults without."""
    raw_env = env.get("LANGGRAPH_THREAD_TTL", "").strip()
    if raw_env:
        if raw_env.startswith("{"):
            try:
                parsed = json.loads(raw_env)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"LANGGRAPH_THREAD_TTL: invalid JSON: {exc.msg}") from exc
            return _parse("LANGGRAPH_THREAD_TTL", parsed)
        try:
            minutes = float(raw_env)
        except ValueError as exc:
            raise ConfigError(
                f"LANGGRAPH_THREAD_TTL: a number of minutes or a JSON object, got {raw_env!r}"
            ) from exc
        return ThreadTtlConfig(default_ttl=_positive("LANGGRAPH_THREAD_TTL", minutes))
    raw = (checkpointer or {}).get("ttl")
    return ThreadTtlConfig() if raw is None else _parse("checkpointer.ttl", raw)
