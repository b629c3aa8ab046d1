"""``runyard.threads`` imports only ``runyard.persistence`` and ``runyard.runs.clock`` (ARCHITECTURE.md).

Checked on the source (``tests/layering.py`` says why).
"""

from __future__ import annotations

import runyard.threads
from layering import imports_starting_with, runyard_imports_outside

ALLOWED = ("runyard.threads", "runyard.persistence", "runyard.runs.clock")
FORBIDDEN = ("fastapi", "starlette", "runyard.api", "runyard.streams", "runyard.runs.manager")


def test_threads_import_only_persistence_and_the_clock() -> None:
    """Every runyard import in runyard/threads/*.py is threads, persistence or runs.clock."""
    assert runyard_imports_outside(runyard.threads, ALLOWED) == set()


def test_no_http_or_streams_imports() -> None:
    """No thread module imports the API, FastAPI/Starlette or the stream bridge."""
    assert imports_starting_with(runyard.threads, FORBIDDEN) == set()
