"""``runyard.streams`` stays below the runs layer (ARCHITECTURE.md: imports point down)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("runyard.runs", "runyard.persistence", "runyard.api", "fastapi", "starlette", "sqlalchemy")


def test_streams_import_nothing_from_runs_persistence_or_http() -> None:
    """Importing every streams module loads no run, persistence or HTTP framework module."""
    code = (
        "import sys, runyard.streams, runyard.streams.sse, runyard.streams.redis\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_redis_client_is_imported_only_with_the_redis_bridge() -> None:
    """The embedded install needs no Redis client: ``runyard.streams`` alone does not load one."""
    code = "import sys, runyard.streams, runyard.streams.sse\nprint('redis' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
