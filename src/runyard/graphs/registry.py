"""The graphs of a project, loaded, and the system assistant of each.

A spec's attribute may be:

- a compiled graph (``Pregel``, e.g. ``CompiledStateGraph``): used as is for every run;
- an uncompiled ``StateGraph``: compiled once, at load;
- a factory: any other callable, sync or async, taking no argument or one ``RunnableConfig``
  (the run's config). It is called for every run and may return a compiled graph, a
  ``StateGraph`` (compiled then), an awaitable of either, or a context manager (sync or async)
  yielding either, for graphs that hold resources; only ``GraphRegistry.open`` accepts those.

Factories are recognised the way ``langgraph-api`` does it: by being callable once the two
graph types are ruled out, and by their signature (zero parameters, or one, which receives the
config). Factories taking langgraph-api's ``ServerRuntime`` are refused at load with a message.

Each graph has a system assistant whose id is ``uuid5(NAMESPACE_GRAPH, graph_id)``.
``NAMESPACE_GRAPH`` is langgraph-api's constant ``6ba7b821-9dad-11d1-80b4-00c04fd430c8``; it is
*not* ``uuid.NAMESPACE_URL`` (``6ba7b811-...``), one hex digit apart.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeAlias, TypeGuard
from uuid import UUID, uuid5

from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import ensure_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from .config import GraphSpec, ProjectConfig, load_config
from .environment import add_python_paths, apply_env
from .errors import ConfigError, GraphNotFoundError
from .loader import load_object

logger = logging.getLogger(__name__)

NAMESPACE_GRAPH = UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
DEFAULT_GRAPH_NAME = "LangGraph"

CompiledGraph: TypeAlias = Pregel[Any, Any, Any, Any]


def assistant_id_for(graph_id: str) -> str:
    """The id of the system assistant of ``graph_id``, as langgraph-api computes it."""
    return str(uuid5(NAMESPACE_GRAPH, graph_id))


@dataclass(frozen=True, slots=True)
class LoadedGraph:
    """A graph of the project after its module was imported."""

    spec: GraphSpec
    assistant_id: str
    graph: CompiledGraph | None = None
    """The compiled graph, shared by every run; ``None`` for a factory."""
    factory: Callable[..., Any] | None = None
    factory_takes_config: bool = False

    @property
    def graph_id(self) -> str:
        """The graph's id in ``langgraph.json``."""
        return self.spec.graph_id

    @property
    def is_factory(self) -> bool:
        """Whether the graph is built per run."""
        return self.factory is not None


def _what(spec: GraphSpec) -> str:
    return f"graph {spec.graph_id!r} ({spec.source!r})"


def _mentions_runtime(parameter: inspect.Parameter) -> bool:
    annotation = parameter.annotation
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "ServerRuntime" in text


