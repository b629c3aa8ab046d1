"""A real ``runyard serve`` process on a free loopback port, for tests that speak HTTP to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "langgraph.json"


class ServerProcess:
    """Start, stop, kill and restart one server on fixed state (data dir or database)."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None, config: Path = EXAMPLES) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"server-{self.port}.log"

    def start(self, *, env: dict[str, str] | None = None, args: list[str] | None = None) -> None:
        """Start the server and wait until it answers; a port taken meanwhile gets a new one.

        ``free_port`` can race with other processes on a busy machine: the server then exits
        saying the port is in use (never serving on another), and we retry on a fresh port.
        """
        for _ in range(5):
            if self._start_once(env, args):
                return
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"runyard serve found no free port\n--- server log ---\n{self.log()}")

    def _start_once(self, env: dict[str, str] | None, args: list[str] | None) -> bool:
        cmd = [
            sys.executable,
            "-m",
            "runyard.cli",
            "serve",
            "--config",
            str(self.config),
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--log-level",
            "warning",
        ]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        cmd += args or []
        self.data_dir.mkdir(parents=True, exist_ok=True)
        before = len(self.log())
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ | (env or {}))
        proc = self.proc

        def ready() -> bool:
            try:
                answered = httpx.get(f"{self.url}/ok", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False
            return answered and proc.poll() is None  # our process, not another one on the port

        try:
            wait_for(ready, timeout=60, what="runyard serve", alive=lambda: proc.poll() is None)
        except RuntimeError as exc:
            if proc.poll() is not None and "already in use" in self.log()[before:]:
                self.proc = None
                return False
            raise RuntimeError(f"{exc}\n--- server log ---\n{self.log()}") from exc
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait for the graceful drain; SIGKILL only if it overruns."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def stop_cleanly(self) -> None:
        """Stop, and fail if the server exited badly or logged a traceback while it ran."""
        code = self.stop()
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
        assert code in (0, -15, None), f"server exited with {code}\n{self.log()}"
        assert "Traceback" not in self.log(), self.log()

    def kill(self) -> None:
        """``kill -9``: no drain, no shutdown hooks."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.start()


def poll(check, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Call ``check()`` until it returns a truthy value; return it, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(interval)  # poll step inside the deadline loop
