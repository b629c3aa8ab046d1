"""The ``RunStore`` contract (runs/store/base.py), checked against every implementation.

One suite, three stores: ``MemoryRunStore``, ``SqlRunStore`` on a SQLite file and on a real
PostgreSQL database. The memory store is the reference; a difference is a bug in one of them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from runyard.runs.clock import parse_iso
from runyard.runs.errors import ThreadBusyError, UnsupportedStrategyError
from runyard.runs.schemas import TERMINAL_STATUSES, RunStatus
from runyard.runs.store.base import ROW_FIELDS, RunStore
from runyard.runs.store.memory import MemoryRunStore
from runyard.runs.store.sql import SqlRunStore

from .stores import close_sql_store, open_sql_store

TERMINAL = sorted(s.value for s in TERMINAL_STATUSES)
ALL_STATUSES = [s.value for s in RunStatus]


def _at(minute: int, second: int = 0) -> str:
    return datetime(2026, 1, 1, 12, minute, second, tzinfo=UTC).isoformat()


async def _status(store: RunStore, run_id: str) -> str | None:
    row = await store.get(run_id)
    assert row is not None
    return row["status"]


async def _running_on(store: RunStore, thread_id: str) -> list[str]:
    return [r["run_id"] for r in await store.list_by_thread(thread_id) if r["status"] == "running"]


# -- rows and upserts ----------------------------------------------------------------------------


async def test_put_then_get_returns_every_row_field(store: RunStore) -> None:
    """A new row carries exactly ROW_FIELDS, with the documented defaults and aware timestamps."""
    await store.put("r1", thread_id="t1", assistant_id="a1", user_id="u1", on_disconnect="cancel")
    row = await store.get("r1")
    assert row is not None
    assert set(row) == set(ROW_FIELDS)
    assert row["run_id"] == "r1"
    assert row["thread_id"] == "t1"
    assert row["status"] == "pending"
    assert row["multitask_strategy"] == "reject"
    assert row["metadata"] == {} and row["kwargs"] == {} and row["token_usage_by_model"] == {}
    assert row["attempt"] == 0 and row["owner"] is None and row["lease_expires_at"] is None
    for counter in (
        "total_input_tokens",
        "total_output_tokens",
        "total_tokens",
        "llm_call_count",
        "message_count",
    ):
        assert row[counter] == 0
    assert parse_iso(row["created_at"]).tzinfo is not None
    assert datetime.fromisoformat(row["updated_at"]).tzinfo is not None


async def test_get_missing_row_is_none(store: RunStore) -> None:
    """Reading a run that was never written returns None."""
    assert await store.get("nope") is None


async def test_put_upserts_the_named_columns_only(store: RunStore) -> None:
    """A second put replaces the named columns, keeps created_at, and leaves claim and usage alone."""
    await store.put("r1", thread_id="t1", assistant_id="a1", metadata={"k": 1})
    first = await store.get("r1")
    assert await store.start("r1", owner="w1")
    assert await store.update_run_progress("r1", total_tokens=7)
    await store.put("r1", thread_id="t1", assistant_id="a2", status="running", metadata=None, error="e")
    row = await store.get("r1")
    assert first is not None and row is not None
    assert row["assistant_id"] == "a2"
    assert row["metadata"] == {}
    assert row["error"] == "e"
    assert row["created_at"] == first["created_at"]
    assert parse_iso(row["updated_at"]) > parse_iso(first["updated_at"])
    assert (row["owner"], row["attempt"], row["total_tokens"]) == ("w1", 1, 7)
    assert len(await store.list_by_thread("t1")) == 1


async def test_put_with_created_at_replaces_it(store: RunStore) -> None:
    """An explicit created_at on an upsert is written; the row keeps its place otherwise."""
    await store.put("r1", thread_id="t1", created_at=_at(0))
    await store.put("r1", thread_id="t1", created_at=_at(5))
    row = await store.get("r1")
    assert row is not None
    assert parse_iso(row["created_at"]) == parse_iso(_at(5))


async def test_put_running_on_a_thread_with_a_running_run_raises(store: RunStore) -> None:
    """A plain put cannot make a second running run on a thread (invariant 1)."""
    await store.put("r1", thread_id="t1", status="running")
    with pytest.raises(ThreadBusyError) as caught:
        await store.put("r2", thread_id="t1", status="running")
    assert caught.value.thread_id == "t1"
    assert await store.get("r2") is None
    await store.put("r1", thread_id="t1", status="running", error="same run rewritten")
    assert await _running_on(store, "t1") == ["r1"]


async def test_put_if_absent_inserts_once_and_never_clobbers(store: RunStore) -> None:
    """put_if_absent inserts a missing row and leaves an existing one exactly as it was."""
    assert await store.put_if_absent("r1", thread_id="t1", assistant_id="a1", metadata={"v": 1})
    assert await store.update_status("r1", "success")
    before = await store.get("r1")
    assert not await store.put_if_absent("r1", thread_id="t2", assistant_id="a2", status="pending")
    assert await store.get("r1") == before


async def test_put_if_absent_takes_row_fields_and_ignores_unknown_keys(store: RunStore) -> None:
    """The row given to put_if_absent is stored field by field; keys outside ROW_FIELDS are dropped."""
    assert await store.put_if_absent(
        "r1",
        thread_id="t1",
        status="error",
        error="lost",
        created_at=_at(3),
        not_a_column=1,
        kwargs={"x": [1]},
    )
    row = await store.get("r1")
    assert row is not None
    assert (row["status"], row["error"], row["kwargs"]) == ("error", "lost", {"x": [1]})
    assert parse_iso(row["created_at"]) == parse_iso(_at(3))
    assert set(row) == set(ROW_FIELDS)


async def test_put_if_absent_running_on_a_busy_thread_raises(store: RunStore) -> None:
    """Re-creating a running row cannot make a second running run on its thread."""
    await store.put("r1", thread_id="t1", status="running")
    with pytest.raises(ThreadBusyError):
        await store.put_if_absent("r2", thread_id="t1", status="running")
    assert await store.get("r2") is None


# -- admission -----------------------------------------------------------------------------------


async def test_admit_reject_inserts_a_pending_run_on_an_idle_thread(store: RunStore) -> None:
    """reject admits on a thread with no active run; the new row is pending whatever the caller says."""
    await store.put("old", thread_id="t1", status="success")
    assert (
        await store.admit("r1", strategy="reject", thread_id="t1", status="running", assistant_id="a") == []
    )
    row = await store.get("r1")
    assert row is not None
    assert (row["status"], row["assistant_id"]) == ("pending", "a")


@pytest.mark.parametrize("active", ["pending", "running", None])
async def test_admit_reject_refuses_a_busy_thread(store: RunStore, active: str | None) -> None:
    """reject raises ThreadBusyError when the thread has a pending, running or NULL-status run."""
    await store.put("r1", thread_id="t1", status=active)
    with pytest.raises(ThreadBusyError) as caught:
        await store.admit("r2", strategy="reject", thread_id="t1")
    assert caught.value.thread_id == "t1"
    assert await store.get("r2") is None
    assert await store.admit("r3", strategy="reject", thread_id="t2") == []


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_admit_interrupt_marks_active_runs_interrupted(store: RunStore, strategy: str) -> None:
    """interrupt and rollback mark the thread's active runs interrupted and admit, in one step."""
    await store.put("a", thread_id="t1", status="running", created_at=_at(0))
    await store.put("b", thread_id="t1", status="pending", created_at=_at(1))
    await store.put("c", thread_id="t1", status=None, created_at=_at(2))
    await store.put("done", thread_id="t1", status="success", created_at=_at(0))
    await store.put("elsewhere", thread_id="t2", status="running")
    interrupted = await store.admit("new", strategy=strategy, thread_id="t1")
    assert interrupted == ["a", "b", "c"]
    for run_id in interrupted:
        assert await _status(store, run_id) == "interrupted"
    assert await _status(store, "done") == "success"
    assert await _status(store, "elsewhere") == "running"
    assert await _status(store, "new") == "pending"
    assert await store.admit("newer", strategy=strategy, thread_id="t3") == []


