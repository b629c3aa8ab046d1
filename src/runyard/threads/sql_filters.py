"""The WHERE and ORDER BY clauses of a thread search, per dialect.

Postgres answers containment itself: ``metadata_json @> :pattern`` on JSONB. SQLite has no
containment operator, so it gets a pre-filter instead: for every scalar leaf of the pattern at
an object path it can address, a ``json_extract``/``json_type`` test that every containing row
passes. It may let more through (an array pattern is only checked to be an array, a key SQLite's
paths cannot spell is not checked at all), so the store checks the survivors with
``containment.json_contains`` and pages after that check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from ..persistence.thread_tables import threads
from .containment import json_contains
from .validate import check_ids, check_object, check_status

# The containment check SQLite owes a row that passed its pre-filter: (metadata, values) -> bool.
Check = Callable[[Any, Any], bool]

_TEXT_SORTS = frozenset({"thread_id", "status"})
_INT64 = 2**63 - 1
_JSON_TYPE = {None: "null", True: "true", False: "false"}


def where(
    *,
    ids: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    values: Mapping[str, Any] | None,
    status: str | None,
    user_id: str | None,
    postgres: bool,
) -> tuple[list[ColumnElement[bool]], Check | None]:
    """The WHERE conditions of a search, and the containment check SQLite still owes (or None)."""
    if status is not None:
        check_status(status)
    meta_pattern = check_object("metadata filter", metadata)
    values_pattern = check_object("values filter", values)
    conditions = scope(ids=check_ids(ids), status=status, user_id=user_id, postgres=postgres)
    patterns = [
        (column, pattern)
        for column, pattern in (
            (threads.c.metadata_json, meta_pattern),
            (threads.c.values_json, values_pattern),
        )
        if pattern
    ]
    if postgres or not patterns:
        conditions.extend(contains(column, pattern) for column, pattern in patterns)
        return conditions, None
    for column, pattern in patterns:
        conditions.extend(sqlite_prefilter(column, pattern))

    def check(meta: Any, state: Any) -> bool:
        return json_contains(meta, meta_pattern) and (
            not values_pattern or json_contains(state, values_pattern)
        )

    return conditions, check


def scope(
    *, ids: Sequence[str] | None, status: str | None, user_id: str | None, postgres: bool = True
) -> list[ColumnElement[bool]]:
    """Conditions on plain columns.

    On SQLite a list of ids is one JSON array bind read by ``json_each``, not an expanding
    ``IN`` (which SQLAlchemy binds at execution, and the SQLite runner executes compiled SQL).
    """
    conditions: list[ColumnElement[bool]] = []
    if user_id is not None:
        conditions.append(threads.c.user_id == user_id)
    if ids is not None and postgres:
        conditions.append(threads.c.thread_id.in_(list(ids)))
    elif ids is not None:
        listed = func.json_each(literal(json.dumps(list(ids)))).table_valued("value")
        conditions.append(threads.c.thread_id.in_(select(listed.c.value)))
    if status is not None:
        conditions.append(threads.c.status == status)
    return conditions


def contains(column: ColumnElement[Any], pattern: Mapping[str, Any]) -> ColumnElement[bool]:
    """Postgres: ``column @> pattern`` on JSONB."""
    return column.bool_op("@>")(literal(dict(pattern), type_=JSONB()))


def sqlite_prefilter(column: ColumnElement[Any], pattern: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """SQLite: tests every row containing ``pattern`` passes; ``json_contains`` decides."""
    return list(_leaf_tests(column, "$", pattern))


def _label(key: str) -> str | None:
    # A SQLite JSON path label is double-quoted with no escapes: skip keys it cannot spell.
    if not key or '"' in key or "\\" in key:
        return None
    return f'"{key}"'


def _leaf_tests(column: ColumnElement[Any], path: str, pattern: Any) -> Iterator[ColumnElement[bool]]:
    if isinstance(pattern, dict):
        if not pattern:
            yield func.json_type(column, path) == "object"
        for key, value in pattern.items():
            label = _label(key)
            if label is not None:
                yield from _leaf_tests(column, f"{path}.{label}", value)
    elif isinstance(pattern, list):
        yield func.json_type(column, path) == "array"
    elif pattern is None or isinstance(pattern, bool):
        yield func.json_type(column, path) == _JSON_TYPE[pattern]
    elif isinstance(pattern, str | float) or (isinstance(pattern, int) and abs(pattern) <= _INT64):
        # json_extract gives SQL values: text for a string, a number for a number.
        yield func.json_extract(column, path) == pattern


def ordering(field: str, *, descending: bool, postgres: bool) -> list[ColumnElement[Any]]:
    """ORDER BY ``field`` then ``thread_id``, both ascending or both descending.

    Text sorts in code point order everywhere, which is SQLite's BINARY collation, Python's
    ``str`` order (``MemoryThreadStore``) and Postgres' "C" collation.
    """
    keys: list[ColumnElement[Any]] = []
    for name in (field, "thread_id") if field != "thread_id" else ("thread_id",):
        column: ColumnElement[Any] = threads.c[name]
        if postgres and name in _TEXT_SORTS:
            column = column.collate("C")
        keys.append(column.desc() if descending else column.asc())
    return keys
