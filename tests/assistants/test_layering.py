"""``runyard.assistants`` imports only persistence, the clock and the thread store's JSON filters.

Checked on the source, as ``tests/threads/test_layering.py`` does for threads.
"""

from __future__ import annotations

import ast
from pathlib import Path

import runyard.assistants

ALLOWED = (
    "runyard.assistants",
    "runyard.persistence",
    "runyard.runs.clock",
    "runyard.threads.containment",
    "runyard.threads.sql_filters",
)
PACKAGE = Path(runyard.assistants.__file__).parent


def _imports(path: Path) -> set[str]:
    module = f"runyard.assistants.{path.stem}" if path.stem != "__init__" else "runyard.assistants"
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


def test_assistants_import_only_what_they_build_on() -> None:
    offending = {
        f"{path.name}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        for name in _imports(path)
        if name.startswith("runyard") and not name.startswith(ALLOWED)
    }
    assert offending == set()


def test_no_http_imports() -> None:
    forbidden = ("fastapi", "starlette", "runyard.api", "runyard.streams", "runyard.runs.manager")
    names = {name for path in PACKAGE.glob("*.py") for name in _imports(path)}
    assert not {name for name in names if name.startswith(forbidden)}