async def test_admit_enqueue_inserts_behind_the_active_run(store: RunStore) -> None:
    """enqueue admits a pending run while another is running, and interrupts nothing."""
    await store.put("r1", thread_id="t1", status="running")
    assert await store.admit("r2", strategy="enqueue", thread_id="t1") == []
    assert await _status(store, "r1") == "running"
    assert await _status(store, "r2") == "pending"


async def test_admit_unknown_strategy_raises_before_writing(store: RunStore) -> None:
    """An unknown strategy is refused with UnsupportedStrategyError and writes nothing."""
    with pytest.raises(UnsupportedStrategyError, match="Supported strategies"):
        await store.admit("r1", strategy="shove", thread_id="t1")
    assert await store.get("r1") is None


# -- one running run per thread, claims ----------------------------------------------------------


async def test_update_status_refuses_a_second_running_run(store: RunStore) -> None:
    """update_status raises ThreadBusyError rather than make a second running run (invariant 1)."""
    await store.put("r1", thread_id="t1", status="running")
    await store.put("r2", thread_id="t1", status="pending")
    await store.put("r3", thread_id="t2", status="pending")
    with pytest.raises(ThreadBusyError) as caught:
        await store.update_status("r2", "running")
    assert caught.value.thread_id == "t1"
    assert await _status(store, "r2") == "pending"
    assert await store.update_status("r3", "running")
    assert await store.update_status("r1", "running")


