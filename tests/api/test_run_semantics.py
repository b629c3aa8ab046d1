"""The run API's semantics through real HTTP, driven by the official langgraph-sdk client.

Each test names one behaviour of langgraph-api's run endpoints that runyard matches (see
``/work/shared/reference/agent-server.md`` sections 1.3-1.6 and 9): stream modes and their
event shapes, subgraph namespaces, breakpoints, commands, thread creation on the fly, delayed
and stateless runs, disconnects, cancels, joins, deletes, what a graph receives in its config
and context, the accepted and refused creation keys, the response headers, and failures.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

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

T = TypeVar("T")


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_client(url=server.url, api_key=None)


async def _until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 30) -> T:
    """Await ``check()`` until it returns something truthy; fail at the deadline."""
    result: Any = await wait_until(check, timeout, interval=0.05, message=f"{what}: not within {timeout}s")
    return result


async def _until_status(
    client: Any, thread_id: str, run_id: str, statuses: set[str], timeout: float = 30
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        run: dict[str, Any] = await client.runs.get(thread_id, run_id)
        return run if run["status"] in statuses else None

    return await _until(check, f"run {run_id} in {statuses}", timeout)


async def _parts(stream: AsyncIterator[Any]) -> list[Any]:
    return [part async for part in stream]


def _events(parts: list[Any]) -> list[str]:
    return [p.event for p in parts]


async def _status_of(call: Awaitable[Any]) -> int:
    """The HTTP status a failing SDK call answered with. ``wait`` and ``join`` go through the
    SDK's reconnecting request, which raises plain ``httpx.HTTPStatusError`` (the typed errors,
    such as ``NotFoundError``, subclass it)."""
    with pytest.raises(httpx.HTTPStatusError) as failed:
        await call
    return failed.value.response.status_code


async def _thread_status_not(client: Any, thread_id: str, status: str) -> bool:
    return bool((await client.threads.get(thread_id))["status"] != status)


async def _thread_status_is(client: Any, thread_id: str, status: str) -> bool:
    return bool((await client.threads.get(thread_id))["status"] == status)


async def _system_assistant_id(client: Any, graph_id: str) -> str:
    (assistant,) = [
        a
        for a in await client.assistants.search(graph_id=graph_id)
        if a["metadata"].get("created_by") == "system"
    ]
    return str(assistant["assistant_id"])


CHAT_INPUT = {"messages": [{"role": "user", "content": "What's the weather in Lisbon?"}]}
CHAT_ANSWER = "The weather in Lisbon: 24 °C, sunny"


# -- stream modes -------------------------------------------------------------------------------


async def test_values_mode_sends_the_full_state_after_each_step(client: Any) -> None:
    """values: metadata first, then one full state per step, the last being the final state."""
    parts = await _parts(client.runs.stream(None, "bench_fast", input={"messages": []}, stream_mode="values"))
    assert _events(parts)[0] == "metadata"
    assert set(_events(parts)[1:]) == {"values"}
    assert all(isinstance(p.data, dict) and "messages" in p.data for p in parts[1:])
    assert [m["content"] for m in parts[-1].data["messages"]] == ["step 1", "step 2", "step 3"]


async def test_updates_mode_sends_each_nodes_update_keyed_by_node(client: Any) -> None:
    """updates: one {node: update} per node, in order, and no values events."""
    parts = await _parts(client.runs.stream(None, "slow", input={"delay": 0.01}, stream_mode="updates"))
    assert set(_events(parts)) == {"metadata", "updates"}
    updates = [p.data for p in parts if p.event == "updates"]
    assert [next(iter(u)) for u in updates] == ["step_1", "step_2", "step_3"]
    assert updates[0]["step_1"] == {"count": 1, "steps": ["step_1"]}


async def test_messages_tuple_mode_sends_chunk_and_metadata_pairs(client: Any) -> None:
    """messages-tuple: `messages` events carrying [message chunk, metadata with langgraph_node]."""
    parts = await _parts(client.runs.stream(None, "chat", input=CHAT_INPUT, stream_mode="messages-tuple"))
    tuples = [p.data for p in parts if p.event == "messages"]
    assert set(_events(parts)) == {"metadata", "messages"}
    assert tuples and all(isinstance(t, list) and len(t) == 2 for t in tuples)
    chunk, metadata = tuples[0]
    assert {"type", "content", "id"} <= set(chunk)
    assert metadata["langgraph_node"] == "agent"
    answer = [t[0]["content"] for t in tuples if t[0]["type"] == "AIMessageChunk" and t[0]["content"]]
    assert "".join(answer) == CHAT_ANSWER


async def test_messages_mode_sends_metadata_then_accumulating_partials(client: Any) -> None:
    """messages: per message one messages/metadata, then messages/partial growing to the full text."""
    parts = await _parts(client.runs.stream(None, "chat", input=CHAT_INPUT, stream_mode="messages"))
    names = _events(parts)
    assert set(names) <= {"metadata", "messages/metadata", "messages/partial", "messages/complete"}
    assert names[1] == "messages/metadata"
    first_seen: dict[str, int] = {}
    partials: dict[str, list[str]] = {}
    for index, part in enumerate(parts):
        if part.event == "messages/metadata":
            ((msg_id, body),) = part.data.items()
            assert "metadata" in body
            first_seen.setdefault(msg_id, index)
        elif part.event == "messages/partial":
            (message,) = part.data
            assert index > first_seen[message["id"]]  # its metadata came first
            partials.setdefault(message["id"], []).append(message["content"])
    texts = [contents[-1] for contents in partials.values()]
    assert CHAT_ANSWER in texts
    answer = next(c for c in partials.values() if c[-1] == CHAT_ANSWER)
    assert len(answer) > 3 and all(answer[-1].startswith(c) for c in answer)  # accumulating
    completed = {p.data[0]["id"] for p in parts if p.event == "messages/complete"}
    assert not completed & set(partials)  # a message streamed token by token is not re-sent whole


async def test_custom_mode_sends_what_the_graph_writes(client: Any) -> None:
    """custom: the payloads a node writes with get_stream_writer(), in order."""
    parts = await _parts(client.runs.stream(None, "slow", input={"delay": 0.01}, stream_mode="custom"))
    assert set(_events(parts)) == {"metadata", "custom"}
    custom = [p.data for p in parts if p.event == "custom"]
    assert custom[0] == {"step": 1, "status": "started"}
    assert custom[-1] == {"step": 3, "status": "finished", "count": 3}
    assert len(custom) == 6


async def test_debug_mode_sends_checkpoint_task_and_result_events(client: Any) -> None:
    """debug: {type, step, timestamp, payload} events; checkpoint payloads carry `checkpoint`."""
    parts = await _parts(client.runs.stream(None, "bench_fast", input={"messages": []}, stream_mode="debug"))
    assert set(_events(parts)) == {"metadata", "debug"}
    debug = [p.data for p in parts if p.event == "debug"]
    assert {d["type"] for d in debug} == {"checkpoint", "task", "task_result"}
    assert all({"type", "step", "timestamp", "payload"} <= set(d) for d in debug)
    checkpoint = next(d["payload"] for d in debug if d["type"] == "checkpoint")
    assert {"values", "next", "metadata", "config", "checkpoint", "parent_checkpoint"} <= set(checkpoint)
    assert {"thread_id", "checkpoint_ns", "checkpoint_id"} <= set(checkpoint["checkpoint"])
    task = next(d["payload"] for d in debug if d["type"] == "task")
    assert {"id", "name", "input", "triggers"} <= set(task)


async def test_tasks_mode_sends_task_starts_and_results(client: Any) -> None:
    """tasks: a start ({id, name, input, triggers}) and a result ({id, name, result}) per node."""
    parts = await _parts(client.runs.stream(None, "bench_fast", input={"messages": []}, stream_mode="tasks"))
    assert set(_events(parts)) == {"metadata", "tasks"}
    tasks = [p.data for p in parts if p.event == "tasks"]
    starts = [t for t in tasks if "input" in t]
    results = [t for t in tasks if "result" in t]
    assert [t["name"] for t in starts] == [t["name"] for t in results] == ["step_1", "step_2", "step_3"]
    assert all({"id", "name", "triggers"} <= set(t) for t in starts)


async def test_checkpoints_mode_sends_each_checkpoint(client: Any) -> None:
    """checkpoints: one {config, metadata, values, next, tasks} per checkpoint the run writes."""
    parts = await _parts(
        client.runs.stream(None, "bench_fast", input={"messages": []}, stream_mode="checkpoints")
    )
    assert set(_events(parts)) == {"metadata", "checkpoints"}
    checkpoints = [p.data for p in parts if p.event == "checkpoints"]
    assert all({"config", "metadata", "values", "next", "tasks"} <= set(c) for c in checkpoints)
    assert checkpoints[-1]["next"] == []
    assert len(checkpoints[-1]["values"]["messages"]) == 3


async def test_all_modes_combined_in_one_run(client: Any) -> None:
    """Every mode but events (see test_events_mode.py) at once: each mode's events arrive in the one stream."""
    modes = ["values", "updates", "messages-tuple", "messages", "custom", "debug", "tasks", "checkpoints"]
    parts = await _parts(client.runs.stream(None, "chat", input=CHAT_INPUT, stream_mode=modes))
    names = set(_events(parts))
    expected = {"metadata", "values", "updates", "messages", "messages/metadata", "messages/partial"}
    assert expected | {"debug", "tasks", "checkpoints"} <= names
    parts = await _parts(client.runs.stream(None, "slow", input={"delay": 0.01}, stream_mode=modes))
    assert "custom" in _events(parts)


