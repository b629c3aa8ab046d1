"""``langsmith_tracer``: the extra LangSmith project a run is traced to, as langgraph-api does.

The API stamps ``__langsmith_project__`` (and ``__langsmith_example_id__``) into the run's
``configurable``; the run then executes inside a LangSmith tracing context whose replicas are that
project and the default one. With tracing off (no ``LANGSMITH_TRACING``) the context changes
nothing, so the key is accepted and has no effect, as on langgraph-api without LangSmith.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def langsmith_replicas(configurable: dict[str, Any]) -> Iterator[None]:
    """Trace into the run's extra project too, when it names one."""
    project = configurable.get("__langsmith_project__")
    if not project:
        yield
        return
    from langsmith.run_helpers import tracing_context
    from langsmith.utils import get_tracer_project

    example_id = configurable.get("__langsmith_example_id__")
    updates = {"reference_example_id": example_id} if example_id else None
    replicas: Any = [
        {"project_name": project, "updates": updates},
        {"project_name": get_tracer_project(), "updates": None},
    ]
    with tracing_context(replicas=replicas):
        yield
