"""Side by side: runyard, `langgraph dev` and Aegra under the same SDK load, one command, offline.

    .venv/bin/python bench/compare.py            # everything, ~30 minutes (installs the peers once)
    QUICK=1 .venv/bin/python bench/compare.py    # the five main cells per target, no warm-up, < 3 minutes
    .venv/bin/python bench/compare.py --targets runyard-sqlite,runyard-postgres   # no peers

Targets: ``floor`` (the graph in this process with ``graph.ainvoke`` / ``astream`` on an
InMemorySaver: no server, no HTTP), runyard on SQLite and on Postgres, ``langgraph dev`` as it
starts by default (one run at a time) and with ``--n-jobs-per-worker 10`` (``-j10``: the default
its own ``--help`` states and its production runtime uses, and runyard's default number of run
slots, so both servers run the same number of runs at once), and Aegra (newest ``aegra-api``, on
Postgres, single process). The peers are installed into venvs under bench/.peers/ when missing
(peer_targets.py); Postgres is a throwaway cluster from the local binaries (tests/services.py), a
fresh database per cell. Every cell starts a fresh server on 127.0.0.1 and a free port and stops
that PID alone.

Load (server_bench.py): C closed-loop langgraph-sdk clients, each ``threads.create()`` then
``runs.wait`` or ``runs.stream`` read to the end, on examples/bench.py's ``bench_fast`` (3 steps)
and ``bench_slow`` (3 steps of 50 ms); every final state is checked, a mismatch is an error.
Cells for every target: fast wait C=1, 16, 64; fast stream C=16; slow wait C=64. For runyard
also (unless QUICK): the scaling cells (fast wait C=4 and 256, beside 1, 16, 64) and the rest of
issue 7's grid (wait and stream, fast and slow, C=1, 16, 64).

Writes one JSON per cell and summary.md (plus all.json) to bench/results/compare/ (QUICK:
bench/results/compare-quick/). Nothing here asserts a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import json
import multiprocessing
import os
import platform
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import server_bench
from peer_targets import PEERS, Aegra, LanggraphDev, ensure_venv, versions, write_config
from server_bench import EXPECTED, INPUT, RUN_TIMEOUT, Cell, run_cell, summarise
from server_targets import ROOT, Runyard, cell_database, machine_busy, postgres, tree_rss_mib, wait_quiet

QUICK = os.environ.get("QUICK") == "1"
LG_JOBS = 10  # see the module docstring
MAIN_CELLS = server_bench.CELLS  # fast wait C=1, 16, 64; fast stream C=16; slow wait C=64
SCALING = (1, 4, 16, 64, 256)
EXTRA_CELLS = [
    *(Cell("wait", "bench_fast", c) for c in (4, 256)),
    Cell("stream", "bench_fast", 1),
    Cell("stream", "bench_fast", 64),
    Cell("wait", "bench_slow", 1),
    Cell("wait", "bench_slow", 16),
    *(Cell("stream", "bench_slow", c) for c in (1, 16, 64)),
]


@dataclass(frozen=True)
class Plan:
    key: str  # as given to --targets
    target: Any  # None for the in-process floor
    backend: str
    extra: bool  # whether the scaling / issue 7 cells run on it too


def plans(lg_jobs: int) -> list[Plan]:
    config = PEERS / "langgraph.json"
    return [
        Plan("floor", None, "inmem", False),
        Plan("runyard-sqlite", Runyard(config=config), "sqlite", True),
        Plan("runyard-postgres", Runyard(config=config), "postgres", True),
        Plan("langgraph-dev", LanggraphDev(), "inmem", False),
        Plan(f"langgraph-dev-j{lg_jobs}", LanggraphDev(jobs_per_worker=lg_jobs), "inmem", False),
        Plan("aegra", Aegra(), "postgres", False),
    ]


# -- the in-process floor --------------------------------------------------------------------------


def _own_rss_mib() -> float:
    return tree_rss_mib(os.getpid())


def _floor_graph(name: str) -> Any:
    from langgraph.checkpoint.memory import InMemorySaver

    spec = importlib.util.spec_from_file_location("bench_graphs", ROOT / "examples" / "bench.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compiled = {"bench_fast": module.fast, "bench_slow": module.slow}[name]
    return compiled.builder.compile(checkpointer=InMemorySaver())


async def _floor_loop(graph: Any, cell: Cell, stop_at: float) -> dict[str, Any]:
    out: dict[str, list[Any]] = {"latency": [], "create": [], "ttfe": [], "first_values": [], "errors": []}

    async def iteration() -> None:
        t0 = time.perf_counter()
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        values: Any = None
        ttfe = None
        if cell.mode == "wait":
            values = await graph.ainvoke(INPUT, config)
        else:
            async for chunk in graph.astream(INPUT, config, stream_mode="values"):
                ttfe = time.perf_counter() - t0 if ttfe is None else ttfe
                values = chunk
        got = [m.content for m in (values or {}).get("messages", [])]
        if got != EXPECTED:
            out["errors"].append(f"final messages {got!r}")
            return
        out["latency"].append(time.perf_counter() - t0)
        if ttfe is not None:
            out["ttfe"].append(ttfe)
            out["first_values"].append(ttfe)  # every event of a values stream is a values event

    async def worker() -> None:
        while time.time() < stop_at:
            try:
                await asyncio.wait_for(iteration(), RUN_TIMEOUT)
            except Exception as exc:  # counted and reported
                out["errors"].append(f"{type(exc).__name__}: {str(exc)[:200]}")

    await asyncio.gather(*(worker() for _ in range(cell.clients)))
    return out | {"ended": time.time(), "cpu_s": 0.0}  # the floor's CPU is its "server" CPU


def _floor_child(cell: Cell, warmup: float, duration: float) -> dict[str, Any]:
    graph = _floor_graph(cell.graph)
    rss_start = _own_rss_mib()
    warm = asyncio.run(_floor_loop(graph, cell, time.time() + warmup))
    rss_before = _own_rss_mib()
    cpu0, busy0, start_at = time.process_time(), machine_busy(), time.time()
    timed = asyncio.run(_floor_loop(graph, cell, start_at + duration))
    cpu, busy = time.process_time() - cpu0, machine_busy() - busy0
    return {
        "warm": {"parts": [warm]},
        "timed": {"start_at": start_at, "parts": [timed]},
        "cpu": [cpu, cpu, 0.0, busy],
        "rss": (rss_start, rss_before, _own_rss_mib()),
    }


def floor_cell(cell: Cell, args: argparse.Namespace) -> dict[str, Any]:
    """The graph alone, in a forked process of its own (so its CPU and RSS are the graph's)."""
    quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else (0.0, None)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        got = pool.submit(_floor_child, cell, args.warmup, args.duration).result()
    return summarise(
        "in-process",
        "inmem",
        cell,
        got["timed"],
        got["warm"],
        cpu=got["cpu"],
        rss=got["rss"],
        extra={"quiet_wait_s": quiet[0], "busy_cores_before": quiet[1], "startup_s": None},
        has_pg=False,
    )


# -- the run --------------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cpu": model[1] if model else platform.processor(),
        "cpus": os.cpu_count(),
        "memory_gib": round(int(mem[1]) / 2**20, 1) if mem else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def postgres_version(pg: Any) -> str | None:
    import psycopg

    with contextlib.suppress(psycopg.Error), psycopg.connect(pg.url, connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else None
    return None


def main() -> None:
    keys = [p.key for p in plans(LG_JOBS)]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="all", help=f"comma-separated, of: {', '.join(keys)}")
    parser.add_argument("--cells", default="", help="comma-separated cell names, e.g. 'bench_fast wait C=16'")
    parser.add_argument(
        "--extra",
        action=argparse.BooleanOptionalAction,
        default=not QUICK,
        help="runyard's scaling and issue 7 cells too (default: not in QUICK mode)",
    )
    parser.add_argument("--duration", type=float, default=1.0 if QUICK else 15.0, help="timed s per cell")
    parser.add_argument("--warmup", type=float, default=0.0 if QUICK else 3.0, help="warm-up s per cell")
    parser.add_argument(
        "--quiet-wait", type=float, default=0 if QUICK else 5, help="max s to wait for an idle machine"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="os.nice() step for the harness and all it starts (servers, clients, PostgreSQL); on a "
        "shared machine a negative one (root only) keeps other jobs from taking the benchmark's CPU",
    )
    parser.add_argument("--lg-jobs", type=int, default=LG_JOBS, help="--n-jobs-per-worker of the -jN row")
    parser.add_argument("--postgres-url", default=os.environ.get("RUNYARD_BENCH_POSTGRES_URL"))
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument(
        "--summary-only", action="store_true", help="rewrite summary.md from the output dir's all.json"
    )
    args = parser.parse_args()
    # what server_bench.run_cell reads besides these
    args.client_procs, args.profile = 1, False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups: servers, Postgres
    if args.nice:
        os.nice(args.nice)
    out_dir = args.output_dir or ROOT / "bench" / "results" / ("compare-quick" if QUICK else "compare")
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.summary_only:
        (out_dir / "summary.md").write_text(summary_markdown(json.loads((out_dir / "all.json").read_text())))
        return
    for old in out_dir.glob("*.json"):
        old.unlink()

    all_plans = plans(args.lg_jobs)
    wanted = {p.key for p in all_plans} if args.targets == "all" else set(args.targets.split(","))
    chosen = [p for p in all_plans if p.key in wanted]
    if unknown := wanted - {p.key for p in all_plans}:
        parser.error(f"unknown targets {sorted(unknown)}; known: {[p.key for p in all_plans]}")
    cell_names = {c.strip() for c in args.cells.split(",") if c.strip()}

    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip(),
        "quick": QUICK,
        "settings": {k: str(v) for k, v in vars(args).items() if k != "postgres_url"},
        "versions": {"runyard": {n: metadata.version(n) for n in (*server_bench.VERSIONS, "psycopg")}},
        "skipped": {},
        "cells": [],
    }
    # install what is missing first: a peer that cannot be installed is reported, not fatal
    PEERS.mkdir(parents=True, exist_ok=True)
    write_config(PEERS)
    runnable = []
    for plan in chosen:
        target = plan.target
        if isinstance(target, LanggraphDev | Aegra):
            try:
                venv = ensure_venv(target.venv_name, target.requirements, target.min_minor)
            except (RuntimeError, OSError) as exc:
                results["skipped"][plan.key] = f"install failed: {exc}"
                print(f"{plan.key}: {exc}", file=sys.stderr)
                continue
            results["versions"][target.name] = versions(venv, target.version_names)
        runnable.append(plan)

    started = time.perf_counter()
    needs_pg = any(p.backend == "postgres" for p in runnable)
    with postgres(args.postgres_url) if needs_pg else contextlib.nullcontext() as pg:
        if pg is not None:
            results["versions"]["postgresql"] = postgres_version(pg)
        if pg is None:
            for plan in runnable:
                if plan.backend == "postgres":
                    results["skipped"][plan.key] = "no PostgreSQL (binaries or --postgres-url)"
            runnable = [p for p in runnable if p.backend != "postgres"]
        extra = [p for p in runnable if p.extra] if args.extra else []
        # cell by cell, every target in turn: a burst of someone else's load lands on all alike
        for cells, round_plans, extra_round in ((MAIN_CELLS, runnable, False), (EXTRA_CELLS, extra, True)):
            for cell in cells:
                if cell_names and cell.name not in cell_names:
                    continue
                for plan in round_plans:
                    result = run_one(plan, cell, pg, args)
                    result["key"], result["extra"] = plan.key, extra_round
                    name = f"{_slug(plan.key)}__{_slug(cell.name)}.json"
                    (out_dir / name).write_text(json.dumps(result, indent=2) + "\n")
                    results["cells"].append(result)
    results["cells"].sort(key=lambda c: [p.key for p in all_plans].index(c["key"]))
    results["total_s"] = round(time.perf_counter() - started, 1)
    (out_dir / "all.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "summary.md").write_text(summary_markdown(results))
    print(f"wrote {len(results['cells'])} cells and {out_dir / 'summary.md'} in {results['total_s']} s")
    if failed := [f"{c['target']} {c['backend']} {c['cell']}" for c in results["cells"] if "failed" in c]:
        sys.exit(f"cells that could not run: {failed}")  # a server that does not start fails the smoke run


def run_one(plan: Plan, cell: Cell, pg: Any, args: argparse.Namespace) -> dict[str, Any]:
    """One cell; a server that fails to start is one failed cell, not the end of the run."""
    print(f"-- {plan.key}: {cell.name}", flush=True)
    try:
        if plan.target is None:
            return floor_cell(cell, args)
        with cell_database(pg) if plan.backend == "postgres" else contextlib.nullcontext() as db_url:
            return run_cell(plan.target, plan.backend, cell, db_url, args)
    except Exception as exc:
        print(f"{plan.key} {cell.name} failed: {exc}", file=sys.stderr)
        name = plan.target.name if plan.target is not None else "in-process"
        return {"target": name, "backend": plan.backend, "cell": cell.name, "failed": str(exc)[-2000:]}


# -- the summary ---------------------------------------------------------------------------------------


def _row_name(c: dict[str, Any]) -> str:
    if c["target"] == "runyard":
        return f"runyard {c['backend']}"
    return str(c["target"])


def _pair(dist: dict[str, Any] | None) -> str:
    return f"{dist['p50']} / {dist['p99']}" if dist else "-"


def _find(results: dict[str, Any], key: str, cell: str) -> dict[str, Any] | None:
    for c in results["cells"]:
        if c.get("key") == key and c["cell"] == cell and "failed" not in c:
            return c
    return None


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "-"


def glance(results: dict[str, Any]) -> list[str]:
    """One row per target, one column per main cell: runs/s, then p50 / p99 ms (streams: first
    `values` event p50); server CPU per run at fast wait C=16 (+ PostgreSQL's own)."""
    lines = [
        "## At a glance",
        "",
        "runs/s, then p50 / p99 latency ms; stream: also first `values` event p50 ms. "
        "CPU ms/run at fast wait C=16: server (+ PostgreSQL).",
        "",
        "| target | " + " | ".join(c.name for c in MAIN_CELLS) + " | CPU ms/run | errors |",
        "|---|" + "---|" * (len(MAIN_CELLS) + 2),
    ]
    for key in dict.fromkeys(c["key"] for c in results["cells"] if not c.get("extra")):
        row, errors, name = [], 0, key
        for cell in MAIN_CELLS:
            c = _find(results, key, cell.name)
            if c is None:
                row.append("-")
                continue
            name, errors = _row_name(c), errors + c["errors"]
            lat = c["latency_ms"]
            text = f"{c['runs_per_s']} ({lat['p50']:.0f} / {lat['p99']:.0f})"
            if c["first_values_ms"]:
                text += f", values {c['first_values_ms']['p50']:.0f}"
            row.append(text)
        c16 = _find(results, key, "bench_fast wait C=16")
        cpu = "-"
        if c16:
            cpu = f"{c16['server_cpu_ms_per_run']:.1f}"
            cpu += f" (+{c16['postgres_cpu_ms_per_run']:.1f})" if c16["postgres_cpu_ms_per_run"] else ""
        lines.append(f"| {name} | " + " | ".join(row) + f" | {cpu} | {errors} |")
    return lines


def summary_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    others = [c["other_cpu_cores"] for c in results["cells"] if "other_cpu_cores" in c]
    other = sum(others) / len(others) if others else 0.0
    lines = [
        f"# runyard vs `langgraph dev` vs Aegra ({results['date']}, git {results['git']})",
        "",
        f"Machine: {m['cpus']} x {m['cpu']}, {m['memory_gib']} GiB, {m['platform']}; harness Python "
        f"{m['python']}. Server, PostgreSQL and the load generator share these cores; other "
        f"processes used {other:.2f} cores on average during the timed windows (`other cores`): "
        "with more than ~0.2, treat differences under ~30 % as noise.",
        f"Quick mode: {results['quick']}; per cell {results['settings']['warmup']} s warm-up, "
        f"{results['settings']['duration']} s timed; whole run {results.get('total_s')} s; cells in turn "
        f"across targets; nice {results['settings']['nice']} for the harness, servers and PostgreSQL.",
        "",
        "Latency = `threads.create()` + the run, end to end, ms. TTFE / first `values`: from the "
        "stream request, p50 / p99 ms. CPU in ms per successful run over the timed window: the "
        "server's process tree (the floor: its own process), PostgreSQL's separately. RSS of the "
        "server in MiB at start → after the cell.",
        "",
        "| target | cell | runs | runs/s | p50 | p95 | p99 | TTFE | first values | server CPU ms/run "
        "| PG CPU ms/run | RSS MiB | other cores | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in results["cells"]:
        if c.get("extra"):
            continue
        if "failed" in c:
            lines.append(f"| {_row_name(c)} | {c['cell']} | failed: {c['failed'][:120]!r} |||||||||||")
            continue
        lat, rss = c["latency_ms"], c["rss_mib"]
        lines.append(
            f"| {_row_name(c)} | {c['cell']} | {c['runs']} | {c['runs_per_s']} | {lat['p50']} | {lat['p95']} "
            f"| {lat['p99']} | {_pair(c['ttfe_ms'])} | {_pair(c['first_values_ms'])} "
            f"| {c['server_cpu_ms_per_run']} | {c['postgres_cpu_ms_per_run'] or '-'} "
            f"| {rss['start']} → {rss['after']} | {c['other_cpu_cores']} | {c['errors']} |"
        )
    lines += ["", *glance(results)]
    lines += ["", "## Versions", ""]
    for target, pins in results["versions"].items():
        text = pins if isinstance(pins, str) else ", ".join(f"{k} {v}" for k, v in pins.items())
        lines.append(f"- {target}: {text}")
    for key, why in results["skipped"].items():
        lines.append(f"- **{key} not run**: {why}")

    scaling = [
        (backend, c, _find(results, f"runyard-{backend}", f"bench_fast wait C={c}"))
        for backend in ("sqlite", "postgres")
        for c in SCALING
    ]
    if any(found for *_, found in scaling):
        lines += [
            "",
            "## Scaling: runyard, bench_fast wait",
            "",
            "| backend | C | runs/s | p50 ms | p99 ms | server CPU ms/run | PG CPU ms/run | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for backend, clients, c in scaling:
            if c:
                lines.append(
                    f"| {backend} | {clients} | {c['runs_per_s']} | {c['latency_ms']['p50']} "
                    f"| {c['latency_ms']['p99']} | {c['server_cpu_ms_per_run']} "
                    f"| {c['postgres_cpu_ms_per_run'] or '-'} | {c['errors']} |"
                )
    grid = [c for c in results["cells"] if c.get("key", "").startswith("runyard") and "failed" not in c]
    if any(c.get("extra") for c in grid):
        lines += [
            "",
            "## runyard: wait and stream, fast and slow graph (issue 7)",
            "",
            "| backend | graph | mode | C | runs/s | p50 ms | p99 ms | TTFE p50 / p99 | server CPU ms/run | errors |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in sorted(grid, key=lambda c: (c["backend"], c["graph"], c["mode"], c["clients"])):
            if c["clients"] in (1, 16, 64):
                lines.append(
                    f"| {c['backend']} | {c['graph']} | {c['mode']} | {c['clients']} | {c['runs_per_s']} "
                    f"| {c['latency_ms']['p50']} | {c['latency_ms']['p99']} | {_pair(c['ttfe_ms'])} "
                    f"| {c['server_cpu_ms_per_run']} | {c['errors']} |"
                )

    def rps(key: str, cell: str) -> float | None:
        c = _find(results, key, cell)
        return c["runs_per_s"] if c else None

    c16, c1 = "bench_fast wait C=16", "bench_fast wait C=1"
    lg_best = max(
        (
            r
            for k in ("langgraph-dev", f"langgraph-dev-j{results['settings']['lg_jobs']}")
            if (r := rps(k, c16))
        ),
        default=None,
    )
    sqlite_c1 = _find(results, "runyard-sqlite", c1)
    floor_c16, sqlite_c16 = _find(results, "floor", c16), _find(results, "runyard-sqlite", c16)
    errors = sum(c.get("errors", 0) for c in results["cells"] if c.get("key", "").startswith("runyard"))
    lines += [
        "",
        "## Against issue 5's goals (ratios from this run)",
        "",
        f"- runyard SQLite vs best `langgraph dev`, runs/s at fast wait C=16: "
        f"{_ratio(rps('runyard-sqlite', c16), lg_best)} (goal ≥ 3x)",
        f"- runyard SQLite vs Aegra, same cell: {_ratio(rps('runyard-sqlite', c16), rps('aegra', c16))} (goal ≥ 5x)",
        f"- runyard SQLite p50 at C=1: {sqlite_c1['latency_ms']['p50'] if sqlite_c1 else '-'} ms (goal < 10 ms)",
        "- runyard SQLite server CPU per run vs the floor's, C=16: "
        + (
            _ratio(sqlite_c16["server_cpu_ms_per_run"], floor_c16["server_cpu_ms_per_run"])
            if sqlite_c16 and floor_c16
            else "-"
        )
        + " (goal ≤ 2x)",
        f"- runyard Postgres vs Aegra, runs/s at fast wait C=16: "
        f"{_ratio(rps('runyard-postgres', c16), rps('aegra', c16))} (goal ≥ 3x)",
        f"- errors over all runyard cells: {errors} (goal 0)",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