# -- subgraphs ----------------------------------------------------------------------------------


async def test_stream_subgraphs_names_child_events_with_their_namespace(client: Any) -> None:
    """stream_subgraphs=True: the child graph's events arrive as `<mode>|research:<task id>`."""
    parts = await _parts(
        client.runs.stream(
            None, "subgraph", input={"topic": "x"}, stream_mode=["updates", "values"], stream_subgraphs=True
        )
    )
    child = [p for p in parts if "|" in p.event]
    assert {p.event.split("|")[0] for p in child} == {"updates", "values"}
    assert all(p.event.split("|")[1].startswith("research:") for p in child)
    child_nodes = [next(iter(p.data)) for p in child if p.event.startswith("updates|")]
    assert child_nodes == ["gather", "summarise"]
    parent_nodes = [next(iter(p.data)) for p in parts if p.event == "updates"]
    assert parent_nodes == ["plan", "research", "publish"]


async def test_without_stream_subgraphs_no_child_events_arrive(client: Any) -> None:
    """stream_subgraphs=False (default): only the parent's events, the child's result included."""
    parts = await _parts(
        client.runs.stream(None, "subgraph", input={"topic": "x"}, stream_mode=["updates", "values"])
    )
    assert not [p for p in parts if "|" in p.event]
    final = parts[-1].data
    assert (final["notes"], final["done"]) == (["plan x", "gathered x", "summarised"], True)


