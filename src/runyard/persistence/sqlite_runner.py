"""SQLite fast path: a store's statements on stdlib ``sqlite3``, run on the event loop itself.

Why. Through SQLAlchemy's aiosqlite adapter every statement hands work to aiosqlite's thread
about five times (cursor, execute, close, commit, the rollback on pool return), each hand-off
~100-170 µs of CPU on a 2-vCPU VM: a run's lifecycle (admit, claim, status, completion) cost
~3.5 ms of process CPU, while SQLite itself needs ~0.1 ms of it. SQLAlchemy's sync engine on
``sqlite3`` costs ~0.4 ms on the loop and ~1.3 ms with a worker thread per call; running the
compiled SQL on ``sqlite3`` directly (``sqlite_prepared``) costs ~0.15 ms. So the common case
runs on the loop, where a SQLite call on a local file takes microseconds, and only the calls
that would wait go to a thread.

How.

- One *loop connection*, used from the event loop only, in autocommit mode. A write is one
  short transaction: ``BEGIN IMMEDIATE`` (the write lock is taken before the first statement,
  so a guarded write reads and writes under the lock), its statements, ``COMMIT``. In WAL mode
  with ``synchronous=NORMAL`` a commit appends to the WAL without an fsync. A read is a single
  autocommit SELECT on the newest snapshot; in WAL readers do not wait for writers.
- Blocking stays bounded: the loop connection has ``busy_timeout=0``, so when another
  connection (another store, another process) holds the write lock, ``BEGIN IMMEDIATE`` fails
  at once with ``SQLITE_BUSY`` instead of sleeping on the loop. The whole call is then retried
  in a worker thread (``asyncio.to_thread``) on a pooled connection of ``engine`` that has the
  normal busy timeout (30 s unless configured), which waits for the lock as before. A BUSY
  transaction is rolled back before the retry and only a committed one reports success, so a
  fallback neither loses a write nor applies one twice. ``busy_fallbacks`` counts them. While
  one write waits in a worker, the runner's other writes wait on the loop (an asyncio event)
  and then try the loop connection again: one thread per lock wait, not one per write, and
  no cascade of fallbacks contending with each other.
- Checkpoints stay off the loop: a checkpoint copies the WAL into the database and fsyncs, so
  the loop connection has ``wal_autocheckpoint=0``, and after every ``checkpoint_every`` writes
  (default 200, ~600 WAL pages for run rows: below SQLite's own 1000-page autocheckpoint) a
  checkpoint thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of its own; PASSIVE
  never waits for readers or writers. Counting writes rather than running a timer needs no
  task to own and costs an idle store nothing. The WAL starts over only when a write finds it
  fully copied, which a PASSIVE checkpoint racing a steady stream of writes never achieves (a
  tight write loop grew it to 150 MB in 12k writes). So when a PASSIVE checkpoint finds more
  than ``max_wal_frames`` frames (default 4000, ~16 MB) in the WAL, the thread runs
  ``wal_checkpoint(RESTART)``: it holds writers off for one checkpoint (loop writes meanwhile
  get SQLITE_BUSY and wait in a worker, as above) and the next write rewinds the WAL. Other
  connections (the fallback pool, other processes) keep SQLite's autocheckpoint; they are off
  the loop already.

A call that runs on the loop does not suspend: like the memory store, a task making store calls
keeps the loop until it awaits something else. Each call holds it for tens of microseconds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Executable
from sqlalchemy.exc import DBAPIError, OperationalError

from . import migrate
from .engine import configure_sqlite_connection, create_engine, create_sqlite_engine
from .runner import Outcome, Step, Then
from .sqlite_prepared import Prepared, PreparedCache

logger = logging.getLogger(__name__)

T = TypeVar("T")
_BoundStep = tuple[Prepared, Mapping[str, Any]]
# A bound step, or a ``Then`` that binds the step it decides on (None: skipped).
_Bound = list[_BoundStep | Callable[[Sequence[Outcome]], _BoundStep | None]]
_SKIPPED = Outcome(0, [])
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _translate(exc: sqlite3.Error, sql: str, params: Any) -> DBAPIError:
    """The ``sqlite3`` error as SQLAlchemy's (``IntegrityError``, ...), as an engine raises it."""
    return cast(DBAPIError, DBAPIError.instance(sql, params, exc, sqlite3.Error))


