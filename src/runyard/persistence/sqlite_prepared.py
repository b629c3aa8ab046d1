"""Core statements compiled once for the stdlib ``sqlite3`` driver, then executed without SQLAlchemy.

SQLAlchemy compiles each statement (per set of parameter names, as its own statement cache
does) to SQL with named parameters, and hands over the type processing of its binds and result
columns (``UtcTimestamp``'s ISO text, JSON through orjson). Running it is then one
``sqlite3`` call with a dict of processed values: this skips SQLAlchemy's per-execution work
(execution context, cursor result, cache-key lookup), about half of what a statement costs on
the event loop. The SQL and the processing are SQLAlchemy's own, so rows read back exactly as
they do through an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Dialect, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement


class Prepared:
    """One statement's SQL, with what its parameters and result columns need converting."""

    __slots__ = ("_binders", "_defaults", "_readers", "sql")

    def __init__(self, statement: Executable, keys: Sequence[str], dialect: Dialect) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a Core statement: {statement!r}")
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=sorted(keys)))
        if compiled.positional or compiled.escaped_bind_names or "__[POSTCOMPILE" in compiled.string:
            raise ValueError(f"statement needs SQLAlchemy's execution to bind: {compiled.string}")
        self.sql: str = compiled.string
        # Values fixed in the statement (LIMIT 1); the caller's values are the rest.
        self._defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self._binders: list[tuple[str, Callable[[Any], Any]]] = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binders.append((name, process))
        columns = getattr(statement, "exported_columns", ())  # SELECT list or RETURNING
        self._readers: list[tuple[int, Callable[[Any], Any]]] = []
        for index, column in enumerate(columns):
            read = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if read is not None:
                self._readers.append((index, read))

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters as ``sqlite3`` takes them: a dict of driver values by bind name."""
        values = {**self._defaults, **params}
        for name, process in self._binders:
            if name in values:
                values[name] = process(values[name])
        return values

    def read(self, rows: list[Any]) -> list[Sequence[Any]]:
        """Result rows with each column converted to its Python type."""
        if not self._readers:
            return rows
        out: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for index, read in self._readers:
                values[index] = read(values[index])
            out.append(values)
        return out


class PreparedCache:
    """``Prepared`` statements by statement object and parameter names.

    Keyed by the statement object itself (hashing a SQLAlchemy cache key would cost more than
    running the statement), so callers build their statements once and reuse them. A caller
    that builds one per call still works, compiling each time; the bound keeps memory flat.
    """

    MAX_ENTRIES = 1000

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._prepared: dict[tuple[Executable, frozenset[str]], Prepared] = {}

    def get(self, statement: Executable, params: Mapping[str, Any]) -> Prepared:
        key = (statement, frozenset(params))
        prepared = self._prepared.get(key)
        if prepared is None:
            if len(self._prepared) >= self.MAX_ENTRIES:
                self._prepared.clear()
            prepared = self._prepared[key] = Prepared(statement, list(params), self._dialect)
        return prepared
