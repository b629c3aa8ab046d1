"""Thread-wide checkpoint operations the savers do not all offer: copy a thread, keep its latest.

Copying goes through the saver's public API (``alist``, ``aput``, ``aput_writes``), so it works
for the SQLite and Postgres savers alike and for any saver that follows LangGraph's contract.
``alist`` holds the SQLite saver's lock while it yields, so each page is read into a list
before anything is written (a write inside the loop would wait on that lock for ever).

Keeping the latest checkpoint uses the saver's own ``aprune`` where it has one (Postgres); the
SQLite saver has none, so there it is three statements in one transaction on the saver's
connection, under the saver's lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from .loop_sqlite_saver import SQLITE_KEEP_LATEST

COPY_PAGE = 100
"""Checkpoints read per ``alist`` call while copying."""


class PruneNotSupportedError(NotImplementedError):
    """The checkpointer cannot keep only the latest checkpoint of a thread."""


def _retarget_metadata(metadata: Any, source: str, target: str) -> Any:
    if not isinstance(metadata, dict):
        return metadata
    copied = dict(metadata)
    if copied.get("thread_id") == source:
        copied["thread_id"] = target
    return copied


async def _copy_one(saver: BaseCheckpointSaver[Any], item: CheckpointTuple, source: str, target: str) -> None:
    # ``aput`` reads the parent's id from the config it is given, and writes the blobs of the
    # channels named in ``new_versions``: every channel, so the copy needs no other checkpoint.
    parent = item.parent_config or {"configurable": {}}
    put_config: RunnableConfig = {
        "configurable": {
            "thread_id": target,
            "checkpoint_ns": item.config["configurable"].get("checkpoint_ns", ""),
            **(
                {"checkpoint_id": parent["configurable"]["checkpoint_id"]}
                if parent["configurable"].get("checkpoint_id")
                else {}
            ),
        }
    }
    checkpoint = item.checkpoint
    new_config = await saver.aput(
        put_config,
        checkpoint,
        _retarget_metadata(item.metadata, source, target),
        dict(checkpoint.get("channel_versions", {})),
    )
    by_task: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for task_id, channel, value in item.pending_writes or ():
        by_task[task_id].append((channel, value))
    for task_id, writes in by_task.items():
        await saver.aput_writes(new_config, writes, task_id)


async def copy_thread_checkpoints(saver: BaseCheckpointSaver[Any], source: str, target: str) -> int:
    """Copy every checkpoint (every namespace) and pending write of ``source`` to ``target``.

    Returns how many checkpoints were copied. Checkpoints written to ``source`` meanwhile may or
    may not be copied; none is copied twice or half.
    """
    copied = 0
    before: RunnableConfig | None = None
    listing: RunnableConfig = {"configurable": {"thread_id": source}}  # no checkpoint_ns: all of them
    while True:
        page = [item async for item in saver.alist(listing, before=before, limit=COPY_PAGE)]
        for item in page:
            await _copy_one(saver, item, source, target)
        copied += len(page)
        if len(page) < COPY_PAGE:
            return copied
        before = page[-1].config


async def keep_latest_checkpoints(saver: BaseCheckpointSaver[Any], thread_ids: Sequence[str]) -> None:
    """Delete every checkpoint of each thread but the latest of each namespace.

    Raises ``PruneNotSupportedError`` for a saver that offers no way to do it.
    """
    ids = [str(thread_id) for thread_id in thread_ids]
    if not ids:
        return
    if type(saver).aprune is not BaseCheckpointSaver.aprune:
        await saver.aprune(ids, strategy="keep_latest")
        return
    conn = getattr(saver, "conn", None)
    lock = getattr(saver, "lock", None)
    if type(saver).__name__ != "AsyncSqliteSaver" or conn is None or lock is None:
        raise PruneNotSupportedError(f"{type(saver).__name__} cannot keep only the latest checkpoint")
    async with lock:
        try:
            for thread_id in ids:
                for statement in SQLITE_KEEP_LATEST:
                    await conn.execute(statement, (thread_id,))
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()
