"""Fixtures shared by every test: real databases (SQLite files, PostgreSQL servers) and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import services


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[services.PostgresServer]:
    """The session's PostgreSQL server (see ``services.postgres``)."""
    with services.postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: services.PostgresServer) -> Iterator[str]:
    """A ``postgresql://`` URL of a fresh, empty database, dropped after the test."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A ``sqlite:///`` URL of a database file (not yet created) in the test's temp directory."""
    return f"sqlite:///{tmp_path / 'runyard.db'}"


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server: services.PostgresServer) -> Iterator[str]:
    """A fresh database shared by one test module (a server process lives that long)."""
    with postgres_server.fresh_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server() -> Iterator[services.RedisServer]:
    """The session's Redis server (see ``services.redis``); tests keep apart by key, not database."""
    with services.redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: services.RedisServer) -> str:
    """A ``redis://`` URL of the session's Redis server."""
    return redis_server.url
