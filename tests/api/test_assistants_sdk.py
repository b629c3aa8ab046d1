"""The Assistants API through real HTTP, driven by the official langgraph-sdk client.

Every call of the SDK's ``assistants`` client, async and (a few) sync, against a real
``runyard serve`` on SQLite and on Postgres; a run on a created assistant sees its config and
context at the version that is latest; bad input is a 4xx naming the problem.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import BadRequestError, ConflictError, NotFoundError, UnprocessableEntityError

from runyard.graphs import assistant_id_for

from .server import ServerProcess


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_client(url=server.url, api_key=None)


def _tag() -> dict[str, str]:
    """Metadata unique to one test, so searches see only what that test made (the server is shared)."""
    return {"test": uuid.uuid4().hex}


# -- system assistants --------------------------------------------------------------------------


async def test_each_graph_has_its_system_assistant(client: Any) -> None:
    """One system assistant per graph, id uuid5 of the graph id, name the graph id, version 1."""
    (echo,) = await client.assistants.search(graph_id="echo", metadata={"created_by": "system"})
    assert echo["assistant_id"] == assistant_id_for("echo")
    assert (echo["name"], echo["metadata"], echo["version"]) == ("echo", {"created_by": "system"}, 1)
    assert echo["description"].startswith("Writes its configurable values")
    assert echo["config"] == {} and echo["context"] == {}
    assert await client.assistants.get(assistant_id_for("echo")) == echo
    systems = await client.assistants.search(metadata={"created_by": "system"}, limit=100)
    assert {a["graph_id"] for a in systems} >= {"echo", "chat", "hitl", "slow", "subgraph", "fail"}


# -- create, get, update, versions, set_latest, delete -------------------------------------------


async def test_create_with_every_field_and_get_it_back(client: Any) -> None:
    aid = str(uuid.uuid4())
    made = await client.assistants.create(
        "echo",
        config={"tags": ["t1"], "recursion_limit": 7},
        context={"user_name": "ada"},
        metadata={"team": "a"},
        assistant_id=aid,
        name="Ada's echo",
        description="says what it saw",
    )
    assert made["assistant_id"] == aid and made["graph_id"] == "echo" and made["version"] == 1
    # configurable and context mirror each other, as langgraph-api keeps them
    assert made["config"] == {"tags": ["t1"], "recursion_limit": 7, "configurable": {"user_name": "ada"}}
    assert made["context"] == {"user_name": "ada"}
    assert (made["name"], made["description"], made["metadata"]) == (
        "Ada's echo",
        "says what it saw",
        {"team": "a"},
    )
    assert await client.assistants.get(aid) == made
    plain = await client.assistants.create("slow")
    assert (plain["name"], plain["description"], plain["config"], plain["context"]) == (
        "Untitled",
        None,
        {},
        {},
    )
    assert uuid.UUID(plain["assistant_id"])


async def test_create_if_exists(client: Any) -> None:
    """raise (the default) is a 409 that keeps the original; do_nothing hands the original back."""
    original = await client.assistants.create("echo", metadata={"v": 1})
    aid = original["assistant_id"]
    with pytest.raises(ConflictError):
        await client.assistants.create("echo", assistant_id=aid, metadata={"v": 2})
    with pytest.raises(ConflictError):
        await client.assistants.create("echo", assistant_id=aid, if_exists="raise")
    assert await client.assistants.create("slow", assistant_id=aid, if_exists="do_nothing") == original
    assert await client.assistants.get(aid) == original


async def test_update_writes_versions_and_set_latest_goes_back(client: Any) -> None:
    made = await client.assistants.create("echo", config={"tags": ["v1"]}, metadata={"a": 1}, name="v1")
    aid = made["assistant_id"]
    second = await client.assistants.update(aid, metadata={"b": 2}, name="v2", context={"tone": "loud"})
    assert second["version"] == 2
    assert second["metadata"] == {"a": 1, "b": 2}
    assert second["config"] == {"configurable": {"tone": "loud"}}  # langgraph-api: context replaces config
    assert second["context"] == {"tone": "loud"}
    assert second["created_at"] == made["created_at"] and second["updated_at"] > made["updated_at"]
    third = await client.assistants.update(aid, graph_id="slow", description="now slow")
    assert (third["version"], third["graph_id"], third["description"], third["name"]) == (
        3,
        "slow",
        "now slow",
        "v2",
    )
    versions = await client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["config"] == {"tags": ["v1"]} and versions[2]["name"] == "v1"
    assert [v["version"] for v in await client.assistants.get_versions(aid, metadata={"b": 2})] == [3, 2]
    assert [v["version"] for v in await client.assistants.get_versions(aid, limit=1, offset=1)] == [2]
    back = await client.assistants.set_latest(aid, 1)
    assert (back["version"], back["graph_id"], back["config"], back["name"]) == (
        1,
        "echo",
        {"tags": ["v1"]},
        "v1",
    )
    assert await client.assistants.get(aid) == back
    fourth = await client.assistants.update(aid, name="v4")
    assert fourth["version"] == 4 and fourth["config"] == {"tags": ["v1"]}
    with pytest.raises(NotFoundError, match="Version 9"):
        await client.assistants.set_latest(aid, 9)


async def test_delete(client: Any) -> None:
    aid = (await client.assistants.create("echo"))["assistant_id"]
    await client.assistants.delete(aid)
    with pytest.raises(NotFoundError):
        await client.assistants.get(aid)
    with pytest.raises(NotFoundError):
        await client.assistants.get_versions(aid)
    with pytest.raises(NotFoundError):
        await client.assistants.delete(aid)


async def test_delete_threads_deletes_the_assistants_threads_only(client: Any) -> None:
    """delete_threads=True deletes the threads whose runs used it; other threads stay."""
    doomed = (await client.assistants.create("echo"))["assistant_id"]
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], doomed, input={"text": "x"})
    assert (await client.threads.get(thread["thread_id"]))["metadata"]["assistant_id"] == doomed
    other = await client.threads.create()
    await client.runs.wait(other["thread_id"], "echo", input={"text": "y"})
    kept_assistant = (await client.assistants.create("echo"))["assistant_id"]
    kept_thread = await client.threads.create()
    await client.runs.wait(kept_thread["thread_id"], kept_assistant, input={"text": "z"})

    await client.assistants.delete(doomed, delete_threads=True)

    with pytest.raises(NotFoundError):
        await client.threads.get(thread["thread_id"])
    with pytest.raises(NotFoundError):
        await client.runs.list(thread["thread_id"])
    assert (await client.threads.get(other["thread_id"]))["thread_id"] == other["thread_id"]
    await client.assistants.delete(kept_assistant)  # without delete_threads: the thread stays
    assert (await client.threads.get(kept_thread["thread_id"]))["values"]["text"] == "z"


# -- search and count ---------------------------------------------------------------------------


async def test_search_filters_sorts_selects_and_pages(client: Any, server: ServerProcess) -> None:
    tag = _tag()
    made = [
        await client.assistants.create(graph, metadata={**tag, "n": i}, name=name)
        for i, (graph, name) in enumerate(
            [("echo", "Delta"), ("slow", "alpha"), ("echo", "charlie"), ("hitl", "Bravo")]
        )
    ]
    ids = [a["assistant_id"] for a in made]
    assert [a["assistant_id"] for a in await client.assistants.search(metadata=tag)] == ids[::-1]
    assert {a["assistant_id"] for a in await client.assistants.search(metadata=tag, graph_id="echo")} == {
        ids[0],
        ids[2],
    }
    assert [a["assistant_id"] for a in await client.assistants.search(metadata={**tag, "n": 1})] == [ids[1]]
    assert [a["name"] for a in await client.assistants.search(metadata=tag, name="ALPH")] == ["alpha"]
    by_name = await client.assistants.search(metadata=tag, sort_by="name", sort_order="asc")
    assert [a["name"] for a in by_name] == ["alpha", "Bravo", "charlie", "Delta"]
    by_graph = await client.assistants.search(metadata=tag, sort_by="graph_id", sort_order="desc")
    assert [a["graph_id"] for a in by_graph] == ["slow", "hitl", "echo", "echo"]
    oldest = await client.assistants.search(metadata=tag, sort_by="created_at", sort_order="asc")
    assert [a["assistant_id"] for a in oldest] == ids
    await client.assistants.update(ids[1], name="alpha2")
    (touched,) = await client.assistants.search(
        metadata=tag, sort_by="updated_at", sort_order="desc", limit=1
    )
    assert touched["assistant_id"] == ids[1]
    by_id = await client.assistants.search(metadata=tag, sort_by="assistant_id", sort_order="asc")
    assert [a["assistant_id"] for a in by_id] == sorted(ids)
    selected = await client.assistants.search(metadata=tag, select=["assistant_id", "name"], limit=1)
    assert set(selected[0]) == {"assistant_id", "name"}
    page = await client.assistants.search(metadata=tag, limit=3, offset=0, response_format="object")
    assert [a["assistant_id"] for a in page["assistants"]] == ids[::-1][:3] and page["next"] == "3"
    last = await client.assistants.search(metadata=tag, limit=3, offset=3, response_format="object")
    assert [a["assistant_id"] for a in last["assistants"]] == [ids[0]] and last["next"] is None
    async with httpx.AsyncClient(base_url=server.url) as http:
        first = await http.post("/assistants/search", json={"metadata": tag, "limit": 2})
        assert (first.headers["X-Pagination-Next"], first.headers["X-Pagination-Total"]) == ("2", "3")
        tail = await http.post("/assistants/search", json={"metadata": tag, "limit": 2, "offset": 2})
        assert "X-Pagination-Next" not in tail.headers and tail.headers["X-Pagination-Total"] == "4"


async def test_count(client: Any) -> None:
    tag = _tag()
    await client.assistants.create("echo", metadata=tag, name="One")
    await client.assistants.create("slow", metadata=tag, name="two")
    assert await client.assistants.count(metadata=tag) == 2
    assert await client.assistants.count(metadata=tag, graph_id="slow") == 1
    assert await client.assistants.count(metadata=tag, name="ONE") == 1
    assert await client.assistants.count(graph_id="echo") >= 2


# -- graph, schemas, subgraphs -------------------------------------------------------------------


async def test_get_graph_with_and_without_xray(client: Any) -> None:
    """xray draws the subgraph's nodes; a graph name works as well as the id; no node data id."""
    flat = await client.assistants.get_graph(assistant_id_for("subgraph"))
    assert {n["id"] for n in flat["nodes"]} == {"__start__", "plan", "research", "publish", "__end__"}
    deep = await client.assistants.get_graph("subgraph", xray=True)
    assert {"research:gather", "research:summarise"} <= {n["id"] for n in deep["nodes"]}
    assert await client.assistants.get_graph("subgraph", xray=1) == deep
    assert all("id" not in (n.get("data") or {}) for n in deep["nodes"])
    made = await client.assistants.create("subgraph")
    assert await client.assistants.get_graph(made["assistant_id"]) == flat


