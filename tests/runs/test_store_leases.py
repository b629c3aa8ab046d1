"""The lease part of the ``RunStore`` contract (cluster mode), against every implementation.

Claims, renewals, takeovers of lapsed leases, fenced final writes, durable cancel requests and
letting go, each checked on ``MemoryRunStore``, SQLite and Postgres (the ``store`` fixture).
Short leases lapse in the tests by waiting for the claim to succeed, with a deadline.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from helpers import wait_until
from runyard.runs.store.base import RunStore
from runyard.runs.store.sql import SqlRunStore

LONG = 30.0
SHORT = 0.3


def _at(minute: int) -> str:
    return datetime(2026, 1, 1, 12, minute, tzinfo=UTC).isoformat()


async def _admit(store: RunStore, run_id: str, thread_id: str, minute: int, **row: object) -> None:
    await store.admit(run_id, strategy="enqueue", thread_id=thread_id, created_at=_at(minute), **row)


async def test_claim_takes_the_oldest_due_run_and_stamps_owner_attempt_and_lease(store: RunStore) -> None:
    assert await store.claim("a", lease_seconds=LONG, max_attempts=3) is None
    await _admit(store, "r2", "t2", 2)
    await _admit(store, "r1", "t1", 1)
    before = datetime.now(UTC)
    row = await store.claim("a", lease_seconds=LONG, max_attempts=3)
    assert row is not None
    assert (row["run_id"], row["status"], row["owner"], row["attempt"]) == ("r1", "running", "a", 1)
    lease = datetime.fromisoformat(row["lease_expires_at"])
    assert before + timedelta(seconds=LONG - 5) < lease < before + timedelta(seconds=LONG + 5)
    second = await store.claim("b", lease_seconds=LONG, max_attempts=3)
    assert second is not None and (second["run_id"], second["owner"]) == ("r2", "b")
    assert await store.claim("a", lease_seconds=LONG, max_attempts=3) is None


async def test_one_run_per_thread_in_creation_order_until_the_holder_lets_go(store: RunStore) -> None:
    await _admit(store, "first", "t", 1)
    await _admit(store, "second", "t", 2)
    row = await store.claim("a", lease_seconds=LONG, max_attempts=3)
    assert row is not None and row["run_id"] == "first"
    assert await store.claim("b", lease_seconds=LONG, max_attempts=3) is None
    assert await store.finish_owned("first", "a", "success")
    # Finished but still held: its owner is writing the outcome, the thread is not free yet.
    assert await store.claim("b", lease_seconds=LONG, max_attempts=3) is None
    assert await store.release("first", "a")
    nxt = await store.claim("b", lease_seconds=LONG, max_attempts=3)
    assert nxt is not None and nxt["run_id"] == "second"
    first = await store.get("first")
    assert first is not None and first["status"] == "success" and first["lease_expires_at"] is None


async def test_a_cancelled_run_holds_its_thread_until_its_owner_has_stopped(store: RunStore) -> None:
    await _admit(store, "r1", "t", 1)
    await store.claim("a", lease_seconds=LONG, max_attempts=3)
    await _admit(store, "r2", "t", 2)
    cancelled = await store.request_cancel("r1", "interrupt")
    assert cancelled is not None and cancelled["status"] == "interrupted"
    assert await store.claim("b", lease_seconds=LONG, max_attempts=3) is None
    await store.release("r1", "a")
    row = await store.claim("b", lease_seconds=LONG, max_attempts=3)
    assert row is not None and row["run_id"] == "r2"


async def test_a_delayed_run_is_claimed_only_once_due(store: RunStore) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=0.5)).isoformat()
    await _admit(store, "later", "t1", 1, not_before=soon)
    await _admit(store, "now", "t2", 2)
    row = await store.claim("a", lease_seconds=LONG, max_attempts=3)
    assert row is not None and row["run_id"] == "now"
    assert await store.claim("a", lease_seconds=LONG, max_attempts=3) is None
    stored = await store.get("later")
    assert stored is not None and datetime.fromisoformat(stored["not_before"]) == datetime.fromisoformat(soon)
    late = await wait_until(lambda: store.claim("a", lease_seconds=LONG, max_attempts=3), timeout=10)
    assert late["run_id"] == "later"


async def test_a_lapsed_lease_is_taken_over_and_fences_the_old_owner(store: RunStore) -> None:
    await _admit(store, "r", "t", 1)
    await store.claim("dead", lease_seconds=SHORT, max_attempts=3)
    assert await store.claim("b", lease_seconds=LONG, max_attempts=3) is None  # lease still valid
    row = await wait_until(lambda: store.claim("b", lease_seconds=LONG, max_attempts=3), timeout=10)
    assert (row["run_id"], row["owner"], row["attempt"], row["status"]) == ("r", "b", 2, "running")
    # The old owner's word is void: no renewal, no final status, no release.
    assert await store.renew("dead", lease_seconds=LONG) == []
    assert not await store.finish_owned("r", "dead", "success")
    assert not await store.release("r", "dead")
    stored = await store.get("r")
    assert stored is not None and (stored["status"], stored["owner"]) == ("running", "b")
    assert await store.finish_owned("r", "b", "success")


async def test_runs_past_max_attempts_are_abandoned_with_an_error(store: RunStore) -> None:
    await _admit(store, "r", "t", 1)
    await store.claim("a", lease_seconds=SHORT, max_attempts=1)
    await wait_until(
        lambda: store.abandon_lapsed(max_attempts=1, error="gave up after 1 attempt"), timeout=10
    )
    assert await store.claim("b", lease_seconds=LONG, max_attempts=1) is None
    stored = await store.get("r")
    assert stored is not None
    assert (stored["status"], stored["error"], stored["lease_expires_at"]) == (
        "error",
        "gave up after 1 attempt",
        None,
    )
    assert await store.abandon_lapsed(max_attempts=1, error="again") == []


async def test_renew_extends_every_hold_and_reports_remote_cancels(store: RunStore) -> None:
    await _admit(store, "r1", "t1", 1)
    await _admit(store, "r2", "t2", 2)
    await store.claim("a", lease_seconds=SHORT, max_attempts=3)
    await store.claim("a", lease_seconds=SHORT, max_attempts=3)
    await store.request_cancel("r2", "rollback")
    held = await store.renew("a", lease_seconds=LONG)
    assert sorted((h["run_id"], h["status"], h["cancel_action"]) for h in held) == [
        ("r1", "running", None),
        ("r2", "interrupted", "rollback"),
    ]
    await asyncio.sleep(SHORT * 2)  # past the first lease: only the renewal keeps the holds
    assert await store.claim("b", lease_seconds=LONG, max_attempts=3) is None
    assert await store.renew("b", lease_seconds=LONG) == []


async def test_the_first_cancel_wins_and_a_finished_run_keeps_its_status(store: RunStore) -> None:
    assert await store.request_cancel("missing", "interrupt") is None
    await _admit(store, "r", "t", 1)
    first = await store.request_cancel("r", "rollback")
    assert first is not None and (first["status"], first["cancel_action"]) == ("interrupted", "rollback")
    second = await store.request_cancel("r", "interrupt")
    assert second is not None and second["cancel_action"] == "rollback"
    await _admit(store, "done", "t2", 2)
    await store.claim("a", lease_seconds=LONG, max_attempts=3)
    assert await store.finish_owned("done", "a", "success")
    after = await store.request_cancel("done", "interrupt")
    assert after is not None and after["status"] == "success" and after["cancel_action"] is None
    # A completion racing the cancel: whichever wrote first stays.
    assert not await store.finish_owned("r", "a", "success")


async def test_letting_go_of_a_running_run_requeues_it_for_anyone(store: RunStore) -> None:
    await _admit(store, "r1", "t1", 1)
    await _admit(store, "r2", "t2", 2)
    await _admit(store, "r3", "t3", 3)
    for _ in range(3):
        await store.claim("a", lease_seconds=LONG, max_attempts=3)
    assert await store.release("r1", "a")
    row = await store.get("r1")
    assert row is not None and (row["status"], row["owner"], row["lease_expires_at"]) == (
        "pending",
        None,
        None,
    )
    await store.request_cancel("r3", "interrupt")
    assert await store.requeue_owned("a") == ["r2"]
    assert await store.renew("a", lease_seconds=LONG) == []
    claimed = {
        (await store.claim("b", lease_seconds=LONG, max_attempts=3) or {}).get("run_id") for _ in range(3)
    }
    assert claimed == {"r1", "r2", None}
    resumed = await store.get("r2")
    assert resumed is not None and resumed["attempt"] == 2


async def test_racing_claimers_take_each_run_exactly_once(
    two_stores: tuple[SqlRunStore, SqlRunStore],
) -> None:
    first, second = two_stores
    for i in range(30):
        await _admit(first, f"r{i:02d}", f"t{i % 20}", i % 60)

    async def drain(store: SqlRunStore, owner: str) -> list[str]:
        taken = []
        while (row := await store.claim(owner, lease_seconds=LONG, max_attempts=3)) is not None:
            taken.append(row["run_id"])
        return taken

    a, b = await asyncio.gather(drain(first, "a"), drain(second, "b"))
    assert not set(a) & set(b)
    # One per thread: the 20 oldest of their threads, none of the 10 queued behind them.
    assert sorted(a + b) == [f"r{i:02d}" for i in range(20)]
