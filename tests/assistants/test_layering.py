"""``runyard.assistants`` imports only persistence, the clock and the thread store's JSON filters.

Checked on the source (``tests/layering.py``), as ``tests/threads/test_layering.py`` does for threads.
"""

from __future__ import annotations

import runyard.assistants
from layering import imports_starting_with, runyard_imports_outside

ALLOWED = (
    "runyard.assistants",
    "runyard.persistence",
    "runyard.runs.clock",
    "runyard.threads.containment",
    "runyard.threads.sql_filters",
)
FORBIDDEN = ("fastapi", "starlette", "runyard.api", "runyard.streams", "runyard.runs.manager")


def test_assistants_import_only_what_they_build_on() -> None:
    assert runyard_imports_outside(runyard.assistants, ALLOWED) == set()


def test_no_http_imports() -> None:
    assert imports_starting_with(runyard.assistants, FORBIDDEN) == set()
