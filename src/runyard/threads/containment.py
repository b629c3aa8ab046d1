"""JSON containment with Postgres ``jsonb @>`` semantics, for the stores that cannot ask Postgres.

``MemoryThreadStore`` filters with it, and ``SqlThreadStore`` on SQLite checks the rows its SQL
pre-filter lets through with it, so all three backends agree with ``@>`` on the filters a search
can carry (a JSON object at the top): ``tests/threads/test_containment.py`` compares it with a
real Postgres case by case.
"""

from __future__ import annotations

from typing import Any


def json_contains(document: Any, pattern: Any) -> bool:
    """Whether ``document`` contains ``pattern``, as ``document::jsonb @> pattern::jsonb`` says.

    - an object contains an object when each of the pattern's keys is present and its value
      contains the pattern's value (extra keys are fine);
    - an array contains an array when each pattern element is contained in some element
      (order and repetition do not matter);
    - a scalar contains a scalar when both are the same JSON type and equal; numbers compare
      by value (``1`` equals ``1.0``), booleans are never numbers.

    The one rule left out is Postgres' "a top-level array contains a bare scalar": a document
    here is always an object at the top.
    """
    if isinstance(pattern, dict):
        return isinstance(document, dict) and all(
            key in document and json_contains(document[key], value) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(document, list) and all(
            any(json_contains(element, wanted) for element in document) for wanted in pattern
        )
    return _same_scalar(document, pattern)


def _same_scalar(left: Any, right: Any) -> bool:
    if isinstance(left, dict | list) or isinstance(right, dict | list):
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    return type(left) is type(right) and left == right