def _factory_takes_config(spec: GraphSpec, factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` receives the run's config; raise ``ConfigError`` for other signatures."""
    try:
        parameters = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(_mentions_runtime(p) for p in parameters):
        raise ConfigError(
            f"{_what(spec)}: factories taking a ServerRuntime are not supported; take no argument "
            "or one RunnableConfig"
        )
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    required += [p for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if len(required) > 1 or any(p.kind is p.KEYWORD_ONLY for p in required):
        names = [p.name for p in required]
        raise ConfigError(
            f"{_what(spec)}: a graph factory takes no argument or one RunnableConfig; this one requires {names}"
        )
    return bool(positional) or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def _compile(spec: GraphSpec, graph: StateGraph[Any, Any, Any, Any]) -> CompiledGraph:
    try:
        return graph.compile()
    except Exception as exc:
        raise ConfigError(
            f"{_what(spec)}: compiling the StateGraph failed: {type(exc).__name__}: {exc}"
        ) from exc


def _named(spec: GraphSpec, graph: CompiledGraph) -> CompiledGraph:
    """``graph`` named after its id when it has LangGraph's default name, as langgraph-api does."""
    if graph.name == DEFAULT_GRAPH_NAME:
        return graph.copy(update={"name": spec.graph_id})
    return graph


def _as_compiled(spec: GraphSpec, value: object) -> CompiledGraph:
    if isinstance(value, Pregel):
        return _named(spec, value)
    if isinstance(value, StateGraph):
        return _named(spec, _compile(spec, value))
    raise ConfigError(
        f"{_what(spec)}: the factory returned a {type(value).__name__}, expected a compiled graph or a StateGraph"
    )


def _is_async_context_manager(value: object) -> TypeGuard[AbstractAsyncContextManager[Any]]:
    return hasattr(value, "__aenter__") and hasattr(value, "__aexit__")


def _is_sync_context_manager(value: object) -> TypeGuard[AbstractContextManager[Any]]:
    return hasattr(value, "__enter__") and hasattr(value, "__exit__")


def _is_context_manager(value: object) -> bool:
    if isinstance(value, Pregel | StateGraph):
        return False
    return _is_async_context_manager(value) or _is_sync_context_manager(value)


def _load_graph(spec: GraphSpec, base_dir: Path) -> LoadedGraph:
    value = load_object(spec, base_dir, what=_what(spec))
    assistant_id = assistant_id_for(spec.graph_id)
    if isinstance(value, Pregel | StateGraph):
        graph = _as_compiled(spec, value)
        if graph.checkpointer not in (None, True, False) or graph.store is not None:
            logger.warning(
                "%s was compiled with its own checkpointer or store; runs use the server's instead",
                _what(spec),
            )
        return LoadedGraph(spec=spec, assistant_id=assistant_id, graph=graph)
    if callable(value):
        takes_config = _factory_takes_config(spec, value)
        return LoadedGraph(
            spec=spec, assistant_id=assistant_id, factory=value, factory_takes_config=takes_config
        )
    raise ConfigError(
        f"{_what(spec)}: {spec.attr!r} is a {type(value).__name__}, not a compiled graph, a StateGraph "
        "or a graph factory"
    )


class GraphRegistry:
    """The project's graphs by id, and their system assistants.

    ``load`` applies the project's ``env`` and ``dependencies`` (see ``environment``) and imports
    every graph; it is synchronous, because imports are, so an async caller runs it in a thread.
    """

    def __init__(self, config: ProjectConfig, *, apply_env: bool = True, override_env: bool = False) -> None:
        self._config = config
        self._apply_env = apply_env
        self._override_env = override_env
        self._graphs: dict[str, LoadedGraph] = {}
        self._by_assistant: dict[str, str] = {}

    @classmethod
    def from_file(cls, path: str | Path, *, apply_env: bool = True, override_env: bool = False) -> Self:
        """Parse ``path`` (a ``langgraph.json`` or its directory) and load every graph in it."""
        registry = cls(load_config(path), apply_env=apply_env, override_env=override_env)
        registry.load()
        return registry

    @property
    def config(self) -> ProjectConfig:
        """The parsed project configuration."""
        return self._config

    def load(self) -> None:
        """Import every graph (once); raise ``ConfigError`` naming the first graph that fails."""
        if self._graphs:
            return
        if self._apply_env:
            apply_env(self._config, override=self._override_env)
        add_python_paths(self._config)
        graphs = {
            graph_id: _load_graph(spec, self._config.base_dir)
            for graph_id, spec in self._config.graphs.items()
        }
        self._graphs = graphs
        self._by_assistant = {entry.assistant_id: graph_id for graph_id, entry in graphs.items()}

    @property
    def graph_ids(self) -> list[str]:
        """The ids of the loaded graphs, in config order."""
        return list(self._graphs)

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self._graphs

    def __iter__(self) -> Iterator[LoadedGraph]:
        return iter(self._graphs.values())

    def __len__(self) -> int:
        return len(self._graphs)

    def entry(self, graph_id: str) -> LoadedGraph:
        """The loaded graph ``graph_id``; ``GraphNotFoundError`` if there is none."""
        try:
            return self._graphs[graph_id]
        except KeyError:
            raise GraphNotFoundError(graph_id, self._graphs) from None

    def assistant_id_for(self, graph_id: str) -> str:
        """The system assistant id of a graph of this project."""
        return self.entry(graph_id).assistant_id

    def resolve_assistant(self, id_or_graph_name: str) -> str:
        """An assistant id from what a client sends as ``assistant_id``: a graph name or a UUID.

        A graph name gives its system assistant's id (as langgraph-api does, a graph name wins
        over a UUID-shaped string). A UUID is returned in canonical form; whether such an
        assistant exists is for the assistant store to say. Anything else is
        ``GraphNotFoundError``, which lists the graphs.
        """
        if id_or_graph_name in self._graphs:
            return self._graphs[id_or_graph_name].assistant_id
        try:
            return str(UUID(id_or_graph_name))
        except ValueError:
            raise GraphNotFoundError(id_or_graph_name, self._graphs) from None

    def graph_id_for_assistant(self, assistant_id: str) -> str | None:
        """The graph whose system assistant is ``assistant_id``, if it is one."""
        try:
            canonical = str(UUID(assistant_id))
        except ValueError:
            return None
        return self._by_assistant.get(canonical)

    async def _produce(self, entry: LoadedGraph, config: RunnableConfig | None) -> object:
        assert entry.factory is not None
        value = entry.factory(ensure_config(config)) if entry.factory_takes_config else entry.factory()
        if inspect.isawaitable(value):
            value = await value
        return value

    @staticmethod
    def _bind(
        graph: CompiledGraph, checkpointer: BaseCheckpointSaver[Any] | None, store: BaseStore | None
    ) -> CompiledGraph:
        update: dict[str, Any] = {}
        if checkpointer is not None:
            update["checkpointer"] = checkpointer
        if store is not None:
            update["store"] = store
        return graph.copy(update=update) if update else graph

    async def get(
        self,
        graph_id: str,
        config: RunnableConfig | None = None,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        store: BaseStore | None = None,
    ) -> CompiledGraph:
        """The graph to run ``graph_id`` with, for a run whose config is ``config``.

        A compiled graph is the same object every time (a shallow copy when ``checkpointer`` or
        ``store`` is given, which leaves the shared one untouched); a factory is called with
        ``config``. A factory that returns a context manager needs ``open`` instead.
        """
        entry = self.entry(graph_id)
        if entry.graph is not None:
            return self._bind(entry.graph, checkpointer, store)
        value = await self._produce(entry, config)
        if _is_context_manager(value):
            raise ConfigError(
                f"{_what(entry.spec)}: the factory returns a context manager; use GraphRegistry.open()"
            )
        return self._bind(_as_compiled(entry.spec, value), checkpointer, store)

    @asynccontextmanager
    async def open(
        self,
        graph_id: str,
        config: RunnableConfig | None = None,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        store: BaseStore | None = None,
    ) -> AsyncIterator[CompiledGraph]:
        """Like ``get``, as a context manager that also enters a factory's context manager."""
        entry = self.entry(graph_id)
        if entry.graph is not None:
            yield self._bind(entry.graph, checkpointer, store)
            return
        value = await self._produce(entry, config)
        if isinstance(value, Pregel | StateGraph):
            yield self._bind(_as_compiled(entry.spec, value), checkpointer, store)
        elif _is_async_context_manager(value):
            async with value as produced:
                yield self._bind(_as_compiled(entry.spec, produced), checkpointer, store)
        elif _is_sync_context_manager(value):
            with value as produced:
                yield self._bind(_as_compiled(entry.spec, produced), checkpointer, store)
        else:
            yield self._bind(_as_compiled(entry.spec, value), checkpointer, store)
