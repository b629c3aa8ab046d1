"""Fixtures: a real runyard server process per test module, on SQLite and on Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import ServerProcess


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data_dir: Path = tmp_path_factory.mktemp("runyard")
    database_url = None
    if request.param == "postgres":
        database_url = request.getfixturevalue("module_postgres_url")
    proc = ServerProcess(data_dir, database_url=database_url)
    proc.start()
    try:
        yield proc
    finally:
        code = proc.stop()
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done.
        assert code in (0, -15, None), f"server exited with {code}\n{proc.log()}"
        assert "Traceback" not in proc.log(), proc.log()
