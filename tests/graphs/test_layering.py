"""``runyard.graphs`` stays at the bottom of the picture (ARCHITECTURE.md: imports point down)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("runyard.api", "runyard.runs", "runyard.streams", "runyard.persistence", "fastapi", "sqlalchemy")


def test_graphs_import_nothing_from_the_layers_above() -> None:
    """Importing every graphs module loads no API, run, stream or persistence module."""
    code = (
        "import sys, runyard.graphs, runyard.graphs.registry, runyard.graphs.environment\n"
        f"print('\\n'.join(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
