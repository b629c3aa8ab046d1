"""Cluster mode under faults: a partitioned owner, Redis restarted mid-run, a start with a
service missing, and the HTTP-only / worker split. Each test builds its own processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from sqlalchemy.engine import make_url

import services
from api.server import ServerProcess, poll

from .cluster import PROJECT, Cluster
from .proxy import PartitionProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

STEPS = ["step_1", "step_2", "step_3", "step_4"]


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    """Servers a test started; each is killed at the end whatever happened."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


def _status(client: Any, thread_id: str, run_id: str) -> str:
    return str(client.runs.get(thread_id, run_id)["status"])


def _pid(server: ServerProcess) -> int:
    assert server.proc is not None
    return server.proc.pid


def test_a_partitioned_owner_fences_itself_before_another_takes_over(
    tmp_path: Path, postgres_url: str, redis_url: str, processes: list[ServerProcess]
) -> None:
    target = make_url(postgres_url)
    proxy = PartitionProxy(target.host or "127.0.0.1", target.port or 5432)
    try:
        cluster = Cluster(tmp_path, postgres_url, redis_url, size=0)
        behind_proxy = target.set(port=proxy.port).render_as_string(hide_password=False)
        owner = ServerProcess(tmp_path / "owner", database_url=behind_proxy, config=PROJECT)
        other = ServerProcess(tmp_path / "other", database_url=postgres_url, config=PROJECT)
        processes += [owner, other]
        cluster.start(owner)
        client = get_sync_client(url=owner.url)
        thread = client.threads.create()
        # Steps long enough that the run is still in flight once the second process is up.
        run = client.runs.create(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 3.0}}
        )
        run_id = run["run_id"]
        poll(
            lambda: any(e.run_id == run_id for e in cluster.journal()), timeout=30, what="the owner to start"
        )
        cluster.start(other)
        proxy.partition()  # the owner keeps running, but its heartbeats can no longer land
        watcher = get_sync_client(url=other.url)
        poll(
            lambda: _status(watcher, thread["thread_id"], run_id) == "success",
            timeout=60,
            interval=0.25,
            what="the run to finish on the other process",
        )
        entries = cluster.by_run()[run_id]
        mine = [e for e in entries if e.pid == _pid(owner)]
        theirs = [e for e in entries if e.pid == _pid(other)]
        assert mine and theirs, entries
        # Fenced first: the partitioned owner wrote its last word before the new owner's first.
        assert max(e.at for e in mine) < min(e.at for e in theirs), entries
        assert "Fencing run" in owner.log(), owner.log()
        assert [e.step for e in entries if e.phase == "end"].count("step_4") == 1
        assert watcher.threads.get_state(thread["thread_id"])["values"]["done"] == STEPS
    finally:
        proxy.close()


def test_redis_restarted_mid_run_loses_no_run_and_hangs_no_client(
    tmp_path: Path, postgres_url: str, processes: list[ServerProcess]
) -> None:
    with services.local_redis() as redis:
        cluster = Cluster(tmp_path, postgres_url, redis.url, size=2)
        processes += cluster.servers
        cluster.start_all()
        clients = [get_sync_client(url=server.url) for server in cluster.servers]
        runs = []
        for i in range(6):
            thread = clients[i % 2].threads.create()
            run = clients[i % 2].runs.create(
                thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 0.4}}
            )
            runs.append((thread["thread_id"], run["run_id"]))
        poll(lambda: len(cluster.journal()) >= 4, timeout=30, what="runs to be under way")
        redis.restart()
        poll(
            lambda: all(_status(clients[0], t, r) == "success" for t, r in runs),
            timeout=60,
            interval=0.25,
            what="every run to finish",
        )
        for thread_id, run_id in runs:
            # The run log may be gone with Redis: joins answer from Postgres, never hang.
            started = time.monotonic()
            assert clients[1].runs.join(thread_id, run_id)["done"] == STEPS
            list(clients[0].runs.join_stream(thread_id, run_id))
            assert time.monotonic() - started < 15
        thread = clients[1].threads.create()
        waited = clients[0].runs.wait(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 0.01}}
        )
        assert waited["done"] == STEPS


def test_an_http_only_process_leaves_execution_to_a_worker(
    tmp_path: Path, postgres_url: str, redis_url: str, processes: list[ServerProcess]
) -> None:
    cluster = Cluster(tmp_path, postgres_url, redis_url, size=0)
    front = ServerProcess(tmp_path / "front", database_url=postgres_url, config=PROJECT)
    processes.append(front)
    cluster.start(front, "--http-only")
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "runyard.cli", "worker", "--config", str(PROJECT),
         "--database-url", postgres_url, "--redis-url", redis_url, "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, env=services.os.environ | cluster.env(),
    )  # fmt: skip
    try:
        client = get_sync_client(url=front.url)
        thread = client.threads.create()
        result = client.runs.wait(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 0.01}}
        )
        assert result["done"] == STEPS
        assert {e.pid for e in cluster.journal()} == {worker.pid}
        worker.terminate()
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert "worker draining" in (tmp_path / "worker.log").read_text()


def _run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runyard.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def test_cluster_mode_refuses_to_start_without_its_services(tmp_path: Path, postgres_url: str) -> None:
    on_sqlite = _run_cli(
        "serve", "--config", str(PROJECT), "--data-dir", str(tmp_path), "--port", str(services.free_port()),
        "--redis-url", "redis://127.0.0.1:1/0",
    )  # fmt: skip
    assert on_sqlite.returncode == 2
    assert "--redis-url (cluster mode) needs a Postgres --database-url" in on_sqlite.stderr
    nowhere = f"redis://127.0.0.1:{services.free_port()}/0"
    unreachable = _run_cli(
        "serve", "--config", str(PROJECT), "--port", str(services.free_port()), "--database-url", postgres_url,
        "--redis-url", nowhere,
    )  # fmt: skip
    assert unreachable.returncode != 0
    assert f"Cannot reach Redis at {nowhere}" in unreachable.stdout + unreachable.stderr
    worker = _run_cli("worker", "--config", str(PROJECT), "--database-url", postgres_url)
    assert worker.returncode == 2
    assert "runyard worker needs --redis-url" in worker.stderr
    http_only = _run_cli(
        "serve", "--config", str(PROJECT), "--http-only", "--port", str(services.free_port())
    )
    assert http_only.returncode == 2
    assert "does not execute runs needs --redis-url" in http_only.stderr