async def test_start_claims_a_pending_run(store: RunStore) -> None:
    """start moves pending to running and stamps owner, attempt and lease (invariant 4)."""
    await store.put("r1", thread_id="t1")
    lease = "2026-01-01T12:00:30+02:00"
    assert await store.start("r1", owner="worker-1", lease_expires_at=lease)
    row = await store.get("r1")
    assert row is not None
    assert (row["status"], row["owner"], row["attempt"]) == ("running", "worker-1", 1)
    assert parse_iso(row["lease_expires_at"]) == parse_iso(lease)
    assert not await store.start("r1", owner="worker-2")
    assert (await store.get("r1") or {})["owner"] == "worker-1"


async def test_start_counts_attempts(store: RunStore) -> None:
    """Every claim is a new attempt: a run put back to pending and claimed again has attempt 2."""
    await store.put("r1", thread_id="t1")
    assert await store.start("r1")
    assert await store.update_status("r1", "pending")
    assert await store.start("r1", owner="w2")
    row = await store.get("r1")
    assert row is not None and row["attempt"] == 2 and row["lease_expires_at"] is None


async def test_start_respects_creation_order(store: RunStore) -> None:
    """Only the oldest pending run on a thread may start, and only while nothing runs there."""
    await store.put("newer", thread_id="t1", created_at=_at(1))
    await store.put("older", thread_id="t1", created_at=_at(0))
    assert not await store.start("newer")
    assert await store.start("older")
    assert not await store.start("newer")  # the thread is busy
    assert await store.update_status("older", "success")
    assert await store.start("newer")


async def test_start_breaks_creation_ties_by_run_id(store: RunStore) -> None:
    """Runs created in the same instant start in run_id order."""
    await store.put("b", thread_id="t1", created_at=_at(0))
    await store.put("a", thread_id="t1", created_at=_at(0))
    assert (await store.next_pending("t1") or {})["run_id"] == "a"
    assert not await store.start("b")
    assert await store.start("a")


async def test_start_refuses_missing_and_non_pending_runs(store: RunStore) -> None:
    """start returns False for a missing row and for rows that are not pending."""
    assert not await store.start("missing")
    for status in TERMINAL:
        await store.put(f"r-{status}", thread_id=f"t-{status}", status=status)
        assert not await store.start(f"r-{status}")
        assert await _status(store, f"r-{status}") == status


