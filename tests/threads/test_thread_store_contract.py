"""The ``ThreadStore`` contract (threads/base.py), checked against every implementation.

One suite, three stores: ``MemoryThreadStore``, ``SqlThreadStore`` on a SQLite file and on a real
PostgreSQL database. The memory store is the reference; a difference is a bug in one of them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from runyard.runs.clock import parse_iso
from runyard.threads import THREAD_FIELDS, THREAD_STATUSES, InvalidThreadInputError, ThreadExistsError
from runyard.threads.base import SORT_FIELDS, ThreadStore, TtlInput
from runyard.threads.memory import MemoryThreadStore
from runyard.threads.sql import SqlThreadStore


async def _sql_store(url: str) -> SqlThreadStore:
    store = SqlThreadStore.from_url(url)
    await store.setup()
    return store


async def _close(store: SqlThreadStore) -> None:
    checked_out = store.engine.pool.checkedout()
    await store.close()
    assert checked_out == 0, f"{checked_out} connection(s) leaked"


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ThreadStore]:
    """Each implementation of the contract, on an empty database."""
    if request.param == "memory":
        yield MemoryThreadStore()
        return
    sql = await _sql_store(request.getfixturevalue(f"{request.param}_url"))
    yield sql
    await _close(sql)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def two_stores(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SqlThreadStore, SqlThreadStore]]:
    """Two SQL stores with separate engines on one database: two processes, as far as it can tell."""
    url = request.getfixturevalue(f"{request.param}_url")
    first = await _sql_store(url)
    second = await _sql_store(url)
    yield first, second
    await _close(first)
    await _close(second)


async def _row(store: ThreadStore, thread_id: str) -> dict[str, Any]:
    row = await store.get(thread_id)
    assert row is not None
    return row


async def _ids(store: ThreadStore, **query: Any) -> list[str]:
    return [row["thread_id"] for row in await store.search(**query)]


def _expires_at(row: dict[str, Any]) -> datetime:
    return parse_iso(row["ttl"]["expires_at"])


# -- create and get ------------------------------------------------------------------------------


async def test_create_returns_a_new_idle_row(store: ThreadStore) -> None:
    """A new row carries exactly THREAD_FIELDS with the documented defaults, and get returns it."""
    before = datetime.now(UTC) - timedelta(seconds=1)
    row = await store.create("t1", metadata={"k": "v"}, user_id="u1")
    assert set(row) == set(THREAD_FIELDS)
    assert row["thread_id"] == "t1"
    assert (row["status"], row["config"], row["values"], row["interrupts"]) == ("idle", {}, None, {})
    assert (row["metadata"], row["user_id"], row["ttl"]) == ({"k": "v"}, "u1", None)
    created = datetime.fromisoformat(row["created_at"])
    assert created.tzinfo is not None and before < created <= datetime.now(UTC) + timedelta(seconds=1)
    assert row["created_at"] == row["updated_at"] == row["state_updated_at"]
    assert await store.get("t1") == row


async def test_create_without_an_id_makes_a_uuid4(store: ThreadStore) -> None:
    """With no thread_id each create gets a new uuid4 and an empty metadata object."""
    first, second = await store.create(), await store.create()
    assert uuid.UUID(first["thread_id"]).version == 4
    assert first["thread_id"] != second["thread_id"]
    assert first["metadata"] == {}


async def test_create_a_taken_id_raises_and_keeps_the_row(store: ThreadStore) -> None:
    """if_exists='raise' (the default) refuses a taken id with ThreadExistsError and writes nothing."""
    original = await store.create("t1", metadata={"v": 1})
    with pytest.raises(ThreadExistsError, match="t1") as caught:
        await store.create("t1", metadata={"v": 2})
    assert caught.value.thread_id == "t1"
    assert await store.get("t1") == original


async def test_create_do_nothing_returns_the_existing_row(store: ThreadStore) -> None:
    """if_exists='do_nothing' returns the existing row unchanged, for its owner or an unscoped caller."""
    original = await store.create("t1", metadata={"v": 1}, user_id="u1")
    assert await store.create("t1", metadata={"v": 2}, if_exists="do_nothing", ttl=5) == original
    assert await store.create("t1", if_exists="do_nothing", user_id="u1") == original
    assert await store.get("t1") == original


async def test_create_do_nothing_on_another_users_thread_raises(store: ThreadStore) -> None:
    """do_nothing never hands out a row hidden from the caller: the id is taken, so it raises."""
    original = await store.create("t1", user_id="u1")
    with pytest.raises(ThreadExistsError):
        await store.create("t1", if_exists="do_nothing", user_id="u2")
    assert await store.get("t1") == original


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"if_exists": "update"}, "raise, do_nothing"),
        ({"ttl": {"strategy": "archive", "ttl": 5}}, "delete, keep_latest"),
        ({"ttl": {"ttl": 5, "expires": 1}}, "strategy, ttl"),
        ({"ttl": {"strategy": "delete"}}, "'ttl' field"),
        ({"ttl": 0}, "positive"),
        ({"ttl": -1.5}, "positive"),
        ({"ttl": float("inf")}, "positive"),
        ({"ttl": 6e16}, "at most"),
        ({"ttl": "10"}, "number of minutes"),
        ({"ttl": True}, "number of minutes"),
        ({"metadata": ["not", "an", "object"]}, "JSON object"),
    ],
)
async def test_create_rejects_bad_input_before_writing(
    store: ThreadStore, kwargs: dict[str, Any], message: str
) -> None:
    """An unknown if_exists, a bad ttl or non-object metadata is a ValueError naming what is accepted."""
    with pytest.raises(ValueError, match=message) as caught:
        await store.create("t1", **kwargs)
    assert isinstance(caught.value, InvalidThreadInputError)
    assert await store.get("t1") is None


async def test_keep_latest_ttl_is_stored_and_copied(store: ThreadStore) -> None:
    """The keep_latest strategy is kept as given, and the copy of the thread carries it."""
    row = await store.create("t1", ttl={"ttl": 3, "strategy": "keep_latest"})
    assert row["ttl"]["strategy"] == "keep_latest"
    copy = await store.copy("t1", "t2")
    assert copy is not None and copy["ttl"]["strategy"] == "keep_latest" and copy["ttl"]["ttl"] == 3


@pytest.mark.parametrize(
    ("ttl", "minutes"),
    [(5, 5), (2.0, 2), (1.5, 1.5), ({"ttl": 30}, 30), ({"ttl": 0.25, "strategy": "delete"}, 0.25)],
)
async def test_create_with_a_ttl(store: ThreadStore, ttl: TtlInput, minutes: float) -> None:
    """A ttl (minutes, or the SDK's mapping) expires that many minutes after creation."""
    row = await store.create("t1", ttl=ttl)
    assert row["ttl"]["strategy"] == "delete"
    assert row["ttl"]["ttl"] == minutes and type(row["ttl"]["ttl"]) is type(minutes)
    assert _expires_at(row) == parse_iso(row["created_at"]) + timedelta(minutes=minutes)
    assert await store.get("t1") == row


async def test_get_missing_and_hidden_rows_are_none(store: ThreadStore) -> None:
    """get is None for an unknown id and for another user's thread; its owner and unscoped reads see it."""
    await store.create("t1", user_id="u1")
    assert await store.get("nope") is None
    assert await store.get("t1", user_id="u2") is None
    assert (await _row(store, "t1"))["user_id"] == "u1"
    assert await store.get("t1", user_id="u1") is not None


# -- update and delete ---------------------------------------------------------------------------


async def test_update_merges_metadata_shallowly(store: ThreadStore) -> None:
    """Top-level keys of the patch replace (nested objects whole), other keys stay, nothing else moves."""
    await store.create("t1", metadata={"a": 1, "nested": {"x": 1, "y": 2}, "keep": True})
    assert await store.set_status("t1", "interrupted", values={"v": 1}, config={"c": 1})
    before = await _row(store, "t1")
    row = await store.update("t1", metadata={"a": 2, "nested": {"x": 3}, "new": None})
    assert row is not None
    assert row["metadata"] == {"a": 2, "nested": {"x": 3}, "keep": True, "new": None}
    assert parse_iso(row["updated_at"]) > parse_iso(before["updated_at"])
    unchanged = ("created_at", "state_updated_at", "status", "values", "config", "interrupts", "ttl")
    assert {key: row[key] for key in unchanged} == {key: before[key] for key in unchanged}
    assert await store.get("t1") == row


async def test_update_without_changes_stamps_updated_at(store: ThreadStore) -> None:
    """An update with nothing to change still stamps updated_at, like a PATCH with an empty body."""
    created = await store.create("t1", metadata={"a": 1})
    row = await store.update("t1")
    assert row is not None
    assert row["metadata"] == {"a": 1}
    assert parse_iso(row["updated_at"]) > parse_iso(created["updated_at"])


async def test_update_a_missing_or_hidden_thread_is_none(store: ThreadStore) -> None:
    """update is None for an unknown id and for another user's thread, which stays as it was."""
    original = await store.create("t1", metadata={"a": 1}, user_id="u1")
    assert await store.update("nope", metadata={"a": 2}) is None
    assert await store.update("t1", metadata={"a": 2}, ttl=5, user_id="u2") is None
    assert await store.get("t1") == original
    row = await store.update("t1", metadata={"a": 2}, user_id="u1")
    assert row is not None and row["metadata"] == {"a": 2}


async def test_update_sets_the_ttl_from_now(store: ThreadStore) -> None:
    """A ttl given to update expires that long after the update; a later metadata update keeps it."""
    await store.create("t1", ttl=1)
    row = await store.update("t1", ttl={"ttl": 10, "strategy": "delete"})
    assert row is not None
    assert row["ttl"]["ttl"] == 10
    assert _expires_at(row) == parse_iso(row["updated_at"]) + timedelta(minutes=10)
    later = await store.update("t1", metadata={"a": 1})
    assert later is not None and later["ttl"] == row["ttl"]


@pytest.mark.parametrize("ttl", [0, {"ttl": 5, "strategy": "archive"}, "5", 6e16])
async def test_update_rejects_a_bad_ttl_before_writing(store: ThreadStore, ttl: Any) -> None:
    """A bad ttl on update raises InvalidThreadInputError and leaves the row untouched."""
    original = await store.create("t1")
    with pytest.raises(InvalidThreadInputError):
        await store.update("t1", metadata={"a": 1}, ttl=ttl)
    assert await store.get("t1") == original


async def test_delete_all_removes_every_row_whoever_owns_it(store: ThreadStore) -> None:
    """delete_all empties the store, rows of every user included, and counts what it removed."""
    await store.create("t1", user_id="u1")
    await store.create("t2", user_id="u2")
    await store.create("t3")
    assert await store.delete_all() == 3
    assert await store.search(limit=10, offset=0) == []
    assert await store.count() == 0
    assert await store.delete_all() == 0
    assert (await store.create("t1"))["thread_id"] == "t1"


async def test_delete(store: ThreadStore) -> None:
    """delete removes the row once; a missing or hidden thread is False and stays."""
    await store.create("t1", user_id="u1")
    await store.create("t2")
    assert not await store.delete("t1", user_id="u2")
    assert await store.get("t1") is not None
    assert await store.delete("t1", user_id="u1")
    assert await store.get("t1") is None
    assert not await store.delete("t1")
    assert await store.delete("t2")
    assert await store.count() == 0


# -- status and state snapshot -------------------------------------------------------------------


@pytest.mark.parametrize("status", THREAD_STATUSES)
async def test_set_status_writes_only_the_status(store: ThreadStore, status: str) -> None:
    """set_status without a snapshot changes the status and updated_at, not the state stamp."""
    created = await store.create("t1")
    assert await store.set_status("t1", status)
    row = await _row(store, "t1")
    assert row["status"] == status
    assert parse_iso(row["updated_at"]) > parse_iso(created["updated_at"])
    assert row["state_updated_at"] == created["state_updated_at"]
    assert (row["values"], row["interrupts"], row["config"]) == (None, {}, {})


async def test_set_status_writes_the_snapshot_and_stamps_state_updated_at(store: ThreadStore) -> None:
    """values, interrupts and config land when given; values or interrupts stamp state_updated_at."""
    await store.create("t1")
    values = {"messages": [{"role": "ai", "content": "hé"}], "count": 2}
    interrupts = {"task-1": [{"id": "i1", "value": {"question": "ok?"}}]}
    assert await store.set_status(
        "t1", "interrupted", values=values, interrupts=interrupts, config={"tags": ["x"]}
    )
    row = await _row(store, "t1")
    assert (row["status"], row["values"], row["interrupts"], row["config"]) == (
        "interrupted",
        values,
        interrupts,
        {"tags": ["x"]},
    )
    assert row["state_updated_at"] == row["updated_at"]

    assert await store.set_status("t1", "busy", config={"tags": ["y"]})
    busy = await _row(store, "t1")
    assert busy["state_updated_at"] == row["state_updated_at"]
    assert (busy["values"], busy["interrupts"], busy["config"]) == (values, interrupts, {"tags": ["y"]})

    assert await store.set_status("t1", "idle", interrupts=None)
    idle = await _row(store, "t1")
    assert idle["interrupts"] == {} and idle["values"] == values
    assert parse_iso(idle["state_updated_at"]) > parse_iso(busy["state_updated_at"])

    assert await store.set_status("t1", "idle", values=None)
    assert (await _row(store, "t1"))["values"] is None


async def test_set_status_of_a_missing_thread_is_false(store: ThreadStore) -> None:
    """set_status on an unknown id returns False and creates nothing."""
    assert not await store.set_status("nope", "busy", values={"a": 1})
    assert await store.get("nope") is None


@pytest.mark.parametrize("status", ["running", "pending", "IDLE", "", None])
async def test_set_status_rejects_unknown_statuses(store: ThreadStore, status: Any) -> None:
    """An unknown status is a ValueError naming the thread statuses, and nothing is written."""
    original = await store.create("t1")
    with pytest.raises(ValueError, match="idle, busy, interrupted, error"):
        await store.set_status("t1", status, values={"a": 1})
    assert await store.get("t1") == original


# -- search and count ----------------------------------------------------------------------------


async def test_search_defaults_to_the_ten_newest(store: ThreadStore) -> None:
    """With no arguments search returns the ten most recently created threads, newest first."""
    ids = [(await store.create(f"t{n:02d}"))["thread_id"] for n in range(12)]
    assert await _ids(store) == ids[::-1][:10]
    assert await store.count() == 12


async def _varied(store: ThreadStore) -> list[dict[str, Any]]:
    """Six threads whose ids, statuses and three timestamps all sort differently."""
    for name in ("c", "a", "f", "b", "e", "d"):
        await store.create(name)
    for name, status in (("e", "busy"), ("a", "error"), ("c", "busy"), ("f", "interrupted")):
        assert await store.set_status(name, status)
    for name in ("b", "f", "a"):
        assert await store.set_status(name, (await _row(store, name))["status"], values={"n": name})
    return await store.search(limit=100)


@pytest.mark.parametrize("sort_order", ["asc", "desc"])
@pytest.mark.parametrize("sort_by", SORT_FIELDS)
async def test_search_sorts_by_each_field_then_thread_id(
    store: ThreadStore, sort_by: str, sort_order: str
) -> None:
    """Every sort field in both orders; ties (equal statuses) break by thread_id in the same order."""
    rows = await _varied(store)
    is_time = sort_by.endswith("_at")

    def key(row: dict[str, Any]) -> tuple[Any, str]:
        return (parse_iso(row[sort_by]) if is_time else row[sort_by], row["thread_id"])

    expected = [row["thread_id"] for row in sorted(rows, key=key, reverse=sort_order == "desc")]
    assert await _ids(store, sort_by=sort_by, sort_order=sort_order, limit=100) == expected


async def test_search_pages_never_overlap_or_skip(store: ThreadStore) -> None:
    """offset/limit pages, over a sort with ties, cover every row exactly once in order."""
    rows = await _varied(store)
    full = await _ids(store, sort_by="status", sort_order="asc", limit=100)
    assert sorted(full) == sorted(row["thread_id"] for row in rows)
    pages = [await _ids(store, sort_by="status", sort_order="asc", limit=4, offset=o) for o in (0, 4)]
    assert pages[0] + pages[1] == full
    assert await _ids(store, offset=6) == []
    assert await _ids(store, limit=0) == []
    assert await _ids(store, sort_by="thread_id", sort_order="asc", limit=2, offset=1) == ["b", "c"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort_by": "metadata"}, "thread_id, status, created_at, updated_at, state_updated_at"),
        (
            {"sort_by": "name; drop table threads"},
            "thread_id, status, created_at, updated_at, state_updated_at",
        ),
        ({"sort_order": "up"}, "asc, desc"),
        ({"status": "running"}, "idle, busy, interrupted, error"),
        ({"limit": -1}, "limit"),
        ({"offset": -3}, "offset"),
        ({"metadata": "owner=u1"}, "JSON object"),
        ({"values": [1]}, "JSON object"),
        ({"ids": "t1"}, "list of thread id strings"),
        ({"ids": ["t1", 2]}, "list of thread id strings"),
    ],
)
async def test_search_rejects_bad_input(store: ThreadStore, query: dict[str, Any], message: str) -> None:
    """An unknown sort field, order or status, a negative page or a non-object filter names what is accepted."""
    await store.create("t1")
    with pytest.raises(InvalidThreadInputError, match=message):
        await store.search(**query)


