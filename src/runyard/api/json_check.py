"""What a JSON request body may hold so that runyard can store and send it back.

Python's JSON parser accepts more than the stores and the stream serialiser (orjson) can write,
and more than PostgreSQL's ``jsonb`` keeps: integers beyond 64 bits, ``NaN``/``Infinity``,
lone UTF-16 surrogates (``"\\ud800"``) and NUL characters. Each would fail later, as a 500 or a
run that cannot publish its output; ``problem`` finds the first one, so the request model can
refuse it up front with a 422 that names where it is (ARCHITECTURE.md, decision 7). The same
rules hold on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import math
from typing import Any

_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not valid Unicode"
    return None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if _MIN_INT <= value <= _MAX_INT:
            return None
        return f"integer {value} does not fit in 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a JSON number"
    if isinstance(value, str):
        return _text_problem(value)
    return None


def problem(value: Any, where: str = "") -> str | None:
    """The first thing in ``value`` (parsed JSON) runyard cannot store, as ``"<path>: <why>"``."""
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (why := _text_problem(key)):
                    return f"{child_path!r} (a key): {why}"
                stack.append((child_path, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
        elif why := _scalar_problem(item):
            return f"{path or 'body'}: {why}"
    return None
