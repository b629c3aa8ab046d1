"""What runyard sends PostgreSQL per run: statements counted from the server's own log.

Starts a throwaway PostgreSQL (tests/services.py) and a fresh database with
``log_statement = 'all'``, serves examples/langgraph.json on it, runs one closed-loop client
(``threads.create()`` then ``runs.wait`` on ``bench_fast``) for a few seconds, and counts what
the log recorded in that window, grouped by statement kind and table, per run. SQLAlchemy's
pre-ping shows as ``;``; the checkpointer's statements run in autocommit, the stores' inside
BEGIN/COMMIT.

    .venv/bin/python bench/pg_statements.py [--seconds 5] [--clients 1]   # --clients 16: pool churn
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from server_bench import Cell, load
from server_targets import Runyard, cell_database, postgres, serve

_ENTRY = re.compile(r"LOG:  (?:statement|execute [^:]*): (.*)", re.S)


def kind(statement: str) -> str:
    """``UPDATE threads``, ``SELECT checkpoints``, ``BEGIN``, ``;`` ..."""
    words = statement.split()
    if not words:
        return "(empty)"
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE") and len(words) > 2:
        return f"{verb} {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        assigned = re.search(r"\bSET\s+(.*?)(?:\bWHERE\b|$)", statement, re.I | re.S)
        columns = re.findall(r"(\w+)\s*=", assigned[1]) if assigned else []
        return f"UPDATE {words[1]} SET {', '.join(columns)}"
    if verb == "SELECT":
        if "pg_advisory_xact_lock" in statement:
            return "SELECT pg_advisory_xact_lock"
        # the first FROM that names a table, not a set-returning function
        tables = [t for t, call in re.findall(r"\bFROM\s+(\w+)(\s*\()?", statement, re.I) if not call]
        return f"SELECT {tables[0] if tables else statement[:40]}"
    return " ".join(words[:2])


def count(log_text: str) -> collections.Counter[str]:
    kinds: collections.Counter[str] = collections.Counter()
    for entry in re.split(r"\n(?=\S)", log_text):  # continuation lines of a statement are indented
        if match := _ENTRY.search(entry):
            kinds[kind(" ".join(match[1].split()))] += 1
    return kinds


def _sessions(url: str, database: str) -> int:
    """Sessions ever opened on ``database`` (pg_stat_database, PostgreSQL 14+)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    cell = Cell("wait", "bench_fast", args.clients)
    with postgres(None) as pg, cell_database(pg) as db:
        if pg is None:
            raise SystemExit("no PostgreSQL binaries")
        name = db.rsplit("/", 1)[1]
        with psycopg.connect(pg.url, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
            conn.execute(sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(sql.Identifier(name)))
        log = Path(row[0]).parent / "server.log"  # where tests/services.py points pg_ctl -l
        with tempfile.TemporaryDirectory() as tmp, serve(Runyard(), Path(tmp), db) as server:
            load(server.url, cell, 1.0, 1)  # warm-up: connections opened, graphs compiled
            time.sleep(0.5)
            start, sessions = log.stat().st_size, _sessions(pg.url, name)
            timed = load(server.url, cell, args.seconds, 1)
            time.sleep(0.5)  # backends report their statistics when idle
            text = log.read_bytes()[start:].decode(errors="replace")
            sessions = _sessions(pg.url, name) - sessions
    runs = sum(len(part["latency"]) for part in timed["parts"])
    kinds = count(text)
    total = sum(kinds.values())
    print(
        f"{runs} runs at C={args.clients}: {total / runs:.1f} statements and "
        f"{sessions / runs:.2f} new PostgreSQL sessions per run"
    )
    for name, n in kinds.most_common():
        print(f"{n / runs:6.2f}  {name}")


if __name__ == "__main__":
    main()