@pytest.mark.parametrize(
    ("query", "message"),
    [({"status": "done"}, "idle, busy, interrupted, error"), ({"metadata": 3}, "JSON object")],
)
async def test_count_rejects_bad_input(store: ThreadStore, query: dict[str, Any], message: str) -> None:
    """count validates its filters as search does."""
    with pytest.raises(InvalidThreadInputError, match=message):
        await store.count(**query)


async def test_search_by_ids_and_status(store: ThreadStore) -> None:
    """ids keeps only the named threads (unknown ids are ignored, an empty list matches none); status filters."""
    for name in ("a", "b", "c"):
        await store.create(name)
    assert await store.set_status("b", "busy")
    assert await _ids(store, ids=["c", "a", "zz"], sort_by="thread_id", sort_order="asc") == ["a", "c"]
    assert await _ids(store, ids=[]) == []
    assert await _ids(store, status="busy") == ["b"]
    assert await _ids(store, ids=["a", "b"], status="idle") == ["a"]
    assert await store.count(status="idle") == 2
    assert await store.count(status="error") == 0


METADATA_ROWS: dict[str, dict[str, Any]] = {
    "m1": {"owner": "u1", "graph": "agent", "tags": ["x", "y"], "nested": {"a": 1, "b": {"c": True}}},
    "m2": {"owner": "u2", "graph": "agent", "tags": ["y"], "nested": {"a": 2}},
    "m3": {"owner": "u1", "graph": "other", "score": 1.0, "flag": False, "none": None},
    "m4": {"owner": 1, "flag": 0, "score": 1, "nested": "a"},
    "m5": {},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"owner": "u1"}, ["m1", "m3"]),
        ({"owner": "u1", "graph": "agent"}, ["m1"]),
        ({"graph": "agent"}, ["m1", "m2"]),
        ({"tags": ["y"]}, ["m1", "m2"]),
        ({"tags": ["y", "x"]}, ["m1"]),
        ({"tags": []}, ["m1", "m2"]),
        ({"tags": "y"}, []),
        ({"nested": {"a": 1}}, ["m1"]),
        ({"nested": {"b": {"c": True}}}, ["m1"]),
        ({"nested": {}}, ["m1", "m2"]),
        ({"score": 1}, ["m3", "m4"]),
        ({"flag": False}, ["m3"]),
        ({"flag": 0}, ["m4"]),
        ({"owner": 1}, ["m4"]),
        ({"owner": "1"}, []),
        ({"none": None}, ["m3"]),
        ({"missing": None}, []),
        ({"owner": "u3"}, []),
        ({}, ["m1", "m2", "m3", "m4", "m5"]),
    ],
)
async def test_metadata_containment(store: ThreadStore, pattern: dict[str, Any], expected: list[str]) -> None:
    """A metadata filter is jsonb containment: keys equal by JSON type, arrays as subsets, objects recursively."""
    for thread_id, metadata in METADATA_ROWS.items():
        await store.create(thread_id, metadata=metadata)
    assert await _ids(store, metadata=pattern, sort_by="thread_id", sort_order="asc", limit=100) == expected
    assert await store.count(metadata=pattern) == len(expected)


