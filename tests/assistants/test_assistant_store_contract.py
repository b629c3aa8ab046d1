"""The ``AssistantStore`` contract (assistants/base.py), checked against every implementation.

One suite, three stores: ``MemoryAssistantStore``, ``SqlAssistantStore`` on a SQLite file and on
a real PostgreSQL database. The memory store is the reference; a difference is a bug in one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from runyard.assistants import (
    ASSISTANT_FIELDS,
    SYSTEM_METADATA,
    VERSION_FIELDS,
    AssistantExistsError,
    AssistantStore,
    AssistantVersionNotFoundError,
    InvalidAssistantInputError,
    MemoryAssistantStore,
)
from runyard.assistants.sql import SqlAssistantStore


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AssistantStore]:
    """Each implementation of the contract, on an empty database."""
    if request.param == "memory":
        yield MemoryAssistantStore()
        return
    sql = SqlAssistantStore.from_url(request.getfixturevalue(f"{request.param}_url"))
    await sql.setup()
    yield sql
    await sql.close()


def _id() -> str:
    return str(uuid.uuid4())


async def _make(store: AssistantStore, **fields: Any) -> dict[str, Any]:
    fields.setdefault("graph_id", "g")
    return await store.create(fields.pop("assistant_id", _id()), **fields)


# -- create and get ------------------------------------------------------------------------------


async def test_create_returns_version_one_and_records_it(store: AssistantStore) -> None:
    """A new assistant carries ASSISTANT_FIELDS at version 1; its version 1 row is stored with it."""
    aid = _id()
    row = await store.create(
        aid,
        graph_id="g",
        config={"tags": ["t"]},
        context={"k": 1},
        metadata={"m": "v"},
        name="n",
        description="d",
    )
    assert set(row) == set(ASSISTANT_FIELDS)
    assert (row["assistant_id"], row["graph_id"], row["version"]) == (aid, "g", 1)
    assert (row["config"], row["context"], row["metadata"]) == ({"tags": ["t"]}, {"k": 1}, {"m": "v"})
    assert (row["name"], row["description"]) == ("n", "d")
    assert row["created_at"] == row["updated_at"]
    assert await store.get(aid) == row
    (version,) = await store.versions(aid)
    assert set(version) == set(VERSION_FIELDS)
    assert version["version"] == 1 and version["config"] == {"tags": ["t"]} and version["name"] == "n"


async def test_defaults_and_a_missing_id(store: AssistantStore) -> None:
    """Defaults: empty objects, name Untitled, no description; an unknown id reads as None."""
    row = await _make(store)
    assert (row["config"], row["context"], row["metadata"], row["name"], row["description"]) == (
        {},
        {},
        {},
        "Untitled",
        None,
    )
    assert await store.get(_id()) is None


async def test_create_a_taken_id_raises_or_returns_the_existing_row(store: AssistantStore) -> None:
    """if_exists='raise' refuses a taken id and writes nothing; 'do_nothing' returns the original."""
    original = await _make(store, assistant_id="a1", name="first")
    with pytest.raises(AssistantExistsError, match="a1"):
        await _make(store, assistant_id="a1", name="second")
    assert await _make(store, assistant_id="a1", name="third", if_exists="do_nothing") == original
    assert await store.get("a1") == original
    assert len(await store.versions("a1")) == 1


# -- update, versions, set_latest ----------------------------------------------------------------


async def test_update_writes_a_new_version_merging_metadata(store: AssistantStore) -> None:
    """A patch replaces what it gives, merges metadata shallowly, and becomes version 2."""
    row = await _make(
        store, config={"tags": ["a"]}, context={"x": 1}, metadata={"a": 1, "b": {"c": 1}}, name="n"
    )
    updated = await store.update(row["assistant_id"], metadata={"b": {"d": 2}, "e": 3}, name="renamed")
    assert updated is not None
    assert updated["version"] == 2
    assert updated["metadata"] == {"a": 1, "b": {"d": 2}, "e": 3}
    assert (updated["name"], updated["config"], updated["context"]) == ("renamed", {"tags": ["a"]}, {"x": 1})
    assert updated["created_at"] == row["created_at"] and updated["updated_at"] > row["updated_at"]
    again = await store.update(
        row["assistant_id"], config={"tags": ["b"]}, context={}, graph_id="h", description="d"
    )
    assert again is not None
    assert (again["version"], again["config"], again["context"], again["graph_id"], again["description"]) == (
        3,
        {"tags": ["b"]},
        {},
        "h",
        "d",
    )
    assert await store.get(row["assistant_id"]) == again
    versions = await store.versions(row["assistant_id"])
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[1]["name"] == "renamed" and versions[2]["name"] == "n"


async def test_update_of_a_missing_assistant_is_none(store: AssistantStore) -> None:
    assert await store.update(_id(), name="x") is None


async def test_set_latest_restores_a_version_and_later_patches_number_after_the_highest(
    store: AssistantStore,
) -> None:
    """set_latest copies a version back; an unknown version raises and changes nothing."""
    row = await _make(store, config={"tags": ["v1"]}, context={"c": 1}, name="v1")
    aid = row["assistant_id"]
    await store.update(aid, config={"tags": ["v2"]}, context={"c": 2}, name="v2")
    back = await store.set_latest(aid, 1)
    assert back is not None
    assert (back["version"], back["config"], back["context"], back["name"]) == (
        1,
        {"tags": ["v1"]},
        {"c": 1},
        "v1",
    )
    assert await store.get(aid) == back
    with pytest.raises(AssistantVersionNotFoundError, match="Version 7"):
        await store.set_latest(aid, 7)
    assert await store.get(aid) == back
    assert await store.set_latest(_id(), 1) is None
    third = await store.update(aid, name="v3")
    assert third is not None and third["version"] == 3 and third["config"] == {"tags": ["v1"]}


async def test_versions_filter_by_metadata_and_page(store: AssistantStore) -> None:
    row = await _make(store, metadata={"stage": "a"})
    aid = row["assistant_id"]
    await store.update(aid, metadata={"stage": "b"})
    await store.update(aid, metadata={"stage": "a", "extra": True})
    assert [v["version"] for v in await store.versions(aid, metadata={"stage": "a"})] == [3, 1]
    assert [v["version"] for v in await store.versions(aid, limit=1, offset=1)] == [2]
    assert [v["version"] for v in await store.versions(aid, metadata={"stage": "a"}, limit=1, offset=1)] == [
        1
    ]
    assert await store.versions(_id()) == []


async def test_concurrent_updates_number_distinct_versions(store: AssistantStore) -> None:
    """Patches racing on one assistant get distinct versions and keep every metadata key."""
    row = await _make(store)
    aid = row["assistant_id"]
    await asyncio.gather(*(store.update(aid, metadata={f"k{i}": i}) for i in range(8)))
    final = await store.get(aid)
    assert final is not None and final["version"] == 9
    assert final["metadata"] == {f"k{i}": i for i in range(8)}
    assert sorted(v["version"] for v in await store.versions(aid, limit=100)) == list(range(1, 10))


# -- delete ---------------------------------------------------------------------------------------


async def test_delete_removes_the_assistant_and_its_versions(store: AssistantStore) -> None:
    row = await _make(store)
    aid = row["assistant_id"]
    await store.update(aid, name="x")
    assert await store.delete(aid) is True
    assert await store.get(aid) is None
    assert await store.versions(aid) == []
    assert await store.delete(aid) is False


async def test_delete_all_keeps_the_system_assistants(store: AssistantStore) -> None:
    system = await _make(store, metadata=SYSTEM_METADATA)
    await store.update(system["assistant_id"], name="renamed")
    user = await _make(store, metadata={"created_by": "someone"})
    plain = await _make(store)
    assert await store.delete_all() == 2
    assert await store.get(user["assistant_id"]) is None and await store.get(plain["assistant_id"]) is None
    assert await store.versions(user["assistant_id"]) == []
    assert len(await store.versions(system["assistant_id"])) == 2
    assert await store.delete_all(keep_system=False) == 1
    assert await store.count() == 0 and await store.versions(system["assistant_id"]) == []


# -- search and count -----------------------------------------------------------------------------


async def test_search_filters_by_graph_name_metadata_and_allowlist(store: AssistantStore) -> None:
    a = await _make(store, graph_id="g1", name="Alpha Bot", metadata={"team": "x", "n": {"deep": 1, "k": 2}})
    b = await _make(store, graph_id="g2", name="beta", metadata={"team": "x"})
    c = await _make(store, graph_id="g1", name="gamma 100%", metadata={"team": "y", "tags": ["p", "q"]})

    async def ids(**query: Any) -> set[str]:
        found = {r["assistant_id"] for r in await store.search(limit=100, **query)}
        assert await store.count(**query) == len(found)
        return found

    assert await ids() == {a["assistant_id"], b["assistant_id"], c["assistant_id"]}
    assert await ids(graph_id="g1") == {a["assistant_id"], c["assistant_id"]}
    assert await ids(name="ALPHA") == {a["assistant_id"]}
    assert await ids(name="a") == {a["assistant_id"], b["assistant_id"], c["assistant_id"]}
    assert await ids(name="0%") == {c["assistant_id"]}
    assert await ids(name="_") == set()
    assert await ids(metadata={"team": "x"}) == {a["assistant_id"], b["assistant_id"]}
    assert await ids(metadata={"n": {"deep": 1}}) == {a["assistant_id"]}
    assert await ids(metadata={"tags": ["q"]}) == {c["assistant_id"]}
    assert await ids(metadata={"team": "x"}, graph_id="g2") == {b["assistant_id"]}
    assert await ids(graph_ids=["g2", "other"]) == {b["assistant_id"]}
    assert await ids(graph_ids=[]) == set()


async def test_search_sorts_and_pages_without_overlap(store: AssistantStore) -> None:
    """Each sort field orders both ways (name and graph_id ignoring case); pages tile the result."""
    made = [
        await _make(store, graph_id=graph, name=name)
        for graph, name in (("b", "delta"), ("A", "Charlie"), ("c", "bravo"), ("a2", "Alpha"))
    ]
    by_name = [r["name"] for r in await store.search(sort_by="name", sort_order="asc")]
    assert by_name == ["Alpha", "bravo", "Charlie", "delta"]
    by_graph = [r["graph_id"] for r in await store.search(sort_by="graph_id", sort_order="desc")]
    assert by_graph == ["c", "b", "a2", "A"]
    newest = [r["assistant_id"] for r in await store.search()]
    assert newest == [r["assistant_id"] for r in reversed(made)]
    oldest = [r["assistant_id"] for r in await store.search(sort_by="created_at", sort_order="asc")]
    assert oldest == [r["assistant_id"] for r in made]
    await store.update(made[0]["assistant_id"], name="delta")
    touched = await store.search(sort_by="updated_at", sort_order="desc", limit=1)
    assert touched[0]["assistant_id"] == made[0]["assistant_id"]
    by_id = [r["assistant_id"] for r in await store.search(sort_by="assistant_id", sort_order="asc")]
    assert by_id == sorted(r["assistant_id"] for r in made)
    pages = [
        r["assistant_id"]
        for offset in range(0, 4, 3)
        for r in await store.search(sort_by="name", sort_order="asc", limit=3, offset=offset)
    ]
    assert pages == [r["assistant_id"] for r in await store.search(sort_by="name", sort_order="asc")]
    filtered = await store.search(metadata={}, name="a", sort_by="name", sort_order="asc", limit=2, offset=1)
    assert [r["name"] for r in filtered] == ["bravo", "Charlie"]


async def test_metadata_filtered_pages_on_every_backend(store: AssistantStore) -> None:
    for i in range(5):
        await _make(store, name=f"n{i}", metadata={"keep": i % 2 == 0})
    page = await store.search(metadata={"keep": True}, sort_by="name", sort_order="asc", limit=2, offset=1)
    assert [r["name"] for r in page] == ["n2", "n4"]
    assert await store.count(metadata={"keep": True}) == 3


@pytest.mark.parametrize(
    "query",
    [
        {"sort_by": "version"},
        {"sort_by": "created_at", "sort_order": "sideways"},
        {"limit": -1},
        {"offset": -1},
        {"metadata": ["not", "an", "object"]},
        {"graph_ids": "g"},
    ],
)
async def test_bad_search_input_is_refused(store: AssistantStore, query: dict[str, Any]) -> None:
    with pytest.raises(InvalidAssistantInputError):
        await store.search(**query)


async def test_bad_write_input_is_refused_and_writes_nothing(store: AssistantStore) -> None:
    with pytest.raises(InvalidAssistantInputError, match="if_exists"):
        await _make(store, assistant_id="x", if_exists="overwrite")  # type: ignore[arg-type]
    with pytest.raises(InvalidAssistantInputError, match="config"):
        await _make(store, assistant_id="x", config=["no"])  # type: ignore[arg-type]
    assert await store.get("x") is None
    row = await _make(store)
    with pytest.raises(InvalidAssistantInputError, match="metadata"):
        await store.update(row["assistant_id"], metadata="no")  # type: ignore[arg-type]
    assert await store.get(row["assistant_id"]) == row


# -- system assistants, copies -----------------------------------------------------------------


async def test_upsert_system_creates_once_and_follows_the_project(store: AssistantStore) -> None:
    """The first start creates version 1; an unchanged restart writes nothing; a change a version."""
    first = await store.upsert_system("s1", graph_id="g", config={"tags": ["a"]}, name="g", description=None)
    assert first["metadata"] == SYSTEM_METADATA and first["version"] == 1 and first["context"] == {}
    assert (
        await store.upsert_system("s1", graph_id="g", config={"tags": ["a"]}, name="g", description=None)
        == first
    )
    changed = await store.upsert_system("s1", graph_id="g", config={}, name="g", description="now described")
    assert (changed["version"], changed["config"], changed["description"]) == (2, {}, "now described")


async def test_rows_handed_out_are_copies(store: AssistantStore) -> None:
    row = await _make(store, metadata={"a": {"b": 1}})
    row["metadata"]["a"]["b"] = 2
    (found,) = await store.search()
    found["config"]["x"] = 1
    stored = await store.get(row["assistant_id"])
    assert stored is not None and stored["metadata"] == {"a": {"b": 1}} and stored["config"] == {}
