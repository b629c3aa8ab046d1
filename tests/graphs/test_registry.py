"""``GraphRegistry``: every kind of graph a spec may name, per-run factories, assistant ids."""

from __future__ import annotations

import sys
import uuid
from uuid import UUID, uuid5

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel

from runyard.graphs import (
    NAMESPACE_GRAPH,
    ConfigError,
    GraphNotFoundError,
    GraphRegistry,
    assistant_id_for,
)
from runyard.graphs.loader import file_module_name

from .conftest import GRAPH_MODULE, Project

STATE_GRAPH_MODULE = GRAPH_MODULE.replace("graph = builder.compile()", "graph = builder")

FACTORY_MODULE = (
    GRAPH_MODULE.replace("graph = builder.compile()", "")
    + """
from langchain_core.runnables import RunnableConfig

CALLS = []


def make_graph():
    CALLS.append(None)
    return builder.compile()


def make_state_graph():
    return builder


async def make_graph_for(config: RunnableConfig):
    CALLS.append(config)
    who = config["configurable"].get("who", "nobody")

    def greet(state):
        return {"value": f"hello {who}"}

    configured = StateGraph(State)
    configured.add_node("greet", greet)
    configured.add_edge(START, "greet")
    configured.add_edge("greet", END)
    return configured.compile(name="greeter")


def make_with_optional(config=None):
    CALLS.append(config)
    return builder.compile()


def make_two(config, other):
    return builder.compile()


def make_with_runtime(runtime: "ServerRuntime"):
    return builder.compile()


def make_nothing():
    return 42
"""
)

CONTEXT_FACTORY_MODULE = (
    GRAPH_MODULE.replace("graph = builder.compile()", "")
    + """
from contextlib import asynccontextmanager, contextmanager

EVENTS = []


@asynccontextmanager
async def make_async_cm(config):
    EVENTS.append("async enter")
    yield builder.compile()
    EVENTS.append("async exit")


@contextmanager
def make_sync_cm():
    EVENTS.append("sync enter")
    yield builder
    EVENTS.append("sync exit")
"""
)


def registry_for(project: Project, graphs: dict[str, object], **extra: object) -> GraphRegistry:
    """Write a config with ``graphs`` and load it."""
    return GraphRegistry.from_file(project.config({"graphs": graphs, **extra}))


