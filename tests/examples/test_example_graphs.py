"""The graphs in ``examples/``, loaded through ``GraphRegistry`` and run in-process on an InMemorySaver."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel
from langgraph.store.memory import InMemoryStore
from langgraph.types import Command

from runyard.graphs import GraphRegistry, assistant_id_for, load_object
from runyard.graphs.loader import FILE_MODULE_PREFIX

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GRAPH_IDS = ["chat", "hitl", "slow", "bench_fast", "bench_slow", "subgraph", "echo", "fail", "memory"]


@pytest.fixture(scope="module")
def registry() -> Iterator[GraphRegistry]:
    """The examples project, loaded once; its imports and ``sys.path`` entry are undone afterwards."""
    modules_before, path_before = set(sys.modules), list(sys.path)
    try:
        yield GraphRegistry.from_file(EXAMPLES / "langgraph.json")
    finally:
        sys.path[:] = path_before
        for name in set(sys.modules) - modules_before:
            file = getattr(sys.modules[name], "__file__", None)
            if name.startswith(FILE_MODULE_PREFIX) or (
                file and Path(file).resolve().is_relative_to(EXAMPLES)
            ):
                del sys.modules[name]


def thread() -> RunnableConfig:
    """The config of a new thread."""
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


async def graph(registry: GraphRegistry, graph_id: str) -> Pregel[Any, Any, Any, Any]:
    """``graph_id`` bound to a fresh InMemorySaver."""
    return await registry.get(graph_id, checkpointer=InMemorySaver())


async def test_registry_loads_every_example(registry: GraphRegistry) -> None:
    """``examples/langgraph.json`` loads, and every graph resolves by name and by assistant id."""
    assert registry.graph_ids == GRAPH_IDS
    for graph_id in GRAPH_IDS:
        compiled = await registry.get(graph_id)
        assert isinstance(compiled, Pregel) and compiled.name == graph_id
        assert registry.resolve_assistant(graph_id) == assistant_id_for(graph_id)
        assert registry.graph_id_for_assistant(assistant_id_for(graph_id)) == graph_id
    assert registry.entry("chat").spec.description is not None
    assert registry.config.python_paths == (EXAMPLES,)


async def test_chat_streams_tokens_and_calls_the_tool(registry: GraphRegistry) -> None:
    """The chat agent streams a get_weather call, runs the tool, then streams an answer token by token."""
    chat, config = await graph(registry, "chat"), thread()
    chunks: list[tuple[AIMessageChunk, str]] = []
    async for message, metadata in chat.astream(
        {"messages": [HumanMessage("What's the weather in Lisbon?")]}, config, stream_mode="messages"
    ):
        if isinstance(message, AIMessageChunk):
            chunks.append((message, metadata["langgraph_node"]))
    call_chunks = [c for c, _ in chunks if c.tool_call_chunks]
    assert [tc["name"] for c in call_chunks for tc in c.tool_call_chunks] == ["get_weather"]
    answer_tokens = [c.content for c, node in chunks if node == "agent" and c.content]
    assert len(answer_tokens) > 5
    assert "".join(str(t) for t in answer_tokens) == "The weather in Lisbon: 24 °C, sunny"

    messages = (await chat.aget_state(config)).values["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert messages[1].tool_calls[0]["args"] == {"city": "Lisbon"}
    assert (messages[2].name, messages[2].content) == ("get_weather", "24 °C, sunny")
    assert messages[3].content == "The weather in Lisbon: 24 °C, sunny"


async def test_chat_is_deterministic_over_many_runs(registry: GraphRegistry) -> None:
    """The fake model never runs out: new threads give the same answer, a second turn calls the tool again."""
    chat = await graph(registry, "chat")
    answers = []
    for _ in range(3):
        result = await chat.ainvoke({"messages": [HumanMessage("Weather for Tokyo please")]}, thread())
        answers.append(result["messages"][-1].content)
    assert answers == ["The weather in Tokyo: 21 °C, clear"] * 3

    config = thread()
    await chat.ainvoke({"messages": [HumanMessage("weather in Paris?")]}, config)
    result = await chat.ainvoke({"messages": [HumanMessage("and in London?")]}, config)
    calls = [m.tool_calls[0] for m in result["messages"] if isinstance(m, AIMessage) and m.tool_calls]
    assert [c["args"]["city"] for c in calls] == ["Paris", "London"]
    assert len({c["id"] for c in calls}) == 2
    assert result["messages"][-1].content == "The weather in London: 15 °C, overcast"


async def test_hitl_interrupts_then_applies_the_approval(registry: GraphRegistry) -> None:
    """The hitl graph stops at review with the draft; resuming with "approve" publishes it."""
    hitl, config = await graph(registry, "hitl"), thread()
    result = await hitl.ainvoke({"topic": "durable runs"}, config)
    (interrupt,) = result["__interrupt__"]
    draft = "A short note about durable runs: it runs LangGraph graphs as durable runs."
    assert interrupt.value["draft"] == draft
    assert "approve" in interrupt.value["question"]
    state = await hitl.aget_state(config)
    assert state.next == ("review",)

    result = await hitl.ainvoke(Command(resume="approve"), config)
    assert (result["decision"], result["final"]) == ("approved", draft)
    assert (await hitl.aget_state(config)).next == ()


@pytest.mark.parametrize(
    ("answer", "decision", "final"),
    [
        ("Short and sweet.", "edited", "Short and sweet."),
        ({"edit": "Edited text."}, "edited", "Edited text."),
        ("reject", "rejected", ""),
        (False, "rejected", ""),
        (
            {"approved": True},
            "approved",
            "A short note about runyard: it runs LangGraph graphs as durable runs.",
        ),
    ],
)
async def test_hitl_applies_each_kind_of_answer(
    registry: GraphRegistry, answer: object, decision: str, final: str
) -> None:
    """An edit replaces the draft, a rejection publishes nothing, an approval keeps the draft."""
    hitl, config = await graph(registry, "hitl"), thread()
    await hitl.ainvoke({}, config)
    result = await hitl.ainvoke(Command(resume=answer), config)
    assert (result["decision"], result["final"]) == (decision, final)


async def test_slow_emits_custom_events_and_counts(registry: GraphRegistry) -> None:
    """Each of the three steps reports start and finish on the custom stream and bumps the counter."""
    slow, config = await graph(registry, "slow"), thread()
    events = []
    started = time.monotonic()
    async for mode, payload in slow.astream({"delay": 0.02}, config, stream_mode=["custom", "values"]):
        if mode == "custom":
            events.append(payload)
    assert time.monotonic() - started >= 0.06
    assert events == [
        {"step": 1, "status": "started"},
        {"step": 1, "status": "finished", "count": 1},
        {"step": 2, "status": "started"},
        {"step": 2, "status": "finished", "count": 2},
        {"step": 3, "status": "started"},
        {"step": 3, "status": "finished", "count": 3},
    ]
    values = (await slow.aget_state(config)).values
    assert (values["count"], values["steps"]) == (3, ["step_1", "step_2", "step_3"])


async def test_slow_delay_comes_from_configurable(registry: GraphRegistry) -> None:
    """``configurable.delay`` sets the delay, over the input's; the default is half a second."""
    slow = await graph(registry, "slow")
    config = thread()
    config["configurable"]["delay"] = 0.05
    started = time.monotonic()
    result = await slow.ainvoke({"delay": 10}, config)
    elapsed = time.monotonic() - started
    assert result["count"] == 3
    assert 0.15 <= elapsed < 0.5 * 3
    assert load_object("./slow.py:DEFAULT_DELAY", EXAMPLES) == 0.5