async def test_values_containment_reaches_into_nested_state(store: ThreadStore) -> None:
    """A values filter matches nested objects and list elements; a thread with no state matches only no filter."""
    await store.create("v1")
    await store.create("v2")
    await store.create("v3")
    assert await store.set_status(
        "v1",
        "idle",
        values={"messages": [{"type": "human", "content": "hi"}, {"type": "ai", "content": "yo"}], "step": 2},
    )
    assert await store.set_status(
        "v2", "idle", values={"messages": [{"type": "human", "content": "hi"}], "step": 1}
    )
    query = {"sort_by": "thread_id", "sort_order": "asc"}
    assert await _ids(store, values={"messages": [{"type": "ai"}]}, **query) == ["v1"]
    assert await _ids(store, values={"messages": [{"content": "hi"}]}, **query) == ["v1", "v2"]
    assert await _ids(store, values={"step": 1}, **query) == ["v2"]
    assert await _ids(store, values={"messages": [{"type": "ai", "content": "hi"}]}, **query) == []
    assert await _ids(store, values={}, **query) == ["v1", "v2", "v3"]
    assert await _ids(store, values={"step": 2}, metadata={"x": 1}, **query) == []
    assert await store.count(values={"messages": [{"type": "human"}]}) == 2


@pytest.mark.parametrize("key", ["a.b", 'quo"te', "back\\slash", "br[0]", "sp ace", "ключ", "$", "", "*"])
async def test_containment_on_awkward_keys(store: ThreadStore, key: str) -> None:
    """Keys with path syntax, quotes, backslashes, unicode or nothing at all filter like any other key."""
    await store.create("hit", metadata={key: "v", "other": 1})
    await store.create("miss", metadata={key: "w"})
    await store.create("nested", metadata={"outer": {key: ["v"]}})
    assert await _ids(store, metadata={key: "v"}) == ["hit"]
    assert await _ids(store, metadata={"outer": {key: ["v"]}}) == ["nested"]
    assert await store.count(metadata={key: "w"}) == 1


