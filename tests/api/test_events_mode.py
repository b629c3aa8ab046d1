"""``stream_mode="events"`` through real HTTP and the official SDK, on SQLite and Postgres.

As langgraph-api serves it: the run streams through ``astream_events(version="v2")``; every
event but the root graph's own stream chunks goes out whole as ``event: events``, and the other
requested modes are derived from the root's chunks (so ``values``, subgraph namespaces and
``messages`` keep their usual shapes next to the events).
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph_sdk import get_client

from .server import ServerProcess

CHAT_INPUT = {"messages": [{"role": "user", "content": "What's the weather in Lisbon?"}]}
CHAT_ANSWER = "The weather in Lisbon: 24 °C, sunny"


@pytest.fixture
def client(server: ServerProcess) -> Any:
    return get_client(url=server.url, api_key=None)


def _of(parts: list[Any], event: str) -> list[Any]:
    return [p.data for p in parts if p.event == event]


async def test_events_stream_the_chat_graphs_runnables_token_by_token(client: Any) -> None:
    """events alone: metadata first, then v2 events of the graph, its nodes, the chat model
    (one on_chat_model_stream per token) and the tool; no other mode's events."""
    parts = [p async for p in client.runs.stream(None, "chat", input=CHAT_INPUT, stream_mode="events")]
    assert parts[0].event == "metadata"
    assert {p.event for p in parts[1:]} == {"events"}
    events = _of(parts, "events")
    assert all(
        {"event", "name", "run_id", "tags", "metadata", "data", "parent_ids"} <= set(e) for e in events
    )
    kinds = [e["event"] for e in events]
    # The root is the graph, named for its graph id (as langgraph-api names it).
    assert kinds[0] == "on_chain_start" and events[0]["name"] == "chat" and events[0]["parent_ids"] == []
    assert kinds[-1] == "on_chain_end" and events[-1]["name"] == "chat"
    assert {
        "on_chat_model_start",
        "on_chat_model_stream",
        "on_chat_model_end",
        "on_tool_start",
        "on_tool_end",
    } <= set(kinds)
    tokens = [e["data"]["chunk"]["content"] for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens).endswith(CHAT_ANSWER)
    assert sum(1 for t in tokens if t) > 5  # streamed token by token, not in one piece
    (tool_end,) = [e for e in events if e["event"] == "on_tool_end"]
    assert tool_end["name"] == "get_weather" and tool_end["data"]["output"]["content"] == "24 °C, sunny"
    assert events[0]["metadata"]["thread_id"] and events[0]["metadata"]["graph_id"] == "chat"
    # The root runnable is the run (langgraph-api passes the run id as the root's run_id).
    assert events[0]["run_id"] == events[-1]["run_id"] == parts[0].data["run_id"]
    assert events[-1]["data"]["output"]["messages"][-1]["content"] == CHAT_ANSWER
    # The root graph's own stream chunks feed the other modes; they are not sent as events.
    assert not [e for e in events if e["event"] == "on_chain_stream" and not e["parent_ids"]]


async def test_events_combined_with_values_and_messages(client: Any) -> None:
    """events with values and messages: each mode keeps its own shape in the one stream."""
    parts = [
        p
        async for p in client.runs.stream(
            None, "chat", input=CHAT_INPUT, stream_mode=["events", "values", "messages"]
        )
    ]
    names = {p.event for p in parts}
    assert {"metadata", "events", "values", "messages/metadata", "messages/partial"} <= names
    values = _of(parts, "values")
    assert [m["type"] for m in values[-1]["messages"]] == ["human", "ai", "tool", "ai"]
    assert values[-1]["messages"][-1]["content"] == CHAT_ANSWER
    partials = _of(parts, "messages/partial")
    assert partials[-1][0]["content"] == CHAT_ANSWER
    # The order is the graph's: the last chat-model token event comes before the last values.
    order = [p.event for p in parts]
    last_token = max(
        i for i, p in enumerate(parts) if p.event == "events" and p.data["event"] == "on_chat_model_stream"
    )
    assert last_token < len(order) - 1 - order[::-1].index("values")


