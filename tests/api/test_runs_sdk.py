"""The run path through real HTTP, driven by the official langgraph-sdk client."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from .server import ServerProcess


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_client(url=server.url, api_key=None)


def _contents(values: dict[str, Any]) -> list[str]:
    return [m["content"] for m in values["messages"]]


async def _until_status(
    client: Any, thread_id: str, run_id: str, statuses: set[str], timeout: float = 30
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run = await client.runs.get(thread_id, run_id)
        if run["status"] in statuses:
            return run  # type: ignore[no-any-return]
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} still {run['status']}, wanted {statuses}")
        await asyncio.sleep(0.05)


async def test_wait_returns_final_values_and_marks_run_and_thread(client: Any) -> None:
    """runs.wait answers the final state; the run ends success and the thread idle with its values."""
    thread = await client.threads.create()
    result = await client.runs.wait(
        thread["thread_id"], "bench_fast", input={"messages": [{"role": "user", "content": "hi"}]}
    )
    assert _contents(result) == ["hi", "step 1", "step 2", "step 3"]
    runs = await client.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success"]
    stored = await client.threads.get(thread["thread_id"])
    assert stored["status"] == "idle"
    assert _contents(stored["values"]) == ["hi", "step 1", "step 2", "step 3"]


async def test_stream_sends_metadata_first_then_requested_modes(client: Any) -> None:
    """A stream opens with metadata (run id, attempt) and carries each requested mode."""
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "slow", input={"delay": 0.01}, stream_mode=["values", "updates", "custom"]
        )
    ]
    assert parts[0].event == "metadata"
    assert parts[0].data["attempt"] == 1
    events = {p.event for p in parts}
    assert {"values", "updates", "custom"} <= events
    assert parts[-1].event == "values"


async def test_chat_agent_streams_message_chunks_and_calls_its_tool(client: Any) -> None:
    """messages-tuple carries token chunks; messages carries metadata then partial messages."""
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"],
            "chat",
            input={"messages": [{"role": "user", "content": "weather in Paris?"}]},
            stream_mode=["messages-tuple", "messages", "values"],
        )
    ]
    names = [p.event for p in parts]
    assert "messages" in names
    assert "messages/metadata" in names and "messages/partial" in names
    final = [p for p in parts if p.event == "values"][-1].data
    assert any(m["type"] == "tool" for m in final["messages"])


async def test_create_then_join_and_get(client: Any) -> None:
    """A background run can be joined for its final values and read back by id."""
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "bench_fast", input={"messages": []})
    assert run["status"] in ("pending", "running", "success")
    joined = await client.runs.join(thread["thread_id"], run["run_id"])
    assert _contents(joined) == ["step 1", "step 2", "step 3"]
    fetched = await client.runs.get(thread["thread_id"], run["run_id"])
    assert fetched["status"] == "success"
    assert fetched["kwargs"]["input"] == {"messages": []}


async def test_reject_strategy_refuses_a_busy_thread_with_409(client: Any) -> None:
    """reject on a thread with an active run is a 409; the first run is unharmed."""
    thread = await client.threads.create()
    first = await client.runs.create(thread["thread_id"], "slow", input={"delay": 0.3})
    with pytest.raises(ConflictError):
        await client.runs.create(
            thread["thread_id"], "slow", input={"delay": 0.3}, multitask_strategy="reject"
        )
    await client.runs.join(thread["thread_id"], first["run_id"])
    assert (await client.runs.get(thread["thread_id"], first["run_id"]))["status"] == "success"


async def test_enqueue_runs_one_after_another(client: Any) -> None:
    """enqueue (the default) admits the second run pending; it starts after the first ends."""
    thread = await client.threads.create()
    first = await client.runs.create(thread["thread_id"], "slow", input={"delay": 0.2})
    second = await client.runs.create(thread["thread_id"], "slow", input={"delay": 0.01})
    assert (await client.runs.get(thread["thread_id"], second["run_id"]))["status"] == "pending"
    await client.runs.join(thread["thread_id"], second["run_id"])
    a = await client.runs.get(thread["thread_id"], first["run_id"])
    b = await client.runs.get(thread["thread_id"], second["run_id"])
    assert a["status"] == b["status"] == "success"
    assert a["updated_at"] <= b["updated_at"]


async def test_interrupt_strategy_interrupts_the_running_run(client: Any) -> None:
    """interrupt cancels the active run (kept as interrupted) and runs the new one."""
    thread = await client.threads.create()
    first = await client.runs.create(thread["thread_id"], "slow", input={"delay": 1.0})
    await _until_status(client, thread["thread_id"], first["run_id"], {"running"})
    second = await client.runs.create(
        thread["thread_id"], "slow", input={"delay": 0.01}, multitask_strategy="interrupt"
    )
    await client.runs.join(thread["thread_id"], second["run_id"])
    assert (await client.runs.get(thread["thread_id"], first["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(thread["thread_id"], second["run_id"]))["status"] == "success"


async def test_rollback_strategy_deletes_the_active_run(client: Any) -> None:
    """rollback cancels the active run and deletes it; the new run succeeds."""
    thread = await client.threads.create()
    first = await client.runs.create(thread["thread_id"], "slow", input={"delay": 1.0})
    await _until_status(client, thread["thread_id"], first["run_id"], {"running"})
    second = await client.runs.create(
        thread["thread_id"], "slow", input={"delay": 0.01}, multitask_strategy="rollback"
    )
    await client.runs.join(thread["thread_id"], second["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(thread["thread_id"], first["run_id"])


async def test_cancel_interrupt_keeps_checkpoint_and_rollback_restores(client: Any) -> None:
    """Cancel with interrupt leaves the thread interrupted with partial state; rollback restores it."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "slow", input={"delay": 0.01})
    before = (await client.threads.get_state(tid))["values"]
    run = await client.runs.create(tid, "slow", input={"delay": 0.4})
    await _until_status(client, tid, run["run_id"], {"running"})
    await client.runs.cancel(tid, run["run_id"], wait=True, action="rollback")
    after = (await client.threads.get_state(tid))["values"]
    assert after == before
    run = await client.runs.create(tid, "slow", input={"delay": 0.4})
    await _until_status(client, tid, run["run_id"], {"running"})
    await client.runs.cancel(tid, run["run_id"], wait=True)
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    assert (await client.threads.get(tid))["status"] == "interrupted"
    await client.runs.cancel(tid, run["run_id"])  # a second cancel is an idempotent success


