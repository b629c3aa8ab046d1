"""Dev mode's ``POST /internal/truncate``, ``POST /runs/batch`` and ``LANGGRAPH_CONFIG``, through a real
server on SQLite and on Postgres, driven by the official SDK where it has a method for it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError, UnprocessableEntityError

from runyard.graphs import assistant_id_for

from .server import ServerProcess

ASSISTANT_CONFIG = {"configurable": {"model": "from-env", "user_name": "env-user"}, "tags": ["from-env"]}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dev_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """The example graphs in dev mode, with LANGGRAPH_CONFIG giving the echo assistant a config."""
    database_url = request.getfixturevalue("module_postgres_url") if request.param == "postgres" else None
    server = ServerProcess(tmp_path_factory.mktemp("dev"), database_url=database_url)
    server.start(env={"LANGGRAPH_CONFIG": json.dumps({"echo": ASSISTANT_CONFIG})})
    yield server
    server.stop_cleanly()


@pytest.fixture
def client(dev_server: ServerProcess) -> Any:
    return get_client(url=dev_server.url, api_key=None)


async def _truncate(client: Any, **flags: bool) -> dict[str, Any]:
    answer: dict[str, Any] = await client.http.post("/internal/truncate", json=flags)
    return answer


async def _until_active(client: Any, thread_id: str, run_id: str, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await client.runs.get(thread_id, run_id))["status"] != "running":
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} did not start within {timeout}s")
        await asyncio.sleep(0.05)


# -- LANGGRAPH_CONFIG --------------------------------------------------------------------------


async def test_the_system_assistant_carries_langgraph_config(client: Any) -> None:
    """The echo assistant's config is its LANGGRAPH_CONFIG entry; a graph without one has {}."""
    echo = await client.assistants.get(assistant_id_for("echo"))
    assert echo["config"] == ASSISTANT_CONFIG
    assert (await client.assistants.get(assistant_id_for("slow")))["config"] == {}


async def test_the_assistants_configurable_reaches_the_run_but_not_its_context(client: Any) -> None:
    """A run gets the assistant's configurable and tags; Runtime.context stays the run's own."""
    values = await client.runs.wait(None, "echo", input={"text": "x"})
    assert values["seen_configurable"]["model"] == "from-env"
    assert values["seen_configurable"]["user_name"] == "env-user"
    assert values["seen_context"] == {"user_name": "anonymous", "tone": "plain"}
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "echo", input={"text": "x"})
    assert run["kwargs"]["config"]["tags"] == ["from-env"]


async def test_the_runs_config_wins_over_the_assistants(client: Any) -> None:
    """Run configurable keys override the assistant's one by one; a run's top-level key replaces it."""
    thread = await client.threads.create()
    run = await client.runs.create(
        thread["thread_id"],
        "echo",
        input={"text": "x"},
        config={"configurable": {"model": "from-run"}, "tags": ["from-run"]},
    )
    values = await client.runs.join(thread["thread_id"], run["run_id"])
    assert values["seen_configurable"]["model"] == "from-run"
    assert values["seen_configurable"]["user_name"] == "env-user"
    assert run["kwargs"]["config"]["tags"] == ["from-run"]


async def test_a_run_with_context_still_gets_the_assistants_configurable(client: Any) -> None:
    """context fills Runtime.context and configurable; the assistant's other keys stay underneath."""
    values = await client.runs.wait(None, "echo", input={"text": "x"}, context={"user_name": "ctx"})
    assert values["seen_context"]["user_name"] == "ctx"
    assert values["seen_configurable"]["user_name"] == "ctx"
    assert values["seen_configurable"]["model"] == "from-env"


# -- /runs/batch -------------------------------------------------------------------------------