async def test_start_treats_null_status_as_pending(store: RunStore) -> None:
    """A row written before status existed (NULL) is pending: it can be claimed."""
    await store.put("r1", thread_id="t1", status=None)
    assert (await store.next_pending("t1") or {})["run_id"] == "r1"
    assert await store.start("r1")
    assert await _status(store, "r1") == "running"


async def test_next_pending_is_the_oldest_pending_run(store: RunStore) -> None:
    """next_pending returns the thread's oldest pending row, or None when nothing waits."""
    assert await store.next_pending("t1") is None
    await store.put("r2", thread_id="t1", created_at=_at(2))
    await store.put("r1", thread_id="t1", created_at=_at(1))
    await store.put("r0", thread_id="t1", created_at=_at(0), status="running")
    await store.put("x", thread_id="t2", created_at=_at(0))
    assert (await store.next_pending("t1") or {})["run_id"] == "r1"
    assert await store.update_status("r1", "interrupted")
    assert (await store.next_pending("t1") or {})["run_id"] == "r2"


# -- guarded status writes -----------------------------------------------------------------------


@pytest.mark.parametrize("terminal", TERMINAL)
async def test_terminal_status_is_final(store: RunStore, terminal: str) -> None:
    """A terminal row is never revived nor moved to another terminal status (invariant 3)."""
    await store.put("r1", thread_id="t1", status=terminal, error="original")
    for other in ALL_STATUSES:
        if other != terminal:
            assert not await store.update_status("r1", other, error="late")
    row = await store.get("r1")
    assert row is not None
    assert (row["status"], row["error"]) == (terminal, "original")


@pytest.mark.parametrize("status", ALL_STATUSES)
async def test_writing_the_current_status_is_an_idempotent_success(store: RunStore, status: str) -> None:
    """update_status to the status a row already has returns True."""
    await store.put("r1", thread_id="t1", status=status)
    assert await store.update_status("r1", status)
    assert await _status(store, "r1") == status


@pytest.mark.parametrize("target", ALL_STATUSES)
async def test_active_runs_may_move_anywhere(store: RunStore, target: str) -> None:
    """A pending, running or NULL-status row accepts any status write."""
    for current in ("pending", "running", None):
        run_id = f"r-{current}"
        await store.put(run_id, thread_id=f"t-{current}", status=current)
        assert await store.update_status(run_id, target)
        assert await _status(store, run_id) == target


async def test_update_status_writes_error_only_when_given(store: RunStore) -> None:
    """An error passed with the status is written; no error leaves the column as it was."""
    await store.put("r1", thread_id="t1", error="before")
    assert await store.update_status("r1", "running")
    assert (await store.get("r1") or {})["error"] == "before"
    assert await store.update_status("r1", "error", error="boom")
    assert (await store.get("r1") or {})["error"] == "boom"


async def test_update_status_of_a_missing_row_is_false(store: RunStore) -> None:
    """update_status returns False when there is no such row."""
    assert not await store.update_status("missing", "success")


async def test_update_status_rejects_unknown_statuses(store: RunStore) -> None:
    """A status outside RunStatus is a ValueError, not a silent write."""
    await store.put("r1", thread_id="t1")
    with pytest.raises(ValueError):
        await store.update_status("r1", "exploded")
    assert await _status(store, "r1") == "pending"


# -- completion, progress, model name ------------------------------------------------------------


async def test_completion_writes_usage_and_never_the_status(store: RunStore) -> None:
    """update_run_completion writes usage columns, skips None and unknown keys, and ignores status."""
    await store.put("r1", thread_id="t1", model_name="m0")
    assert await store.start("r1")
    done = await store.update_run_completion(
        "r1",
        status="success",
        total_input_tokens=3,
        total_output_tokens=4,
        total_tokens=7,
        llm_call_count=2,
        message_count=5,
        token_usage_by_model={"gpt": {"input": 3, "output": 4}},
        last_ai_message="bye",
        first_human_message="hi",
        model_name=None,
        owner="not-a-usage-column",
    )
    assert done
    row = await store.get("r1")
    assert row is not None
    assert row["status"] == "running"
    assert (row["total_input_tokens"], row["total_output_tokens"], row["total_tokens"]) == (3, 4, 7)
    assert (row["llm_call_count"], row["message_count"]) == (2, 5)
    assert row["token_usage_by_model"] == {"gpt": {"input": 3, "output": 4}}
    assert (row["last_ai_message"], row["first_human_message"]) == ("bye", "hi")
    assert row["model_name"] == "m0"
    assert row["owner"] is None


