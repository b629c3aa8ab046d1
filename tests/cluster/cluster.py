"""Several real ``runyard serve`` processes sharing one Postgres and one Redis, and their journal."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from api.server import ServerProcess

PROJECT = Path(__file__).with_name("project") / "langgraph.json"


@dataclass(frozen=True)
class Entry:
    run_id: str
    step: str
    phase: str
    pid: int
    at: float


class Cluster:
    """Processes A, B, C... on the same state; ``journal`` is what their graphs' steps wrote."""

    def __init__(self, base: Path, database_url: str, redis_url: str, *, size: int = 3) -> None:
        self.base = base
        self.database_url = database_url
        self.redis_url = redis_url
        self.journal_path = base / "journal.txt"
        self.journal_path.touch()
        self.servers = [
            ServerProcess(base / f"p{i}", database_url=database_url, config=PROJECT) for i in range(size)
        ]

    def env(self) -> dict[str, str]:
        return {"RUNYARD_TEST_JOURNAL": str(self.journal_path)}

    def start(self, server: ServerProcess, *extra: str) -> None:
        server.start(env=self.env(), args=["--redis-url", self.redis_url, *extra])

    def start_all(self) -> None:
        for server in self.servers:
            self.start(server)

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()

    def journal(self) -> list[Entry]:
        entries = []
        for line in self.journal_path.read_text().splitlines():
            run_id, step, phase, pid, at = line.split()
            entries.append(Entry(run_id, step, phase, int(pid), float(at)))
        return entries

    def by_run(self) -> dict[str, list[Entry]]:
        runs: dict[str, list[Entry]] = defaultdict(list)
        for entry in self.journal():
            runs[entry.run_id].append(entry)
        return runs
