"""Thread search's ``extract``: named values read out of each thread by a path, as langgraph-api
returns them under ``extracted``.

A path starts with one of the JSON columns (``values``, ``metadata``, ``config``,
``interrupts``) and goes on with ``.key`` and ``[index]`` steps (a negative index counts from
the end): ``values.messages[-1].content``. A step that does not resolve gives ``null``.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import Unprocessable

ROOTS = ("values", "metadata", "config", "interrupts")
MAX_PATHS = 10
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]")


def _steps(path: str) -> tuple[str, list[str | int]] | None:
    """The root column and the steps of ``path``, or None when it is not a path."""
    root = path.split(".", 1)[0].split("[", 1)[0]
    steps: list[str | int] = []
    position = len(root)
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            return None
        key, index = match.groups()
        steps.append(int(index) if index is not None else key)
        position = match.end()
    return root, steps


def check_extract(
    extract: dict[str, Any], reserved: tuple[str, ...]
) -> dict[str, tuple[str, list[str | int]]]:
    """The parsed paths by alias; a 422 naming the first problem."""
    if len(extract) > MAX_PATHS:
        raise Unprocessable(f"extract: at most {MAX_PATHS} paths, got {len(extract)}")
    parsed = {}
    for alias, path in extract.items():
        if not _ALIAS.fullmatch(alias) or alias in reserved:
            raise Unprocessable(
                f"extract: {alias!r} must be an identifier (letters, digits, '_') and not a Thread field"
            )
        steps = _steps(path) if isinstance(path, str) and path else None
        if steps is None or steps[0] not in ROOTS:
            raise Unprocessable(
                f"extract: path {path!r} for {alias!r} must start with one of {', '.join(ROOTS)} "
                "and go on with .key or [index] steps"
            )
        parsed[alias] = steps
    return parsed


def extract_value(row: dict[str, Any], path: tuple[str, list[str | int]]) -> Any:
    root, steps = path
    current = row.get(root)
    for step in steps:
        if isinstance(step, int):
            if not isinstance(current, list) or not -len(current) <= step < len(current):
                return None
            current = current[step]
        elif isinstance(current, dict):
            current = current.get(step)
        else:
            return None
    return current