async def test_completion_lands_on_terminal_rows_and_misses_missing_ones(store: RunStore) -> None:
    """Completion is not guarded by status: a finished run still gets its usage; no row, False."""
    await store.put("r1", thread_id="t1", status="interrupted")
    assert await store.update_run_completion("r1", total_tokens=9, error="stopped")
    row = await store.get("r1")
    assert row is not None and (row["status"], row["total_tokens"], row["error"]) == (
        "interrupted",
        9,
        "stopped",
    )
    assert not await store.update_run_completion("missing", total_tokens=1)


async def test_progress_lands_only_while_running(store: RunStore) -> None:
    """update_run_progress writes only to a running row and never changes its status."""
    await store.put("r1", thread_id="t1")
    assert not await store.update_run_progress("r1", total_tokens=1)
    assert (await store.get("r1") or {})["total_tokens"] == 0
    assert await store.start("r1")
    assert await store.update_run_progress("r1", total_tokens=2, message_count=1, status="success")
    row = await store.get("r1")
    assert row is not None and (row["status"], row["total_tokens"], row["message_count"]) == ("running", 2, 1)
    assert await store.update_status("r1", "success")
    assert not await store.update_run_progress("r1", total_tokens=3)
    assert (await store.get("r1") or {})["total_tokens"] == 2
    assert not await store.update_run_progress("missing", total_tokens=3)


async def test_update_model_name(store: RunStore) -> None:
    """update_model_name sets (or clears) the model name; False for a missing row."""
    await store.put("r1", thread_id="t1")
    assert await store.update_model_name("r1", "gpt-x")
    assert (await store.get("r1") or {})["model_name"] == "gpt-x"
    assert await store.update_model_name("r1", None)
    assert (await store.get("r1") or {})["model_name"] is None
    assert not await store.update_model_name("missing", "gpt-x")


# -- reads ---------------------------------------------------------------------------------------


async def test_user_scoping_on_get_and_list(store: RunStore) -> None:
    """A user_id on a read shows only that user's rows; None shows every row."""
    await store.put("alice-run", thread_id="t1", user_id="alice", created_at=_at(0))
    await store.put("bob-run", thread_id="t1", user_id="bob", created_at=_at(1))
    await store.put("nobody-run", thread_id="t1", created_at=_at(2))
    assert (await store.get("alice-run", user_id="alice") or {})["run_id"] == "alice-run"
    assert await store.get("alice-run", user_id="bob") is None
    assert await store.get("nobody-run", user_id="alice") is None
    assert await store.get("bob-run") is not None
    assert [r["run_id"] for r in await store.list_by_thread("t1", user_id="bob")] == ["bob-run"]
    assert [r["run_id"] for r in await store.list_by_thread("t1")] == ["nobody-run", "bob-run", "alice-run"]
    assert await store.list_by_thread("t1", user_id="carol") == []


async def test_list_by_thread_is_newest_first_with_a_limit(store: RunStore) -> None:
    """list_by_thread returns only that thread's rows, newest first, at most limit of them."""
    for minute, run_id in enumerate(["a", "b", "c", "d"]):
        await store.put(run_id, thread_id="t1", created_at=_at(minute))
    await store.put("other", thread_id="t2", created_at=_at(9))
    assert [r["run_id"] for r in await store.list_by_thread("t1")] == ["d", "c", "b", "a"]
    assert [r["run_id"] for r in await store.list_by_thread("t1", limit=2)] == ["d", "c"]
    assert await store.list_by_thread("t1", limit=0) == []
    assert await store.list_by_thread("t1", limit=-1) == []
    assert await store.list_by_thread("empty") == []