@pytest.mark.parametrize(("graph_id", "minimum"), [("bench_fast", 0.0), ("bench_slow", 0.15)])
async def test_bench_graphs_append_three_steps(
    registry: GraphRegistry, graph_id: str, minimum: float
) -> None:
    """The benchmark graphs append "step 1".."step 3" after the input; the slow one sleeps 50 ms per step."""
    bench, config = await graph(registry, graph_id), thread()
    started = time.monotonic()
    result = await bench.ainvoke({"messages": [HumanMessage("go")]}, config)
    elapsed = time.monotonic() - started
    assert [(m.type, m.content) for m in result["messages"]] == [
        ("human", "go"),
        ("ai", "step 1"),
        ("ai", "step 2"),
        ("ai", "step 3"),
    ]
    assert elapsed >= minimum
    if graph_id == "bench_fast":
        assert elapsed < 0.15
    empty = await bench.ainvoke({"messages": []}, thread())
    assert [m.content for m in empty["messages"]] == ["step 1", "step 2", "step 3"]


async def test_subgraph_runs_its_child_graph_as_a_node(registry: GraphRegistry) -> None:
    """The parent plans, its ``research`` node runs the child graph (two steps), then it publishes."""
    parent, config = await graph(registry, "subgraph"), thread()
    namespaces = []
    async for ns, _ in parent.astream({"topic": "x"}, config, stream_mode="updates", subgraphs=True):
        namespaces.append(ns)
    assert any(ns and ns[0].startswith("research:") for ns in namespaces)
    values = (await parent.aget_state(config)).values
    assert (values["notes"], values["done"]) == (["plan x", "gathered x", "summarised"], True)
    assert [m.content for m in values["messages"]] == ["Summary of x"]


async def test_echo_writes_its_configurable_and_context(registry: GraphRegistry) -> None:
    """echo copies the plain configurable values and the runtime context into its state."""
    echo, config = await graph(registry, "echo"), thread()
    config["configurable"]["flavour"] = "mint"
    result = await echo.ainvoke({"text": "hi"}, config, context={"user_name": "ada"})
    assert result["seen_configurable"]["flavour"] == "mint"
    assert result["seen_configurable"]["thread_id"] == config["configurable"]["thread_id"]
    assert result["seen_context"] == {"user_name": "ada", "tone": "plain"}


async def test_fail_raises_value_error_or_its_own_error(registry: GraphRegistry) -> None:
    """fail raises ValueError("boom") after a successful first step, or BoomError when asked."""
    fail = await graph(registry, "fail")
    with pytest.raises(ValueError, match="boom"):
        await fail.ainvoke({}, thread())
    with pytest.raises(Exception, match="secret") as raised:
        await fail.ainvoke({"kind": "custom"}, thread())
    assert type(raised.value).__name__ == "BoomError"


async def test_memory_writes_to_the_store_and_reads_it_back_across_threads(registry: GraphRegistry) -> None:
    """memory puts the fact under ("memories", user) and recalls every fact of that user."""
    store = InMemoryStore()
    memory = await registry.get("memory", checkpointer=InMemorySaver(), store=store)
    await memory.ainvoke({"fact": "likes tea", "key": "k1"}, thread(), context={"user_id": "ada"})
    result = await memory.ainvoke({"fact": "lives in Lisbon"}, thread(), context={"user_id": "ada"})
    assert sorted(m["text"] for m in result["memories"]) == ["likes tea", "lives in Lisbon"]
    item = await store.aget(("memories", "ada"), "k1")
    assert item is not None and item.value == {"text": "likes tea"}
    other = await memory.ainvoke({}, thread(), context={"user_id": "bob"})
    assert other["memories"] == []
