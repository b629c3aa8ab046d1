"""Server settings: where state lives and how much runs at once.

One setting picks the world (ARCHITECTURE.md, decision 5): without ``database_url`` everything
durable lives in one SQLite directory; with a ``postgresql://`` URL all of it lives in Postgres.

Environment variables read by ``settings_from_env``: ``RUNYARD_DATABASE_URL``,
``RUNYARD_MAX_CONCURRENCY``, ``RUNYARD_DRAIN_TIMEOUT``, ``RUNYARD_REDIS_URL`` (cluster mode) and its
timings ``RUNYARD_LEASE_SECONDS``, ``RUNYARD_LEASE_HEARTBEAT``, ``RUNYARD_CLAIM_POLL_INTERVAL``,
``RUNYARD_DEV`` (``0`` turns dev mode and
its test helpers off), and langgraph-api's ``LANGGRAPH_CONFIG``: a JSON object mapping graph ids
to the config of their system assistant (``{"agent": {"configurable": {"model": "x"}}}``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Settings:
    """What ``runyard serve`` was asked for; every field has a production-sane default."""

    config_path: Path = Path("langgraph.json")
    host: str = "127.0.0.1"
    port: int = 2024
    database_url: str | None = None
    data_dir: Path | None = None
    max_concurrency: int = 10
    drain_timeout: float = 10.0
    max_attempts: int = 3
    stream_retention: float = 120.0
    heartbeat_interval: float = 5.0
    wait_keepalive_interval: float = 5.0
    dev_mode: bool = True
    """Serve the dev-mode test helpers (``POST /internal/truncate``), as ``langgraph dev`` does."""
    assistant_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The config of each graph's system assistant, by graph id (``LANGGRAPH_CONFIG``)."""
    extra_env: dict[str, str] = field(default_factory=dict)
    redis_url: str | None = None
    """Cluster mode: Redis for events and signals between processes sharing one Postgres."""
    execute_runs: bool = True
    """False: serve HTTP only and leave execution to other processes (``runyard worker``)."""
    lease_seconds: float = 3.0
    lease_heartbeat: float = 1.0
    claim_poll_interval: float = 1.0

    def __post_init__(self) -> None:
        if self.redis_url and not self.is_postgres:
            raise SettingsError(
                "--redis-url (cluster mode) needs a Postgres --database-url: "
                f"{self.database_url or 'the SQLite default'} cannot be shared by many processes"
            )
        if not self.execute_runs and not self.redis_url:
            raise SettingsError(
                "A process that does not execute runs needs --redis-url and a Postgres --database-url, "
                "shared with the processes that do"
            )

    @property
    def cluster(self) -> bool:
        return bool(self.redis_url)

    @property
    def state_dir(self) -> Path:
        """The embedded default's directory: ``.runyard/`` beside the config file."""
        if self.data_dir is not None:
            return self.data_dir
        return self.config_path.resolve().parent / ".runyard"

    @property
    def is_postgres(self) -> bool:
        return bool(self.database_url) and str(self.database_url).split(":", 1)[0] in (
            "postgres",
            "postgresql",
            "postgresql+psycopg",
        )

    @property
    def run_store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'runyard.db'}"

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / "checkpoints.db"

    @property
    def store_path(self) -> Path:
        """The long-term store's SQLite file (unused with a ``database_url``)."""
        return self.state_dir / "store.db"


class SettingsError(ValueError):
    """An environment variable runyard reads holds a value it cannot use; the message names it."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise SettingsError(f"{name}={raw!r}: expected 1 or 0 (true/false, yes/no, on/off)")


def _check_assistant_config(graph_id: str, config: object) -> dict[str, Any]:
    where = f"LANGGRAPH_CONFIG[{graph_id!r}]"
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise SettingsError(f"{where}: must be a JSON object (a RunnableConfig), got {type(config).__name__}")
    configurable = config.get("configurable")
    if configurable is not None and not isinstance(configurable, dict):
        raise SettingsError(f"{where}.configurable: must be a JSON object, got {type(configurable).__name__}")
    tags = config.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise SettingsError(f"{where}.tags: must be a list of strings")
    limit = config.get("recursion_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise SettingsError(f"{where}.recursion_limit: must be a positive integer, got {limit!r}")
    return config


def parse_assistant_configs(raw: str) -> dict[str, dict[str, Any]]:
    """``LANGGRAPH_CONFIG`` parsed: graph id -> its system assistant's config (langgraph-api's format)."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"LANGGRAPH_CONFIG must be valid JSON: {exc.msg} at column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise SettingsError(
            f"LANGGRAPH_CONFIG must be a JSON object mapping graph ids to configs, got {type(data).__name__}"
        )
    return {str(graph_id): _check_assistant_config(graph_id, config) for graph_id, config in data.items()}


def _positive(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}")
    return value


def settings_from_env(**overrides: object) -> Settings:
    """Settings from the environment (see the module docstring), then explicit overrides (the
    CLI's flags). Raises ``SettingsError`` naming the variable at fault."""
    env: dict[str, object] = {}
    if "RUNYARD_DATABASE_URL" in os.environ:
        env["database_url"] = os.environ["RUNYARD_DATABASE_URL"]
    if "RUNYARD_MAX_CONCURRENCY" in os.environ:
        env["max_concurrency"] = int(os.environ["RUNYARD_MAX_CONCURRENCY"])
    if "RUNYARD_DRAIN_TIMEOUT" in os.environ:
        env["drain_timeout"] = float(os.environ["RUNYARD_DRAIN_TIMEOUT"])
    if "RUNYARD_REDIS_URL" in os.environ:
        env["redis_url"] = os.environ["RUNYARD_REDIS_URL"]
    for name, key in (
        ("RUNYARD_LEASE_SECONDS", "lease_seconds"),
        ("RUNYARD_LEASE_HEARTBEAT", "lease_heartbeat"),
        ("RUNYARD_CLAIM_POLL_INTERVAL", "claim_poll_interval"),
    ):
        if name in os.environ:
            env[key] = _positive(name, os.environ[name])
    if "RUNYARD_DEV" in os.environ:
        env["dev_mode"] = _flag("RUNYARD_DEV", os.environ["RUNYARD_DEV"])
    if os.environ.get("LANGGRAPH_CONFIG"):
        env["assistant_configs"] = parse_assistant_configs(os.environ["LANGGRAPH_CONFIG"])
    env.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**env)  # type: ignore[arg-type]
