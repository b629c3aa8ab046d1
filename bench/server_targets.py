"""Targets for server_bench.py: how to start a server, the Postgres it may use, and /proc accounting.

A target knows how to launch one server (argv, environment, working directory, health path) on a
given loopback port; ``serve`` starts it, waits for its health path, yields its URL and PID, and
stops that PID alone. Other servers (``langgraph dev``, Aegra) slot in as more targets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def _services() -> Any:
    """tests/services.py (free ports, readiness polling, a throwaway PostgreSQL)."""
    sys.path.insert(0, str(ROOT))
    from tests import services

    return services


# -- targets ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    health: str = "/ok"


@dataclass(frozen=True)
class Runyard:
    """``python -m runyard.cli serve`` on examples/langgraph.json; SQLite in ``workdir`` by default."""

    max_concurrency: int | None = None
    name: str = "runyard"
    backends: tuple[str, ...] = ("sqlite", "postgres")
    config: Path = ROOT / "examples" / "langgraph.json"

    def launch(self, port: int, workdir: Path, database_url: str | None) -> Launch:
        argv = [
            sys.executable,
            "-m",
            "runyard.cli",
            "serve",
            "--config",
            str(self.config),
        ]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--data-dir", str(workdir / "data")]
        argv += ["--log-level", "warning"]
        if database_url:
            argv += ["--database-url", database_url]
        if self.max_concurrency:
            argv += ["--max-concurrency", str(self.max_concurrency)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
        return Launch(argv, env | {"LANGSMITH_TRACING": "false"}, workdir)


@dataclass
class Server:
    url: str
    pid: int  # its CPU and RSS count with those of its descendants
    startup_s: float
    log: Path


@contextlib.contextmanager
def serve(target: Any, workdir: Path, database_url: str | None) -> Iterator[Server]:
    """Start ``target`` on a free loopback port, yield it, then stop that one PID (TERM, then KILL)."""
    services = _services()
    port = services.free_port()
    spec = target.launch(port, workdir, database_url)
    url, log = f"http://127.0.0.1:{port}", workdir / "server.log"
    started = time.perf_counter()
    with log.open("ab") as out:
        proc = subprocess.Popen(spec.argv, env=spec.env, cwd=spec.cwd, stdout=out, stderr=subprocess.STDOUT)
    try:

        def ready() -> bool:
            try:
                return httpx.get(url + spec.health, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            services.wait_for(ready, timeout=60, what=target.name, alive=lambda: proc.poll() is None)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
        yield Server(url, proc.pid, time.perf_counter() - started, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- Postgres ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[Any]:
    """A ``tests.services.PostgresServer``: the given one, else a throwaway local one, else None."""
    services = _services()
    with contextlib.ExitStack() as stack:
        server = None
        try:
            server = services._external_postgres(url) if url else stack.enter_context(services.postgres())
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # pytest.skip's, too, when no server binaries are installed
            print(f"postgres cells skipped: {exc}", file=sys.stderr)
        yield server


@contextlib.contextmanager
def cell_database(server: Any) -> Iterator[str]:
    """A fresh database per cell; the given one when we may not create databases."""
    import psycopg

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(server.fresh_database())
        except psycopg.Error as exc:
            print(f"no fresh database ({exc}); reusing {server.url}", file=sys.stderr)
            url = server.url
        yield url


# -- /proc accounting -----------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _tree(root: int) -> list[int]:
    """``root`` and its live descendants."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def tree_cpu(root: int | None) -> float:
    """CPU seconds of ``root`` (its own plus its reaped children's) and of its live descendants."""
    if root is None:
        return 0.0
    total = 0
    for pid in _tree(root):
        if fields := _stat(pid):
            total += int(fields[11]) + int(fields[12])
            if pid == root:  # children that exited were reaped by someone in the tree
                total += int(fields[13]) + int(fields[14])
    return total / TICK


def main_thread_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s main thread (for a uvicorn server: the event loop)."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_rss_mib(root: int) -> float:
    kib = 0
    for pid in _tree(root):
        with contextlib.suppress(OSError, StopIteration):
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            kib += int(next(x for x in status if x.startswith("VmRSS:")).split()[1])
    return round(kib / 1024, 1)


def machine_busy() -> float:
    """CPU seconds all cores spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK


def wait_quiet(limit_s: float, threshold: float = 0.3) -> tuple[float, float]:
    """Wait (up to ``limit_s``) until the machine is nearly idle for a second: other people's jobs
    share these cores. Returns (seconds waited, busy cores in the last second)."""
    started = time.perf_counter()
    while True:
        before = machine_busy()
        time.sleep(1.0)
        busy = machine_busy() - before
        waited = time.perf_counter() - started
        if busy < threshold or waited >= limit_s:
            return round(waited, 1), round(busy, 2)


def postmaster_pid(url: str) -> int | None:
    """The Postgres server's PID (from its data directory), if it runs on this machine."""
    import psycopg

    with (
        contextlib.suppress(psycopg.Error, OSError, ValueError),
        psycopg.connect(url, connect_timeout=5) as conn,
    ):
        row = conn.execute("SHOW data_directory").fetchone()
        return int((Path(row[0]) / "postmaster.pid").read_text().split("\n", 1)[0]) if row else None
    return None
