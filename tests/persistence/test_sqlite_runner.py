"""``SqliteRunner``: statements on the loop, a worker thread when the file is locked, checkpoints aside."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from runyard.persistence.engine import create_sqlite_engine
from runyard.persistence.runner import AsyncEngineRunner, create_runner
from runyard.persistence.sqlite_runner import SqliteRunner
from runyard.persistence.tables import UtcTimestamp

metadata = MetaData()
items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("at", UtcTimestamp()),
    Column("doc", JSON),
)
ADD = insert(items)
ALL = select(items.c.name, items.c.at, items.c.doc).order_by(items.c.id)
RENAME = update(items).where(items.c.name == "a").values(name="b").returning(items.c.id, items.c.at)
MOMENT = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)

Make = Callable[..., SqliteRunner]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "items.db"
    engine = create_sqlite_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    return path


@pytest.fixture
async def make(db_path: Path) -> AsyncIterator[Make]:
    """A factory of runners on the database, each closed after the test."""
    made: list[SqliteRunner] = []

    def factory(**options: Any) -> SqliteRunner:
        made.append(SqliteRunner(f"sqlite:///{db_path}", **options))
        return made[-1]

    yield factory
    for runner in made:
        await runner.close()
        assert runner.engine.pool.checkedout() == 0


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock for the duration of the block."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        holder.rollback()
        holder.close()


async def _pragma(runner: SqliteRunner, name: str) -> Any:
    rows = await runner.read(text(f"PRAGMA {name}"), {})
    return rows[0][0]


async def test_values_round_trip_through_the_column_types(make: Make) -> None:
    """Binds and results go through SQLAlchemy's types: aware timestamps, JSON documents."""
    runner = make()
    (added,) = await runner.write((ADD, {"name": "a", "at": MOMENT, "doc": {"k": ["β", 1]}}))
    assert added.rowcount == 1
    assert await runner.read(ALL, {}) == [["a", MOMENT, {"k": ["β", 1]}]]
    (renamed,) = await runner.write((RENAME, {}))
    assert renamed.rowcount == 1 and renamed.rows == [[1, MOMENT]]


async def test_the_loop_connection_never_waits_and_never_checkpoints(make: Make) -> None:
    """The loop connection fails at once on a lock and leaves checkpoints to a worker; WAL, NORMAL."""
    runner = make(busy_timeout_ms=1234)
    assert await _pragma(runner, "busy_timeout") == 0
    assert await _pragma(runner, "wal_autocheckpoint") == 0
    assert await _pragma(runner, "journal_mode") == "wal"
    assert await _pragma(runner, "synchronous") == 1
    with runner.engine.connect() as conn:  # the worker threads' connections wait for locks
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234


async def test_a_locked_database_sends_the_write_to_a_worker_thread(make: Make, db_path: Path) -> None:
    """While another connection holds the write lock the loop keeps running; the write lands after."""
    runner = make(busy_timeout_ms=10_000)
    await runner.write((ADD, {"name": "first"}))
    with write_lock_held(db_path):
        pending = asyncio.create_task(runner.write((ADD, {"name": "waited"})))
        deadline = time.monotonic() + 10
        while runner.busy_fallbacks == 0:  # the loop keeps running while the write moves to a thread
            assert time.monotonic() < deadline, "the locked write never fell back to a worker thread"
            await asyncio.sleep(0.01)  # poll step inside the deadline loop
        assert not pending.done()
        assert runner.busy_fallbacks == 1
        assert [row[0] for row in await runner.read(ALL, {})] == ["first"]  # reads do not wait
    (outcome,) = await asyncio.wait_for(pending, timeout=10)
    assert outcome.rowcount == 1
    assert [row[0] for row in await runner.read(ALL, {})] == ["first", "waited"]


async def test_writes_queue_behind_one_worker_while_the_lock_is_held(make: Make, db_path: Path) -> None:
    """Concurrent writes during a lock wait take one worker thread between them, and all land."""
    runner = make(busy_timeout_ms=10_000)
    with write_lock_held(db_path):
        pending = [asyncio.create_task(runner.write((ADD, {"name": f"n{n}"}))) for n in range(5)]
        await asyncio.sleep(0.1)
        assert not any(task.done() for task in pending)
    await asyncio.wait_for(asyncio.gather(*pending), timeout=10)
    assert runner.busy_fallbacks == 1
    assert sorted(row[0] for row in await runner.read(ALL, {})) == [f"n{n}" for n in range(5)]