async def test_create_batch_creates_stateless_runs_in_order(client: Any) -> None:
    """runs.create_batch answers one Run per payload, in order, each on its own temporary thread."""
    runs = await client.runs.create_batch(
        [{"assistant_id": "echo", "input": {"text": "a"}}, {"assistant_id": "echo", "input": {"text": "b"}}]
    )
    assert len(runs) == 2
    assert runs[0]["thread_id"] != runs[1]["thread_id"]
    assert {run["status"] for run in runs} <= {"pending", "running", "success"}
    joined = [await client.runs.join(run["thread_id"], run["run_id"]) for run in runs]
    assert [values["text"] for values in joined] == ["a", "b"]


async def test_one_bad_payload_refuses_the_whole_batch(client: Any) -> None:
    """An unknown graph in the second payload is a 404 and the first run is never created."""
    before = await client.threads.count(metadata={"temporary": True})
    with pytest.raises(NotFoundError, match="nope"):
        await client.runs.create_batch([{"assistant_id": "slow", "input": {}}, {"assistant_id": "nope"}])
    assert await client.threads.count(metadata={"temporary": True}) == before


async def test_a_batch_is_a_non_empty_list_of_stateless_payloads(dev_server: ServerProcess) -> None:
    """An empty batch and a payload naming a thread_id are both refused with 422."""
    async with httpx.AsyncClient(base_url=dev_server.url) as http:
        assert (await http.post("/runs/batch", json=[])).status_code == 422
        refused = await http.post("/runs/batch", json=[{"assistant_id": "echo", "thread_id": "t"}])
        assert refused.status_code == 422 and "thread_id" in refused.text


# -- /internal/truncate ------------------------------------------------------------------------


async def test_truncate_wipes_runs_threads_and_checkpoints_and_keeps_assistants(client: Any) -> None:
    """With no flags everything goes, a running run included (cancelled first); assistants stay."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "echo", input={"text": "kept?"})
    (stateless,) = await client.runs.create_batch([{"assistant_id": "echo", "input": {"text": "s"}}])
    await client.runs.join(stateless["thread_id"], stateless["run_id"])
    busy = await client.threads.create()
    running = await client.runs.create(busy["thread_id"], "slow", input={"delay": 5})
    await _until_active(client, busy["thread_id"], running["run_id"])

    answer = await _truncate(client)

    assert answer["ok"] is True
    assert answer["deleted"]["runs"] >= 3
    assert await client.threads.search(limit=100) == []
    for run_thread, run_id in (
        (stateless["thread_id"], stateless["run_id"]),
        (busy["thread_id"], running["run_id"]),
    ):
        with pytest.raises(NotFoundError):
            await client.runs.get(run_thread, run_id)
    await client.threads.create(thread_id=tid, graph_id="echo")
    assert (await client.threads.get_state(tid))["checkpoint"] is None
    graphs = {a["graph_id"] for a in await client.assistants.search(limit=100)}
    assert {"echo", "slow", "chat"} <= graphs
    values = await client.runs.wait(tid, "echo", input={"text": "after"})
    assert values["text"] == "after"


async def test_truncate_flags_choose_what_goes(client: Any) -> None:
    """runs, then checkpointer, then threads: each flag wipes its own part and leaves the rest."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "echo", input={"text": "x"})

    await _truncate(client, runs=True)
    assert await client.runs.list(tid) == []
    assert (await client.threads.get_state(tid))["values"]["text"] == "x"

    await _truncate(client, checkpointer=True)
    assert (await client.threads.get(tid))["thread_id"] == tid
    assert (await client.threads.get_state(tid))["checkpoint"] is None

    await _truncate(client, threads=True, assistants=True)
    with pytest.raises(NotFoundError):
        await client.threads.get(tid)


async def test_truncate_refuses_an_unknown_flag(client: Any) -> None:
    """A key langgraph-api's truncate does not take is a 422 that names it."""
    with pytest.raises(UnprocessableEntityError) as refused:
        await _truncate(client, everything=True)
    assert "everything" in str(refused.value.body)