async def test_subgraph_messages_follow_stream_subgraphs(client: Any) -> None:
    """A message a child graph returns: `messages|research:<id>` from the child node with
    stream_subgraphs, else one `messages` event as the parent node's output; the accumulated
    messages/* events carry no namespace suffix (as langgraph-api sends them)."""
    body = {"input": {"topic": "x"}, "stream_mode": ["messages-tuple", "messages"]}
    nested = await _parts(client.runs.stream(None, "subgraph", stream_subgraphs=True, **body))
    (child,) = [p for p in nested if p.event.startswith("messages|")]
    assert child.event.startswith("messages|research:")
    assert child.data[0]["content"] == "Summary of x"
    assert child.data[1]["langgraph_node"] == "summarise"
    accumulated = [p.event for p in nested if p.event.startswith("messages/")]
    assert accumulated == ["messages/metadata", "messages/complete"]

    flat = await _parts(client.runs.stream(None, "subgraph", **body))
    (parent,) = [p for p in flat if p.event == "messages"]
    assert parent.data[0]["content"] == "Summary of x"
    assert parent.data[1]["langgraph_node"] == "research"
    assert [p.event for p in flat if p.event.startswith("messages/")] == accumulated


# -- breakpoints and commands -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("breakpoint", "done_before_stop"),
    [({"interrupt_before": ["step_2"]}, ["step_1"]), ({"interrupt_after": ["step_2"]}, ["step_1", "step_2"])],
)
async def test_static_breakpoint_stops_the_run_and_input_none_continues(
    client: Any, breakpoint: dict[str, list[str]], done_before_stop: list[str]
) -> None:
    """interrupt_before/after stop at the node: the thread is interrupted; input=None finishes it."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"delay": 0.01}, **breakpoint)
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"
    assert (await client.threads.get(tid))["status"] == "interrupted"
    state = await client.threads.get_state(tid)
    assert state["values"]["steps"] == done_before_stop
    assert state["next"] == (["step_2"] if "interrupt_before" in breakpoint else ["step_3"])
    final = await client.runs.wait(tid, "slow", input=None)
    assert final["steps"] == ["step_1", "step_2", "step_3"]
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_interrupt_before_all_nodes_stops_before_the_first(client: Any) -> None:
    """interrupt_before="*" stops before the first node; each continue runs one more node."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "bench_fast", input={"messages": []}, interrupt_before="*")
    assert (await client.threads.get_state(tid))["next"] == ["step_1"]
    assert (await client.threads.get(tid))["status"] == "interrupted"
    await client.runs.wait(tid, "bench_fast", input=None, interrupt_before="*")
    assert (await client.threads.get_state(tid))["next"] == ["step_2"]


async def test_command_update_and_goto_run_the_named_node(client: Any) -> None:
    """Command(update, goto) writes the update then runs from the goto node."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "slow", input={"delay": 0.01})
    final = await client.runs.wait(tid, "slow", command={"update": {"steps": ["manual"]}, "goto": "step_3"})
    assert final["steps"] == ["step_1", "step_2", "step_3", "manual", "step_3"]
    assert final["count"] == 4


async def test_command_goto_after_interrupt_skips_the_interrupted_node(client: Any) -> None:
    """On an interrupted hitl thread, Command(update, goto="finish") publishes without the review."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "hitl", input={"topic": "goto"})
    assert (await client.threads.get(tid))["status"] == "interrupted"
    final = await client.runs.wait(
        tid, "hitl", command={"update": {"decision": "edited", "draft": "By command."}, "goto": "finish"}
    )
    assert final["final"] == "By command."


async def test_command_resume_answers_the_interrupt(client: Any) -> None:
    """Command(resume=...) after interrupt(): the answer reaches the node and the run finishes."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.wait(tid, "hitl", input={"topic": "resume"})
    assert first["__interrupt__"][0]["value"]["draft"].startswith("A short note about resume")
    final = await client.runs.wait(tid, "hitl", command={"resume": {"edit": "Edited."}})
    assert (final["decision"], final["final"]) == ("edited", "Edited.")


# -- threads made on the fly, delayed and stateless runs ----------------------------------------


async def test_if_not_exists_create_makes_the_missing_thread(client: Any) -> None:
    """if_not_exists="create" on an unknown thread id creates that thread and runs on it."""
    tid = str(uuid.uuid4())
    result = await client.runs.wait(tid, "bench_fast", input={"messages": []}, if_not_exists="create")
    assert len(result["messages"]) == 3
    thread = await client.threads.get(tid)
    assert thread["status"] == "idle" and len(thread["values"]["messages"]) == 3


async def test_missing_thread_is_404_by_default(client: Any) -> None:
    """Without if_not_exists, a run on an unknown thread is a 404 and the thread is not made."""
    tid = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        await client.runs.create(tid, "bench_fast", input={"messages": []})
    assert await _status_of(client.runs.wait(tid, "bench_fast", input={}, if_not_exists="reject")) == 404
    with pytest.raises(NotFoundError):
        await client.threads.get(tid)


async def test_after_seconds_delays_the_start(client: Any) -> None:
    """after_seconds: the run stays pending until the delay passes, then runs to success."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    started = time.monotonic()
    run = await client.runs.create(tid, "bench_fast", input={"messages": []}, after_seconds=1)
    assert run["status"] == "pending"
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "pending"
    await _until_status(client, tid, run["run_id"], {"success"})
    assert time.monotonic() - started >= 0.9