async def test_list_ties_keep_insertion_order(store: RunStore) -> None:
    """Rows created in the same instant list in the order they were inserted (invariant 6)."""
    for run_id in ["m", "z", "a"]:
        await store.put(run_id, thread_id="t1", created_at=_at(0))
    await store.put("later", thread_id="t1", created_at=_at(1))
    await store.put("z", thread_id="t1", created_at=_at(0), assistant_id="upserted")  # keeps its place
    assert [r["run_id"] for r in await store.list_by_thread("t1")] == ["later", "m", "z", "a"]
    assert [r["run_id"] for r in await store.list_inflight()] == ["m", "z", "a", "later"]


async def test_list_inflight_is_active_rows_oldest_first_before_a_cutoff(store: RunStore) -> None:
    """list_inflight returns pending, running and NULL-status rows created strictly before `before`."""
    await store.put("running", thread_id="t1", status="running", created_at=_at(3))
    await store.put("pending", thread_id="t2", created_at=_at(1))
    await store.put("legacy", thread_id="t3", status=None, created_at=_at(2))
    await store.put("finished", thread_id="t4", status="success", created_at=_at(0))
    await store.put("fresh", thread_id="t5", created_at=_at(5))
    assert [r["run_id"] for r in await store.list_inflight()] == ["pending", "legacy", "running", "fresh"]
    assert [r["run_id"] for r in await store.list_inflight(before=_at(3))] == ["pending", "legacy"]
    assert [r["run_id"] for r in await store.list_inflight(before=_at(5))] == ["pending", "legacy", "running"]
    # The same instant written with another offset is still not strictly before it.
    assert [r["run_id"] for r in await store.list_inflight(before="2026-01-01T14:03:00+02:00")] == [
        "pending",
        "legacy",
    ]
    assert await store.list_inflight(before=_at(0)) == []


async def test_timestamps_round_trip_as_aware_iso(store: RunStore) -> None:
    """Timestamps without microseconds, with other offsets or naive, come back aware and equal."""
    await store.put("offset", thread_id="t1", created_at="2026-01-01T12:00:00+02:00")
    await store.put("naive", thread_id="t1", created_at="2026-01-01T10:30:00")
    await store.put("micro", thread_id="t1", created_at="2026-01-01T10:15:00.123456+00:00")
    await store.put("lease", thread_id="t2")
    assert await store.start("lease", lease_expires_at="2026-01-01T10:00:05-05:00")
    rows = {r["run_id"]: r for r in await store.list_by_thread("t1")}
    assert parse_iso(rows["offset"]["created_at"]) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert parse_iso(rows["naive"]["created_at"]) == datetime(2026, 1, 1, 10, 30, tzinfo=UTC)
    assert parse_iso(rows["micro"]["created_at"]) == datetime(2026, 1, 1, 10, 15, 0, 123456, tzinfo=UTC)
    assert list(rows) == ["naive", "micro", "offset"]  # ordered by instant, not by text
    for row in [*rows.values(), await store.get("lease")]:
        assert row is not None
        for key in ("created_at", "updated_at"):
            assert datetime.fromisoformat(row[key]).tzinfo is not None
    lease_row = await store.get("lease")
    assert lease_row is not None
    lease = datetime.fromisoformat(lease_row["lease_expires_at"])
    assert lease.tzinfo is not None and lease == datetime(2026, 1, 1, 15, 0, 5, tzinfo=UTC)


