"""The peer servers as targets for the comparison: `langgraph dev` and Aegra, each in its own venv.

``ensure_venv`` creates what is missing under bench/.peers/ (git-ignored): a venv per peer with
its newest installable release (``langgraph-cli[inmem]``; ``aegra-api``, which needs Python >=
3.12), marked done by a ``pip freeze`` file so the install happens once. Each target writes, into
the cell's temporary directory, a ``langgraph.json`` naming the very graph files runyard serves
(examples/bench.py), so every server runs the same code. The settings that keep both peers
offline and quiet are those of /work/shared/reference/peer-servers.md (why each is there is
said there): no analytics, no version check, no tracing, no Redis, no metrics.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from server_targets import ROOT, Launch

PEERS = ROOT / "bench" / ".peers"
GRAPHS = {
    "bench_fast": f"{ROOT / 'examples' / 'bench.py'}:fast",
    "bench_slow": f"{ROOT / 'examples' / 'bench.py'}:slow",
}
# Inherited variables that would point a peer at another database, broker, venv or account.
_DROP = {
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "DATABASE_URL",
    "DATABASE_URI",
    "REDIS_URL",
    "REDIS_URI",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGGRAPH_CLOUD_LICENSE_KEY",
}
_OFFLINE = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
}


def write_config(workdir: Path) -> Path:
    """The cell's langgraph.json: the two bench graphs by absolute path, nothing else."""
    path = workdir / "langgraph.json"
    path.write_text(json.dumps({"dependencies": [str(ROOT / "examples")], "graphs": GRAPHS}, indent=2))
    return path


def peer_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith("RUNYARD_")}
    return env | _OFFLINE | extra


# -- venvs ---------------------------------------------------------------------------------------


def python_at_least(minor: int) -> str | None:
    """An interpreter of Python 3.<minor> or newer: this one, else pyenv's or the system's."""
    if sys.version_info >= (3, minor):
        return sys.executable
    found: list[tuple[tuple[int, ...], str]] = []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for binary in [*glob.glob(str(pyenv / "versions/3.*/bin/python3")), *glob.glob("/usr/bin/python3.*")]:
        name = Path(binary).resolve().name if binary.startswith("/usr") else Path(binary).parent.parent.name
        try:
            version = tuple(int(p) for p in name.removeprefix("python").split(".")[:2])
        except ValueError:
            continue
        if version >= (3, minor) and os.access(binary, os.X_OK):
            found.append((version, binary))
    # the oldest that qualifies: the one a peer most likely supports
    return min(found)[1] if found else None


def ensure_venv(name: str, requirements: list[str], min_minor: int) -> Path:
    """bench/.peers/<name>, created with ``requirements`` unless a previous install finished."""
    venv = PEERS / name
    done = venv / "pip-freeze.txt"
    if done.exists():
        return venv
    python = python_at_least(min_minor)
    if python is None:
        raise RuntimeError(f"{name} needs Python >= 3.{min_minor}; none found (pyenv or /usr/bin)")
    shutil.rmtree(venv, ignore_errors=True)
    PEERS.mkdir(parents=True, exist_ok=True)
    log = PEERS / f"{name}-install.log"
    print(f"installing {name} into {venv} ({' '.join(requirements)}; log {log})", flush=True)
    with log.open("w") as out:
        for cmd in (
            [python, "-m", "venv", str(venv)],
            [str(venv / "bin" / "pip"), "install", "-U", *requirements],
        ):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed; see {log}")
    freeze = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True, check=True
    ).stdout
    done.write_text(freeze)
    return venv


def versions(venv: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Versions of ``names`` from the venv's saved ``pip freeze``."""
    pins = {}
    for line in (venv / "pip-freeze.txt").read_text().splitlines():
        if "==" in line:
            pkg, version = line.split("==", 1)
            pins[pkg.lower().replace("_", "-")] = version
    return {n: pins.get(n, "?") for n in names}


# -- targets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LanggraphDev:
    """``langgraph dev`` (langgraph-api's in-memory runtime), started in the cell's directory.

    It resolves graph paths against the current directory and writes its dev "file persistence"
    (``.langgraph_api/``) there, so the cell's temporary directory is its working directory.
    ``--no-reload``: uvicorn runs inside the ``langgraph`` process, so its PID is the server's.
    """

    jobs_per_worker: int | None = None
    backends: tuple[str, ...] = ("inmem",)
    requirements: list[str] = field(default_factory=lambda: ["langgraph-cli[inmem]"])
    venv_name: str = "langgraph-dev"
    min_minor: int = 11
    version_names: tuple[str, ...] = (
        "langgraph-cli",
        "langgraph-api",
        "langgraph-runtime-inmem",
        "langgraph",
        "langgraph-checkpoint",
        "langchain-core",
        "starlette",
        "uvicorn",
    )

    @property
    def name(self) -> str:
        return "langgraph dev" + (f" -j{self.jobs_per_worker}" if self.jobs_per_worker else "")

    def launch(self, port: int, workdir: Path, database_url: str | None) -> Launch:
        config = write_config(workdir)
        argv = [str(PEERS / self.venv_name / "bin" / "langgraph"), "dev", "--no-browser", "--no-reload"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--config", str(config)]
        if self.jobs_per_worker:
            argv += ["--n-jobs-per-worker", str(self.jobs_per_worker)]
        return Launch(argv, peer_env({}), workdir, "/ok")


@dataclass(frozen=True)
class Aegra:
    """Aegra's API under uvicorn directly (what ``aegra serve`` runs, minus a wrapper that would not
    forward SIGTERM), on a fresh Postgres database per cell, single process, no Redis."""

    name: str = "Aegra"
    backends: tuple[str, ...] = ("postgres",)
    requirements: list[str] = field(default_factory=lambda: ["aegra-api"])
    venv_name: str = "aegra"
    min_minor: int = 12
    version_names: tuple[str, ...] = (
        "aegra-api",
        "langgraph",
        "langgraph-checkpoint-postgres",
        "sqlalchemy",
        "asyncpg",
        "psycopg",
        "fastapi",
        "uvicorn",
    )

    def launch(self, port: int, workdir: Path, database_url: str | None) -> Launch:
        if not database_url:
            raise RuntimeError("Aegra needs a Postgres database")
        config = write_config(workdir)
        argv = [str(PEERS / self.venv_name / "bin" / "python"), "-m", "uvicorn", "aegra_api.main:app"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        env = peer_env(
            {
                "AEGRA_CONFIG": str(config),
                "DATABASE_URL": database_url,
                "AUTH_TYPE": "noop",
                "REDIS_BROKER_ENABLED": "false",
                "OTEL_TARGETS": "",
                "OTEL_CONSOLE_EXPORT": "false",
                "OTEL_SDK_DISABLED": "true",
                "ENABLE_PROMETHEUS_METRICS": "false",
            }
        )
        return Launch(argv, env, workdir, "/health")