async def test_events_with_subgraphs(client: Any) -> None:
    """events with stream_subgraphs: the child's events arrive as plain `events` (no namespace,
    as in langgraph-api), and the other modes still carry the child's `|research:<id>` suffix."""
    parts = [
        p
        async for p in client.runs.stream(
            None, "subgraph", input={"topic": "x"}, stream_mode=["events", "updates"], stream_subgraphs=True
        )
    ]
    events = _of(parts, "events")
    assert not [p for p in parts if p.event.startswith("events|")]
    node_starts = [e["name"] for e in events if e["event"] == "on_chain_start"]
    assert [
        n for n in node_starts[1:] if n in {"plan", "research", "LangGraph", "gather", "summarise", "publish"}
    ] == ["plan", "research", "LangGraph", "gather", "summarise", "publish"]
    child_updates = [next(iter(p.data)) for p in parts if p.event.startswith("updates|research:")]
    assert child_updates == ["gather", "summarise"]
    assert [next(iter(p.data)) for p in parts if p.event == "updates"] == ["plan", "research", "publish"]


async def test_events_of_an_interrupted_run_end_with_the_interrupt_in_values(client: Any) -> None:
    """events without values on a run that stops at interrupt(): the interrupt still arrives,
    as a `values` event (as for every mode set that lacks values)."""
    thread = await client.threads.create()
    parts = [
        p
        async for p in client.runs.stream(
            thread["thread_id"], "hitl", input={"topic": "t"}, stream_mode="events"
        )
    ]
    assert parts[-1].event == "values" and "__interrupt__" in parts[-1].data
    assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"


async def test_resumable_events_stream_rejoined_with_last_event_id(client: Any) -> None:
    """A resumable events stream cut mid-run and joined with Last-Event-ID: nothing lost or
    repeated; a join filtered to events gets only events."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    seen: list[Any] = []
    run_id = None
    async for part in client.runs.stream(
        tid, "slow", input={"delay": 0.2}, stream_mode=["events", "custom"], stream_resumable=True
    ):
        seen.append(part)
        if part.event == "metadata":
            run_id = part.data["run_id"]
        if part.event == "events" and part.data["event"] == "on_chain_start" and part.data["parent_ids"]:
            break  # the first node has started: cut the stream
    assert run_id is not None and seen[-1].id
    rest = [p async for p in client.runs.join_stream(tid, run_id, last_event_id=seen[-1].id)]
    ids = [p.id for p in seen + rest if p.id]
    assert len(ids) == len(set(ids))
    full = [p async for p in client.runs.join_stream(tid, run_id, last_event_id="0")]
    assert [p.id for p in full if p.id] == ids
    everything = [p.data for p in seen + rest if p.event == "events"]
    assert everything[0]["event"] == "on_chain_start" and everything[-1]["event"] == "on_chain_end"
    assert everything[-1]["name"] == "slow"
    assert sum(p.event == "custom" for p in seen + rest) == 6
    only_events = [
        p async for p in client.runs.join_stream(tid, run_id, last_event_id="0", stream_mode="events")
    ]
    assert {p.event for p in only_events} <= {"metadata", "events"}
    assert [p.data for p in only_events if p.event == "events"] == everything


async def test_an_events_run_cancelled_mid_way_ends_interrupted(client: Any) -> None:
    """Cancelling a run that streams events stops it like any other: interrupted, thread
    interrupted, the stream closed, and the steps after the cancel never run."""
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"delay": 1.0}, stream_mode=["events"])
    async for part in client.runs.join_stream(tid, run["run_id"]):
        if (
            part.event == "events"
            and part.data["event"] == "on_chain_start"
            and part.data["name"] == "step_1"
        ):
            await client.runs.cancel(tid, run["run_id"], wait=True)
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    assert (await client.threads.get(tid))["status"] == "interrupted"
    state = await client.threads.get_state(tid)
    assert "step_3" not in (state["values"].get("steps") or [])
