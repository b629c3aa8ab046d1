"""The long-term store through real HTTP, driven by the official langgraph-sdk ``store`` client.

A real ``runyard serve`` on SQLite and on Postgres, with a project whose ``store`` section has a
fast TTL sweep and (where the backend can) a semantic index on the local example embedding.
Every SDK store call, a graph that writes to the store, TTL expiry and refresh observed through
the API, bad input (4xx naming the problem, nothing lost), and a restart.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from helpers import wait_until

from .server import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SWEEP_MINUTES = 0.005  # the sweeper runs every 0.3 s
ITEM_KEYS = {"namespace", "key", "value", "created_at", "updated_at"}


def _has_pgvector(url: str) -> bool:
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    return found is not None


def _project(directory: Path, *, indexed: bool) -> Path:
    store: dict[str, Any] = {"ttl": {"sweep_interval_minutes": SWEEP_MINUTES, "refresh_on_read": True}}
    if indexed:
        store["index"] = {"embed": f"{EXAMPLES / 'embeddings.py'}:embed", "dims": 64, "fields": ["text"]}
    config = {
        "dependencies": [str(EXAMPLES)],
        "graphs": {"memory": f"{EXAMPLES / 'memory.py'}:graph"},
        "store": store,
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """This module's server: the memory graph, a fast TTL sweep, and an index where it can have one."""
    base = tmp_path_factory.mktemp("store")
    database_url = None
    if request.param == "postgres":
        database_url = request.getfixturevalue("module_postgres_url")
    indexed = database_url is None or _has_pgvector(database_url)
    proc = ServerProcess(
        base / "state", database_url=database_url, config=_project(base / "project", indexed=indexed)
    )
    proc.indexed = indexed  # type: ignore[attr-defined]
    proc.start()
    try:
        yield proc
    finally:
        proc.stop_cleanly()


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_client(url=server.url, api_key=None)


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as raw:
        yield raw


@pytest.fixture
def root() -> str:
    """A namespace root of this test's own, so tests sharing the server never see each other."""
    return f"t{uuid.uuid4().hex[:12]}"


async def _keys(client: Any, prefix: list[str], **kwargs: Any) -> list[str]:
    found = await client.store.search_items(prefix, limit=100, refresh_ttl=False, **kwargs)
    return sorted(item["key"] for item in found["items"])


# -- the SDK's calls ---------------------------------------------------------------------------


async def test_put_then_get_answers_the_item_in_langgraph_api_shape(client: Any, root: str) -> None:
    """put_item is 204; get_item answers namespace, key, value and UTC timestamps."""
    assert await client.store.put_item([root, "u1"], "k", {"text": "hello", "n": 1}) is None
    item = await client.store.get_item([root, "u1"], "k")
    assert set(item) == ITEM_KEYS
    assert (item["namespace"], item["key"], item["value"]) == ([root, "u1"], "k", {"text": "hello", "n": 1})
    created = datetime.fromisoformat(item["created_at"])
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert datetime.fromisoformat(item["updated_at"]) >= created


async def test_a_missing_item_is_null_as_in_langgraph_api(client: Any, root: str) -> None:
    """langgraph-api answers 200 ``null`` for an item that is not there; the SDK returns None."""
    assert await client.store.get_item([root], "nothing") is None


async def test_put_replaces_and_delete_removes(client: Any, root: str) -> None:
    await client.store.put_item([root], "k", {"v": 1})
    await client.store.put_item([root], "k", {"v": 2})
    assert (await client.store.get_item([root], "k"))["value"] == {"v": 2}
    assert await client.store.delete_item([root], "k") is None
    assert await client.store.get_item([root], "k") is None
    await client.store.delete_item([root], "k")  # deleting what is gone is fine, as in langgraph-api


async def test_search_by_prefix_filter_limit_and_offset(client: Any, root: str) -> None:
    """search_items: a prefix covers nested namespaces, a filter narrows, limit/offset page."""
    for n in range(5):
        await client.store.put_item(
            [root, "a" if n < 3 else "b", "deep"], f"k{n}", {"n": n, "even": n % 2 == 0}
        )
    await client.store.put_item([f"{root}x"], "outside", {"n": 0})  # shares a string prefix only
    assert await _keys(client, [root]) == ["k0", "k1", "k2", "k3", "k4"]
    assert await _keys(client, [root, "b"]) == ["k3", "k4"]
    assert await _keys(client, [root], filter={"even": True}) == ["k0", "k2", "k4"]
    assert await _keys(client, [root], filter={"n": {"$gte": 3}}) == ["k3", "k4"]
    first = await client.store.search_items([root], limit=2, offset=0)
    rest = await client.store.search_items([root], limit=10, offset=2)
    assert len(first["items"]) == 2 and len(rest["items"]) == 3
    assert {i["key"] for i in first["items"]} | {i["key"] for i in rest["items"]} == {
        f"k{n}" for n in range(5)
    }
    assert all(set(i) == ITEM_KEYS | {"score"} and i["score"] is None for i in first["items"])