async def test_get_schemas(client: Any) -> None:
    made = await client.assistants.create("echo")
    schemas = await client.assistants.get_schemas(made["assistant_id"])
    assert schemas["graph_id"] == "echo"
    assert set(schemas["context_schema"]["properties"]) == {"user_name", "tone"}
    assert set(schemas["state_schema"]["properties"]) == {"text", "seen_configurable", "seen_context"}
    # input and output are None where pydantic refuses typing.TypedDict (Python < 3.12), as there
    assert {"input_schema", "output_schema", "config_schema"} <= set(schemas)
    assert (await client.assistants.get_schemas("echo"))["graph_id"] == "echo"


async def test_get_subgraphs_with_namespace_and_recurse(client: Any) -> None:
    aid = assistant_id_for("subgraph")
    found = await client.assistants.get_subgraphs(aid)
    assert set(found) == {"research"}
    assert set(found["research"]["state_schema"]["properties"]) == {"topic", "notes", "messages"}
    assert set(await client.assistants.get_subgraphs(aid, namespace="research")) == {"research"}
    assert set(await client.assistants.get_subgraphs(aid, recurse=True)) == {"research"}
    assert await client.assistants.get_subgraphs(aid, namespace="nowhere") == {}
    assert await client.assistants.get_subgraphs(assistant_id_for("echo"), recurse=True) == {}


