"""``SqlThreadStore`` on the run store's runner: one SQLite loop connection for both stores."""

from __future__ import annotations

from runyard.persistence.sqlite_runner import SqliteRunner
from runyard.runs.store.sql import SqlRunStore
from runyard.threads.sql import SqlThreadStore


async def test_a_thread_store_on_the_run_stores_runner_shares_it_and_leaves_it_open(sqlite_url: str) -> None:
    runs = SqlRunStore.from_url(sqlite_url)
    await runs.setup()
    threads = SqlThreadStore.from_runner(runs.runner)
    try:
        assert threads.runner is runs.runner
        assert isinstance(runs.runner, SqliteRunner)
        await threads.create("t1", metadata={"a": 1})
        await runs.put("r1", thread_id="t1")
        updated = await threads.update("t1", metadata={"b": 2})
        assert updated is not None and updated["metadata"] == {"a": 1, "b": 2}
        assert await threads.set_status("t1", "busy", values={"x": 1})
        await threads.close()  # not its runner: the run store's keeps working
        assert (await runs.get("r1")) is not None
        assert (await threads.get("t1") or {}).get("values") == {"x": 1}
        assert runs.runner.busy_fallbacks == 0
    finally:
        await runs.close()