async def test_stream_with_on_disconnect_cancel_cancels_the_run(client: Any) -> None:
    """on_disconnect="cancel": leaving the stream early cancels the run (interrupted)."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run_id = None
    stream = client.runs.stream(
        tid, "slow", input={"delay": 0.5}, stream_mode="custom", on_disconnect="cancel"
    )
    async with aclosing(stream) as parts:
        async for part in parts:
            if part.event == "metadata":
                run_id = part.data["run_id"]
            if part.event == "custom":
                break
    assert run_id is not None
    await _until_status(client, tid, run_id, {"interrupted"}, timeout=15)
    await _until(lambda: _thread_status_is(client, tid, "interrupted"), "the thread to be interrupted")


async def test_stream_disconnect_by_default_lets_the_run_finish(client: Any) -> None:
    """on_disconnect defaults to continue: leaving the stream early does not stop the run."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run_id = None
    stream = client.runs.stream(tid, "slow", input={"delay": 0.2}, stream_mode="custom")
    async with aclosing(stream) as parts:
        async for part in parts:
            if part.event == "metadata":
                run_id = part.data["run_id"]
            if part.event == "custom":
                break
    assert run_id is not None
    run = await _until_status(client, tid, run_id, {"success", "interrupted", "error"})
    assert run["status"] == "success"


async def test_stateless_runs_delete_their_thread_by_default(client: Any) -> None:
    """A stateless run (thread_id=None) runs on a temporary thread that is deleted afterwards."""
    seen: list[Any] = []
    result = await client.runs.wait(
        None, "bench_fast", input={"messages": []}, on_run_created=lambda meta: seen.append(meta)
    )
    assert len(result["messages"]) == 3
    (meta,) = seen

    async def gone() -> bool:
        try:
            await client.threads.get(meta["thread_id"])
        except NotFoundError:
            return True
        return False

    await _until(gone, "the temporary thread to be deleted")
    run = await client.runs.create(None, "bench_fast", input={"messages": []})
    assert run["kwargs"]["temporary"] is True
    await client.runs.join(run["thread_id"], run["run_id"])
    await _until(gone, "the second temporary thread to be deleted")