async def test_filters_apply_before_paging(store: ThreadStore) -> None:
    """offset and limit count only matching rows, in sort order, and count agrees with search."""
    for n in range(12):
        await store.create(f"t{n:02d}", metadata={"even": n % 2 == 0, "n": n})
    evens_newest_first = [f"t{n:02d}" for n in range(10, -1, -2)]
    assert await _ids(store, metadata={"even": True}, limit=2, offset=1) == evens_newest_first[1:3]
    assert await _ids(store, metadata={"even": True}, limit=10, offset=4) == evens_newest_first[4:]
    assert await _ids(store, metadata={"even": True}, limit=0) == []
    assert await store.count(metadata={"even": True}) == 6
    assert await store.count(metadata={"even": True, "n": 4}) == 1


async def test_user_scoping(store: ThreadStore) -> None:
    """Reads and writes that name a user see only that user's threads; no user sees every thread."""
    await store.create("a1", user_id="alice", metadata={"k": 1})
    await store.create("a2", user_id="alice", metadata={"k": 2})
    await store.create("b1", user_id="bob", metadata={"k": 1})
    await store.create("n1", metadata={"k": 1})
    query = {"sort_by": "thread_id", "sort_order": "asc"}
    assert await _ids(store, user_id="alice", **query) == ["a1", "a2"]
    assert await _ids(store, user_id="bob", metadata={"k": 1}, **query) == ["b1"]
    assert await _ids(store, ids=["a1", "b1"], user_id="bob", **query) == ["b1"]
    assert await _ids(store, **query) == ["a1", "a2", "b1", "n1"]
    assert await store.count(user_id="alice") == 2
    assert await store.count(metadata={"k": 1}, user_id="alice") == 1
    assert await store.count(user_id="carol") == 0
    assert await store.get("a1", user_id="bob") is None
    assert await store.copy("a1", "c1", user_id="bob") is None
    assert await store.get("c1") is None


