"""A three-process cluster per test module, on a fresh Postgres database and the session's Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import Cluster

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, module_postgres_url: str, redis_server: object
) -> Iterator[Cluster]:
    base = Path(tmp_path_factory.mktemp("cluster"))
    made = Cluster(base, module_postgres_url, redis_server.url)  # type: ignore[attr-defined]
    made.start_all()
    try:
        yield made
    finally:
        made.stop_all()
