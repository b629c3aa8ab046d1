"""Real servers for tests: taken from the environment, or started here from local binaries.

Each service follows one shape, so the next one (Redis) is written the same way:

- ``RUNYARD_TEST_<NAME>_URL`` set: use that server as it is (CI with service containers).
- otherwise start a throwaway server from the binaries on this machine, on a free loopback port
  in a temporary directory, and stop it when the test session ends;
- no binaries: skip the tests that need it, unless ``RUNYARD_REQUIRE_SERVICES=1`` (CI), which
  turns the skip into a failure so a missing service can never pass as green.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

REQUIRE_SERVICES_ENV = "RUNYARD_REQUIRE_SERVICES"
POSTGRES_URL_ENV = "RUNYARD_TEST_POSTGRES_URL"
REDIS_URL_ENV = "RUNYARD_TEST_REDIS_URL"
STARTUP_TIMEOUT = 60.0

T = TypeVar("T")


def unavailable(service: str, reason: str) -> NoReturn:
    """Skip the test for want of ``service``, or fail when services are required."""
    message = f"{service} is not available: {reason}"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{message} (and {REQUIRE_SERVICES_ENV}=1)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    check: Callable[[], bool], *, timeout: float, what: str, alive: Callable[[], bool] | None = None
) -> None:
    """Call ``check()`` until it returns True; fail after ``timeout`` or when ``alive()`` is False."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what}: the server exited during start-up")
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{what}: not ready within {timeout:.0f}s")
        time.sleep(0.05)  # poll step inside the deadline loop above


class _Runner:
    """Runs server binaries, as the service's own system user when we are root.

    PostgreSQL refuses to run as root; the ``postgres`` user of the distribution's package is the
    one that owns the binaries' expectations.
    """

    def __init__(self, user: str) -> None:
        self.prefix: list[str] = []
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() != 0:
            return
        try:
            self.owner = pwd.getpwnam(user)
        except KeyError:
            unavailable(user, f"running as root and there is no '{user}' system user to run the server as")
        if shutil.which("runuser"):
            self.prefix = ["runuser", "-u", user, "--"]
        else:
            self.prefix = [
                "setpriv",
                f"--reuid={self.owner.pw_uid}",
                f"--regid={self.owner.pw_gid}",
                "--clear-groups",
            ]

    def own(self, path: Path) -> None:
        if self.owner is not None:
            os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def run(self, *args: str | Path, log: Path | None = None) -> None:
        command = [*self.prefix, *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=STARTUP_TIMEOUT)
        if done.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}{tail}")


# -- PostgreSQL -----------------------------------------------------------------------------------