# -- copy, touch, ttl ----------------------------------------------------------------------------


async def test_copy_duplicates_the_row_with_fresh_timestamps(store: ThreadStore) -> None:
    """copy keeps metadata, config, values, interrupts, status, user and ttl policy, with new stamps."""
    await store.create("src", metadata={"k": [1]}, user_id="u1", ttl=15)
    assert await store.set_status(
        "src", "interrupted", values={"v": 1}, interrupts={"t": [{"id": "i"}]}, config={"c": 1}
    )
    source = await _row(store, "src")
    copied = await store.copy("src", "dst", user_id="u1")
    assert copied is not None and copied == await store.get("dst")
    assert copied["thread_id"] == "dst"
    same = ("metadata", "config", "values", "interrupts", "status", "user_id")
    assert {key: copied[key] for key in same} == {key: source[key] for key in same}
    assert copied["created_at"] == copied["updated_at"] == copied["state_updated_at"]
    assert parse_iso(copied["created_at"]) > parse_iso(source["updated_at"])
    assert copied["ttl"]["ttl"] == 15
    assert _expires_at(copied) == parse_iso(copied["created_at"]) + timedelta(minutes=15)
    assert await store.get("src") == source


async def test_copy_of_a_busy_thread_is_idle_and_independent(store: ThreadStore) -> None:
    """A copy has no run, so busy becomes idle; a copy without an id gets a uuid4; writes stay apart."""
    await store.create("src", metadata={"a": 1})
    assert await store.set_status("src", "busy")
    copied = await store.copy("src")
    assert copied is not None
    assert uuid.UUID(copied["thread_id"]).version == 4
    assert copied["status"] == "idle" and copied["ttl"] is None
    assert await store.update(copied["thread_id"], metadata={"b": 2}) is not None
    assert (await _row(store, "src"))["metadata"] == {"a": 1}