# -- runs on a created assistant -----------------------------------------------------------------


async def test_a_run_sees_the_assistants_config_and_context_at_its_latest_version(client: Any) -> None:
    made = await client.assistants.create(
        "echo", config={"tags": ["mine"]}, context={"user_name": "ada", "tone": "warm"}
    )
    aid = made["assistant_id"]
    values = await client.runs.wait(None, aid, input={"text": "x"})
    assert values["seen_context"] == {"user_name": "ada", "tone": "warm"}
    assert values["seen_configurable"]["user_name"] == "ada"
    assert values["seen_configurable"]["assistant_id"] == aid
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], aid, input={"text": "y"}, context={"tone": "dry"})
    assert run["assistant_id"] == aid and run["kwargs"]["config"]["tags"] == ["mine"]
    joined = await client.runs.join(thread["thread_id"], run["run_id"])
    assert joined["seen_context"] == {"user_name": "ada", "tone": "dry"}  # the run's own wins key by key

    await client.assistants.update(aid, context={"user_name": "grace"})
    assert (await client.runs.wait(None, aid, input={"text": "z"}))["seen_context"]["user_name"] == "grace"
    await client.assistants.set_latest(aid, 1)
    assert (await client.runs.wait(None, aid, input={"text": "z"}))["seen_context"]["user_name"] == "ada"
    # the graph name still means the system assistant
    plain = await client.runs.wait(None, "echo", input={"text": "z"})
    assert plain["seen_context"] == {"user_name": "anonymous", "tone": "plain"}
    assert plain["seen_configurable"]["assistant_id"] == assistant_id_for("echo")