async def test_created_at_defaults_to_now_and_updated_at_follows_writes(store: RunStore) -> None:
    """A row without created_at is stamped now; every write stamps updated_at later."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    await store.put("r1", thread_id="t1")
    row = await store.get("r1")
    assert row is not None
    created = parse_iso(row["created_at"])
    assert before < created <= datetime.now(UTC) + timedelta(seconds=1)
    stamps = [parse_iso(row["updated_at"])]
    writes: list[Callable[[], Awaitable[bool]]] = [
        lambda: store.start("r1"),
        lambda: store.update_run_progress("r1", total_tokens=1),
        lambda: store.update_model_name("r1", "m"),
        lambda: store.update_run_completion("r1", total_tokens=2),
        lambda: store.update_status("r1", "success"),
    ]
    for write in writes:
        assert await write()
        stamps.append(parse_iso((await store.get("r1") or {})["updated_at"]))
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


async def test_json_columns_round_trip(store: RunStore) -> None:
    """metadata, kwargs and token_usage_by_model come back equal, nested values and unicode included."""
    metadata = {"tags": ["a", "β"], "nested": {"n": None, "ok": True, "ratio": 0.25}, "emoji": "🚀"}
    kwargs = {"input": {"messages": [{"role": "user", "content": "hé"}]}, "stream_mode": ["values"]}
    usage = {"model-a": {"input_tokens": 10, "output_tokens": 20}, "model-b": {"calls": 1}}
    await store.put("r1", thread_id="t1", metadata=metadata, kwargs=kwargs)
    assert await store.update_run_completion("r1", token_usage_by_model=usage)
    row = await store.get("r1")
    assert row is not None
    assert (row["metadata"], row["kwargs"], row["token_usage_by_model"]) == (metadata, kwargs, usage)


async def test_rows_are_copies(store: RunStore) -> None:
    """Mutating a returned row changes nothing in the store."""
    await store.put("r1", thread_id="t1", metadata={"k": [1]})
    row = await store.get("r1")
    assert row is not None
    row["metadata"]["k"].append(2)
    row["status"] = "success"
    assert await store.get("r1") == {**row, "metadata": {"k": [1]}, "status": "pending"}


async def test_delete(store: RunStore) -> None:
    """delete removes the row and returns True once; a missing row is False."""
    await store.put("r1", thread_id="t1", status="running")
    assert await store.delete("r1")
    assert await store.get("r1") is None
    assert not await store.delete("r1")
    await store.put("r2", thread_id="t1", status="running")  # the running slot is free again
    assert await _running_on(store, "t1") == ["r2"]


# -- races between processes ---------------------------------------------------------------------

CONTENDERS = 20
ROUNDS = 3


async def test_concurrent_reject_admissions_admit_exactly_one(
    two_stores: tuple[SqlRunStore, SqlRunStore],
) -> None:
    """Many reject admissions on one thread through two engines: exactly one wins each round."""
    for round_no in range(ROUNDS):
        thread_id = f"race-{round_no}"

        async def contend(index: int, thread_id: str = thread_id) -> bool:
            try:
                await two_stores[index % 2].admit(
                    f"{thread_id}-{index}", strategy="reject", thread_id=thread_id
                )
            except ThreadBusyError:
                return False
            return True

        results = await asyncio.gather(*(contend(i) for i in range(CONTENDERS)))
        assert sum(results) == 1
        rows = await two_stores[0].list_by_thread(thread_id)
        assert len(rows) == 1 and rows[0]["status"] == "pending"


async def test_concurrent_starts_claim_exactly_one(two_stores: tuple[SqlRunStore, SqlRunStore]) -> None:
    """Many claims of a thread's pending runs through two engines: exactly one run starts, the oldest."""
    for round_no in range(ROUNDS):
        thread_id = f"claim-{round_no}"
        run_ids = [f"{thread_id}-{n}" for n in range(4)]
        for run_id in run_ids:
            await two_stores[0].admit(run_id, strategy="enqueue", thread_id=thread_id)
        results = await asyncio.gather(
            *(two_stores[i % 2].start(run_ids[i % len(run_ids)], owner=f"w{i}") for i in range(CONTENDERS))
        )
        assert sum(results) == 1
        assert await _running_on(two_stores[1], thread_id) == [run_ids[0]]
        row = await two_stores[1].get(run_ids[0])
        assert row is not None and row["attempt"] == 1


