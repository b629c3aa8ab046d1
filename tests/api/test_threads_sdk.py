"""The thread resource through real HTTP, driven by the official langgraph-sdk ``threads`` client.

Every call of the SDK's threads client runs here against a real ``runyard serve`` on SQLite and
on Postgres (``threads.stream``, the protocol-v2 session, excepted; ``join_stream`` and raw SSE
cover ``GET /threads/{id}/stream``). The module's server sweeps thread ttls every 0.6 s, so an
expiry is seen within seconds.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
)

from helpers import wait_until

from .server import ServerProcess

SWEEP_MINUTES = 0.01  # 0.6 s between ttl sweeps
DEADLINE = 30.0


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """This module's server: the shared fixture's, plus a fast thread ttl sweep."""
    data_dir: Path = tmp_path_factory.mktemp("runyard-threads")
    database_url = request.getfixturevalue("module_postgres_url") if request.param == "postgres" else None
    proc = ServerProcess(data_dir, database_url=database_url)
    proc.start(env={"LANGGRAPH_THREAD_TTL": json.dumps({"sweep_interval_minutes": SWEEP_MINUTES})})
    try:
        yield proc
    finally:
        proc.stop_cleanly()


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_client(url=server.url, api_key=None)


def _contents(values: dict[str, Any]) -> list[str]:
    return [m["content"] for m in values["messages"]]


def _hi() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hi"}]}


async def _until(check: Any, what: str, timeout: float = DEADLINE) -> Any:
    """Await ``check()`` until it returns something truthy; fail at the deadline."""
    result: Any = await wait_until(check, timeout, interval=0.05, message=f"{what}: not within {timeout}s")
    return result


# -- create, get, update, delete ----------------------------------------------------------------


async def test_create_get_update_delete(client: Any) -> None:
    """A thread is created with an id and metadata, read back, merged into, and deleted."""
    thread_id = str(uuid.uuid4())
    created = await client.threads.create(
        thread_id=thread_id, metadata={"a": 1, "b": 2}, graph_id="bench_fast"
    )
    assert created["thread_id"] == thread_id and created["status"] == "idle"
    assert created["metadata"] == {"a": 1, "b": 2, "graph_id": "bench_fast"}
    assert created["values"] is None and created["interrupts"] == {} and "ttl" not in created
    assert await client.threads.get(thread_id) == created
    updated = await client.threads.update(thread_id, metadata={"b": 3, "c": 4})
    assert updated["metadata"] == {"a": 1, "b": 3, "c": 4, "graph_id": "bench_fast"}
    assert await client.threads.update(thread_id, metadata={"d": 5}, return_minimal=True) is None
    assert (await client.threads.get(thread_id))["metadata"]["d"] == 5
    await client.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        await client.threads.delete(thread_id)


async def test_delete_takes_the_runs_and_checkpoints_with_it(client: Any) -> None:
    thread_id = str(uuid.uuid4())
    await client.threads.create(thread_id=thread_id)
    await client.runs.wait(thread_id, "bench_fast", input=_hi())
    await client.threads.delete(thread_id)
    await client.threads.create(thread_id=thread_id)  # the same id, a clean slate
    assert await client.runs.list(thread_id) == []
    assert (await client.threads.get_state(thread_id))["checkpoint"] is None
    assert await client.threads.get_history(thread_id) == []


async def test_if_exists_raise_is_409_naming_the_id_and_do_nothing_returns_it(client: Any) -> None:
    thread = await client.threads.create(metadata={"first": True})
    with pytest.raises(ConflictError) as caught:
        await client.threads.create(thread_id=thread["thread_id"], if_exists="raise")
    assert thread["thread_id"] in str(caught.value.response.json()["detail"])
    again = await client.threads.create(
        thread_id=thread["thread_id"], if_exists="do_nothing", metadata={"x": 1}
    )
    assert again == thread


# -- search and count ---------------------------------------------------------------------------


async def test_search_and_count_by_every_filter(client: Any) -> None:
    tag = str(uuid.uuid4())
    threads = [await client.threads.create(metadata={"tag": tag, "n": n}) for n in range(3)]
    ids = [t["thread_id"] for t in threads]
    await client.runs.wait(ids[0], "bench_fast", input=_hi())
    found = await client.threads.search(metadata={"tag": tag}, limit=10)
    assert sorted(t["thread_id"] for t in found) == sorted(ids)
    assert [
        t["thread_id"] for t in await client.threads.search(ids=ids[1:], metadata={"tag": tag})
    ] == sorted(ids[1:], key=lambda i: ids.index(i), reverse=True)
    assert [
        t["thread_id"]
        for t in await client.threads.search(
            values={"messages": [{"content": "step 3"}]}, metadata={"tag": tag}
        )
    ] == [ids[0]]
    asc = await client.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc", limit=2)
    assert [t["thread_id"] for t in asc] == ids[:2]
    page = await client.threads.search(
        metadata={"tag": tag}, sort_by="created_at", sort_order="asc", offset=2
    )
    assert [t["thread_id"] for t in page] == ids[2:]
    idle = await client.threads.search(metadata={"tag": tag}, status="idle")
    assert len(idle) == 3
    selected = await client.threads.search(metadata={"tag": tag}, select=["thread_id", "status"], limit=1)
    assert set(selected[0]) == {"thread_id", "status"}
    assert await client.threads.count(metadata={"tag": tag}) == 3
    assert await client.threads.count(metadata={"tag": tag}, status="busy") == 0
    assert await client.threads.count(metadata={"tag": tag}, values={"messages": [{"content": "hi"}]}) == 1


async def test_search_extracts_paths_and_pages_with_headers(server: ServerProcess, client: Any) -> None:
    tag = str(uuid.uuid4())
    tid = (await client.threads.create(metadata={"tag": tag, "owner": {"name": "ann"}}))["thread_id"]
    await client.threads.create(metadata={"tag": tag})
    await client.runs.wait(tid, "bench_fast", input=_hi())
    found = await client.threads.search(
        metadata={"tag": tag, "owner": {"name": "ann"}},
        select=["thread_id"],
        extract={
            "last": "values.messages[-1].content",
            "owner": "metadata.owner.name",
            "nothing": "values.x[3]",
        },
    )
    assert found == [{"thread_id": tid, "extracted": {"last": "step 3", "owner": "ann", "nothing": None}}]
    for extract in ({"thread_id": "values.x"}, {"x": "status"}, {"x": "values..y"}, {"bad-name": "values"}):
        with pytest.raises(UnprocessableEntityError):
            await client.threads.search(extract=extract)
    async with httpx.AsyncClient(base_url=server.url) as http:
        first = await http.post("/threads/search", json={"metadata": {"tag": tag}, "limit": 1})
        last = await http.post("/threads/search", json={"metadata": {"tag": tag}, "limit": 1, "offset": 1})
    assert first.headers["X-Pagination-Next"] == "1" and first.headers["X-Pagination-Total"] == "2"
    assert "X-Pagination-Next" not in last.headers and last.headers["X-Pagination-Total"] == "2"


async def test_search_refuses_an_unknown_sort_field_by_name(client: Any) -> None:
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.threads.search(sort_by="colour")
    assert "sort_by" in caught.value.response.text


# -- values, interrupts and status follow the runs ---------------------------------------------


async def test_thread_body_follows_its_runs(client: Any) -> None:
    """busy while a run works, interrupted with its interrupts, idle after, error when it fails."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"delay": 0.3})
    assert (await client.threads.get(tid))["status"] == "busy"
    await client.runs.join(tid, run["run_id"])
    await client.runs.wait(tid, "hitl", input={"topic": "tests"})
    stored = await client.threads.get(tid)
    assert stored["status"] == "interrupted"
    ((task_id, (interrupt,)),) = stored["interrupts"].items()
    assert (
        task_id == (await client.threads.get_state(tid))["tasks"][0]["id"]
    )  # keyed by task, as langgraph-api
    assert interrupt["value"]["draft"].startswith("A short note about tests")
    assert stored["values"]["draft"] == interrupt["value"]["draft"]
    await client.runs.wait(tid, "hitl", command={"resume": "approve"})
    stored = await client.threads.get(tid)
    assert stored["status"] == "idle" and stored["interrupts"] == {}
    assert stored["values"]["final"] == stored["values"]["draft"]
    failed = await client.threads.create()
    await client.runs.wait(failed["thread_id"], "fail", input={}, raise_error=False)
    assert (await client.threads.get(failed["thread_id"]))["status"] == "error"


