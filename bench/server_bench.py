"""Server benchmark: ``runyard serve`` under closed-loop langgraph-sdk clients, per backend.

Every cell starts a fresh server (SQLite in a temporary directory, or a fresh Postgres database)
on 127.0.0.1 and a free port, warms it up, then runs C clients in a closed loop for a fixed time:
each iteration is ``threads.create()`` then ``runs.wait`` (or ``runs.stream`` read to the end) on
``bench_fast`` / ``bench_slow`` of examples/langgraph.json; every final state is checked. CPU comes
from /proc over the timed window: the server's process tree, Postgres's, the load generator's, and
the rest of the machine ("other"). Figures go to JSON and Markdown; nothing here asserts a timing.

    .venv/bin/python bench/server_bench.py                  # sqlite + postgres, ~6.5 minutes
    QUICK=1 .venv/bin/python bench/server_bench.py          # smoke run, < 1 minute
    .venv/bin/python bench/server_bench.py --profile        # py-spy on sqlite wait C=16 only
    .venv/bin/python bench/server_bench.py --profile --profile-backend postgres   # the same on Postgres

Postgres comes from ``--postgres-url`` / ``RUNYARD_BENCH_POSTGRES_URL``, else a throwaway server
is started from the local PostgreSQL binaries (tests/services.py), else those cells are skipped.
A target (server_targets.py) is how to start a server, its URL and the PID whose CPU counts;
other servers slot in as more targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

import server_profile
from server_targets import (
    Runyard,
    cell_database,
    machine_busy,
    main_thread_cpu,
    postgres,
    postmaster_pid,
    serve,
    tree_cpu,
    tree_rss_mib,
    wait_quiet,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUICK = os.environ.get("QUICK") == "1"
INPUT = {"messages": [{"role": "user", "content": "hi"}]}
EXPECTED = ["hi", "step 1", "step 2", "step 3"]
RUN_TIMEOUT = 60.0  # seconds for one create + run: beyond it the iteration is a stall, counted as an error
# The SDK's httpx pool holds 100 connections and gives up on a free one after 5 s: more clients
# than that in one process would measure the client's pool, so bigger cells fork more processes.
CLIENTS_PER_PROC = 64
VERSIONS = ("langgraph", "langgraph-sdk", "langgraph-checkpoint-sqlite", "sqlalchemy", "aiosqlite", "uvicorn")


@dataclass(frozen=True)
class Cell:
    mode: str  # "wait" or "stream"
    graph: str
    clients: int

    @property
    def name(self) -> str:
        return f"{self.graph} {self.mode} C={self.clients}"


CELLS = [
    Cell("wait", "bench_fast", 1),
    Cell("wait", "bench_fast", 16),
    Cell("wait", "bench_fast", 64),
    Cell("stream", "bench_fast", 16),
    Cell("wait", "bench_slow", 64),
]


# -- the load: closed-loop SDK clients ------------------------------------------------------------


def _check(values: Any) -> str | None:
    try:
        got = [m["content"] for m in values["messages"]]
    except (TypeError, KeyError):
        return f"final state is not the graph's: {str(values)[:200]}"
    return None if got == EXPECTED else f"final messages {got!r}"


async def _iteration(client: Any, cell: Cell, out: dict[str, list[Any]]) -> None:
    t0 = time.perf_counter()
    thread = await client.threads.create()
    t1 = time.perf_counter()
    ttfe = first_values = None
    if cell.mode == "wait":
        values = await client.runs.wait(thread["thread_id"], cell.graph, input=INPUT)
    else:
        values = None
        stream = client.runs.stream(thread["thread_id"], cell.graph, input=INPUT, stream_mode="values")
        async for part in stream:
            now = time.perf_counter()
            ttfe = now - t1 if ttfe is None else ttfe
            if part.event == "values":
                first_values = now - t1 if first_values is None else first_values
                values = part.data
            elif part.event == "error":
                values = {"error": part.data}
    end = time.perf_counter()
    if problem := _check(values):
        out["errors"].append(problem)
        return
    out["latency"].append(end - t0)
    out["create"].append(t1 - t0)
    if ttfe is not None:
        out["ttfe"].append(ttfe)
        out["first_values"].append(first_values)


async def _closed_loop(url: str, cell: Cell, clients: int, start_at: float, stop_at: float) -> dict[str, Any]:
    out: dict[str, list[Any]] = {"latency": [], "create": [], "ttfe": [], "first_values": [], "errors": []}
    cpu0 = time.process_time()
    async with get_client(url=url, api_key=None) as client:
        await asyncio.sleep(max(0.0, start_at - time.time()))

        async def worker() -> None:
            while time.time() < stop_at:
                try:
                    await asyncio.wait_for(_iteration(client, cell, out), RUN_TIMEOUT)
                except TimeoutError:
                    out["errors"].append(f"stall: no result within {RUN_TIMEOUT:.0f} s")
                except Exception as exc:  # counted and reported: an error is a finding
                    out["errors"].append(f"{type(exc).__name__}: {str(exc)[:200]}")

        await asyncio.gather(*(worker() for _ in range(clients)))
    return out | {"ended": time.time(), "cpu_s": time.process_time() - cpu0}


def closed_loop(url: str, cell: Cell, clients: int, start_at: float, stop_at: float) -> dict[str, Any]:
    """C clients of one process until ``stop_at`` (wall clock, so several processes share it)."""
    return asyncio.run(_closed_loop(url, cell, clients, start_at, stop_at))


def load(url: str, cell: Cell, duration: float, procs: int) -> dict[str, Any]:
    """The timed window: ``cell.clients`` clients spread over ``procs`` client processes."""
    procs = max(1, min(procs, cell.clients))
    shares = [cell.clients // procs + (i < cell.clients % procs) for i in range(procs)]
    if procs == 1:
        start_at = time.time()
        return {
            "start_at": start_at,
            "parts": [closed_loop(url, cell, cell.clients, start_at, start_at + duration)],
        }
    start_at = time.time() + 1.0  # forked workers are ready well before
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(procs, mp_context=ctx) as pool:
        futures = [pool.submit(closed_loop, url, cell, n, start_at, start_at + duration) for n in shares]
        return {"start_at": start_at, "parts": [f.result() for f in futures]}


# -- one cell -------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] * 1000, 1)


def _dist(values: list[float]) -> dict[str, float | None]:
    return {f"p{q}": _pct(values, q) for q in (50, 95, 99)} | {"max": _pct(values, 100)}


def run_cell(
    target: Any, backend: str, cell: Cell, db_url: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else (0.0, None)
    with (
        tempfile.TemporaryDirectory(prefix="runyard-bench-") as tmp,
        serve(target, Path(tmp), db_url) as server,
    ):
        pg_pid = postmaster_pid(db_url) if db_url else None
        rss_start = tree_rss_mib(server.pid)
        procs = max(args.client_procs, math.ceil(cell.clients / CLIENTS_PER_PROC))
        warm = load(server.url, cell, args.warmup, procs)
        rss_before = tree_rss_mib(server.pid)
        profiler = None
        if args.profile:
            raw = args.output.with_suffix(".raw.txt")
            gil = not args.profile_all_threads
            profiler = server_profile.start_record(
                server.pid, args.duration, raw, native=args.native, gil=gil
            )
            time.sleep(0.5)  # py-spy attaches
        cpu0 = (tree_cpu(server.pid), main_thread_cpu(server.pid), tree_cpu(pg_pid), machine_busy())
        timed = load(server.url, cell, args.duration, procs)
        cpu1 = (tree_cpu(server.pid), main_thread_cpu(server.pid), tree_cpu(pg_pid), machine_busy())
        rss_after = tree_rss_mib(server.pid)
        if profiler is not None:
            _, err = profiler.communicate(timeout=60)
            if profiler.returncode:
                print(f"py-spy failed: {err.decode(errors='replace')}", file=sys.stderr)
    return summarise(
        target.name,
        backend,
        cell,
        timed,
        warm,
        cpu=[b - a for a, b in zip(cpu0, cpu1, strict=True)],
        rss=(rss_start, rss_before, rss_after),
        extra={
            "quiet_wait_s": quiet[0],
            "busy_cores_before": quiet[1],
            "startup_s": round(server.startup_s, 2),
        },
        has_pg=pg_pid is not None,
    )


def summarise(
    target: str,
    backend: str,
    cell: Cell,
    timed: dict[str, Any],
    warm: dict[str, Any],
    *,
    cpu: list[float],
    rss: tuple[float, float, float],
    extra: dict[str, Any],
    has_pg: bool,
) -> dict[str, Any]:
    """One cell's figures from the timed window's client parts and the /proc CPU deltas
    (server tree, server main thread, Postgres, whole machine)."""
    parts = timed["parts"]
    rss_start, rss_before, rss_after = rss
    merged = {
        k: [v for p in parts for v in p[k]] for k in ("latency", "create", "ttfe", "first_values", "errors")
    }
    wall = max(p["ended"] for p in parts) - timed["start_at"]
    ok = len(merged["latency"])
    server_cpu, loop_cpu, pg_cpu, busy = cpu
    client_cpu = sum(p["cpu_s"] for p in parts)

    def per_run(seconds: float) -> float | None:
        return round(seconds / ok * 1000, 2) if ok else None

    result = {
        "target": target,
        "backend": backend,
        "cell": cell.name,
        **asdict(cell),
        "client_procs": len(parts),
        **extra,
        "warmup_runs": sum(len(p["latency"]) for p in warm["parts"]),
        "warmup_errors": sum(len(p["errors"]) for p in warm["parts"]),
        "duration_s": round(wall, 2),
        "runs": ok,
        "errors": len(merged["errors"]),
        "error_examples": sorted(set(merged["errors"]))[:5],
        "runs_per_s": round(ok / wall, 1) if wall > 0 else None,
        "latency_ms": _dist(merged["latency"]),
        "thread_create_ms": _dist(merged["create"]),
        "ttfe_ms": _dist(merged["ttfe"]) if cell.mode == "stream" else None,
        "first_values_ms": _dist(merged["first_values"]) if cell.mode == "stream" else None,
        "server_cpu_ms_per_run": per_run(server_cpu),
        "server_cpu_cores": round(server_cpu / wall, 2),
        "server_main_thread_cpu_ms_per_run": per_run(loop_cpu),
        "postgres_cpu_ms_per_run": per_run(pg_cpu) if has_pg else None,
        "client_cpu_ms_per_run": per_run(client_cpu),
        "client_cpu_cores": round(client_cpu / wall, 2),
        "other_cpu_cores": round((busy - server_cpu - pg_cpu - client_cpu) / wall, 2),
        "rss_mib": {"start": rss_start, "after_warmup": rss_before, "after": rss_after},
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--cells", default="", help="comma-separated cell names to keep, e.g. 'bench_fast wait C=16'"
    )
    parser.add_argument(
        "--duration", type=float, default=1.0 if QUICK else 20.0, help="timed seconds per cell"
    )
    parser.add_argument(
        "--warmup", type=float, default=0.5 if QUICK else 3.0, help="warm-up seconds per cell"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=0 if QUICK else 15, help="max seconds to wait for an idle machine"
    )
    parser.add_argument("--client-procs", type=int, default=1, help="client processes sharing the C clients")
    parser.add_argument("--max-concurrency", type=int, default=None, help="passed to runyard serve")
    parser.add_argument("--postgres-url", default=os.environ.get("RUNYARD_BENCH_POSTGRES_URL"))
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the 'bench_fast wait C=16' cell of one backend"
    )
    parser.add_argument("--profile-backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--native", action="store_true", help="with --profile: native frames too")
    parser.add_argument(
        "--profile-all-threads", action="store_true", help="with --profile: every thread, not the GIL holder"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "server_bench.json")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups: servers, Postgres
    if args.profile:
        args.backends, args.cells = args.profile_backend, args.cells or "bench_fast wait C=16"
        suffix = "" if args.profile_backend == "sqlite" else f"_{args.profile_backend}"
        args.output = args.output.with_name(f"server_bench_profile{suffix}.json")
    RESULTS.mkdir(parents=True, exist_ok=True)
    wanted = {c.strip() for c in args.cells.split(",") if c.strip()}
    cells = [c for c in CELLS if not wanted or c.name in wanted]
    target = Runyard(max_concurrency=args.max_concurrency)
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "versions": {name: metadata.version(name) for name in VERSIONS},
        "git": subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip(),
        "quick": QUICK,
        "settings": {k: str(v) for k, v in vars(args).items() if k != "postgres_url"},
        "cells": [],
    }
    started = time.perf_counter()
    backends = [b for b in args.backends.split(",") if b in target.backends]
    with postgres(args.postgres_url) if "postgres" in backends else contextlib.nullcontext() as pg:
        for backend in backends:
            if backend == "postgres" and pg is None:
                continue
            for cell in cells:
                with cell_database(pg) if backend == "postgres" else contextlib.nullcontext() as db_url:
                    results["cells"].append(run_cell(target, backend, cell, db_url, args))
    results["total_s"] = round(time.perf_counter() - started, 1)
    if args.profile:
        summary = server_profile.summarise(args.output.with_suffix(".raw.txt"))
        results["profile"] = summary
        how = ("all threads" if args.profile_all_threads else "GIL holder") + (
            ", native" if args.native else ""
        )
        title = f"py-spy ({how}), runyard {args.profile_backend} {cells[0].name}"
        args.output.with_suffix(".md").write_text(
            write_markdown(results) + "\n" + server_profile.markdown(summary, title)
        )
    else:
        args.output.with_suffix(".md").write_text(write_markdown(results))
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output} and {args.output.with_suffix('.md')} in {results['total_s']} s")


def write_markdown(results: dict[str, Any]) -> str:
    def pair(dist: dict[str, Any] | None) -> str:
        return f"{dist['p50']} / {dist['p99']}" if dist else "-"

    lines = [
        "Latency = threads.create + run, end to end, ms. TTFE and first `values` from the run request, "
        "p50 / p99 ms. CPU in ms per successful run over the timed window (server: its process tree, "
        "in brackets its main thread, the event loop); load-generator and other processes' CPU in cores. RSS of the server in MiB: at start → after warm-up → after.",
        "",
        "| target | backend | cell | runs | runs/s | p50 | p95 | p99 | TTFE | first values "
        "| server CPU ms/run (main thread) | PG CPU ms/run | client CPU ms/run | client cores | other cores | RSS MiB | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["cells"]:
        lat, rss = c["latency_ms"], c["rss_mib"]
        lines.append(
            f"| {c['target']} | {c['backend']} | {c['cell']} | {c['runs']} | {c['runs_per_s']} | {lat['p50']} "
            f"| {lat['p95']} | {lat['p99']} | {pair(c['ttfe_ms'])} | {pair(c['first_values_ms'])} "
            f"| {c['server_cpu_ms_per_run']} ({c['server_main_thread_cpu_ms_per_run']}) | {c['postgres_cpu_ms_per_run'] or '-'} | {c['client_cpu_ms_per_run']} "
            f"| {c['client_cpu_cores']} | {c['other_cpu_cores']} | {rss['start']} → {rss['after_warmup']} → {rss['after']} "
            f"| {c['errors']} |"
        )
    lines += [
        "",
        f"Whole run: {results['total_s']} s, {results['machine']['cpus']} CPUs, quick={results['quick']}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