async def test_search_with_a_query_ranks_by_the_configured_embedding(
    client: Any, server: ServerProcess, root: str
) -> None:
    """With store.index on the local embedding, the closest text comes first, with a score."""
    if not server.indexed:  # type: ignore[attr-defined]
        pytest.skip("semantic search on Postgres needs pgvector, not installed on this server")
    await client.store.put_item([root], "fruit", {"text": "green apples and ripe pears"})
    await client.store.put_item([root], "cars", {"text": "a fast red car on the road"})
    await client.store.put_item([root], "mixed", {"text": "apples in the car"})
    await client.store.put_item([root], "hidden", {"text": "apples pears apples"}, index=False)
    await client.store.put_item(
        [root], "titled", {"text": "nothing", "title": "apples pears"}, index=["title"]
    )
    found = (await client.store.search_items([root], query="apples pears", limit=10))["items"]
    keys = [item["key"] for item in found]
    assert keys[0] in ("fruit", "titled") and set(keys[:2]) == {"fruit", "titled"}
    assert "hidden" not in keys  # index=False: stored, not searchable by meaning
    assert found[0]["score"] > found[-1]["score"]
    assert (await client.store.get_item([root], "hidden"))["value"]["text"] == "apples pears apples"


async def test_list_namespaces_with_prefix_suffix_depth_limit_offset(client: Any, root: str) -> None:
    for namespace in ([root, "a", "x"], [root, "a", "y"], [root, "b", "x"], [root, "c"]):
        await client.store.put_item(namespace, "k", {"v": 1})
    listed = await client.store.list_namespaces(prefix=[root])
    assert listed == {"namespaces": [[root, "a", "x"], [root, "a", "y"], [root, "b", "x"], [root, "c"]]}
    assert (await client.store.list_namespaces(prefix=[root], suffix=["x"]))["namespaces"] == [
        [root, "a", "x"],
        [root, "b", "x"],
    ]
    assert (await client.store.list_namespaces(prefix=[root], max_depth=2))["namespaces"] == [
        [root, "a"],
        [root, "b"],
        [root, "c"],
    ]
    page = await client.store.list_namespaces(prefix=[root], limit=2, offset=1)
    assert page["namespaces"] == [[root, "a", "y"], [root, "b", "x"]]


# -- TTL -----------------------------------------------------------------------------------------


async def test_items_expire_unless_reads_refresh_them(client: Any, root: str) -> None:
    """Past its ttl an item is swept; reads with refresh_ttl (get, search) keep one alive."""
    ttl = 0.1  # minutes: 6 s
    await client.store.put_item([root, "get"], "kept_by_get", {"v": 1}, ttl=ttl)
    await client.store.put_item([root, "search"], "kept_by_search", {"v": 2}, ttl=ttl)
    await client.store.put_item([root, "idle"], "left_alone", {"v": 3}, ttl=ttl)
    await client.store.put_item([root, "idle"], "no_ttl", {"v": 4})
    loop = asyncio.get_running_loop()
    until = loop.time() + 9  # 1.5 ttl: the idle one must be gone, the refreshed ones not
    while loop.time() < until:
        assert await client.store.get_item([root, "get"], "kept_by_get", refresh_ttl=True) is not None
        found = await client.store.search_items([root, "search"], refresh_ttl=True)
        assert [i["key"] for i in found["items"]] == ["kept_by_search"]
        await asyncio.sleep(0.5)
    await wait_until(lambda: _equals(_keys(client, [root, "idle"]), ["no_ttl"]), timeout=30, interval=0.2)
    assert await client.store.get_item([root, "idle"], "left_alone", refresh_ttl=False) is None
    # Reads without refresh leave the clock running: both go within their ttl and the sweep.
    await wait_until(lambda: _equals(_keys(client, [root]), ["no_ttl"]), timeout=30, interval=0.2)


# -- the store seen by graphs --------------------------------------------------------------------


