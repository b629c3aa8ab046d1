"""``json_contains`` says what Postgres' ``jsonb @>`` says, case by case.

Each case carries the answer Postgres gives; the memory store and SQLite's check rely on the
function, Postgres on the operator, so pinning both to one table keeps the three stores in step.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
import pytest

from runyard.threads.containment import json_contains

CASES: list[tuple[Any, Any, bool]] = [
    # objects: every pattern key present and contained; extra keys are fine
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 1, "b": 2}, False),
    ({"a": 1}, {}, True),
    ({}, {}, True),
    ({}, {"a": None}, False),
    ({"a": None}, {"a": None}, True),
    ({"a": {"b": {"c": 1, "d": 2}}}, {"a": {"b": {"c": 1}}}, True),
    ({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": 2}}}, False),
    ({"a": {"b": 1}}, {"a": {}}, True),
    ({"a": 1}, {"a": {}}, False),
    # scalars: same JSON type and equal; numbers by value; booleans are not numbers
    ({"n": 1}, {"n": 1.0}, True),
    ({"n": 1.5}, {"n": 1.5}, True),
    ({"n": 1}, {"n": True}, False),
    ({"n": True}, {"n": 1}, False),
    ({"n": 0}, {"n": False}, False),
    ({"n": "1"}, {"n": 1}, False),
    ({"n": 1}, {"n": "1"}, False),
    ({"n": None}, {"n": False}, False),
    ({"n": ""}, {"n": None}, False),
    ({"s": "héllo 🚀"}, {"s": "héllo 🚀"}, True),
    ({"s": "a"}, {"s": "A"}, False),
    ({"big": 12345678901234567}, {"big": 12345678901234567}, True),
    ({"big": 12345678901234567}, {"big": 12345678901234568}, False),
    # arrays: each pattern element contained in some element, order and repetition free
    ({"t": ["x", "y", "z"]}, {"t": ["z", "x"]}, True),
    ({"t": ["x"]}, {"t": ["x", "x"]}, True),
    ({"t": ["x"]}, {"t": ["x", "y"]}, False),
    ({"t": ["x"]}, {"t": []}, True),
    ({"t": []}, {"t": []}, True),
    ({"t": {}}, {"t": []}, False),
    ({"t": []}, {"t": {}}, False),
    ({"t": ["x"]}, {"t": "x"}, False),
    ({"t": "x"}, {"t": ["x"]}, False),
    ({"t": [1, 2, [1, 3]]}, {"t": [1, 3]}, False),
    ({"t": [1, 2, [1, 3]]}, {"t": [[1, 3]]}, True),
    ({"t": [1, 2, [1, 3]]}, {"t": [[3]]}, True),
    ({"t": [[1, 2]]}, {"t": [1]}, False),
    ({"t": [{"a": 1, "b": 2}, {"c": 3}]}, {"t": [{"a": 1}]}, True),
    ({"t": [{"a": 1}, {"b": 2}]}, {"t": [{"a": 1, "b": 2}]}, False),
    ({"t": [{"a": 1}, {"b": 2}]}, {"t": [{"a": 1}, {"b": 2}]}, True),
    ({"t": [{"a": [1, 2]}]}, {"t": [{"a": [2]}]}, True),
    ({"t": [1, 2]}, {"t": [1.0]}, True),
    ({"t": [1, 2]}, {"t": [True]}, False),
    ({"t": [None]}, {"t": [None]}, True),
    ({"t": [0]}, {"t": [None]}, False),
    # the shapes a thread's values take
    (
        {"messages": [{"type": "human", "content": "hi"}, {"type": "ai", "content": "yo"}], "step": 2},
        {"messages": [{"type": "ai"}], "step": 2},
        True,
    ),
    (
        {"messages": [{"type": "human", "content": "hi"}]},
        {"messages": [{"type": "ai", "content": "hi"}]},
        False,
    ),
]


@pytest.mark.parametrize(("document", "pattern", "expected"), CASES)
def test_json_contains(document: Any, pattern: Any, expected: bool) -> None:
    """json_contains gives the answer Postgres gives for each case."""
    assert json_contains(document, pattern) is expected


@pytest.mark.postgres
def test_postgres_agrees_with_every_case(postgres_url: str) -> None:
    """A real Postgres evaluates document::jsonb @> pattern::jsonb to the table's answer for every case."""
    with psycopg.connect(postgres_url) as conn:
        answers = [
            conn.execute(
                "SELECT %s::jsonb @> %s::jsonb",
                (orjson.dumps(document).decode(), orjson.dumps(pattern).decode()),
            ).fetchone()
            for document, pattern, _ in CASES
        ]
    assert [answer[0] if answer else None for answer in answers] == [expected for _, _, expected in CASES]
