"""The system assistants: one per graph of ``langgraph.json``, written to the store at start-up.

Each has id ``uuid5(NAMESPACE_GRAPH, graph_id)``, metadata ``created_by: system``, the graph's
``LANGGRAPH_CONFIG`` entry as config and an empty context, as langgraph-api registers its
graphs; a restart whose project changed them writes a new version (``AssistantStore.upsert_system``).
"""

from __future__ import annotations

import copy

from ..assistants.base import AssistantStore
from ..config import Settings
from ..graphs import GraphRegistry


def system_name(graphs: GraphRegistry, graph_id: str) -> str:
    """The compiled graph's own name, else the graph id (langgraph-api's rule)."""
    entry = graphs.entry(graph_id)
    name = getattr(entry.graph, "name", None) if entry.graph is not None else None
    return name if isinstance(name, str) and name and name != "LangGraph" else graph_id


async def register_system_assistants(
    store: AssistantStore, graphs: GraphRegistry, settings: Settings
) -> None:
    """Create (or bring in line with the project) the system assistant of every graph."""
    for entry in graphs:
        await store.upsert_system(
            entry.assistant_id,
            graph_id=entry.graph_id,
            config=copy.deepcopy(settings.assistant_configs.get(entry.graph_id) or {}),
            name=system_name(graphs, entry.graph_id),
            description=getattr(entry.spec, "description", None),
        )