# -- state and history, time travel -------------------------------------------------------------


async def test_state_history_and_a_run_from_an_earlier_checkpoint(server: ServerProcess, client: Any) -> None:
    """History, the state at a checkpoint (each way the SDK asks), an update there, a fork from it."""
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    state = await client.threads.get_state(tid)
    assert _contents(state["values"]) == ["hi", "step 1", "step 2", "step 3"] and state["next"] == []
    history = await client.threads.get_history(tid, limit=100)
    assert history[0]["checkpoint"] == state["checkpoint"]
    after_step_1 = next(h for h in history if _contents(h["values"]) == ["hi", "step 1"])
    cid = after_step_1["checkpoint"]["checkpoint_id"]
    assert len(await client.threads.get_history(tid, limit=2)) == 2
    older = await client.threads.get_history(tid, before=state["checkpoint"]["checkpoint_id"], limit=100)
    assert older == history[1:]
    assert await client.threads.get_history(tid, before=state["checkpoint"], limit=100) == history[1:]
    loops = await client.threads.get_history(tid, metadata={"source": "loop"}, limit=100)
    assert loops and all(h["metadata"]["source"] == "loop" for h in loops)
    assert await client.threads.get_history(tid, checkpoint={"checkpoint_ns": ""}, limit=100) == history
    by_id = await client.threads.get_state(tid, checkpoint_id=cid)
    by_checkpoint = await client.threads.get_state(tid, checkpoint=after_step_1["checkpoint"])
    assert by_id["values"] == by_checkpoint["values"] == after_step_1["values"]
    assert by_id["next"] == ["step_2"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        raw = await http.get(
            f"/threads/{tid}/history", params={"limit": 100, "before": state["checkpoint"]["checkpoint_id"]}
        )
        latest = await http.get(f"/threads/{tid}/history")  # langgraph-api's default limit: 1
    assert raw.status_code == 200 and raw.json() == history[1:]
    assert latest.json() == history[:1]

    updated = await client.threads.update_state(
        tid, {"messages": [{"role": "user", "content": "edited"}]}, as_node="step_1", checkpoint_id=cid
    )
    assert updated["checkpoint"]["thread_id"] == tid and updated["checkpoint"]["checkpoint_id"]
    forked = await client.runs.wait(tid, "bench_fast", input=None, checkpoint=updated["checkpoint"])
    assert _contents(forked) == ["hi", "step 1", "edited", "step 2", "step 3"]
    assert _contents((await client.threads.get(tid))["values"]) == _contents(forked)
    assert len(await client.threads.get_history(tid, limit=100)) > len(history)


async def test_select_trims_states_and_searches(client: Any) -> None:
    """The SDK's select: state fields, one state key (values.<key>), search columns; unknown is 422."""
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    state = await client.threads.get_state(tid, select=["values.messages", "next"])
    assert set(state) == {"values", "next"} and _contents(state["values"])[-1] == "step 3"
    full = await client.threads.get_state(tid)
    at = await client.threads.get_state(tid, checkpoint=full["checkpoint"], select=["checkpoint"])
    assert at == {"checkpoint": full["checkpoint"]}
    history = await client.threads.get_history(tid, limit=2, select=["checkpoint", "metadata"])
    assert len(history) == 2 and all(set(h) == {"checkpoint", "metadata"} for h in history)
    with pytest.raises(UnprocessableEntityError):
        await client.threads.get_state(tid, select=["colour"])
    with pytest.raises(UnprocessableEntityError):
        await client.threads.search(select=["colour"])


async def test_update_state_moves_the_thread_body_and_checkpoint(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "hitl", input={"topic": "a"})
    answer = await client.threads.update_state(tid, {"draft": "by hand"})
    state = await client.threads.get_state(tid)
    assert state["checkpoint"]["checkpoint_id"] == answer["checkpoint"]["checkpoint_id"]
    thread = await client.threads.get(tid)
    assert thread["values"]["draft"] == "by hand" and thread["status"] == "interrupted"


async def test_state_of_subgraphs(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "subgraph", input={})
    assert (await client.threads.get_state(tid, subgraphs=True))["checkpoint"]["thread_id"] == tid


async def test_state_update_refusals_name_the_problem(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    with pytest.raises(NotFoundError):  # no graph yet
        await client.threads.update_state(tid, {"draft": "x"})
    await client.runs.wait(tid, "hitl", input={"topic": "a"})
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.threads.update_state(tid, {"draft": "x"}, as_node="nowhere")
    assert "nowhere" in caught.value.response.text and "review" in caught.value.response.text
    run = await client.runs.create(tid, "slow", input={"delay": 0.5}, multitask_strategy="enqueue")
    with pytest.raises(ConflictError):
        await client.threads.update_state(tid, {"draft": "x"})
    await client.runs.join(tid, run["run_id"])


async def test_malformed_and_unknown_checkpoints_are_4xx(server: ServerProcess, client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    with pytest.raises(NotFoundError):
        await client.threads.get_state(tid, checkpoint_id=str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        await client.threads.get_state(tid, checkpoint={"checkpoint_id": str(uuid.uuid4())})
    async with httpx.AsyncClient(base_url=server.url) as http:
        for response in [
            await http.get(f"/threads/{tid}/state/not-a-checkpoint"),
            await http.post(f"/threads/{tid}/state/checkpoint", json={"checkpoint": {"checkpoint_id": 5}}),
            await http.post(f"/threads/{tid}/state/checkpoint", json={"checkpoint": "nope"}),
            await http.post(f"/threads/{tid}/history", json={"before": {"checkpoint_id": []}}),
            await http.post(f"/threads/{tid}/state", json={"values": {}, "checkpoint": {"bogus": 1}}),
        ]:
            assert response.status_code == 422, response.text
    for call in (
        client.threads.get(str(uuid.uuid4())),
        client.threads.update(str(uuid.uuid4()), metadata={}),
        client.threads.get_state(str(uuid.uuid4())),
        client.threads.get_history(str(uuid.uuid4())),
        client.threads.copy(str(uuid.uuid4())),
    ):
        with pytest.raises(NotFoundError):
            await call


# -- copy and prune -----------------------------------------------------------------------------


async def test_copy_carries_checkpoints_and_a_run_continues_on_the_copy(client: Any) -> None:
    source = (await client.threads.create(metadata={"kind": "original"}))["thread_id"]
    await client.runs.wait(source, "hitl", input={"topic": "copying"})
    copied = await client.threads.copy(source)
    copy_id = copied["thread_id"]
    assert copy_id != source and copied["metadata"]["kind"] == "original"
    original = await client.threads.get(source)
    assert copied["values"] == original["values"] and copied["status"] == "interrupted"
    source_history = await client.threads.get_history(source, limit=100)
    copy_history = await client.threads.get_history(copy_id, limit=100)
    assert [h["values"] for h in copy_history] == [h["values"] for h in source_history]
    assert {h["checkpoint"]["thread_id"] for h in copy_history} == {copy_id}
    result = await client.runs.wait(copy_id, "hitl", command={"resume": "a new ending"})
    assert result["final"] == "a new ending"
    assert (await client.threads.get(source))["status"] == "interrupted"
    assert (await client.threads.get_state(source))["next"] == ["review"]


async def test_prune_delete_removes_threads_and_skips_unknown_ids(client: Any) -> None:
    ids = [(await client.threads.create())["thread_id"] for _ in range(2)]
    await client.runs.wait(ids[0], "bench_fast", input=_hi())
    result = await client.threads.prune([*ids, str(uuid.uuid4())])
    assert result == {"pruned_count": 2}
    for thread_id in ids:
        with pytest.raises(NotFoundError):
            await client.threads.get(thread_id)
    assert await client.threads.prune([]) == {"pruned_count": 0}


async def test_prune_keep_latest_keeps_the_thread_and_its_state(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    before = await client.threads.get_state(tid)
    assert len(await client.threads.get_history(tid, limit=100)) > 1
    assert await client.threads.prune([tid], strategy="keep_latest") == {"pruned_count": 1}
    history = await client.threads.get_history(tid, limit=100)
    assert len(history) == 1 and history[0]["values"] == before["values"]
    again = await client.runs.wait(
        tid, "bench_fast", input={"messages": [{"role": "user", "content": "more"}]}
    )
    assert _contents(again)[-4:] == ["more", "step 1", "step 2", "step 3"] and len(_contents(again)) == 8


async def test_prune_refuses_bad_ids_and_strategies(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        bad_id = await http.post("/threads/prune", json={"thread_ids": ["not-a-uuid"]})
        assert bad_id.status_code == 422 and "not-a-uuid" in bad_id.text
        bad_strategy = await http.post("/threads/prune", json={"thread_ids": [], "strategy": "archive"})
        assert bad_strategy.status_code == 422 and "strategy" in bad_strategy.text
        missing = await http.post("/threads/prune", json={})
        assert missing.status_code == 422 and "thread_ids" in missing.text


# -- ttl ------------------------------------------------------------------------------------------


async def test_a_thread_with_an_expired_ttl_is_swept_with_its_runs(client: Any) -> None:
    tid = (await client.threads.create(ttl=SWEEP_MINUTES))["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    shown = await client.threads.get(tid, include=["ttl"])
    assert shown["ttl"]["strategy"] == "delete" and shown["ttl"]["ttl_minutes"] == SWEEP_MINUTES
    assert shown["ttl"]["expires_at"] > shown["created_at"]

    async def gone() -> bool:
        try:
            await client.threads.get(tid)
        except NotFoundError:
            return True
        return False

    await _until(gone, "the expired thread to be swept")
    await client.threads.create(thread_id=tid)  # the same id again: no run or checkpoint is left
    assert await client.runs.list(tid) == []
    assert await client.threads.get_history(tid) == []


async def test_keep_latest_ttl_prunes_history_and_keeps_the_thread(client: Any) -> None:
    tid = (await client.threads.create(ttl={"ttl": 60, "strategy": "keep_latest"}))["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    assert len(await client.threads.get_history(tid, limit=100)) > 1
    patched = await client.threads.update(
        tid, metadata={}, ttl={"ttl": SWEEP_MINUTES, "strategy": "keep_latest"}
    )
    assert "ttl" not in patched

    async def pruned() -> bool:
        return len(await client.threads.get_history(tid, limit=100)) == 1

    await _until(pruned, "the keep_latest sweep")
    thread = await client.threads.get(tid, include=["ttl"])
    assert _contents(thread["values"]) == ["hi", "step 1", "step 2", "step 3"]
    assert thread["ttl"]["strategy"] == "keep_latest"


async def test_bad_ttls_are_422(server: ServerProcess, client: Any) -> None:
    for ttl in (0, -1, {"ttl": 5, "strategy": "archive"}, {"strategy": "delete"}):
        with pytest.raises(UnprocessableEntityError):
            await client.threads.create(ttl=ttl)
    with pytest.raises(UnprocessableEntityError):
        await client.threads.get(str(uuid.uuid4()), include=["colour"])


# -- supersteps -----------------------------------------------------------------------------------


async def test_create_with_supersteps_seeds_the_state(client: Any) -> None:
    thread = await client.threads.create(
        graph_id="bench_fast",
        supersteps=[
            # As a copied thread's history reads: the input, its start, then a node's write.
            {
                "updates": [
                    {"values": {"messages": [{"role": "user", "content": "seed"}]}, "as_node": "__input__"}
                ]
            },
            {
                "updates": [
                    {"values": {"messages": [{"role": "user", "content": "seed"}]}, "as_node": "__start__"}
                ]
            },
            {
                "updates": [
                    {"values": {"messages": [{"role": "ai", "content": "step 1"}]}, "as_node": "step_1"}
                ]
            },
        ],
    )
    tid = thread["thread_id"]
    assert _contents(thread["values"]) == ["seed", "step 1"]
    state = await client.threads.get_state(tid)
    assert state["next"] == ["step_2"]
    assert len(await client.threads.get_history(tid, limit=100)) >= 2
    result = await client.runs.wait(tid, "bench_fast", input=None)
    assert _contents(result) == ["seed", "step 1", "step 2", "step 3"]


async def test_bad_supersteps_create_no_thread(client: Any) -> None:
    tid = str(uuid.uuid4())
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.threads.create(
            thread_id=tid,
            graph_id="bench_fast",
            supersteps=[{"updates": [{"values": {"messages": []}, "as_node": "nowhere"}]}],
        )
    assert "nowhere" in caught.value.response.text
    with pytest.raises(BadRequestError):  # no graph to apply them with
        await client.threads.create(thread_id=tid, supersteps=[{"updates": [{"values": {}, "as_node": "x"}]}])
    with pytest.raises(NotFoundError):
        await client.threads.get(tid)


# -- the thread stream ----------------------------------------------------------------------------


def _frames(text: str) -> list[dict[str, Any]]:
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if line.startswith(":") or ": " not in line:
                continue
            name, value = line.split(": ", 1)
            fields[name] = json.loads(value) if name == "data" else value
        if "event" in fields:
            frames.append(fields)
    return frames


class _SseReader:
    """Reads one raw SSE response in the background; ``frames`` grows as events arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.text = ""
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for chunk in self.response.aiter_text():
            self.text += chunk

    @property
    def frames(self) -> list[dict[str, Any]]:
        return _frames(self.text[: self.text.rfind("\r\n\r\n") + 4])

    async def until(self, check: Any, what: str) -> list[dict[str, Any]]:
        async def ready() -> bool:
            if self.task.done():
                self.task.result()
            return bool(check(self.frames))

        await _until(ready, what)
        return self.frames


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=DEADLINE) as opened:
        yield opened


def _done(frames: list[dict[str, Any]]) -> list[str]:
    return [
        f["data"]["run_id"]
        for f in frames
        if f["event"] == "metadata" and f["data"].get("status") == "run_done"
    ]


async def test_thread_stream_carries_two_runs_and_a_state_update_then_resumes(
    client: Any, http: httpx.AsyncClient
) -> None:
    tid = (await client.threads.create())["thread_id"]
    params = {"stream_modes": "run_modes,state_update"}
    async with http.stream("GET", f"/threads/{tid}/stream", params=params) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = _SseReader(response)
        first = await client.runs.wait(tid, "bench_fast", input=_hi())
        runs = await client.runs.list(tid)
        await client.runs.wait(tid, "bench_fast", input={"messages": [{"role": "user", "content": "again"}]})
        await client.threads.update_state(tid, {"messages": [{"role": "user", "content": "by hand"}]})
        frames = await reader.until(
            lambda fs: len(_done(fs)) == 2 and any(f["event"] == "state_update" for f in fs),
            "two runs and a state update on the thread stream",
        )
        reader.task.cancel()
    assert _contents(first)[-1] == "step 3"
    names = [f["event"] for f in frames]
    assert names.count("metadata") == 4  # each run's start (run id, attempt) and its run_done
    assert frames[0]["event"] == "metadata" and frames[0]["data"]["run_id"] == runs[0]["run_id"]
    values = [f["data"] for f in frames if f["event"] == "values"]
    assert _contents(values[-1])[-4:] == ["again", "step 1", "step 2", "step 3"]
    update = next(f for f in frames if f["event"] == "state_update")
    assert update["data"]["thread_id"] == tid
    assert _contents(update["data"]["state"]["values"])[-1] == "by hand"
    assert all("id" in f for f in frames)
    keys = [tuple(int(p) for p in f["id"].split("-")) for f in frames]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)

    # Reconnect from the end of the first run: the rest is replayed, in order, nothing before.
    first_done = next(
        i for i, f in enumerate(frames) if f["event"] == "metadata" and f["data"].get("status") == "run_done"
    )
    headers = {"Last-Event-ID": frames[first_done]["id"]}
    async with http.stream("GET", f"/threads/{tid}/stream", params=params, headers=headers) as response:
        resumed = _SseReader(response)
        replayed = await resumed.until(
            lambda fs: any(f["event"] == "state_update" for f in fs), "the replay after Last-Event-ID"
        )
        resumed.task.cancel()
    assert [f["id"] for f in replayed] == [f["id"] for f in frames[first_done + 1 :]]


async def test_thread_stream_modes_filter_events(client: Any, http: httpx.AsyncClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    async with (
        http.stream("GET", f"/threads/{tid}/stream", params={"stream_modes": "lifecycle"}) as lifecycle,
        http.stream("GET", f"/threads/{tid}/stream") as default,
    ):
        lifecycle_reader, default_reader = _SseReader(lifecycle), _SseReader(default)
        await client.runs.wait(tid, "bench_fast", input=_hi())
        await client.threads.update_state(tid, {"messages": [{"role": "user", "content": "x"}]})
        await client.runs.wait(tid, "bench_fast", input=None)
        got = await lifecycle_reader.until(lambda fs: len(_done(fs)) == 2, "lifecycle events of two runs")
        plain = await default_reader.until(lambda fs: len(_done(fs)) == 2, "run events of two runs")
        lifecycle_reader.task.cancel()
        default_reader.task.cancel()
    assert {f["event"] for f in got} == {"metadata"} and len(got) == 4
    assert "state_update" not in {f["event"] for f in plain} and "values" in {f["event"] for f in plain}


async def test_thread_stream_refuses_unknown_modes_and_threads(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/threads/{uuid.uuid4()}/stream")
    assert response.status_code == 404
    response = await http.get(f"/threads/{uuid.uuid4()}/stream", params={"stream_modes": "values"})
    assert response.status_code == 422 and "values" in response.text
    assert (await http.get("/threads/not-a-uuid/stream")).status_code == 422


async def test_sdk_join_stream_follows_the_thread(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "bench_fast", input=_hi())
    parts: list[Any] = []

    async def follow() -> None:
        async for part in await client.threads.join_stream(tid, stream_mode=["run_modes", "state_update"]):
            parts.append(part)

    task = asyncio.create_task(follow())
    try:
        # The SDK sends its request only once iterated: write until it sees a write.
        async def joined() -> bool:
            await client.threads.update_state(tid, {"messages": [{"role": "user", "content": "ping"}]})
            await asyncio.sleep(0.1)
            return any(p.event == "state_update" for p in parts)

        await _until(joined, "the SDK's thread stream to join")
        await client.runs.wait(tid, "bench_fast", input=None)
        await _until(
            lambda: _async(any(p.event == "metadata" and p.data.get("status") == "run_done" for p in parts)),
            "a run on the SDK's thread stream",
        )
        assert any(p.event == "values" for p in parts)
        assert all(p.id for p in parts)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _async(value: bool) -> bool:
    return value


# -- the sync client ------------------------------------------------------------------------------


def test_sync_client_threads_calls(server: ServerProcess) -> None:
    client = get_sync_client(url=server.url, api_key=None)
    thread = client.threads.create(metadata={"sync": True})
    tid = thread["thread_id"]
    client.runs.wait(tid, "bench_fast", input=_hi())
    assert client.threads.get(tid)["status"] == "idle"
    assert client.threads.update(tid, metadata={"more": 1})["metadata"]["more"] == 1
    assert any(t["thread_id"] == tid for t in client.threads.search(metadata={"sync": True}, limit=100))
    assert client.threads.count(metadata={"sync": True}) >= 1
    assert client.threads.get_state(tid)["next"] == []
    assert len(client.threads.get_history(tid, limit=3)) == 3
    copy_id = client.threads.copy(tid)["thread_id"]
    assert client.threads.get_state(copy_id)["values"] == client.threads.get_state(tid)["values"]
    assert client.threads.prune([tid, copy_id]) == {"pruned_count": 2}


async def test_history_filters_by_metadata_keys_with_punctuation(client: Any) -> None:
    """A filter key SQLite cannot splice into a JSON path (dots, dashes) is applied anyway, by
    runyard: the history answers with what matches, never a 500 (found by the fuzz)."""
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "chat", input=_hi(), metadata={"tag.v-1": "x"})
    everything = await client.threads.get_history(thread["thread_id"], limit=100)
    tagged = [s["checkpoint"] for s in everything if s["metadata"].get("tag.v-1") == "x"]
    assert tagged, "run metadata reaches the checkpoints"
    found = await client.threads.get_history(thread["thread_id"], metadata={"tag.v-1": "x"}, limit=100)
    assert [s["checkpoint"] for s in found] == tagged
    assert await client.threads.get_history(thread["thread_id"], metadata={".odd-key": 1}) == []