async def test_copy_refuses_a_taken_id_and_a_missing_source(store: ThreadStore) -> None:
    """Copying onto an existing id raises ThreadExistsError; copying a missing thread is None."""
    await store.create("src")
    taken = await store.create("dst", metadata={"mine": True})
    with pytest.raises(ThreadExistsError, match="dst"):
        await store.copy("src", "dst")
    assert await store.get("dst") == taken
    assert await store.copy("nope", "new") is None
    assert await store.get("new") is None


async def test_touch_stamps_updated_at_and_rearms_the_ttl(store: ThreadStore) -> None:
    """touch moves updated_at and restarts the ttl from then; no ttl stays none; a missing thread is False."""
    created = await store.create("t1", ttl=5)
    await store.create("plain")
    assert await store.touch("t1")
    row = await _row(store, "t1")
    assert parse_iso(row["updated_at"]) > parse_iso(created["updated_at"])
    assert _expires_at(row) == parse_iso(row["updated_at"]) + timedelta(minutes=5)
    assert (row["created_at"], row["state_updated_at"]) == (
        created["created_at"],
        created["state_updated_at"],
    )
    assert await store.touch("plain")
    assert (await _row(store, "plain"))["ttl"] is None
    assert not await store.touch("nope")


async def test_list_expired(store: ThreadStore) -> None:
    """list_expired names threads whose ttl ran out by the given instant, soonest first, deleting nothing."""
    late = await store.create("late", ttl=3, user_id="u1")
    early = await store.create("early", ttl=1)
    await store.create("forever")
    start = parse_iso(late["created_at"])
    assert await store.list_expired(start.isoformat()) == []
    assert await store.list_expired(_expires_at(early).isoformat()) == ["early"]
    later = (start + timedelta(minutes=10)).isoformat()
    assert await store.list_expired(later) == ["early", "late"]
    assert await store.list_expired(later, limit=1) == ["early"]
    assert await store.count() == 3
    assert await store.touch("early")  # re-armed from now: no longer expired at its old deadline
    assert await store.list_expired(_expires_at(early).isoformat()) == []


