"""Sampling profiles of a running server for ``server_bench.py --profile``: py-spy, attached by PID.

``py-spy record --format raw`` writes collapsed stacks (``thread;frame;...;leaf count``, root
first). By default only the thread holding the GIL is sampled (``--gil``): that is the Python work
that runs one thread at a time, i.e. what caps a single server process. (Here py-spy's idle
detection does not work: without ``--gil``, threads blocked in ``queue.get`` or ``epoll_wait``
count as busy, so all-thread samples are wall time, not CPU. py-spy also stops the process to
sample it, which over-weights lines that make a system call: on this VM ``perf`` put ``getpid``
at 0.2 % of the server's CPU where py-spy put it at ~11 %. Cross-check big leaf entries that sit on
a syscall with ``perf record -g -p PID``.)

``summarise`` gives, in % of samples: the share per kind of thread, the self (leaf) and total
(on-stack) shares per function, total shares of runyard's own functions, and self shares per
package. Frames on >= 90 % of a thread kind's samples (``<module>``, uvicorn's ``run``, the event
loop) are the spine, and frames that pass >= 95 % of their samples to one callee (middleware
chains) are wrappers: both are left out of the total lists, whose rows are where work branches.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
SPINE_SHARE = 0.75
PASS_THROUGH = 0.95  # a frame whose one callee has >= 95 % of its samples is a wrapper: not listed


def pyspy() -> str | None:
    """The py-spy binary beside this interpreter, else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_record(
    pid: int, duration_s: float, out: Path, *, native: bool, gil: bool, rate: int = 100
) -> subprocess.Popen[bytes]:
    """Start ``py-spy record`` on ``pid`` for ``duration_s`` seconds, writing collapsed stacks to ``out``."""
    binary = pyspy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    cmd = [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s)))]
    cmd += ["--rate", str(rate), "--format", "raw", "--threads", "--full-filenames", "--output", str(out)]
    cmd += ["--native"] if native else []
    cmd += ["--gil"] if gil else []
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _short(path: str) -> str:
    """A path from its package on: site-packages/x/y.py -> x/y.py, .../lib/python3.11/x.py -> x.py."""
    for marker in ("site-packages/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return re.sub(r"^.*/lib/python3\.\d+/", "", path)


def _name(frame: str) -> str:
    """``function (file:line)`` -> ``file:function`` with the file shortened."""
    match = _FRAME.match(frame.strip())
    return f"{_short(match['file'])}:{match['func']}" if match else frame.strip()


def _package(name: str) -> str:
    """``sqlalchemy/orm/x.py:f`` -> ``sqlalchemy``; stdlib ``asyncio/x.py:f`` -> ``asyncio``; C -> its file."""
    file = name.rsplit(":", 1)[0]
    if not file.endswith(".py"):
        return f"native {file}"
    head = file.split("/", 1)[0]
    return head if "/" in file else head.removesuffix(".py")


def _group(thread: str) -> str:
    """``thread (123): Thread-45 (_worker)`` -> ``Thread-N (_worker)``: one row per kind of thread."""
    return re.sub(r"\d+", "N", thread.split(": ", 1)[-1])


def _shares(stacks: list[tuple[str, list[str], int]], samples: int, top: int) -> dict[str, Any]:
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    per_group: dict[str, Counter[str]] = {}
    group_samples: Counter[str] = Counter()
    for group, names, count in stacks:
        self_counts[names[-1]] += count
        packages[_package(names[-1])] += count
        group_samples[group] += count
        for name in set(names):
            total_counts[name] += count
            per_group.setdefault(group, Counter())[name] += count
        for edge in set(pairwise(names)):
            edges[edge] += count
    spine = {n for g, c in per_group.items() for n, v in c.items() if v >= SPINE_SHARE * group_samples[g]}
    widest: Counter[str] = Counter()
    for (caller, _), count in edges.items():
        widest[caller] = max(widest[caller], count)
    spine |= {n for n, v in total_counts.items() if widest[n] >= PASS_THROUGH * v}

    def rows(items: list[tuple[str, int]]) -> list[dict[str, Any]]:
        return [{"function": k, "pct": round(100 * v / samples, 1), "samples": v} for k, v in items]

    work = [(k, v) for k, v in total_counts.most_common() if k not in spine]
    return {
        "samples": sum(group_samples.values()),
        "self": rows(self_counts.most_common(top)),
        "total": rows(work[:top]),
        "runyard_total": rows([(k, v) for k, v in work if k.startswith("runyard/")][:top]),
        "packages_self": rows(packages.most_common(top)),
        "spine": sorted(spine),
    }


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Thread shares, then the function and package shares for all threads and for MainThread."""
    stacks: list[tuple[str, list[str], int]] = []
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if stack and count_text.isdigit() and len(frames) >= 2:
            stacks.append((_group(frames[0]), [_name(f) for f in frames[1:]], int(count_text)))
    samples = sum(count for _, _, count in stacks)
    if not samples:
        return {"samples": 0}
    groups: Counter[str] = Counter()
    for group, _, count in stacks:
        groups[group] += count
    return {
        "samples": samples,
        "threads": [{"thread": g, "pct": round(100 * v / samples, 1)} for g, v in groups.most_common()],
        "all": _shares(stacks, samples, top),
        "main": _shares([s for s in stacks if s[0] == "MainThread"], samples, top),
    }


def markdown(summary: dict[str, Any], title: str, top: int = 10) -> str:
    """The summary as Markdown tables (``top`` rows each)."""
    lines = [f"## {title}", "", f"{summary.get('samples', 0)} samples; every % is of all samples.", ""]
    if not summary.get("samples"):
        return "\n".join(lines)
    lines += ["| thread | % |", "|---|---|", *(f"| {t['thread']} | {t['pct']} |" for t in summary["threads"])]
    for scope, label in (("all", "all threads"), ("main", "MainThread (the event loop)")):
        part = summary[scope]
        lines += ["", f"### {label}: {part['samples']} samples"]
        for key, what in (
            ("self", "self (leaf)"),
            ("total", "total (on stack; spine and pass-through wrappers left out)"),
            ("runyard_total", "runyard functions, total"),
            ("packages_self", "self by package"),
        ):
            lines += ["", f"| # | {what} | % | samples |", "|---|---|---|---|"]
            lines += [
                f"| {i} | `{r['function']}` | {r['pct']} | {r['samples']} |"
                for i, r in enumerate(part[key][:top], 1)
            ]
    return "\n".join([*lines, ""])