def find_postgres_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: pg_config's, then Debian's layout, then PATH."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    candidates.extend(Path(p) for p in versions)
    if shutil.which("initdb"):
        candidates.append(Path(str(shutil.which("initdb"))).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _libpq_url(url: str, database: str | None = None) -> str:
    """``url`` as libpq understands it (no SQLAlchemy driver suffix), optionally on ``database``."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


class PostgresServer:
    """A PostgreSQL server that hands each test a database of its own."""

    def __init__(self, url: str) -> None:
        self.url = _libpq_url(url)

    def ready(self) -> bool:
        """Whether the server accepts connections now."""
        try:
            with psycopg.connect(self.url, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """Create an empty database, yield its ``postgresql://`` URL, drop it afterwards."""
        name = f"runyard_test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        try:
            yield _libpq_url(self.url, name)
        finally:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _start_local_postgres(stack: ExitStack) -> PostgresServer:
    bindir = find_postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL", f"set {POSTGRES_URL_ENV} or install the server binaries (initdb, pg_ctl)")
    runner = _Runner("postgres")
    base = Path(tempfile.mkdtemp(prefix="runyard-pg-"))
    stack.callback(shutil.rmtree, base, ignore_errors=True)
    runner.own(base)
    data, log = base / "data", base / "server.log"
    runner.run(
        bindir / "initdb",
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    port = free_port()
    options = " ".join(
        f"-c {setting}"
        for setting in (
            f"port={port}",
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={base}",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_connections=300",
        )
    )
    runner.run(bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-W", "start", log=log)
    stack.callback(runner.run, bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
    server = PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    pid_file = data / "postmaster.pid"
    started = time.monotonic()

    def alive() -> bool:
        # pg_ctl -W returns before the postmaster writes its pid file; give it a moment to appear.
        return pid_file.exists() or time.monotonic() - started < 5.0

    try:
        wait_for(server.ready, timeout=STARTUP_TIMEOUT, what=f"PostgreSQL on port {port}", alive=alive)
    except RuntimeError as exc:
        raise RuntimeError(
            f"{exc}\n{log.read_text(errors='replace')[-2000:] if log.exists() else ''}"
        ) from None
    return server


def _external_postgres(url: str) -> PostgresServer:
    server = PostgresServer(url)
    wait_for(server.ready, timeout=STARTUP_TIMEOUT, what=f"PostgreSQL at {POSTGRES_URL_ENV}")
    return server


# -- Redis ----------------------------------------------------------------------------------------


def find_redis_server() -> Path | None:
    """The ``redis-server`` binary: on PATH, else the distribution's /usr/bin one."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    return Path(found) if found else None


def _redis_ping(host: str, port: int) -> bool:
    """Whether a Redis server answers PING on ``host:port`` (raw RESP, so no client library needed)."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))  # up, if behind a password
    except OSError:
        return False


class RedisServer:
    """A Redis server for tests: ``url`` to connect; a local one can also be restarted or stopped.

    Tests share one server and keep apart by key (each bridge test uses its own run ids and key
    prefix), so nothing here flushes data.
    """

    def __init__(self, url: str, *, binary: Path | None = None, base: Path | None = None) -> None:
        self.url = url
        parsed = urlsplit(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self._binary = binary
        self._base = base
        self._process: subprocess.Popen[bytes] | None = None

    def ready(self) -> bool:
        """Whether the server answers PING now."""
        return _redis_ping(self.host, self.port)

    def start(self) -> None:
        """Start the local server (no persistence: a restart loses every key, like a lost node)."""
        assert self._binary is not None and self._base is not None, "only a local server can be started"
        log = self._base / "server.log"
        command = [
            str(self._binary),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self._base),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", str(log),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        process = self._process
        try:
            wait_for(
                self.ready,
                timeout=STARTUP_TIMEOUT,
                what=f"Redis on port {self.port}",
                alive=lambda: process.poll() is None,
            )
        except RuntimeError as exc:
            self.stop()
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{exc}\n{tail}") from None

    def stop(self) -> None:
        """Kill the local server at once (SIGKILL: no shutdown save, connections drop)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=STARTUP_TIMEOUT)

    def pause(self) -> None:
        """Freeze the local server (SIGSTOP): it keeps its connections but answers nothing."""
        assert self._process is not None, "only a running local server can be paused"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused local server go on (SIGCONT)."""
        assert self._process is not None, "only a running local server can be resumed"
        self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Kill the server and start an empty one on the same port."""
        self.stop()
        self.start()


@contextmanager
def local_redis() -> Iterator[RedisServer]:
    """A throwaway ``redis-server`` on a free loopback port in a temp dir, stopped on exit.

    For tests that restart or stop Redis, so they never disturb the session's shared server.
    """
    with ExitStack() as stack:
        yield _start_local_redis(stack)


def _start_local_redis(stack: ExitStack) -> RedisServer:
    binary = find_redis_server()
    if binary is None:
        unavailable("Redis", f"set {REDIS_URL_ENV} or install redis-server")
    base = Path(tempfile.mkdtemp(prefix="runyard-redis-"))
    stack.callback(shutil.rmtree, base, ignore_errors=True)
    server = RedisServer(f"redis://127.0.0.1:{free_port()}/0", binary=binary, base=base)
    stack.callback(server.stop)
    server.start()
    return server


def _external_redis(url: str) -> RedisServer:
    server = RedisServer(url)
    wait_for(server.ready, timeout=STARTUP_TIMEOUT, what=f"Redis at {REDIS_URL_ENV}")
    return server


# -- choosing between a given server and a local one ----------------------------------------------


@contextmanager
def provide(env_var: str, external: Callable[[str], T], start_local: Callable[[ExitStack], T]) -> Iterator[T]:
    """The server named by ``env_var`` when it is set, else one started here and stopped on exit."""
    with ExitStack() as stack:
        url = os.environ.get(env_var)
        yield external(url) if url else start_local(stack)


def postgres() -> AbstractContextManager[PostgresServer]:
    """The session's PostgreSQL: ``RUNYARD_TEST_POSTGRES_URL``, or a throwaway local cluster."""
    return provide(POSTGRES_URL_ENV, _external_postgres, _start_local_postgres)


def redis() -> AbstractContextManager[RedisServer]:
    """The session's Redis: ``RUNYARD_TEST_REDIS_URL``, or a throwaway local ``redis-server``."""
    return provide(REDIS_URL_ENV, _external_redis, _start_local_redis)
