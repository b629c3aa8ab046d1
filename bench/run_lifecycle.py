"""Run-lifecycle benchmark for the run runtime, per store, plus SQLite write contention.

A lifecycle is what the server does for every run: admit (``create_or_reject``), claim
(``try_start``), finish (``set_status`` success) and record usage (``update_run_completion``).
Figures are written to a JSON file and a Markdown table; nothing here asserts a timing.

    .venv/bin/python bench/run_lifecycle.py              # memory, sqlite, postgres (if available)
    QUICK=1 .venv/bin/python bench/run_lifecycle.py      # a smoke run of a few seconds

Postgres comes from ``--postgres-url`` / ``RUNYARD_BENCH_POSTGRES_URL``, else a throwaway server
is started from the local PostgreSQL binaries (as the tests do), else that cell is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from runyard.runs import RunManager, RunStatus
from runyard.runs.retry import PersistenceRetryPolicy
from runyard.runs.store.base import RunStore
from runyard.runs.store.memory import MemoryRunStore
from runyard.runs.store.sql import SqlRunStore

ROOT = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("QUICK") == "1"


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by the given processes, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


async def _lifecycle(manager: RunManager, thread_id: str) -> str:
    record = await manager.create_or_reject(thread_id, "bench", kwargs={"input": {"n": 1}})
    if not await manager.try_start(record.run_id):
        raise RuntimeError(f"run {record.run_id} could not start")
    await manager.set_status(record.run_id, RunStatus.success)
    await manager.update_run_completion(
        record.run_id, status="success", total_tokens=42, llm_call_count=1, last_ai_message="done"
    )
    return record.run_id


async def measure_store(name: str, store: RunStore, n: int, concurrency: int) -> dict[str, Any]:
    """Lifecycles per second and CPU per lifecycle for one store, at a given concurrency."""
    manager = RunManager(store=store)
    for i in range(min(50, n)):  # warm caches, pools and compiled statements
        await _lifecycle(manager, f"warm-{name}-{concurrency}-{i}")
    pg_pids = _postgres_pids() if name == "postgres" else []
    pg_cpu0 = _cpu_of(pg_pids)
    cpu0, t0 = time.process_time(), time.perf_counter()
    per_worker = n // concurrency

    async def worker(w: int) -> None:
        for i in range(per_worker):
            await _lifecycle(manager, f"{name}-{concurrency}-{w}-{i}")

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    done = per_worker * concurrency
    result = {
        "store": name,
        "concurrency": concurrency,
        "lifecycles": done,
        "lifecycles_per_s": round(done / wall, 1),
        "wall_ms_per_lifecycle": round(wall / done * 1000, 3),
        "cpu_ms_per_lifecycle": round(cpu / done * 1000, 3),
        "retries": manager.retries.retries,
    }
    if pg_pids:
        result["postgres_cpu_ms_per_lifecycle"] = round((_cpu_of(pg_pids) - pg_cpu0) / done * 1000, 3)
    return result


async def sqlite_contention(
    path: Path, writers: int, per_writer: int, busy_timeout_ms: int
) -> dict[str, Any]:
    """Many managers, each with its own store (own connections), writing one SQLite file at once.

    A short busy timeout turns waits into "database is locked" errors, which the retry policy must
    absorb; every run's final status must still be in the file. In one process the SQLite stores
    run their writes on the event loop one after another, so the lock is contended only when a
    write falls back to a worker thread (``busy_fallbacks``).
    """
    url = f"sqlite:///{path}"
    setup = SqlRunStore.from_url(url)
    await setup.setup()
    await setup.close()
    policy = PersistenceRetryPolicy(max_attempts=10, initial_delay=0.005, max_delay=0.2)
    stores = [SqlRunStore.from_url(url, busy_timeout_ms=busy_timeout_ms) for _ in range(writers)]
    managers = [RunManager(store=s, persistence_retry_policy=policy) for s in stores]
    run_ids: list[str] = []
    failures: list[str] = []

    async def writer(w: int) -> None:
        for i in range(per_writer):
            try:
                run_ids.append(await _lifecycle(managers[w], f"contention-{w}-{i}"))
            except Exception as exc:  # reported, not hidden: a failure here is a finding
                failures.append(f"{type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    wall = time.perf_counter() - t0
    check = SqlRunStore.from_url(url)
    lost = 0
    for run_id in run_ids:
        row = await check.get(run_id)
        if row is None or row["status"] != "success" or row["total_tokens"] != 42:
            lost += 1
    await check.close()
    fallbacks = sum(getattr(s.runner, "busy_fallbacks", 0) for s in stores)
    for s in stores:
        await s.close()
    return {
        "writers": writers,
        "lifecycles": len(run_ids),
        "busy_timeout_ms": busy_timeout_ms,
        "lifecycles_per_s": round(len(run_ids) / wall, 1),
        "lock_retries": sum(m.retries.retries for m in managers),
        "busy_fallbacks": fallbacks,
        "failed_lifecycles": len(failures),
        "failure_examples": failures[:3],
        "lost_final_statuses": lost,
    }


@contextlib.contextmanager
def _postgres(url: str | None) -> Iterator[str | None]:
    if url:
        yield url
        return
    sys.path.insert(0, str(ROOT))
    try:
        from tests.services import postgres
    except ImportError:
        yield None
        return
    with contextlib.ExitStack() as stack:
        server_url: str | None = None
        try:
            server = stack.enter_context(postgres())
            server_url = stack.enter_context(server.fresh_database())
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # pytest.skip's, too, when no server binaries are installed
            print(f"postgres cell skipped: {exc}", file=sys.stderr)
        yield server_url


@contextlib.asynccontextmanager
async def _opened(store: RunStore) -> AsyncIterator[RunStore]:
    await store.setup()
    try:
        yield store
    finally:
        await store.close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n = 200 if QUICK else args.n
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "quick": QUICK,
        "cells": [],
    }
    with tempfile.TemporaryDirectory() as tmp, _postgres(args.postgres_url) as pg_url:
        stores: dict[str, Any] = {
            "memory": lambda: MemoryRunStore(),
            "sqlite": lambda: SqlRunStore.from_url(f"sqlite:///{tmp}/runs.db"),
        }
        if pg_url:
            stores["postgres"] = lambda: SqlRunStore.from_url(pg_url)
        for name in args.stores.split(","):
            if name not in stores:
                print(f"skipping {name}: not available", file=sys.stderr)
                continue
            for concurrency in (1, 16):
                async with _opened(stores[name]()) as store:
                    cell = await measure_store(name, store, n, concurrency)
                results["cells"].append(cell)
                print(json.dumps(cell))
        per_writer = 10 if QUICK else args.per_writer
        for busy in (30_000, 1):
            cell = await sqlite_contention(
                Path(tmp) / f"contention-{busy}.db", args.writers, per_writer, busy
            )
            results.setdefault("sqlite_contention", []).append(cell)
            print(json.dumps(cell))
    return results


def write_markdown(results: dict[str, Any], path: Path) -> None:
    lines = [
        "| store | clients | lifecycles/s | wall ms/lifecycle | CPU ms/lifecycle | Postgres CPU ms/lifecycle |",
        "|---|---|---|---|---|---|",
    ]
    for c in results["cells"]:
        pg = c.get("postgres_cpu_ms_per_lifecycle", "")
        lines.append(
            f"| {c['store']} | {c['concurrency']} | {c['lifecycles_per_s']} | {c['wall_ms_per_lifecycle']} "
            f"| {c['cpu_ms_per_lifecycle']} | {pg} |"
        )
    lines += [
        "",
        "| SQLite writers | busy timeout ms | lifecycles | lifecycles/s | lock retries | busy fallbacks | failed | lost final statuses |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in results.get("sqlite_contention", []):
        lines.append(
            f"| {c['writers']} | {c['busy_timeout_ms']} | {c['lifecycles']} | {c['lifecycles_per_s']} "
            f"| {c['lock_retries']} | {c.get('busy_fallbacks', '')} | {c['failed_lifecycles']} "
            f"| {c['lost_final_statuses']} |"
        )
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="memory,sqlite,postgres")
    parser.add_argument("-n", type=int, default=3000, help="lifecycles per cell")
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--per-writer", type=int, default=100)
    parser.add_argument("--postgres-url", default=os.environ.get("RUNYARD_BENCH_POSTGRES_URL"))
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "run_lifecycle.json")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, args.output.with_suffix(".md"))
    print(f"wrote {args.output} and {args.output.with_suffix('.md')}")


if __name__ == "__main__":
    main()