async def test_list_expired_reads_any_offset(store: ThreadStore) -> None:
    """The cutoff may carry any UTC offset; it is compared as an instant."""
    row = await store.create("t1", ttl=60)
    plus_five = timezone(timedelta(hours=5))
    assert await store.list_expired(_expires_at(row).astimezone(plus_five).isoformat()) == ["t1"]
    just_before = _expires_at(row).astimezone(plus_five) - timedelta(microseconds=1)
    assert await store.list_expired(just_before.isoformat()) == []


# -- rows ------------------------------------------------------------------------------------------


async def test_rows_are_copies(store: ThreadStore) -> None:
    """Mutating a returned row, or the dicts handed in, changes nothing in the store."""
    metadata = {"k": [1]}
    row = await store.create("t1", metadata=metadata)
    metadata["k"].append(9)
    row["metadata"]["k"].append(2)
    row["status"] = "busy"
    fetched = await _row(store, "t1")
    assert fetched["metadata"] == {"k": [1]} and fetched["status"] == "idle"
    fetched["metadata"]["k"].append(3)
    assert (await _row(store, "t1"))["metadata"] == {"k": [1]}


async def test_json_round_trips(store: ThreadStore) -> None:
    """Nested objects, unicode, floats, booleans and nulls come back equal in every JSON column."""
    metadata = {"tags": ["a", "β"], "nested": {"n": None, "ok": True, "ratio": 0.25}, "emoji": "🚀"}
    values = {"messages": [{"content": "hé", "n": 10**15}], "empty": {}, "list": []}
    await store.create("t1", metadata=metadata)
    assert await store.set_status(
        "t1", "idle", values=values, interrupts={"x": []}, config={"configurable": {}}
    )
    row = await _row(store, "t1")
    assert (row["metadata"], row["values"], row["interrupts"], row["config"]) == (
        metadata,
        values,
        {"x": []},
        {"configurable": {}},
    )


