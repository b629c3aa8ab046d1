"""``runyard.threads`` imports only ``runyard.persistence`` and ``runyard.runs.clock`` (ARCHITECTURE.md).

Checked on the source, not on ``sys.modules``: importing ``runyard.runs.clock`` runs
``runyard/runs/__init__.py``, which loads the run manager, so a runtime check would blame threads
for the runs package's own imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import runyard.threads

ALLOWED = ("runyard.threads", "runyard.persistence", "runyard.runs.clock")
PACKAGE = Path(runyard.threads.__file__).parent


def _imports(path: Path) -> set[str]:
    module = f"runyard.threads.{path.stem}" if path.stem != "__init__" else "runyard.threads"
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_threads_import_only_persistence_and_the_clock() -> None:
    """Every runyard import in runyard/threads/*.py is threads, persistence or runs.clock."""
    offending = {
        f"{path.name}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        for name in _imports(path)
        if name.startswith("runyard") and not name.startswith(ALLOWED)
    }
    assert offending == set()


def test_no_http_or_streams_imports() -> None:
    """No thread module imports the API, FastAPI/Starlette or the stream bridge."""
    forbidden = ("fastapi", "starlette", "runyard.api", "runyard.streams", "runyard.runs.manager")
    names = {name for path in PACKAGE.glob("*.py") for name in _imports(path)}
    assert not {name for name in names if name.startswith(forbidden)}