async def test_runs_on_a_missing_assistant_are_404(client: Any) -> None:
    aid = (await client.assistants.create("echo"))["assistant_id"]
    await client.assistants.delete(aid)
    thread = await client.threads.create()
    with pytest.raises(NotFoundError):
        await client.runs.create(thread["thread_id"], aid, input={"text": "x"})
    with pytest.raises(httpx.HTTPStatusError) as refused:  # wait raises httpx's own error
        await client.runs.wait(None, str(uuid.uuid4()), input={"text": "x"})
    assert refused.value.response.status_code == 404


# -- bad input -----------------------------------------------------------------------------------


async def test_bad_input_is_a_4xx_naming_the_problem(client: Any, server: ServerProcess) -> None:
    aid = (await client.assistants.create("echo", metadata={"keep": True}))["assistant_id"]
    before = await client.assistants.get(aid)
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError, match="nope"):
        await client.assistants.create("nope")
    with pytest.raises(BadRequestError, match="configurable and context"):
        await client.assistants.create("echo", config={"configurable": {"a": 1}}, context={"b": 2})
    with pytest.raises(BadRequestError, match="configurable and context"):
        await client.assistants.update(aid, config={"configurable": {"a": 1}}, context={"b": 2})
    with pytest.raises(NotFoundError, match="nope"):
        await client.assistants.update(aid, graph_id="nope")
    for call in (
        client.assistants.get(missing),
        client.assistants.update(missing, name="x"),
        client.assistants.delete(missing),
        client.assistants.get_versions(missing),
        client.assistants.set_latest(missing, 1),
        client.assistants.get_graph(missing),
        client.assistants.get_schemas(missing),
        client.assistants.get_subgraphs(missing),
    ):
        with pytest.raises(NotFoundError):
            await call
    with pytest.raises(UnprocessableEntityError, match="UUID"):
        await client.assistants.get("echo")  # a graph name is not an id here (langgraph-api: 422)
    with pytest.raises(NotFoundError, match="nope"):
        await client.assistants.search(graph_id="nope")
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = {
            "malformed id": await http.get("/assistants/not-a-uuid"),
            "malformed id patch": await http.patch("/assistants/not-a-uuid", json={}),
            "malformed id delete": await http.delete("/assistants/not-a-uuid"),
            "malformed create id": await http.post(
                "/assistants", json={"graph_id": "echo", "assistant_id": "x"}
            ),
            "no graph_id": await http.post("/assistants", json={}),
            "bad if_exists": await http.post("/assistants", json={"graph_id": "echo", "if_exists": "update"}),
            "bad config": await http.post("/assistants", json={"graph_id": "echo", "config": {"tags": "t"}}),
            "unknown key": await http.post("/assistants", json={"graph_id": "echo", "surprise": 1}),
            "bad sort": await http.post("/assistants/search", json={"sort_by": "version"}),
            "bad order": await http.post("/assistants/search", json={"sort_order": "up"}),
            "bad select": await http.post("/assistants/search", json={"select": ["secrets"]}),
            "bad limit": await http.post("/assistants/search", json={"limit": 0}),
            "no version": await http.post(f"/assistants/{aid}/latest", json={}),
            "bad xray": await http.get(f"/assistants/{aid}/graph", params={"xray": "-1"}),
            "bad xray word": await http.get(f"/assistants/{aid}/graph", params={"xray": "deep"}),
            "malformed json": await http.post(
                "/assistants", content=b"{", headers={"content-type": "application/json"}
            ),
        }
    wrong = {name: (r.status_code, r.text) for name, r in refused.items() if r.status_code != 422}
    assert wrong == {}
    assert "sort_by" in refused["bad sort"].text and "secrets" in refused["bad select"].text
    assert "UUID" in refused["malformed id"].text and "surprise" in refused["unknown key"].text
    assert await client.assistants.get(aid) == before