async def test_concurrent_running_writes_leave_one_running(
    two_stores: tuple[SqlRunStore, SqlRunStore],
) -> None:
    """Racing update_status(running) on different runs of a thread: one lands, the rest get ThreadBusyError."""
    for round_no in range(ROUNDS):
        thread_id = f"status-{round_no}"
        run_ids = [f"{thread_id}-{n}" for n in range(CONTENDERS)]
        for run_id in run_ids:
            await two_stores[0].put(run_id, thread_id=thread_id)

        async def contend(index: int, run_ids: list[str] = run_ids) -> bool:
            try:
                return await two_stores[index % 2].update_status(run_ids[index], "running")
            except ThreadBusyError:
                return False

        results = await asyncio.gather(*(contend(i) for i in range(CONTENDERS)))
        assert sum(results) == 1
        assert len(await _running_on(two_stores[0], thread_id)) == 1


PROCESSES = 3
PROCESS_ROUNDS = 25
# One process of the test below: its own store (and setup) on the database, racing the others.
_CONTENDER_PROCESS = """
import asyncio, json, sys
from runyard.runs.errors import ThreadBusyError
from runyard.runs.store.sql import SqlRunStore

async def main(url, name, rounds, contenders):
    store = SqlRunStore.from_url(url)
    await store.setup()
    won = []
    try:
        for round_no in range(rounds):
            thread_id = f"race-{round_no}"

            async def admit(index):
                run_id = f"{thread_id}-{name}-{index}"
                try:
                    await store.admit(run_id, strategy="reject", thread_id=thread_id)
                except ThreadBusyError:
                    return None
                return run_id

            won += [run for run in await asyncio.gather(*map(admit, range(contenders))) if run]
            own = f"own-{name}-{round_no}"
            await store.admit(own, strategy="reject", thread_id=own)
            assert await store.start(own, owner=name)
            assert await store.update_status(own, "success")
            assert await store.update_run_completion(own, total_tokens=round_no)
    finally:
        await store.close()
    print(json.dumps(won))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_separate_processes_admit_exactly_one_and_lose_no_write(
    request: pytest.FixtureRequest, database: str
) -> None:
    """Processes on one fresh database race reject admissions and write lifecycles of their own.

    Each thread admits exactly one run across all processes, and every final status and
    completion lands: on SQLite this is where writes meet another process's write lock.
    """
    url = request.getfixturevalue(f"{database}_url")
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _CONTENDER_PROCESS,
            url,
            f"p{n}",
            str(PROCESS_ROUNDS),
            str(CONTENDERS // 2),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for n in range(PROCESSES)
    ]
    won: list[str] = []
    for process in processes:
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
        assert process.returncode == 0, err.decode()
        won += json.loads(out)
    store = await open_sql_store(url)
    try:
        for round_no in range(PROCESS_ROUNDS):
            winners = [run for run in won if run.startswith(f"race-{round_no}-p")]
            assert len(winners) == 1
            assert [r["run_id"] for r in await store.list_by_thread(f"race-{round_no}")] == winners
        for n in range(PROCESSES):
            for round_no in range(PROCESS_ROUNDS):
                row = await store.get(f"own-p{n}-{round_no}")
                assert row is not None
                assert (row["status"], row["total_tokens"]) == ("success", round_no)
    finally:
        await close_sql_store(store)


async def test_memory_and_sql_rows_have_the_same_keys(sqlite_url: str) -> None:
    """Both implementations return rows keyed by exactly ROW_FIELDS."""
    memory = MemoryRunStore()
    sql = await open_sql_store(sqlite_url)
    try:
        for impl in (memory, sql):
            await impl.admit("r1", strategy="reject", thread_id="t1")
        memory_row, sql_row = await memory.get("r1"), await sql.get("r1")
        assert memory_row is not None and sql_row is not None
        assert set(memory_row) == set(sql_row) == set(ROW_FIELDS)
    finally:
        await close_sql_store(sql)