def test_file_graph_loads(project: Project) -> None:
    """A compiled graph named by a file spec is loaded as a shared graph, not a factory."""
    project.write("graph.py", GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    assert registry.graph_ids == ["agent"]
    assert "agent" in registry and len(registry) == 1
    entry = registry.entry("agent")
    assert not entry.is_factory and entry.graph_id == "agent"


async def test_compiled_graph_identity_and_name(project: Project) -> None:
    """``get`` returns the shared compiled graph; its default name becomes the graph id."""
    project.write("graph.py", GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    first = await registry.get("agent")
    assert isinstance(first, Pregel)
    assert first is await registry.get("agent", {"configurable": {"thread_id": "t"}})
    assert first.name == "agent"
    assert (await first.ainvoke({}))["value"] == "compiled"


async def test_a_custom_graph_name_is_kept(project: Project) -> None:
    """A graph compiled with its own name keeps it."""
    project.write("graph.py", GRAPH_MODULE.replace("builder.compile()", "builder.compile(name='custom')"))
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    assert (await registry.get("agent")).name == "custom"


async def test_checkpointer_and_store_bind_to_a_copy(project: Project) -> None:
    """Passing a checkpointer gives a copy that has it; the shared graph is left without one."""
    project.write("graph.py", GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    saver = InMemorySaver()
    bound = await registry.get("agent", checkpointer=saver)
    shared = registry.entry("agent").graph
    assert shared is not None and bound is not shared
    assert bound.checkpointer is saver and shared.checkpointer is None
    config = {"configurable": {"thread_id": "t1"}}
    await bound.ainvoke({}, config)
    assert (await bound.aget_state(config)).values == {"value": "compiled"}


async def test_module_graph(project: Project) -> None:
    """A ``package.module:attr`` spec is imported by module name from the config directory."""
    pkg = f"modgraphs_{project.tag}"
    project.write(f"{pkg}/__init__.py")
    project.write(f"{pkg}/agent.py", GRAPH_MODULE.replace('"compiled"', '"module"'))
    registry = registry_for(project, {"agent": f"{pkg}.agent:graph"})
    assert (await (await registry.get("agent")).ainvoke({}))["value"] == "module"


async def test_state_graph_is_compiled_at_load(project: Project) -> None:
    """An uncompiled StateGraph is compiled once, at load."""
    project.write("graph.py", STATE_GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    graph = await registry.get("agent")
    assert isinstance(graph, Pregel) and graph is await registry.get("agent")
    assert (await graph.ainvoke({}))["value"] == "compiled"


async def test_sync_factory_is_called_per_run(project: Project) -> None:
    """A zero-argument factory builds a new graph for every ``get``."""
    path = project.write("factories.py", FACTORY_MODULE)
    registry = registry_for(project, {"agent": "./factories.py:make_graph"})
    entry = registry.entry("agent")
    assert entry.is_factory and not entry.factory_takes_config
    first, second = await registry.get("agent"), await registry.get("agent")
    assert first is not second
    assert first.name == "agent"
    assert (await first.ainvoke({}))["value"] == "compiled"
    calls = sys.modules[file_module_name(path)].CALLS
    assert calls == [None, None]


async def test_async_factory_receives_the_run_config(project: Project) -> None:
    """An async factory taking a config is awaited with the run's config (completed by ensure_config)."""
    path = project.write("factories.py", FACTORY_MODULE)
    registry = registry_for(project, {"agent": "./factories.py:make_graph_for"})
    assert registry.entry("agent").factory_takes_config
    saver = InMemorySaver()
    graph = await registry.get(
        "agent", {"configurable": {"who": "ada", "thread_id": "t"}}, checkpointer=saver
    )
    assert graph.name == "greeter" and graph.checkpointer is saver
    assert (await graph.ainvoke({}, {"configurable": {"thread_id": "t"}}))["value"] == "hello ada"
    assert (await (await registry.get("agent")).ainvoke({}))["value"] == "hello nobody"
    calls = sys.modules[file_module_name(path)].CALLS
    assert calls[0]["configurable"]["who"] == "ada"
    assert "recursion_limit" in calls[1]


async def test_factory_with_an_optional_config_gets_it(project: Project) -> None:
    """A factory whose one parameter has a default still receives the config."""
    path = project.write("factories.py", FACTORY_MODULE)
    registry = registry_for(project, {"agent": "./factories.py:make_with_optional"})
    await registry.get("agent", {"configurable": {"x": 1}})
    calls = sys.modules[file_module_name(path)].CALLS
    assert calls[0]["configurable"] == {"x": 1}


async def test_factory_returning_a_state_graph(project: Project) -> None:
    """A factory may return an uncompiled StateGraph; it is compiled per run."""
    project.write("factories.py", FACTORY_MODULE)
    registry = registry_for(project, {"agent": "./factories.py:make_state_graph"})
    graph = await registry.get("agent")
    assert isinstance(graph, Pregel) and graph.name == "agent"


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        (
            "make_two",
            r"a graph factory takes no argument or one RunnableConfig; this one requires \['config', 'other'\]",
        ),
        ("make_with_runtime", "factories taking a ServerRuntime are not supported"),
    ],
)
def test_unsupported_factory_signatures_fail_at_load(project: Project, attr: str, expected: str) -> None:
    """A factory signature the registry cannot call fails at load, naming the graph and spec."""
    project.write("factories.py", FACTORY_MODULE)
    with pytest.raises(ConfigError, match=rf"^graph 'agent' \('./factories.py:{attr}'\): {expected}"):
        registry_for(project, {"agent": f"./factories.py:{attr}"})


async def test_factory_returning_no_graph_is_a_config_error(project: Project) -> None:
    """A factory that returns something else fails the ``get`` with a ConfigError naming the graph."""
    project.write("factories.py", FACTORY_MODULE)
    registry = registry_for(project, {"agent": "./factories.py:make_nothing"})
    with pytest.raises(
        ConfigError, match=r"graph 'agent' .*: the factory returned a int, expected a compiled graph"
    ):
        await registry.get("agent")


async def test_context_manager_factories_are_entered_by_open(project: Project) -> None:
    """``open`` enters a factory's (async or sync) context manager around the run; ``get`` refuses it."""
    path = project.write("cms.py", CONTEXT_FACTORY_MODULE)
    registry = registry_for(project, {"acm": "./cms.py:make_async_cm", "scm": "./cms.py:make_sync_cm"})
    events = sys.modules[file_module_name(path)].EVENTS
    async with registry.open("acm", {"configurable": {}}) as graph:
        assert events == ["async enter"]
        assert (await graph.ainvoke({}))["value"] == "compiled"
    async with registry.open("scm") as graph:
        assert graph.name == "scm"
    assert events == ["async enter", "async exit", "sync enter", "sync exit"]
    with pytest.raises(ConfigError, match=r"the factory returns a context manager; use GraphRegistry\.open"):
        await registry.get("acm")


async def test_open_also_serves_plain_graphs_and_factories(project: Project) -> None:
    """``open`` works for compiled graphs and ordinary factories alike."""
    project.write("graph.py", GRAPH_MODULE)
    project.write("factories.py", FACTORY_MODULE)
    registry = registry_for(project, {"plain": "./graph.py:graph", "made": "./factories.py:make_graph"})
    async with registry.open("plain") as plain, registry.open("made") as made:
        assert plain is registry.entry("plain").graph
        assert made.name == "made"


def test_sibling_modules_import_by_plain_name(project: Project) -> None:
    """A graph file imports a module next to it, because the config directory is on ``sys.path``."""
    helper = f"helpers_{project.tag}"
    project.write(f"{helper}.py", "VALUE = 'from sibling'\n")
    project.write("graph.py", GRAPH_MODULE.replace('VALUE = "compiled"', f"from {helper} import VALUE"))
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    graph = registry.entry("agent").graph
    assert graph is not None and graph.invoke({})["value"] == "from sibling"


def test_relative_imports_inside_a_package(project: Project) -> None:
    """A graph file in a package under the config dir may use relative imports."""
    pkg = f"agent_{project.tag}"
    project.write(f"{pkg}/__init__.py")
    project.write(f"{pkg}/values.py", "VALUE = 'relative'\n")
    project.write(f"{pkg}/graph.py", GRAPH_MODULE.replace('VALUE = "compiled"', "from .values import VALUE"))
    registry = registry_for(project, {"agent": f"./{pkg}/graph.py:graph"})
    graph = registry.entry("agent").graph
    assert graph is not None and graph.invoke({})["value"] == "relative"


def test_local_dependency_directories_are_importable(project: Project) -> None:
    """A module in a ``dependencies`` directory is importable from a graph file."""
    lib = f"sharedlib_{project.tag}"
    project.write(f"libs/{lib}.py", "VALUE = 'from libs'\n")
    project.write("graph.py", GRAPH_MODULE.replace('VALUE = "compiled"', f"from {lib} import VALUE"))
    registry = registry_for(project, {"agent": "./graph.py:graph"}, dependencies=[".", "./libs"])
    graph = registry.entry("agent").graph
    assert graph is not None and graph.invoke({})["value"] == "from libs"


def test_two_graphs_from_one_file_share_the_module(project: Project) -> None:
    """Graphs named from the same file import it once."""
    path = project.write(
        "graph.py",
        f"IMPORTS = []\n{GRAPH_MODULE}\nother = builder.compile(name='other')\nIMPORTS.append(1)\n",
    )
    registry = registry_for(project, {"a": "./graph.py:graph", "b": "./graph.py:other"})
    b = registry.entry("b").graph
    assert b is not None and b.name == "other"
    assert sys.modules[file_module_name(path)].IMPORTS == [1]


@pytest.mark.parametrize(
    ("source", "attr", "expected"),
    [
        ("raise RuntimeError('boom')\n", "graph", r"importing .* failed: RuntimeError: boom"),
        (GRAPH_MODULE, "grpah", r".*graph.py has no attribute 'grpah' .*Found: .*graph"),
        ("graph = 42\n", "graph", r"'graph' is a int, not a compiled graph, a StateGraph or a graph factory"),
        (
            STATE_GRAPH_MODULE.replace('builder.add_edge(START, "node")\n', ""),
            "graph",
            r"compiling the StateGraph failed: ValueError",
        ),
    ],
    ids=["import error", "missing attribute", "not a graph", "compile error"],
)
def test_loading_errors_name_the_graph_and_spec(
    project: Project, source: str, attr: str, expected: str
) -> None:
    """Every way a graph fails to load is a ConfigError starting with the graph id and spec."""
    project.write("graph.py", source)
    with pytest.raises(ConfigError, match=rf"^graph 'agent' \('./graph.py:{attr}'\): {expected}"):
        registry_for(project, {"agent": f"./graph.py:{attr}"})


def test_namespace_is_langgraph_apis_constant_not_namespace_url() -> None:
    """The system assistant namespace is 6ba7b821-..., which is not ``uuid.NAMESPACE_URL`` (6ba7b811-...)."""
    assert UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8") == NAMESPACE_GRAPH
    assert uuid.NAMESPACE_URL != NAMESPACE_GRAPH


def test_assistant_ids_match_langgraph_api() -> None:
    """``assistant_id_for`` gives the ids langgraph-api gives its system assistants."""
    assert assistant_id_for("agent") == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
    assert assistant_id_for("agent") == str(uuid5(UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "agent"))
    assert assistant_id_for("agent") != str(uuid5(uuid.NAMESPACE_URL, "agent"))


def test_resolve_assistant(project: Project) -> None:
    """A graph name resolves to its system assistant, a UUID to itself, anything else is not found."""
    project.write("graph.py", GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph", "other": "./graph.py:graph"})
    assert registry.resolve_assistant("agent") == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
    assert registry.assistant_id_for("agent") == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
    assert (
        registry.resolve_assistant("FE096781-5601-53D2-B2F6-0D3403F7E9CA")
        == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
    )
    some_uuid = str(uuid.uuid4())
    assert registry.resolve_assistant(some_uuid) == some_uuid
    assert registry.graph_id_for_assistant("FE096781-5601-53D2-B2F6-0D3403F7E9CA") == "agent"
    assert registry.graph_id_for_assistant(some_uuid) is None
    assert registry.graph_id_for_assistant("agent") is None
    with pytest.raises(
        GraphNotFoundError, match=r"'nope' not found. Expected one of: \['agent', 'other'\]"
    ) as caught:
        registry.resolve_assistant("nope")
    assert caught.value.available == ["agent", "other"]


async def test_unknown_graph(project: Project) -> None:
    """Asking for a graph that is not in the config is GraphNotFoundError."""
    project.write("graph.py", GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    with pytest.raises(GraphNotFoundError):
        await registry.get("missing")
    with pytest.raises(GraphNotFoundError):
        registry.assistant_id_for("missing")


def test_load_is_idempotent(project: Project) -> None:
    """A second ``load`` keeps the graphs already loaded."""
    project.write("graph.py", GRAPH_MODULE)
    registry = registry_for(project, {"agent": "./graph.py:graph"})
    graph = registry.entry("agent").graph
    registry.load()
    assert registry.entry("agent").graph is graph
