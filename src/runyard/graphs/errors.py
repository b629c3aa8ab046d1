"""The graph layer's exceptions, and the HTTP status the API maps each to.

    GraphsError              base of everything ``runyard.graphs`` raises on purpose
    ├── ConfigError          ``langgraph.json`` is invalid, or a spec in it cannot be loaded
    │                        (a startup failure; at run time, a factory that returned no graph).
    │                        The message names the file or graph and the offending key or spec.
    └── GraphNotFoundError   404 (422 where the reference answers 422, e.g. a run's
                             ``assistant_id``): no graph, and no system assistant, by that name

Exceptions raised by user code inside a graph factory at run time are not wrapped: they are
the run's own error, reported like any exception raised by a node.
"""

from __future__ import annotations

from collections.abc import Iterable


class GraphsError(Exception):
    """Base class of the graph layer's deliberate errors."""


class ConfigError(GraphsError, ValueError):
    """The project configuration, or a graph, app or callable named in it, cannot be used."""


class GraphNotFoundError(GraphsError, LookupError):
    """No graph or assistant matches the given id or name."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = sorted(available)
        super().__init__(f"Graph or assistant {name!r} not found. Expected one of: {self.available}")