async def test_cancelling_a_finished_run_is_404(client: Any) -> None:
    """Cancel on a run that already succeeded answers 404, as langgraph-api does."""
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "bench_fast", input={"messages": []})
    await client.runs.join(thread["thread_id"], run["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.cancel(thread["thread_id"], run["run_id"])


async def test_interrupt_then_resume_with_command(client: Any) -> None:
    """A run stopping at interrupt() leaves the thread interrupted; Command(resume) finishes it."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    result = await client.runs.wait(tid, "hitl", input={"topic": "tests"})
    assert "__interrupt__" in result
    assert (await client.threads.get(tid))["status"] == "interrupted"
    state = await client.threads.get_state(tid)
    assert state["next"] == ["review"]
    final = await client.runs.wait(tid, "hitl", command={"resume": "approve"})
    assert "__interrupt__" not in final
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_resumable_stream_resumes_after_last_event_id(client: Any) -> None:
    """Cutting a resumable stream mid-run and rejoining with Last-Event-ID loses and repeats nothing."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    seen: list[Any] = []
    run_id = None
    async for part in client.runs.stream(
        tid, "slow", input={"delay": 0.2}, stream_mode=["custom", "values"], stream_resumable=True
    ):
        seen.append(part)
        if part.event == "metadata":
            run_id = part.data["run_id"]
        if part.event == "custom":
            break
    assert run_id is not None and seen[-1].id
    rest = [p async for p in client.runs.join_stream(tid, run_id, last_event_id=seen[-1].id)]
    ids = [p.id for p in seen + rest if p.id]
    assert len(ids) == len(set(ids))
    assert sum(p.event == "custom" for p in seen + rest) == 6
    full = [p async for p in client.runs.join_stream(tid, run_id, last_event_id="0")]
    assert [p.id for p in full if p.id] == ids


async def test_time_travel_runs_again_from_an_earlier_checkpoint(client: Any) -> None:
    """History lists checkpoints; a run from an earlier one forks the thread from there."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "bench_fast", input={"messages": [{"role": "user", "content": "a"}]})
    history = await client.threads.get_history(tid, limit=20)
    after_step_1 = next(h for h in history if h["next"] == ["step_2"])
    result = await client.runs.wait(
        tid, "bench_fast", input=None, checkpoint_id=after_step_1["checkpoint"]["checkpoint_id"]
    )
    assert _contents(result) == ["a", "step 1", "step 2", "step 3"]
    assert len(await client.threads.get_history(tid, limit=50)) > len(history)


async def test_stateless_wait_and_stream(client: Any) -> None:
    """Stateless runs work without a thread and clean their temporary thread up."""
    result = await client.runs.wait(None, "bench_fast", input={"messages": []})
    assert _contents(result) == ["step 1", "step 2", "step 3"]
    parts = [p async for p in client.runs.stream(None, "bench_fast", input={"messages": []})]
    assert parts[0].event == "metadata" and parts[-1].event == "values"


def test_sync_client_wait(server: ServerProcess) -> None:
    """The SDK's sync client drives the same endpoints."""
    sync = get_sync_client(url=server.url, api_key=None)
    thread = sync.threads.create()
    result = sync.runs.wait(thread["thread_id"], "bench_fast", input={"messages": []})
    assert _contents(result) == ["step 1", "step 2", "step 3"]


async def test_bad_input_gets_4xx_naming_the_problem(server: ServerProcess, client: Any) -> None:
    """Malformed JSON, bad ids, unknown assistants, stream modes and checkpoints are 4xx, never 500."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post(
            f"/threads/{tid}/runs", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422
        r = await http.get("/threads/not-a-uuid")
        assert r.status_code == 422
        r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "nope"})
        assert r.status_code == 404 and "nope" in r.text
        r = await http.post(
            f"/threads/{tid}/runs", json={"assistant_id": "bench_fast", "stream_mode": "telepathy"}
        )
        assert r.status_code == 422 and "telepathy" in r.text
        r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "bench_fast", "surprise": 1})
        assert r.status_code == 422 and "surprise" in r.text
        r = await http.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "bench_fast", "checkpoint_id": "00000000-0000-0000-0000-000000000000"},
        )
        assert r.status_code == 404 and "Checkpoint" in r.text
        r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "hitl", "command": {"resume": "x"}})
        assert r.status_code == 409 and "interrupt" in r.text
        r = await http.get(f"/threads/{tid}/runs/00000000-0000-0000-0000-000000000000")
        assert r.status_code == 404
    with pytest.raises(UnprocessableEntityError):
        await client.runs.create(tid, "bench_fast", multitask_strategy="shove")  # type: ignore[arg-type]
    assert await client.runs.list(tid) == []