async def test_updated_at_moves_forward_on_every_write(store: ThreadStore) -> None:
    """create, update, set_status and touch each stamp updated_at later; created_at never moves."""
    row = await store.create("t1")
    stamps = [parse_iso(row["updated_at"])]
    for write in (
        lambda: store.update("t1", metadata={"a": 1}),
        lambda: store.set_status("t1", "busy"),
        lambda: store.touch("t1"),
        lambda: store.set_status("t1", "idle", values={"v": 1}),
    ):
        assert await write()
        current = await _row(store, "t1")
        assert current["created_at"] == row["created_at"]
        stamps.append(parse_iso(current["updated_at"]))
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


# -- races between processes ---------------------------------------------------------------------

CONTENDERS = 20


async def test_concurrent_metadata_merges_keep_every_key(
    two_stores: tuple[SqlThreadStore, SqlThreadStore],
) -> None:
    """Many merges on one thread through two engines: each read-modify-write sees the last, no key is lost."""
    await two_stores[0].create("t1", metadata={"base": True})
    results = await asyncio.gather(
        *(two_stores[i % 2].update("t1", metadata={f"k{i}": i}) for i in range(CONTENDERS))
    )
    assert all(result is not None for result in results)
    row = await two_stores[1].get("t1")
    assert row is not None
    assert row["metadata"] == {"base": True} | {f"k{i}": i for i in range(CONTENDERS)}


async def test_concurrent_creates_of_one_id(two_stores: tuple[SqlThreadStore, SqlThreadStore]) -> None:
    """Racing creates of one id: exactly one wins with 'raise'; with 'do_nothing' all get the same row."""

    async def contend(index: int) -> bool:
        try:
            await two_stores[index % 2].create("race", metadata={"by": index})
        except ThreadExistsError:
            return False
        return True

    assert sum(await asyncio.gather(*(contend(i) for i in range(CONTENDERS)))) == 1
    rows = await asyncio.gather(
        *(
            two_stores[i % 2].create("calm", metadata={"by": i}, if_exists="do_nothing")
            for i in range(CONTENDERS)
        )
    )
    assert all(row == rows[0] for row in rows)


async def test_memory_and_sql_rows_have_the_same_keys(sqlite_url: str) -> None:
    """Both implementations return rows keyed by exactly THREAD_FIELDS, ttl included."""
    memory = MemoryThreadStore()
    sql = await _sql_store(sqlite_url)
    try:
        rows = [await impl.create("t1", ttl=5, metadata={"a": 1}) for impl in (memory, sql)]
        assert set(rows[0]) == set(rows[1]) == set(THREAD_FIELDS)
        assert set(rows[0]["ttl"]) == set(rows[1]["ttl"]) == {"strategy", "ttl", "expires_at"}
    finally:
        await _close(sql)
