"""LangGraph's ``SqliteSaver`` with async methods that run on the event loop.

Why. ``AsyncSqliteSaver`` goes through aiosqlite: every ``execute``, ``fetch`` and ``commit``
is a hand-off to aiosqlite's thread and back, ~100-170 µs of CPU each on a 2-vCPU VM, about
15 % of the server's CPU per run under load, while SQLite itself needs microseconds for a
checkpoint on a local file. The run and thread stores had the same cost and run on the loop
(``sqlite_runner``); this does the same for checkpoints.

How. The saver is the sync ``SqliteSaver`` (same schema, same file, same serialisation: a
database written by ``AsyncSqliteSaver`` keeps working), and its async methods call the sync
ones directly. Its connection is used from the loop only and has ``busy_timeout=0``: in WAL
mode reads never wait, and a write waits only when another connection holds the write lock.
That is rare (the file is the checkpointer's own; another process, or one of our own
fallbacks), and then the call fails at once with ``SQLITE_BUSY``, is rolled back, and runs
again in a worker thread on a *fallback saver* (its own connection, the normal busy timeout),
which waits for the lock there. A BUSY write has written nothing (SQLite takes the write lock
before the first row), so the retry neither loses nor doubles it.

Checkpoints of the WAL stay off the loop, as in ``sqlite_runner``: the loop connection has
``wal_autocheckpoint=0`` and every ``checkpoint_every`` writes a thread runs a PASSIVE
checkpoint (then a RESTART when the WAL has grown past ``max_wal_frames``).

``alist`` (history, rollback, truncation; not the hot path, possibly long) runs in a worker on
the fallback saver, so a long history does not hold the loop; in WAL it reads the newest
committed snapshot, which includes every write made on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

logger = logging.getLogger(__name__)

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    # check_same_thread=False: opened and closed in a worker, used on the loop (SqliteSaver's
    # own lock serialises use, as its from_conn_string does).
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


SQLITE_KEEP_LATEST = (
    # Pending writes of every checkpoint older than its namespace's latest.
    """DELETE FROM writes WHERE thread_id = ? AND checkpoint_id < (
        SELECT MAX(c.checkpoint_id) FROM checkpoints AS c
        WHERE c.thread_id = writes.thread_id AND c.checkpoint_ns = writes.checkpoint_ns)""",
    """DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_id < (
        SELECT MAX(c.checkpoint_id) FROM checkpoints AS c
        WHERE c.thread_id = checkpoints.thread_id AND c.checkpoint_ns = checkpoints.checkpoint_ns)""",
    # The kept ones now have no parent in the table: say so, as the Postgres saver's prune does.
    "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ?",
)


class PrunableSqliteSaver(SqliteSaver):
    """LangGraph's SQLite saver with the ``prune`` its Postgres sibling has (``keep_latest``)."""

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        if strategy == "delete":
            for thread_id in thread_ids:
                self.delete_thread(thread_id)
            return
        if strategy != "keep_latest":
            raise ValueError(f"Unknown prune strategy {strategy!r}: use keep_latest or delete")
        with self.lock:
            try:
                for thread_id in thread_ids:
                    for statement in SQLITE_KEEP_LATEST:
                        self.conn.execute(statement, (str(thread_id),))
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.commit()


class LoopSqliteSaver(PrunableSqliteSaver):
    """``SqliteSaver`` whose async methods run on the loop; a worker only when the file is locked."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = 30_000,
        checkpoint_every: int = 200,
        max_wal_frames: int = 4000,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        super().__init__(_connect(path, 0))
        self.conn.execute("PRAGMA wal_autocheckpoint=0")
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._checkpoint_every = checkpoint_every
        self._max_wal_frames = max_wal_frames
        self._fallback: PrunableSqliteSaver | None = None
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

    @classmethod
    async def open(cls, path: Path) -> LoopSqliteSaver:
        """A set-up saver on ``path`` (opened in a thread: creating the schema may wait for a lock)."""

        def build() -> LoopSqliteSaver:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Set up on a connection that waits for locks, then open the loop connection.
            setup_conn = _connect(path, 30_000)
            try:
                prepared = SqliteSaver(setup_conn)
                prepared.setup()
            finally:
                setup_conn.close()
            saver = cls(path)
            saver.is_setup = True
            saver._has_task_path = prepared._has_task_path
            return saver

        return await asyncio.to_thread(build)

    async def aclose(self) -> None:
        """Wait for a running WAL checkpoint, then close every connection (in a thread)."""
        await asyncio.to_thread(self._release)

    # -- the loop path -----------------------------------------------------------------------

    async def _call(self, name: str, write: bool, *args: Any, **kwargs: Any) -> Any:
        """``self.<name>(...)`` on the loop; on SQLITE_BUSY, the fallback saver's in a worker."""
        while write and not self._lock_free.is_set():
            await self._lock_free.wait()  # keep writes in order behind one waiting in a worker
        try:
            result = getattr(self, name)(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            with self.lock:
                if self.conn.in_transaction:
                    self.conn.rollback()
            self.busy_fallbacks += 1
            fallback = self._fallback_saver()
            if write:
                self._lock_free.clear()
            try:
                result = await asyncio.to_thread(lambda: getattr(fallback, name)(*args, **kwargs))
            finally:
                if write:
                    self._lock_free.set()
        if write:
            self._wrote()
        return result

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = await self._call("get_tuple", False, config)
        return result

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        fallback = self._fallback_saver()
        items = await asyncio.to_thread(
            lambda: list(fallback.list(config, filter=filter, before=before, limit=limit))
        )
        for item in items:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        result: RunnableConfig = await self._call("put", True, config, checkpoint, metadata, new_versions)
        return result

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._call("put_writes", True, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._call("delete_thread", True, thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._call("prune", True, list(thread_ids), strategy=strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        fallback = self._fallback_saver()
        return await asyncio.to_thread(
            lambda: fallback.get_delta_channel_history(config=config, channels=channels)
        )

    # -- fallback and WAL checkpoints ----------------------------------------------------------

    def _fallback_saver(self) -> PrunableSqliteSaver:
        if self._fallback is None:
            self._fallback = PrunableSqliteSaver(_connect(self._path, self._busy_timeout_ms))
            self._fallback.is_setup = True
            self._fallback._has_task_path = self._has_task_path
        return self._fallback

    def _wrote(self) -> None:
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= self._checkpoint_every:
            self._start_checkpoint()

    def _start_checkpoint(self) -> None:
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        self._writes_since_checkpoint = 0
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="runyard-checkpoints-wal")
        self._checkpointing = self._checkpointer.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """A PASSIVE checkpoint, then a RESTART one if the WAL has grown past ``max_wal_frames``."""
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = _connect(self._path, self._busy_timeout_ms)
            conn = self._checkpoint_conn
            _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
            if frames > self._max_wal_frames:
                busy, _frames, _copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                if not busy:
                    self.wal_restarts += 1
        except sqlite3.Error:
            logger.warning("Checkpointer WAL checkpoint failed; the next one will retry", exc_info=True)

    def _release(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=True)
        conns: list[Callable[[], None]] = [self.conn.close]
        if self._fallback is not None:
            conns.append(self._fallback.conn.close)
        if self._checkpoint_conn is not None:
            conns.append(self._checkpoint_conn.close)
        for close in conns:
            close()
