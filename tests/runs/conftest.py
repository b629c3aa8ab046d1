"""Run stores for the contract suites: every implementation, and two "processes" on one database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runyard.runs.store.base import RunStore
from runyard.runs.store.memory import MemoryRunStore
from runyard.runs.store.sql import SqlRunStore

from .stores import close_sql_store, open_sql_store


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RunStore]:
    """Each implementation of the contract, on an empty database."""
    if request.param == "memory":
        yield MemoryRunStore()
        return
    sql = await open_sql_store(request.getfixturevalue(f"{request.param}_url"))
    yield sql
    await close_sql_store(sql)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SqlRunStore, SqlRunStore]]:
    """Two SQL stores with separate engines on one database: two processes, as far as it can tell."""
    url = request.getfixturevalue(f"{request.param}_url")
    first = await open_sql_store(url)
    second = await open_sql_store(url)
    yield first, second
    await close_sql_store(first)
    await close_sql_store(second)
