"""Opening and closing SQL run stores in tests, with a check that no connection leaked."""

from __future__ import annotations

from runyard.runs.store.sql import SqlRunStore


async def open_sql_store(url: str) -> SqlRunStore:
    store = SqlRunStore.from_url(url)
    await store.setup()
    return store


async def close_sql_store(store: SqlRunStore) -> None:
    checked_out = store.engine.pool.checkedout()
    await store.close()
    assert checked_out == 0, f"{checked_out} connection(s) leaked"