# -- the sync client -----------------------------------------------------------------------------


def test_the_sync_client(server: ServerProcess) -> None:
    sync = get_sync_client(url=server.url, api_key=None)
    tag = _tag()
    made = sync.assistants.create("echo", metadata=tag, name="sync", if_exists="raise")
    aid = made["assistant_id"]
    assert sync.assistants.get(aid) == made
    assert sync.assistants.update(aid, name="sync2")["version"] == 2
    assert [a["name"] for a in sync.assistants.search(metadata=tag)] == ["sync2"]
    assert sync.assistants.count(metadata=tag) == 1
    assert [v["version"] for v in sync.assistants.get_versions(aid)] == [2, 1]
    assert sync.assistants.set_latest(aid, 1)["name"] == "sync"
    assert "nodes" in sync.assistants.get_graph(aid, xray=True)
    assert sync.assistants.get_schemas(aid)["graph_id"] == "echo"
    assert sync.assistants.get_subgraphs(assistant_id_for("subgraph"), namespace="research", recurse=True)
    sync.assistants.delete(aid, delete_threads=True)
    with pytest.raises(NotFoundError):
        sync.assistants.get(aid)


# -- durability and truncation (last: truncation wipes what earlier tests made) --------------------


async def test_assistants_survive_a_restart(client: Any, server: ServerProcess) -> None:
    made = await client.assistants.create("echo", context={"user_name": "kept"}, metadata=_tag())
    updated = await client.assistants.update(made["assistant_id"], name="after restart")
    (echo,) = await client.assistants.search(graph_id="echo", metadata={"created_by": "system"})
    server.stop()
    server.start()
    again = get_client(url=server.url, api_key=None)
    assert await again.assistants.get(made["assistant_id"]) == updated
    assert len(await again.assistants.get_versions(made["assistant_id"])) == 2
    # an unchanged project writes no new system version
    assert await again.assistants.get(echo["assistant_id"]) == echo

    # a changed LANGGRAPH_CONFIG reaches the system assistant as a new version, and its runs
    server.stop()
    server.start(env={"LANGGRAPH_CONFIG": '{"echo": {"configurable": {"model": "from-env"}}}'})
    changed = await get_client(url=server.url, api_key=None).assistants.get(echo["assistant_id"])
    assert (changed["version"], changed["config"]) == (
        echo["version"] + 1,
        {"configurable": {"model": "from-env"}},
    )
    values = await get_client(url=server.url, api_key=None).runs.wait(None, "echo", input={"text": "x"})
    assert values["seen_configurable"]["model"] == "from-env"
    server.stop()
    server.start()


async def test_truncate_deletes_user_assistants_and_keeps_the_system_ones(server: ServerProcess) -> None:
    client = get_client(url=server.url, api_key=None)
    made = await client.assistants.create("echo")
    answer = await client.http.post("/internal/truncate", json={"assistants": True})
    assert answer["deleted"]["assistants"] >= 1
    with pytest.raises(NotFoundError):
        await client.assistants.get(made["assistant_id"])
    systems = await client.assistants.search(limit=100)
    assert systems and all(a["metadata"] == {"created_by": "system"} for a in systems)
    assert (await client.runs.wait(None, "echo", input={"text": "x"}))["text"] == "x"
