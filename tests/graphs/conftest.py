"""Fixtures for the graph-loading tests: a throwaway project whose imports are undone afterwards."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runyard.graphs.loader import FILE_MODULE_PREFIX


def forget_imports(root: Path, modules_before: set[str], path_before: list[str]) -> None:
    """Restore ``sys.path`` and drop the modules imported from files under ``root``."""
    sys.path[:] = path_before
    root = root.resolve()
    for name in set(sys.modules) - modules_before:
        file = getattr(sys.modules[name], "__file__", None)
        if name.startswith(FILE_MODULE_PREFIX) or (file and Path(file).resolve().is_relative_to(root)):
            del sys.modules[name]


@dataclass
class Project:
    """A project directory: write files into it, then a ``langgraph.json``."""

    root: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    """A suffix for module names, unique to the test, so no two tests share a module."""

    def write(self, relpath: str, text: str = "") -> Path:
        """Write a (dedented) file under the project root and return its path."""
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        importlib.invalidate_caches()
        return path

    def config(self, data: dict[str, Any], name: str = "langgraph.json") -> Path:
        """Write ``data`` as the project's config file and return its path."""
        return self.write(name, json.dumps(data))


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """A fresh project directory; ``sys.path`` and ``sys.modules`` are restored after the test."""
    modules_before, path_before = set(sys.modules), list(sys.path)
    try:
        yield Project(tmp_path / "project")
    finally:
        forget_imports(tmp_path, modules_before, path_before)


GRAPH_MODULE = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    value: str


def node(state: State) -> dict:
    return {"value": VALUE}


VALUE = "compiled"
builder = StateGraph(State)
builder.add_node("node", node)
builder.add_edge(START, "node")
builder.add_edge("node", END)
graph = builder.compile()
"""
"""A module defining ``graph``, a compiled one-node graph whose ``value`` becomes ``VALUE``."""
