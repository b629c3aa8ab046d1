"""The long-term store as the server opens it (persistence/store.py), on SQLite and on Postgres.

Real stores, real files and databases: items round-trip, the TTL sweeper really deletes expired
items, semantic search ranks with the project's embedding function, a custom ``store.path`` is
used as given, and ``langgraph.json`` mistakes are reported by key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from helpers import wait_until
from runyard.graphs import ConfigError
from runyard.graphs.config import ProjectConfig, load_config
from runyard.persistence.store import delete_all_items, open_store, plan_store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EMBED = f"{EXAMPLES / 'embeddings.py'}:embed"
INDEX = {"embed": EMBED, "dims": 64, "fields": ["text"]}
FAST_SWEEP = {"sweep_interval_minutes": 0.005}  # every 0.3 s


def project(tmp_path: Path, store: dict[str, Any] | None = None) -> ProjectConfig:
    """A one-graph project whose langgraph.json has ``store`` as given."""
    (tmp_path / "graph.py").write_text(
        "from langgraph.graph import StateGraph\n"
        "from typing import TypedDict\n"
        "class S(TypedDict):\n    x: int\n"
        "b = StateGraph(S)\nb.add_node('n', lambda s: s)\nb.set_entry_point('n')\ngraph = b.compile()\n"
    )
    config: dict[str, Any] = {"graphs": {"g": "./graph.py:graph"}}
    if store is not None:
        config["store"] = store
    (tmp_path / "langgraph.json").write_text(json.dumps(config))
    return load_config(tmp_path / "langgraph.json")


def has_pgvector(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone() is not None
        )


Opener = Callable[[ProjectConfig], AbstractAsyncContextManager[BaseStore]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Open a project's store on the parametrised backend (the same file or database each call)."""
    database_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None

    def open_for(config: ProjectConfig) -> AbstractAsyncContextManager[BaseStore]:
        indexed = config.store is not None and config.store.index is not None
        if database_url is not None and indexed and not has_pgvector(database_url):
            pytest.skip("semantic search on Postgres needs pgvector, not installed on this server")
        return open_store(plan_store(config), database_url=database_url, sqlite_path=tmp_path / "store.db")

    return open_for


async def test_items_round_trip_and_namespaces_list(opener: Opener, tmp_path: Path) -> None:
    """put, get, search with a filter, list namespaces, delete: the BaseStore contract holds."""
    async with opener(project(tmp_path)) as store:
        await store.aput(("users", "u1"), "a", {"text": "hello", "n": 1})
        await store.aput(("users", "u2", "notes"), "b", {"text": "world", "n": 2})
        item = await store.aget(("users", "u1"), "a")
        assert item is not None and item.value == {"text": "hello", "n": 1}
        found = await store.asearch(("users",), filter={"n": 2})
        assert [(i.namespace, i.key) for i in found] == [(("users", "u2", "notes"), "b")]
        assert await store.alist_namespaces(prefix=("users",), max_depth=2) == [
            ("users", "u1"),
            ("users", "u2"),
        ]
        await store.adelete(("users", "u1"), "a")
        assert await store.aget(("users", "u1"), "a") is None


async def test_the_sweeper_deletes_expired_items(opener: Opener, tmp_path: Path) -> None:
    """An item put with a short ttl is deleted by the store's own sweeper; one without stays."""
    async with opener(project(tmp_path, {"ttl": FAST_SWEEP})) as store:
        await store.aput(("t",), "short", {"v": 1}, ttl=0.01)
        await store.aput(("t",), "forever", {"v": 2})

        async def keys() -> list[str]:
            return sorted(i.key for i in await store.asearch(("t",), refresh_ttl=False))

        assert await keys() == ["forever", "short"]
        # asearch does not hide expired rows on either backend: only a deletion removes it.
        await wait_until(lambda: _equals(keys(), ["forever"]), timeout=30, interval=0.1)


async def test_per_item_ttl_is_swept_without_a_ttl_section(opener: Opener, tmp_path: Path) -> None:
    """Without ``store.ttl`` the sweeper still runs (every 5 minutes), so a per-item ttl counts."""
    plan = plan_store(project(tmp_path))
    assert plan.ttl == {"sweep_interval_minutes": 5.0}
    async with opener(project(tmp_path)) as store:
        task = getattr(store, "_ttl_sweeper_task", None)
        assert task is not None and not task.done()


async def test_default_ttl_applies_to_items_put_without_one(opener: Opener, tmp_path: Path) -> None:
    """``store.ttl.default_ttl`` gives every new item an expiry; the sweeper then deletes it."""
    async with opener(project(tmp_path, {"ttl": {**FAST_SWEEP, "default_ttl": 0.01}})) as store:
        await store.aput(("d",), "k", {"v": 1})
        assert await store.aget(("d",), "k", refresh_ttl=False) is not None
        await wait_until(
            lambda: _equals(store.asearch(("d",), refresh_ttl=False), []), timeout=30, interval=0.1
        )