def _is_busy(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def _transaction(conn: sqlite3.Connection, steps: _Bound) -> list[Outcome]:
    """Run ``steps`` as one write transaction on ``conn``; roll back on any error."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise _translate(exc, "BEGIN IMMEDIATE", ()) from exc
    try:
        outcomes: list[Outcome] = []
        for step in steps:
            decided = step(outcomes) if callable(step) else step
            if decided is None:
                outcomes.append(_SKIPPED)
                continue
            prepared, params = decided
            bound = prepared.bind(params)
            try:
                cursor = conn.execute(prepared.sql, bound)
                rows = cursor.fetchall() if cursor.description is not None else []
            except sqlite3.Error as exc:
                raise _translate(exc, prepared.sql, bound) from exc
            outcomes.append(Outcome(cursor.rowcount, prepared.read(rows)))
        try:
            conn.commit()
        except sqlite3.Error as exc:
            raise _translate(exc, "COMMIT", ()) from exc
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return outcomes


def _query(conn: sqlite3.Connection, prepared: Prepared, params: Mapping[str, Any]) -> list[Sequence[Any]]:
    """Run one autocommit SELECT on ``conn``."""
    bound = prepared.bind(params)
    try:
        rows = conn.execute(prepared.sql, bound).fetchall()
    except sqlite3.Error as exc:
        raise _translate(exc, prepared.sql, bound) from exc
    return prepared.read(rows)


class SqliteRunner:
    """Statements on an on-disk SQLite database: on the event loop, a thread when it would wait."""

    dialect_name = "sqlite"

    def __init__(
        self,
        url: str,
        *,
        busy_timeout_ms: int = 30_000,
        checkpoint_every: int = 200,
        max_wal_frames: int = 4000,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self._url = url
        self._busy_timeout_ms = busy_timeout_ms
        self._checkpoint_every = checkpoint_every
        self._max_wal_frames = max_wal_frames
        # The fallback connections' pool, and the dialect that compiles and processes values.
        self._engine = create_sqlite_engine(url, busy_timeout_ms=busy_timeout_ms)
        self._prepared = PreparedCache(self._engine.dialect)
        self._conn: sqlite3.Connection | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        # Clear while one of our writes waits for the lock in a worker: the others wait here.
        self._lock_free = asyncio.Event()
        self._lock_free.set()
        self._writes_since_checkpoint = 0
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpointing: Future[None] | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self.busy_fallbacks = 0
        self.checkpoints = 0
        self.wal_restarts = 0

    @property
    def engine(self) -> Engine:
        """The synchronous engine whose pool serves the worker-thread fallbacks."""
        return self._engine

    async def upgrade_schema(self) -> None:
        # Once per start-up: migrate's locking (a flock beside the file) on an aiosqlite engine.
        engine = create_engine(self._url, busy_timeout_ms=self._busy_timeout_ms)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    async def write(self, *steps: Step | Then) -> list[Outcome]:
        conn = self._conn
        if conn is None or not self._lock_free.is_set():
            conn = await self._ready_to_write()
        bound: _Bound = [self._bind_later(step) if callable(step) else self._bind(step) for step in steps]
        try:
            outcomes = _transaction(conn, bound)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            # One write waits for the lock in a worker; the runner's next writes queue behind it
            # on the loop rather than each taking a thread to contend for the same lock.
            self._lock_free.clear()
            try:
                outcomes = await self._in_worker(_transaction, bound)
            finally:
                self._lock_free.set()
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= self._checkpoint_every:
            self._start_checkpoint()
        return outcomes

    def _bind(self, step: Step) -> _BoundStep:
        statement, params = step
        return self._prepared.get(statement, params), params

    def _bind_later(self, then: Then) -> Callable[[Sequence[Outcome]], _BoundStep | None]:
        def bind(outcomes: Sequence[Outcome]) -> _BoundStep | None:
            step = then(outcomes)
            return None if step is None else self._bind(step)

        return bind

    async def read(self, statement: Executable, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        conn = self._conn or await self._open()
        prepared = self._prepared.get(statement, params)
        try:
            return _query(conn, prepared, params)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
            return await self._in_worker(_query, prepared, params)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None  # later calls find the runner closed
        # Closing the last connection to a file checkpoints it (fsync): not on the loop either.
        await asyncio.to_thread(self._release, conn)

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A new autocommit ``sqlite3`` connection with the engine's settings (blocking)."""
        cargs, cparams = self._engine.dialect.create_connect_args(self._engine.url)
        connect: Callable[..., sqlite3.Connection] = sqlite3.connect
        conn = connect(*cargs, **cparams)
        conn.isolation_level = None
        configure_sqlite_connection(conn, self._busy_timeout_ms)
        return conn

    def _connect_loop(self) -> sqlite3.Connection:
        self._engine.connect().close()  # initialise the dialect, as any first connection does
        conn = self._connect()
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("PRAGMA busy_timeout=0")
        return conn

    async def _ready_to_write(self) -> sqlite3.Connection:
        """The loop connection, once open and once no write of ours waits for the lock in a worker."""
        while True:
            if not self._lock_free.is_set():
                await self._lock_free.wait()
            elif self._conn is None:
                await self._open()
            else:
                return self._conn

    async def _open(self) -> sqlite3.Connection:
        """The loop connection, opened on first use in a thread (opening may wait for a lock)."""
        async with self._opening:
            if self._closed:
                raise RuntimeError("the SQLite runner is closed")
            if self._conn is None:
                self._conn = await asyncio.to_thread(self._connect_loop)
            return self._conn

    async def _in_worker(self, call: Callable[..., T], *args: Any) -> T:
        """``call(connection, *args)`` in a worker thread on a pooled connection that waits for locks."""
        self.busy_fallbacks += 1

        def run() -> T:
            pooled = self._engine.raw_connection()
            try:
                return call(pooled.driver_connection, *args)
            finally:
                pooled.close()

        return await asyncio.to_thread(run)

    def _release(self, loop_conn: sqlite3.Connection | None) -> None:
        """Wait for a running checkpoint, then close every connection (blocking)."""
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=True)
        for conn in (loop_conn, self._checkpoint_conn):
            if conn is not None:
                conn.close()
        self._checkpoint_conn = None
        self._engine.dispose()

    # -- checkpoints -------------------------------------------------------------------------

    def _start_checkpoint(self) -> None:
        """Hand a checkpoint to the checkpoint thread, unless one is still running there.

        A ``concurrent.futures`` future, not an asyncio one: the loop may not get a turn between
        two writes (the fast path never suspends), and this must see the checkpoint end anyway.
        """
        if self._closed or (self._checkpointing is not None and not self._checkpointing.done()):
            return
        self._writes_since_checkpoint = 0
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="runyard-wal-checkpoint")
        self._checkpointing = self._checkpointer.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """A PASSIVE checkpoint, then a RESTART one if the WAL has grown past ``max_wal_frames``."""
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = self._connect()
            conn = self._checkpoint_conn
            _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if frames > self._max_wal_frames:  # writes never paused long enough to rewind it
                busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                if not busy:
                    self.wal_restarts += 1
        except sqlite3.Error:
            logger.warning("WAL checkpoint failed; the next one will retry", exc_info=True)
            return
        logger.debug("WAL checkpoint: %s frames, %s copied", frames, copied)
