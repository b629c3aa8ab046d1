"""Cluster mode on this machine: throughput with 1, 2 and 3 processes, takeover after kill -9,
and cancel latency from a process that does not own the run.

    python bench/cluster_bench.py            # figures in bench/results/cluster_bench.{json,md}
    QUICK=1 python bench/cluster_bench.py    # shorter windows, fewer samples

Every process is a real ``runyard serve --redis-url`` on one throwaway Postgres and one
throwaway Redis (both from the local binaries, on 127.0.0.1). The load is the langgraph-sdk
closed loop of ``server_bench`` (``threads.create`` then ``runs.wait`` on the 3-step no-sleep
graph), its clients spread round-robin over the processes. Takeover and cancel use the cluster
tests' journal graph (four steps of a configurable sleep). Nothing here is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from langgraph_sdk import get_client

from server_bench import EXPECTED, INPUT, _dist
from server_targets import ROOT, _services, cell_database, postgres, tree_cpu

RESULTS = Path(__file__).with_name("results")
QUICK = os.environ.get("QUICK") == "1"
EXAMPLES = ROOT / "examples" / "langgraph.json"
STEPS_PROJECT = ROOT / "tests" / "cluster" / "project" / "langgraph.json"


class Proc:
    def __init__(self, url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.proc = proc


@contextlib.contextmanager
def cluster(n: int, db: str, redis_url: str, config: Path, workdir: Path) -> Iterator[list[Proc]]:
    services = _services()
    procs: list[Proc] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env |= {"LANGSMITH_TRACING": "false", "RUNYARD_TEST_JOURNAL": str(workdir / "journal.txt")}
    try:
        for i in range(n):
            port = services.free_port()
            argv = [sys.executable, "-m", "runyard.cli", "serve", "--config", str(config), "--port", str(port),
                    "--database-url", db, "--redis-url", redis_url, "--log-level", "warning"]  # fmt: skip
            log = (workdir / f"p{i}.log").open("ab")
            proc = Proc(f"http://127.0.0.1:{port}", subprocess.Popen(argv, env=env, stdout=log, stderr=log))
            procs.append(proc)

            def ready(p: Proc = proc) -> bool:
                try:
                    return httpx.get(p.url + "/ok", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            services.wait_for(ready, timeout=60, what="runyard", alive=lambda p=proc: p.proc.poll() is None)
        yield procs
    finally:
        for p in procs:
            if p.proc.poll() is None:
                p.proc.terminate()
        for p in procs:
            try:
                p.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.proc.kill()


# -- throughput ------------------------------------------------------------------------------------


async def _closed_loop(urls: list[str], clients: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + duration

    async def worker(i: int) -> None:
        async with get_client(url=urls[i % len(urls)], api_key=None) as client:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    thread = await client.threads.create()
                    values = await client.runs.wait(thread["thread_id"], "bench_fast", input=INPUT)
                    got = [m["content"] for m in values["messages"]]
                    if got != EXPECTED:
                        errors.append(f"final messages {got!r}")
                        continue
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                    continue
                latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    wall = time.perf_counter() - started
    return {"runs": len(latencies), "wall": wall, "latencies": latencies, "errors": errors}


def throughput(
    db_server: Any, redis_url: str, processes: int, clients: int, duration: float
) -> dict[str, Any]:
    with (
        cell_database(db_server) as db,
        tempfile.TemporaryDirectory() as tmp,
        cluster(processes, db, redis_url, EXAMPLES, Path(tmp)) as procs,
    ):
        asyncio.run(_closed_loop([p.url for p in procs], clients, 2.0 if QUICK else 4.0))  # warm-up
        cpu0 = sum(tree_cpu(p.proc.pid) for p in procs)
        out = asyncio.run(_closed_loop([p.url for p in procs], clients, duration))
        cpu = sum(tree_cpu(p.proc.pid) for p in procs) - cpu0
    return {
        "processes": processes,
        "clients": clients,
        "runs": out["runs"],
        "errors": len(out["errors"]),
        "error_examples": sorted(set(out["errors"]))[:3],
        "runs_per_s": round(out["runs"] / out["wall"], 1),
        "latency_ms": _dist(out["latencies"]),
        "server_cpu_ms_per_run": round(cpu / out["runs"] * 1000, 2) if out["runs"] else None,
    }


# -- takeover and cancel ----------------------------------------------------------------------------


def _row(db: str, run_id: str) -> tuple[str | None, int, str] | None:
    with psycopg.connect(db.replace("+psycopg", "")) as conn:
        row = conn.execute("SELECT owner, attempt, status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def _owner_index(procs: list[Proc], owner: str | None) -> int | None:
    pid = int(owner.split(":")[1]) if owner else None
    return next((i for i, p in enumerate(procs) if p.proc.pid == pid), None)


def _wait(check: Any, timeout: float, step: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(step)
    raise TimeoutError


def takeover(db_server: Any, redis_url: str, samples: int) -> dict[str, Any]:
    """kill -9 the owner of a running run; time until another process has claimed it again."""
    seconds: list[float] = []
    with cell_database(db_server) as db, tempfile.TemporaryDirectory() as tmp:
        for _ in range(samples):
            with cluster(3, db, redis_url, STEPS_PROJECT, Path(tmp)) as procs:
                client = httpx.Client(base_url=procs[0].url, timeout=30)
                thread = client.post("/threads", json={}).json()["thread_id"]
                run = client.post(
                    f"/threads/{thread}/runs",
                    json={"assistant_id": "steps", "input": {}, "config": {"configurable": {"delay": 5}}},
                ).json()["run_id"]
                row = _wait(lambda run=run: (r := _row(db, run)) and r[2] == "running" and r, 30)
                victim = procs[_owner_index(procs, row[0]) or 0]
                victim.proc.kill()
                killed = time.monotonic()
                _wait(
                    lambda run=run, attempt=row[1]: (
                        (r := _row(db, run)) and r[1] > attempt and r[2] == "running"
                    ),
                    30,
                    0.01,
                )
                seconds.append(time.monotonic() - killed)
    return {
        "samples": len(seconds),
        "seconds": [round(s, 2) for s in seconds],
        "max_s": round(max(seconds), 2),
    }


async def _cancel_once(procs: list[Proc], db: str) -> tuple[float, float]:
    async with get_client(url=procs[0].url, api_key=None) as first:
        thread = await first.threads.create()
        run = await first.runs.create(
            thread["thread_id"], "steps", input={}, config={"configurable": {"delay": 5}}
        )
        row = await asyncio.to_thread(
            _wait, lambda: (r := _row(db, run["run_id"])) and r[2] == "running" and r, 30
        )
        owner = _owner_index(procs, row[0])
        others = [i for i in range(len(procs)) if i != owner]
        canceller, watcher = procs[others[0]], procs[others[-1]]
        async with (
            get_client(url=watcher.url, api_key=None) as watch,
            get_client(url=canceller.url, api_key=None) as cancel,
        ):
            ended = asyncio.Event()

            async def follow() -> None:
                async for _ in watch.runs.join_stream(thread["thread_id"], run["run_id"]):
                    pass
                ended.set()

            follower = asyncio.create_task(follow())
            await asyncio.sleep(0.2)  # the join is subscribed
            t0 = time.perf_counter()
            await cancel.runs.cancel(thread["thread_id"], run["run_id"])
            acknowledged = time.perf_counter() - t0
            await asyncio.wait_for(ended.wait(), 30)
            stopped = time.perf_counter() - t0
            await follower
    return acknowledged, stopped


def cancel_latency(db_server: Any, redis_url: str, samples: int) -> dict[str, Any]:
    """Cancel from a non-owner; time to its answer, and until the owner has stopped the run and
    ended its stream (seen by a client joined on the third process)."""
    acks: list[float] = []
    stops: list[float] = []
    with (
        cell_database(db_server) as db,
        tempfile.TemporaryDirectory() as tmp,
        cluster(3, db, redis_url, STEPS_PROJECT, Path(tmp)) as procs,
    ):
        for _ in range(samples):
            ack, stop = asyncio.run(_cancel_once(procs, db))
            acks.append(ack)
            stops.append(stop)
    return {"samples": samples, "acknowledged_ms": _dist(acks), "owner_stopped_ms": _dist(stops)}


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    services = _services()
    with services.local_redis() as server:
        yield server.url


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "quick": QUICK,
    }
    duration = 4.0 if QUICK else 15.0
    with postgres(os.environ.get("RUNYARD_BENCH_POSTGRES_URL")) as db_server, redis_server() as redis_url:
        if db_server is None:
            sys.exit("cluster benchmark needs PostgreSQL")
        results["throughput"] = [throughput(db_server, redis_url, n, 16, duration) for n in (1, 2, 3)]
        print(json.dumps(results["throughput"]), flush=True)
        results["takeover"] = takeover(db_server, redis_url, 1 if QUICK else 3)
        print(json.dumps(results["takeover"]), flush=True)
        results["cancel"] = cancel_latency(db_server, redis_url, 5 if QUICK else 30)
        print(json.dumps(results["cancel"]), flush=True)
    (RESULTS / "cluster_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "cluster_bench.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Cluster mode on one machine",
        "",
        f"{results['machine']['cpus']} CPUs, {results['machine']['platform']}; quick={results['quick']}.",
        "",
        "| processes | clients | runs/s | p50 ms | p99 ms | server CPU ms/run | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["throughput"]:
        lat = row["latency_ms"]
        lines.append(
            f"| {row['processes']} | {row['clients']} | {row['runs_per_s']} | {lat['p50']} | {lat['p99']} "
            f"| {row['server_cpu_ms_per_run']} | {row['errors']} |"
        )
    take, cancel = results["takeover"], results["cancel"]
    lines += [
        "",
        f"Takeover after `kill -9` of the owner (default lease 3 s, poll 1 s): {take['seconds']} s "
        f"(max {take['max_s']} s).",
        "",
        f"Cancel from a non-owner ({cancel['samples']} samples): answered in p50 "
        f"{cancel['acknowledged_ms']['p50']} ms / p99 {cancel['acknowledged_ms']['p99']} ms; the owner "
        f"stopped the run and its stream ended, seen from a third process, in p50 "
        f"{cancel['owner_stopped_ms']['p50']} ms / p99 {cancel['owner_stopped_ms']['p99']} ms.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