async def test_semantic_search_ranks_by_the_configured_embedding(opener: Opener, tmp_path: Path) -> None:
    """With ``store.index`` (a local ./embeddings.py:embed), a query ranks the closest text first."""
    async with opener(project(tmp_path, {"index": INDEX})) as store:
        await store.aput(("docs",), "fruit", {"text": "green apples and ripe pears"})
        await store.aput(("docs",), "cars", {"text": "a fast red car on the road"})
        await store.aput(("docs",), "mixed", {"text": "apples in the car"})
        found = await store.asearch(("docs",), query="apples pears")
        assert [i.key for i in found][:2] == ["fruit", "mixed"]
        assert found[0].score is not None and found[0].score > found[-1].score  # type: ignore[operator]


async def test_sqlite_items_survive_reopening(tmp_path: Path) -> None:
    """The SQLite store is a file: what one server wrote, the next one reads."""
    config = project(tmp_path, {"index": INDEX})
    async with open_store(plan_store(config), database_url=None, sqlite_path=tmp_path / "s.db") as store:
        await store.aput(("keep",), "k", {"text": "apples"})
    async with open_store(plan_store(config), database_url=None, sqlite_path=tmp_path / "s.db") as store:
        item = await store.aget(("keep",), "k")
        assert item is not None and item.value == {"text": "apples"}
        assert [i.key for i in await store.asearch(("keep",), query="apples")] == ["k"]


async def test_delete_all_items_empties_the_store(opener: Opener, tmp_path: Path) -> None:
    """Dev mode's truncation: every item goes, in pages, whatever the namespace."""
    async with opener(project(tmp_path)) as store:
        for n in range(7):
            await store.aput(("a", str(n % 3)), f"k{n}", {"n": n})
        assert await delete_all_items(store, page=3) == 7
        assert await store.asearch(()) == []


# -- custom stores and configuration mistakes -------------------------------------------------


CUSTOM = """
from contextlib import asynccontextmanager
from langgraph.store.memory import InMemoryStore

instance = InMemoryStore()

def factory():
    return instance

@asynccontextmanager
async def managed():
    yield instance

not_a_store = 42
"""


@pytest.mark.parametrize("attr", ["instance", "factory", "managed"])
async def test_a_custom_store_path_is_used_as_given(tmp_path: Path, attr: str) -> None:
    """``store.path`` may name a BaseStore, a factory, or an async context manager factory."""
    (tmp_path / "my_store.py").write_text(CUSTOM)
    config = project(tmp_path, {"path": f"./my_store.py:{attr}"})
    async with open_store(plan_store(config), database_url=None, sqlite_path=tmp_path / "unused.db") as store:
        assert isinstance(store, InMemoryStore)
        await store.aput(("x",), "k", {"v": 1})
    assert not (tmp_path / "unused.db").exists()


def test_a_custom_store_path_that_is_not_a_store_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "my_store.py").write_text(CUSTOM)
    with pytest.raises(ConfigError, match=r"store\.path: './my_store.py:not_a_store' is a int"):
        plan_store(project(tmp_path, {"path": "./my_store.py:not_a_store"}))


def test_a_missing_embedding_function_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"store\.index\.embed.*has no attribute 'nope'"):
        plan_store(project(tmp_path, {"index": {"embed": f"{EXAMPLES / 'embeddings.py'}:nope", "dims": 8}}))


def test_an_embedding_that_is_neither_a_spec_nor_a_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"store\.index\.embed: 'nonsense'"):
        plan_store(project(tmp_path, {"index": {"embed": "nonsense", "dims": 8}}))


def test_fractional_sweep_intervals_are_accepted(tmp_path: Path) -> None:
    plan = plan_store(project(tmp_path, {"ttl": {"sweep_interval_minutes": 0.5, "default_ttl": 2}}))
    assert plan.ttl == {"refresh_on_read": True, "default_ttl": 2, "sweep_interval_minutes": 0.5}


async def _equals(awaitable: Any, expected: Any) -> bool:
    return bool(await awaitable == expected)


async def test_a_query_without_an_index_lists_and_paging_edges_hold(opener: Opener, tmp_path: Path) -> None:
    """Without store.index a query is ignored (a listing); limit 0 and a far offset give nothing."""
    async with opener(project(tmp_path)) as store:
        await store.aput(("q",), "k", {"text": "apples"})
        assert [i.key for i in await store.asearch(("q",), query="apples")] == ["k"]
        assert await store.asearch(("q",), limit=0) == []
        assert await store.asearch(("q",), offset=2**31 - 1) == []
        assert await store.alist_namespaces(prefix=("q",), limit=0) == []


def test_runyard_serve_refuses_a_bad_store_section_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store.path or store.index.embed that cannot be loaded stops ``runyard serve`` with exit 2."""
    from runyard import cli

    config = project(tmp_path, {"index": {"embed": f"{EXAMPLES / 'embeddings.py'}:missing", "dims": 8}})
    code = cli.main(["serve", "--config", str(config.path), "--port", "1", "--data-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert "store.index.embed" in err and "'missing'" in err
