"""Server settings: where state lives and how much runs at once.

One setting picks the world (ARCHITECTURE.md, decision 5): without ``database_url`` everything
durable lives in one SQLite directory; with a ``postgresql://`` URL all of it lives in Postgres.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


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
    extra_env: dict[str, str] = field(default_factory=dict)

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


def settings_from_env(**overrides: object) -> Settings:
    """Settings from ``RUNYARD_*`` variables, then explicit overrides (the CLI's flags)."""
    env: dict[str, object] = {}
    if "RUNYARD_DATABASE_URL" in os.environ:
        env["database_url"] = os.environ["RUNYARD_DATABASE_URL"]
    if "RUNYARD_MAX_CONCURRENCY" in os.environ:
        env["max_concurrency"] = int(os.environ["RUNYARD_MAX_CONCURRENCY"])
    if "RUNYARD_DRAIN_TIMEOUT" in os.environ:
        env["drain_timeout"] = float(os.environ["RUNYARD_DRAIN_TIMEOUT"])
    env.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**env)  # type: ignore[arg-type]