async def test_what_a_graph_writes_the_api_reads_and_back(client: Any, root: str) -> None:
    """The memory graph writes through Runtime.store; the API reads it; the graph reads the API's."""
    user = root
    result = await client.runs.wait(
        None, "memory", input={"fact": "likes tea", "key": "tea"}, context={"user_id": user}
    )
    assert result["memories"] == [{"key": "tea", "text": "likes tea", "score": None}]
    item = await client.store.get_item(["memories", user], "tea")
    assert item["value"] == {"text": "likes tea"}
    await client.store.put_item(["memories", user], "city", {"text": "lives in Lisbon"})
    thread = await client.threads.create()
    recalled = await client.runs.wait(thread["thread_id"], "memory", input={}, context={"user_id": user})
    assert sorted(m["text"] for m in recalled["memories"]) == ["likes tea", "lives in Lisbon"]


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"namespace": ["a.b"], "key": "k", "value": {}}, "'a.b' must not contain a period"),
        ({"namespace": ["ok", ""], "key": "k", "value": {}}, "labels must not be empty"),
        ({"namespace": [], "key": "k", "value": {}}, "at least one label"),
        ({"namespace": ["langgraph", "x"], "key": "k", "value": {}}, "must not be 'langgraph'"),
        ({"namespace": ["ok"], "key": "k", "value": [1, 2]}, "value"),
        ({"namespace": ["ok"], "key": "k", "value": {}, "ttl": -1}, "ttl"),
        ({"namespace": ["ok"], "key": "k", "value": {}, "index": True}, "index"),
        ({"namespace": ["ok"], "value": {}}, "key"),
        ({"namespace": ["ok"], "key": "k", "value": {}, "colour": "red"}, "colour"),
    ],
)
def test_a_bad_put_is_a_422_naming_the_problem(http: httpx.Client, body: dict[str, Any], named: str) -> None:
    answer = http.put("/store/items", json=body)
    assert answer.status_code == 422, answer.text
    assert named in answer.text


def test_bad_reads_and_deletes_are_4xx_naming_the_problem(http: httpx.Client, root: str) -> None:
    """GET, DELETE, search and namespaces refuse bad namespaces, keys and paging; nothing is lost."""
    http.put("/store/items", json={"namespace": [root], "key": "k", "value": {"v": 1}}).raise_for_status()
    cases: list[tuple[httpx.Response, int, str]] = [
        (http.get("/store/items", params={"namespace": f"{root}..x", "key": "k"}), 422, "must not be empty"),
        (http.get("/store/items", params={"namespace": "", "key": "k"}), 422, "must not be empty"),
        (http.get("/store/items", params={"namespace": root}), 400, "key is required"),
        (
            http.get("/store/items", params={"namespace": root, "key": "k", "refresh_ttl": "maybe"}),
            422,
            "refresh_ttl",
        ),
        (http.request("DELETE", "/store/items", json={"key": "k"}), 422, "at least one label"),
        (http.request("DELETE", "/store/items", json={"namespace": ["a.b"], "key": "k"}), 422, "period"),
        (http.post("/store/items/search", json={"namespace_prefix": ["a.b"]}), 422, "period"),
        (http.post("/store/items/search", json={"namespace_prefix": [root], "limit": -1}), 422, "limit"),
        (
            http.post("/store/items/search", json={"namespace_prefix": [root], "filter": {"a'b": 1}}),
            422,
            "a'b",
        ),
        (http.post("/store/items/search", json={"filter": {"n": {"$regex": "x"}}}), 422, "$regex"),
        (http.post("/store/namespaces", json={"prefix": [""]}), 422, "must not be empty"),
        (http.post("/store/namespaces", json={"suffix": ["x.y"]}), 422, "period"),
        (http.post("/store/namespaces", json={"max_depth": 0}), 422, "max_depth"),
    ]
    for answer, status, named in cases:
        assert answer.status_code == status, (answer.request.url, answer.request.content, answer.text)
        assert named in answer.text, answer.text
    kept = http.get("/store/items", params={"namespace": root, "key": "k"}).json()
    assert kept["value"] == {"v": 1}


async def test_the_sdk_refuses_a_dotted_label_before_sending(client: Any) -> None:
    with pytest.raises(ValueError, match="periods"):
        await client.store.put_item(["a.b"], "k", {})


# -- truncation and restarts ----------------------------------------------------------------------


async def test_truncate_store_wipes_every_item(client: Any, server: ServerProcess, root: str) -> None:
    await client.store.put_item([root, "a"], "k1", {"v": 1})
    await client.store.put_item([root, "b"], "k2", {"v": 2})
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        answer = (await http.post("/internal/truncate", json={"store": True})).raise_for_status().json()
    assert answer["deleted"]["store_items"] >= 2
    assert (await client.store.search_items([], limit=100))["items"] == []


async def test_items_survive_a_server_restart(client: Any, server: ServerProcess, root: str) -> None:
    """Items, and their index, are durable: a restarted server reads what the last one stored."""
    await client.store.put_item([root], "durable", {"text": "green apples"})
    server.stop_cleanly()
    server.start()
    fresh = get_client(url=server.url, api_key=None)
    assert (await fresh.store.get_item([root], "durable"))["value"] == {"text": "green apples"}
    if server.indexed:  # type: ignore[attr-defined]
        found = await fresh.store.search_items([root], query="apples")
        assert [i["key"] for i in found["items"]] == ["durable"]


async def _equals(awaitable: Any, expected: Any) -> bool:
    return bool(await awaitable == expected)
