"""The layering check the package tests share: which modules each file of a package imports.

Read from the source, not from ``sys.modules``: importing ``runyard.runs.clock`` runs
``runyard/runs/__init__.py``, which loads the run manager, so a runtime check would blame a
package for another package's own imports.
"""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType


def _imports(path: Path, package: str) -> set[str]:
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


def imports_by_file(package: ModuleType) -> dict[str, set[str]]:
    """Every name each ``*.py`` file directly in ``package`` imports, relative imports resolved."""
    assert package.__file__ is not None
    folder = Path(package.__file__).parent
    result: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        result[path.name] = _imports(path, package.__name__)
    return result


def runyard_imports_outside(package: ModuleType, allowed: tuple[str, ...]) -> set[str]:
    """``file: name`` for each runyard import of ``package`` that none of ``allowed`` prefixes."""
    return {
        f"{file}: {name}"
        for file, names in imports_by_file(package).items()
        for name in names
        if name.startswith("runyard") and not name.startswith(allowed)
    }


def imports_starting_with(package: ModuleType, forbidden: tuple[str, ...]) -> set[str]:
    """The names ``package`` imports that start with one of ``forbidden``."""
    return {
        name for names in imports_by_file(package).values() for name in names if name.startswith(forbidden)
    }