async def test_a_lock_held_past_the_busy_timeout_fails_the_write_whole(make: Make, db_path: Path) -> None:
    """A write still locked out after the busy timeout raises SQLITE_BUSY and writes nothing."""
    runner = make(busy_timeout_ms=50)
    with write_lock_held(db_path), pytest.raises(OperationalError, match="locked") as caught:
        await runner.write((ADD, {"name": "a"}), (ADD, {"name": "b"}))
    assert caught.value.orig is not None
    assert getattr(caught.value.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
    assert await runner.read(ALL, {}) == []
    await runner.write((ADD, {"name": "a"}))  # and the runner carries on
    assert len(await runner.read(ALL, {})) == 1


async def test_a_failing_statement_rolls_back_the_whole_write(make: Make) -> None:
    """Steps are one transaction: a constraint violation undoes the earlier steps, as IntegrityError."""
    runner = make()
    await runner.write((ADD, {"name": "a"}))
    with pytest.raises(IntegrityError) as caught:
        await runner.write((ADD, {"name": "b"}), (ADD, {"name": "a"}))
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)
    assert [row[0] for row in await runner.read(ALL, {})] == ["a"]
    await runner.write((ADD, {"name": "c"}))
    assert [row[0] for row in await runner.read(ALL, {})] == ["a", "c"]


async def test_checkpoints_run_in_a_worker_every_n_writes(make: Make, db_path: Path) -> None:
    """After checkpoint_every writes a PASSIVE checkpoint copies the WAL into the database."""
    runner = make(checkpoint_every=3)
    for name in ("a", "b"):
        await runner.write((ADD, {"name": name}))
    assert runner.checkpoints == 0
    await runner.write((ADD, {"name": "c"}))
    deadline = time.monotonic() + 10
    while runner.checkpoints == 0:
        assert time.monotonic() < deadline, "no checkpoint ran"
        await asyncio.sleep(0.01)
    probe = sqlite3.connect(db_path, isolation_level=None)
    try:
        _busy, frames, copied = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        probe.close()
    assert frames == copied


async def test_checkpoints_keep_up_when_the_loop_never_gets_a_turn(make: Make) -> None:
    """Writes on the loop never suspend; checkpoints still finish and the next ones still start."""
    runner = make(checkpoint_every=2)
    for n in range(1, 11):
        await runner.write((ADD, {"name": f"n{n}"}))
        deadline = time.monotonic() + 10
        while runner.checkpoints < n // 2:  # a blocking wait: the loop gets no turn meanwhile
            assert time.monotonic() < deadline, f"checkpoint {n // 2} never finished"
            time.sleep(0.005)  # noqa: ASYNC251 - deliberately keeps the loop from running
    assert runner.checkpoints == 5


async def test_a_wal_that_writes_never_let_rewind_is_restarted(make: Make) -> None:
    """A WAL past max_wal_frames after a PASSIVE checkpoint gets a RESTART checkpoint."""
    runner = make(checkpoint_every=50, max_wal_frames=20)
    for n in range(400):  # a tight loop: checkpoints race the writes, the WAL never rewinds itself
        await runner.write((ADD, {"name": f"n{n}"}))
    await runner.close()  # waits for the checkpoint in progress
    assert runner.checkpoints >= 1
    assert runner.wal_restarts >= 1


async def test_a_closed_runner_refuses_work(make: Make) -> None:
    """close releases every connection; the runner is unusable afterwards."""
    runner = make()
    await runner.write((ADD, {"name": "a"}))
    await runner.close()
    await runner.close()
    assert runner.engine.pool.checkedout() == 0
    with pytest.raises(RuntimeError, match="closed"):
        await runner.read(ALL, {})


async def test_runners_share_one_file_safely(make: Make) -> None:
    """Two runners (two stores) on one file see each other's writes; a unique key holds across them."""
    first, second = make(), make()
    await first.write((ADD, {"name": "a"}))
    with pytest.raises(IntegrityError):
        await second.write((ADD, {"name": "a"}))
    await second.write((ADD, {"name": "b"}))
    assert [row[0] for row in await first.read(ALL, {})] == ["a", "b"]


@pytest.mark.parametrize(
    ("url", "fast"),
    [("sqlite:///{dir}/runs.db", True), ("sqlite://", False), ("postgresql://u@localhost/db", False)],
)
async def test_create_runner_picks_the_fast_path_for_sqlite_files(
    url: str, fast: bool, tmp_path: Path
) -> None:
    """On-disk SQLite runs on SqliteRunner; in-memory SQLite and Postgres on the async engine."""
    runner = create_runner(url.format(dir=tmp_path))
    try:
        assert isinstance(runner, SqliteRunner if fast else AsyncEngineRunner)
    finally:
        await runner.close()