async def test_stateless_runs_keep_their_thread_with_on_completion_keep(client: Any) -> None:
    """on_completion="keep": the temporary thread and its state stay readable afterwards."""
    run = await client.runs.create(None, "bench_fast", input={"messages": []}, on_completion="keep")
    await client.runs.join(run["thread_id"], run["run_id"])
    thread = await client.threads.get(run["thread_id"])
    assert thread["status"] == "idle"
    state = await client.threads.get_state(run["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]] == ["step 1", "step 2", "step 3"]
    assert (await client.runs.get(run["thread_id"], run["run_id"]))["status"] == "success"

    seen: list[Any] = []
    await client.runs.wait(None, "bench_fast", input={}, on_completion="keep", on_run_created=seen.append)
    (meta,) = seen
    kept = await client.threads.get_state(meta["thread_id"])
    assert len(kept["values"]["messages"]) == 3


async def test_stateless_stream_keeps_its_thread_with_on_completion_keep(
    server: ServerProcess, client: Any
) -> None:
    """A stateless stream with on_completion="keep" leaves its thread, found from the Location."""
    body = {"assistant_id": "bench_fast", "input": {"messages": []}, "on_completion": "keep"}
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        http.stream("POST", "/runs/stream", json=body) as streamed,
    ):
        location = streamed.headers["location"]
        await streamed.aread()
    thread_id = location.split("/")[2]
    await _until(lambda: _thread_status_not(client, thread_id, "busy"), "the kept thread to settle")
    kept = await client.threads.get_state(thread_id)
    assert len(kept["values"]["messages"]) == 3


async def test_stateless_resume_is_400(client: Any) -> None:
    """A resume without a thread is refused: there is nothing to resume."""
    with pytest.raises(BadRequestError):
        await client.runs.create(None, "hitl", command={"resume": "approve"})


# -- cancel_many --------------------------------------------------------------------------------


async def test_cancel_many_by_thread_and_run_ids(client: Any) -> None:
    """POST /runs/cancel with thread_id + run_ids interrupts those runs, running and pending."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"delay": 1.0})
    second = await client.runs.create(tid, "slow", input={"delay": 1.0})
    await _until_status(client, tid, first["run_id"], {"running"})
    await client.runs.cancel_many(thread_id=tid, run_ids=[first["run_id"], second["run_id"]])
    for run in (first, second):
        await _until_status(client, tid, run["run_id"], {"interrupted"})
    await asyncio.wait_for(client.runs.join(tid, second["run_id"]), timeout=10)


async def test_cancel_many_pending_cancels_only_pending_runs(client: Any) -> None:
    """status="pending" interrupts waiting runs (a delayed one here) and leaves running ones."""
    busy = await client.threads.create()
    running = await client.runs.create(busy["thread_id"], "slow", input={"delay": 0.3})
    await _until_status(client, busy["thread_id"], running["run_id"], {"running"})
    thread = await client.threads.create()
    tid = thread["thread_id"]
    delayed = await client.runs.create(tid, "bench_fast", input={"messages": []}, after_seconds=60)
    await client.runs.cancel_many(status="pending")
    assert (await client.runs.get(tid, delayed["run_id"]))["status"] == "interrupted"
    await asyncio.wait_for(client.runs.join(tid, delayed["run_id"]), timeout=10)
    await _until(lambda: _thread_status_not(client, tid, "busy"), "the cancelled run's thread to leave busy")
    await client.runs.join(busy["thread_id"], running["run_id"])
    assert (await client.runs.get(busy["thread_id"], running["run_id"]))["status"] == "success"


async def test_cancel_many_all_cancels_running_and_pending(client: Any) -> None:
    """status="all" interrupts every active run: the running one and the delayed one."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    running = await client.runs.create(tid, "slow", input={"delay": 1.0})
    await _until_status(client, tid, running["run_id"], {"running"})
    other = await client.threads.create()
    delayed = await client.runs.create(other["thread_id"], "bench_fast", input={}, after_seconds=60)
    await client.runs.cancel_many(status="all")
    await _until_status(client, tid, running["run_id"], {"interrupted"})
    assert (await client.runs.get(other["thread_id"], delayed["run_id"]))["status"] == "interrupted"


async def test_cancel_many_with_nothing_to_cancel_is_404(client: Any) -> None:
    """Nothing matching (a finished run, an unknown id, no pending run) answers 404."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "bench_fast", input={"messages": []})
    await client.runs.join(tid, run["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.cancel_many(thread_id=tid, run_ids=[run["run_id"], str(uuid.uuid4())])
    with pytest.raises(NotFoundError):
        await client.runs.cancel_many(status="pending")


async def test_cancel_many_with_only_a_thread_id_is_422(client: Any) -> None:
    """thread_id without run_ids (and no status) names no runs: 422."""
    thread = await client.threads.create()
    with pytest.raises(UnprocessableEntityError):
        await client.runs.cancel_many(thread_id=thread["thread_id"])


# -- joins, reads and deletes -------------------------------------------------------------------


RUN_NOT_FOUND = {"error": "HTTPException", "message": "404: Run not found"}


async def test_join_and_join_stream_of_an_unknown_run_answer_as_langgraph_api(
    server: ServerProcess, client: Any
) -> None:
    """join and join_stream on a run id the thread does not have (or on an unknown thread):
    langgraph-api's answers, not a 404. join: 200 with ``{"__error__": <404 Run not found>}``;
    join_stream: 200 SSE whose one event is ``error`` with that body. Both at once."""
    thread = await client.threads.create()
    for tid in (thread["thread_id"], str(uuid.uuid4())):
        run_id = str(uuid.uuid4())
        joined = await asyncio.wait_for(client.runs.join(tid, run_id), timeout=10)
        assert joined == {"__error__": RUN_NOT_FOUND}
        parts = await asyncio.wait_for(_parts(client.runs.join_stream(tid, run_id)), timeout=10)
        assert [(p.event, p.data) for p in parts] == [("error", RUN_NOT_FOUND)]
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            answer = await http.get(f"/threads/{tid}/runs/{run_id}/join")
            assert answer.status_code == 200
            assert answer.headers["location"] == f"/threads/{tid}/runs/{run_id}/join"
            streamed = await http.get(f"/threads/{tid}/runs/{run_id}/stream")
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            assert streamed.content == (
                b'event: error\r\ndata: {"error":"HTTPException","message":"404: Run not found"}\r\n\r\n'
            )
    # A malformed id is still a 422, as in langgraph-api.
    assert await _status_of(client.runs.join(thread["thread_id"], "not-a-uuid")) == 422


async def test_join_stream_of_a_finished_run_ends_at_once(client: Any) -> None:
    """join_stream on a finished run replays its retained log or ends; it never hangs."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "bench_fast", input={"messages": []})
    await client.runs.join(tid, run["run_id"])
    parts = await asyncio.wait_for(_parts(client.runs.join_stream(tid, run["run_id"])), timeout=10)
    assert all(p.event in ("metadata", "values") for p in parts)
    joined = await asyncio.wait_for(client.runs.join(tid, run["run_id"]), timeout=10)
    assert len(joined["messages"]) == 3


async def test_a_run_read_through_another_thread_is_404(client: Any) -> None:
    """GET /threads/{other}/runs/{run}: a run belongs to its own thread only (a join there is
    langgraph-api's "Run not found" body)."""
    thread = await client.threads.create()
    other = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "bench_fast", input={"messages": []})
    await client.runs.join(thread["thread_id"], run["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(other["thread_id"], run["run_id"])
    assert await client.runs.join(other["thread_id"], run["run_id"]) == {"__error__": RUN_NOT_FOUND}
    with pytest.raises(NotFoundError):
        await client.runs.delete(other["thread_id"], run["run_id"])


async def test_delete_a_finished_run_and_not_an_active_one(client: Any) -> None:
    """runs.delete removes a finished run; an active run is a 409 until it ends."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    done = await client.runs.create(tid, "bench_fast", input={"messages": []})
    await client.runs.join(tid, done["run_id"])
    await client.runs.delete(tid, done["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, done["run_id"])
    assert done["run_id"] not in [r["run_id"] for r in await client.runs.list(tid)]
    active = await client.runs.create(tid, "slow", input={"delay": 0.3})
    with pytest.raises(ConflictError):
        await client.runs.delete(tid, active["run_id"])
    await client.runs.join(tid, active["run_id"])
    await client.runs.delete(tid, active["run_id"])
    assert await client.runs.list(tid) == []


def test_sync_client_create_get_list_delete(server: ServerProcess) -> None:
    """The sync client drives create, join, get, list and delete the same way."""
    sync = get_sync_client(url=server.url, api_key=None)
    thread = sync.threads.create()
    tid = thread["thread_id"]
    run = sync.runs.create(tid, "bench_fast", input={"messages": []}, metadata={"via": "sync"})
    sync.runs.join(tid, run["run_id"])
    fetched = sync.runs.get(tid, run["run_id"])
    assert fetched["status"] == "success" and (fetched["metadata"] or {})["via"] == "sync"
    assert [r["run_id"] for r in sync.runs.list(tid)] == [run["run_id"]]
    sync.runs.delete(tid, run["run_id"])
    assert sync.runs.list(tid) == []


# -- what the graph receives --------------------------------------------------------------------


async def test_run_metadata_is_stored_and_returned(client: Any) -> None:
    """Run metadata comes back on create, get and list, with the assistant_id added."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    metadata = {"purpose": "semantics", "n": 1, "nested": {"a": [1, 2]}}
    run = await client.runs.create(tid, "bench_fast", input={"messages": []}, metadata=metadata)
    assert run["metadata"] | metadata == run["metadata"]
    await client.runs.join(tid, run["run_id"])
    fetched = await client.runs.get(tid, run["run_id"])
    assert {k: fetched["metadata"][k] for k in metadata} == metadata
    assert fetched["metadata"]["assistant_id"] == await _system_assistant_id(client, "bench_fast")
    (listed,) = await client.runs.list(tid)
    assert listed["metadata"] == fetched["metadata"]


async def test_configurable_reaches_the_graph_with_the_run_identity(client: Any) -> None:
    """config.configurable reaches the graph, with run_id, thread_id, graph_id and assistant_id."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(
        tid, "echo", input={"text": "hi"}, config={"configurable": {"flavour": "mint"}, "tags": ["t1"]}
    )
    result = await client.runs.join(tid, run["run_id"])
    seen = result["seen_configurable"]
    assert seen["flavour"] == "mint"
    assert seen["run_id"] == run["run_id"]
    assert seen["thread_id"] == tid
    assert seen["graph_id"] == "echo"
    assert seen["assistant_id"] == await _system_assistant_id(client, "echo")


async def test_context_reaches_the_graph_runtime(client: Any) -> None:
    """context reaches Runtime.context (the graph's context schema), keys it does not declare dropped."""
    result = await client.runs.wait(
        None, "echo", input={"text": "hi"}, context={"user_name": "ada", "unknown_key": 1}
    )
    assert result["seen_context"] == {"user_name": "ada", "tone": "plain"}
    result = await client.runs.wait(None, "echo", input={"text": "hi"})
    assert result["seen_context"] == {"user_name": "anonymous", "tone": "plain"}


async def test_configurable_and_context_mirror_each_other(client: Any) -> None:
    """context also lands in configurable, and configurable alone also serves as the context."""
    result = await client.runs.wait(None, "echo", input={"text": "hi"}, context={"user_name": "ada"})
    assert result["seen_configurable"]["user_name"] == "ada"
    result = await client.runs.wait(
        None, "echo", input={"text": "hi"}, config={"configurable": {"user_name": "bob", "other": 1}}
    )
    assert result["seen_context"] == {"user_name": "bob", "tone": "plain"}
    assert result["seen_configurable"]["other"] == 1


async def test_configurable_and_context_together_are_refused(client: Any) -> None:
    """Both config.configurable and context: a 400 naming the conflict, as langgraph-api answers."""
    with pytest.raises(BadRequestError) as refused:
        await client.runs.create(
            None, "echo", input={}, config={"configurable": {"a": 1}}, context={"user_name": "b"}
        )
    assert "context" in str(refused.value.body)


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
async def test_durability_is_accepted_and_reaches_langgraph(client: Any, durability: str) -> None:
    """durability sync/async/exit is accepted; exit writes fewer checkpoints than sync."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "bench_fast", input={"messages": []}, durability=durability)
    assert run["kwargs"]["durability"] == durability
    result = await client.runs.join(tid, run["run_id"])
    assert len(result["messages"]) == 3
    history = await client.threads.get_history(tid, limit=20)
    assert len(history) == (1 if durability == "exit" else 5)


@pytest.mark.parametrize(("checkpoint_during", "durability"), [(True, "async"), (False, "exit")])
async def test_checkpoint_during_is_accepted_as_durability(
    client: Any, checkpoint_during: bool, durability: str
) -> None:
    """The deprecated checkpoint_during maps onto durability (true: async, false: exit)."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    with pytest.warns(DeprecationWarning, match="checkpoint_during"):
        run = await client.runs.create(
            tid, "bench_fast", input={"messages": []}, checkpoint_during=checkpoint_during
        )
    assert run["kwargs"]["durability"] == durability
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"


# -- accepted and refused creation keys ---------------------------------------------------------

# Every keyword of the SDK's runs.create, runs.stream and runs.wait that reaches the request body,
# and what runyard does with it: each is honoured (see the tests of its behaviour) or refused with
# a 422 that names it. ``langsmith_tracing`` is sent as ``langsmith_tracer``.
ACCEPTED_KEYS = {
    "input",
    "command",
    "stream_mode",
    "stream_subgraphs",
    "stream_resumable",
    "metadata",
    "config",
    "context",
    "checkpoint",
    "checkpoint_id",
    "checkpoint_during",
    "interrupt_before",
    "interrupt_after",
    "multitask_strategy",
    "if_not_exists",
    "on_completion",
    "on_disconnect",
    "after_seconds",
    "durability",
    "webhook",  # test_webhooks.py
    "langsmith_tracing",  # accepted; traces to the extra project only when LangSmith tracing is on
}
# SDK keyword -> (wire key, a value runyard refuses, the name the 422 says)
REFUSED_KEYS = {
    "feedback_keys": ("feedback_keys", ["score"], "feedback_keys"),
    "strict_resume": ("strict_resume", True, "strict_resume"),
}
CLIENT_SIDE_KEYS = {
    "thread_id",
    "assistant_id",
    "headers",
    "params",
    "on_run_created",
    "version",
    "raise_error",
}
SDK_CREATORS = ("create", "stream", "wait")


@pytest.mark.parametrize("method", SDK_CREATORS)
def test_the_sdk_creation_keywords_are_all_covered(method: str) -> None:
    """Every keyword runs.create/stream/wait takes is accepted, refused by name, or client-side:
    a new SDK keyword fails this test until it is sorted into one of the three."""
    from langgraph_sdk._async.runs import RunsClient

    names = set(inspect.signature(getattr(RunsClient, method)).parameters) - {"self"}
    unsorted = names - ACCEPTED_KEYS - set(REFUSED_KEYS) - CLIENT_SIDE_KEYS
    assert not unsorted, f"runs.{method} sends keys this test does not sort: {sorted(unsorted)}"


async def _call(client: Any, method: str, thread_id: str | None, **kwargs: Any) -> Any:
    if method == "stream":
        return await _parts(client.runs.stream(thread_id, "bench_fast", **kwargs))
    return await getattr(client.runs, method)(thread_id, "bench_fast", **kwargs)


@pytest.mark.parametrize("method", SDK_CREATORS)
@pytest.mark.parametrize("sdk_key", sorted(REFUSED_KEYS))
async def test_refused_creation_keys_are_422_naming_the_key(client: Any, method: str, sdk_key: str) -> None:
    """feedback_keys and strict_resume=True are refused by runs.create, .stream and .wait with a
    422 naming the key; nothing is created."""
    from langgraph_sdk._async.runs import RunsClient

    if sdk_key not in inspect.signature(getattr(RunsClient, method)).parameters:
        pytest.skip(f"runs.{method} does not send {sdk_key}")
    _, value, named = REFUSED_KEYS[sdk_key]
    thread = await client.threads.create()
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await _call(client, method, thread["thread_id"], input={"messages": []}, **{sdk_key: value})
    assert refused.value.response.status_code == 422
    assert named in refused.value.response.text
    assert await client.runs.list(thread["thread_id"]) == []


@pytest.mark.parametrize("method", SDK_CREATORS)
async def test_every_accepted_key_each_creator_sends(client: Any, method: str) -> None:
    """runs.create, .stream and .wait with every accepted key they send (webhook aside, which
    needs a receiver: test_webhooks.py) are admitted and run to success."""
    from langgraph_sdk._async.runs import RunsClient

    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "bench_fast", input={"messages": []})
    checkpoint_id = (await client.threads.get_state(tid))["checkpoint"]["checkpoint_id"]
    values: dict[str, Any] = {
        "input": {"messages": [{"role": "user", "content": "k"}]},
        "stream_mode": ["values", "updates", "events"],
        "stream_subgraphs": True,
        "stream_resumable": True,
        "metadata": {"k": "v"},
        "config": {"tags": ["all-keys"], "recursion_limit": 10},
        "context": {"c": 1},
        "checkpoint": {"thread_id": tid, "checkpoint_ns": "", "checkpoint_id": checkpoint_id},
        "checkpoint_id": checkpoint_id,
        "interrupt_before": [],
        "interrupt_after": [],
        "multitask_strategy": "enqueue",
        "if_not_exists": "reject",
        "on_completion": "keep",
        "on_disconnect": "continue",
        "after_seconds": 0,
        "durability": "sync",
        "langsmith_tracing": {"project_name": "runyard-tests", "example_id": None},
    }
    taken = set(inspect.signature(getattr(RunsClient, method)).parameters)
    kwargs = {key: value for key, value in values.items() if key in taken}
    assert set(kwargs) == (ACCEPTED_KEYS - {"command", "webhook", "checkpoint_during"}) & taken
    result = await _call(client, method, tid, **kwargs)
    if method == "stream":
        assert {"metadata", "values", "updates", "events"} <= {p.event for p in result}
    elif method == "wait":
        assert [m["content"] for m in result["messages"]][-4:] == ["k", "step 1", "step 2", "step 3"]
    else:
        await client.runs.join(tid, result["run_id"])
        assert result["kwargs"]["config"]["configurable"]["__langsmith_project__"] == "runyard-tests"
    (latest, *_) = await client.runs.list(tid)
    assert latest["status"] == "success" and latest["metadata"]["k"] == "v"


async def test_every_accepted_creation_key_at_once(client: Any) -> None:
    """A run sent with every accepted key is admitted, stores them, and runs as they say."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "slow", input={"delay": 0.01})
    state = await client.threads.get_state(tid)
    checkpoint_id = state["checkpoint"]["checkpoint_id"]
    with pytest.warns(DeprecationWarning, match="checkpoint_during"):
        run = await client.runs.create(
            tid,
            "slow",
            input={"delay": 0.01},
            command=None,
            stream_mode=["values", "updates"],
            stream_subgraphs=True,
            stream_resumable=True,
            metadata={"k": "v"},
            config={"tags": ["all-keys"], "recursion_limit": 10, "configurable": {"delay": 0.01}},
            context=None,
            checkpoint={"thread_id": tid, "checkpoint_ns": "", "checkpoint_id": checkpoint_id},
            checkpoint_id=checkpoint_id,
            checkpoint_during=True,
            interrupt_before=["step_3"],
            interrupt_after=["step_1"],
            multitask_strategy="enqueue",
            if_not_exists="reject",
            on_completion="delete",
            after_seconds=0,
            durability="sync",
        )
    kwargs = run["kwargs"]
    assert kwargs["stream_mode"] == ["values", "updates"]
    assert kwargs["subgraphs"] is True and kwargs["resumable"] is True
    assert kwargs["interrupt_before"] == ["step_3"] and kwargs["interrupt_after"] == ["step_1"]
    assert kwargs["durability"] == "sync"
    assert run["multitask_strategy"] == "enqueue" and run["metadata"]["k"] == "v"
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"
    after = await client.threads.get_state(tid)
    assert after["next"] == ["step_2"]  # interrupt_after=step_1 stopped it
    assert after["values"]["steps"] == ["step_1", "step_2", "step_3", "step_1"]


# -- response headers ---------------------------------------------------------------------------


async def test_creation_responses_carry_the_run_locations(server: ServerProcess, client: Any) -> None:
    """create: Content-Location; stream: Location, Content-Location, SSE; wait: Location."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    body = {"assistant_id": "bench_fast", "input": {"messages": []}}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        created = await http.post(f"/threads/{tid}/runs", json=body)
        assert created.status_code == 200
        run_id = created.json()["run_id"]
        assert created.headers["content-location"] == f"/threads/{tid}/runs/{run_id}"
        await client.runs.join(tid, run_id)

        async with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            base = streamed.headers["content-location"]
            assert base.startswith(f"/threads/{tid}/runs/")
            assert streamed.headers["location"] == f"{base}/stream"
            text = (await streamed.aread()).decode()
        assert text.startswith("event: metadata")

        waited = await http.post(f"/threads/{tid}/runs/wait", json=body)
        assert waited.status_code == 200
        assert waited.headers["content-type"].startswith("application/json")
        location = waited.headers["location"]
        assert location.startswith(f"/threads/{tid}/runs/") and location.endswith("/join")
        assert waited.json()["messages"][-1]["content"] == "step 3"

        stateless = await http.post("/runs", json=body)
        assert stateless.headers["content-location"] == f"/runs/{stateless.json()['run_id']}"
        async with http.stream("POST", "/runs/stream", json=body) as streamed:
            assert streamed.headers["content-type"].startswith("text/event-stream")
            assert streamed.headers["location"].endswith("/stream")
            await streamed.aread()


async def test_on_run_created_gets_the_run_and_thread_ids(client: Any) -> None:
    """The SDK's on_run_created callback reads the ids from Content-Location on every endpoint."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    seen: list[Any] = []
    run = await client.runs.create(tid, "bench_fast", input={"messages": []}, on_run_created=seen.append)
    await client.runs.join(tid, run["run_id"])
    await _parts(client.runs.stream(tid, "bench_fast", input={"messages": []}, on_run_created=seen.append))
    await client.runs.wait(tid, "bench_fast", input={"messages": []}, on_run_created=seen.append)
    assert len(seen) == 3
    assert seen[0]["run_id"] == run["run_id"] and seen[0]["thread_id"] == tid
    assert all(meta["thread_id"] == tid for meta in seen)
    assert [r["run_id"] for r in await client.runs.list(tid)] == [m["run_id"] for m in reversed(seen)]


# -- failures -----------------------------------------------------------------------------------


async def test_a_failing_graph_reports_its_error(client: Any) -> None:
    """ValueError("boom"): wait answers __error__, the stream ends with error, run and thread error."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    result = await client.runs.wait(tid, "fail", input={}, raise_error=False)
    assert result == {"__error__": {"error": "ValueError", "message": "boom"}}
    (run,) = await client.runs.list(tid)
    assert run["status"] == "error"
    assert (await client.threads.get(tid))["status"] == "error"
    with pytest.raises(Exception, match="ValueError: boom"):
        await client.runs.wait(tid, "fail", input={}, raise_error=True)

    parts = await _parts(client.runs.stream(tid, "fail", input={}, stream_mode=["values", "updates"]))
    assert parts[0].event == "metadata"
    assert parts[-1].event == "error"
    assert parts[-1].data == {"error": "ValueError", "message": "boom"}
    assert "updates" in _events(parts)  # the first node's update came before the failure
    run = await client.runs.get(tid, parts[0].data["run_id"])
    assert run["status"] == "error"
    joined = await client.runs.join(tid, run["run_id"])  # join does not raise on __error__
    assert joined == {"__error__": {"error": "ValueError", "message": "boom"}}


async def test_a_non_builtin_exception_is_masked(client: Any) -> None:
    """An exception class of the graph's own shows its type but not its message."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    result = await client.runs.wait(tid, "fail", input={"kind": "custom"}, raise_error=False)
    assert result["__error__"]["message"] == "An internal error occurred"
    assert "hunter2" not in str(result)
    parts = await _parts(client.runs.stream(tid, "fail", input={"kind": "custom"}))
    assert parts[-1].event == "error"
    assert parts[-1].data["message"] == "An internal error occurred"
    assert (await client.threads.get(tid))["status"] == "error"
