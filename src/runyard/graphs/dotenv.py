"""A small ``.env`` reader: the subset of python-dotenv's syntax that ``langgraph.json`` projects use.

Supported, as python-dotenv reads it: ``KEY=value`` lines, ``export KEY=value``, blank lines and
``#`` comments, a ``#`` after whitespace ending an unquoted value, single-quoted values taken
literally, double-quoted values with backslash escapes (``\\n``, ``\\t``, ``\\"``, ``\\\\``),
quoted values spanning lines, and ``${NAME}`` / ``${NAME:-default}`` expansion in unquoted and
double-quoted values. A line without ``=`` is skipped with a warning.

Written here rather than taken from python-dotenv to keep runyard's dependency list as it is;
``langgraph-api`` itself treats python-dotenv as optional.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

logger = logging.getLogger(__name__)

_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*")
_EXPANSION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "$": "$"}


def _expand(value: str, lookup: Mapping[str, str]) -> str:
    return _EXPANSION.sub(lambda m: lookup.get(m.group(1), m.group(2) or ""), value)


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Read a quoted value whose opening quote is at ``start``; return it and the index after it."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if quote == '"' and nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if quote == "'" and nxt in ("'", "\\"):
                out.append(nxt)
                i += 2
                continue
        if char == quote:
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise ValueError(f"unterminated {quote} quote")


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end == -1 else end


def parse_dotenv(
    text: str, environ: Mapping[str, str] | None = None, *, prefer_file: bool = False
) -> dict[str, str]:
    """Parse ``.env`` text into variables, expanding ``${NAME}`` as it goes.

    A reference is looked up in ``environ`` (default: none) and in the variables defined earlier
    in the file; ``prefer_file`` says which wins when both have it. It should match the
    precedence the variables are applied with, so an expansion sees the value the process will.
    """
    environ = environ or {}
    values: dict[str, str] = {}
    pos = 0
    lineno = 1
    while pos < len(text):
        end = _line_end(text, pos)
        line = text[pos:end]
        if not line.strip() or line.lstrip().startswith("#"):
            lineno, pos = lineno + 1, end + 1
            continue
        match = _KEY.match(line)
        if match is None or not line[match.end() :].startswith("="):
            logger.warning(".env line %d is not KEY=value; skipped", lineno)
            lineno, pos = lineno + 1, end + 1
            continue
        key = match.group(1)
        value_start = pos + match.end() + 1
        while value_start < end and text[value_start] in " \t":
            value_start += 1
        lookup = {**environ, **values} if prefer_file else {**values, **environ}
        if value_start < len(text) and text[value_start] in "'\"":
            quote = text[value_start]
            try:
                value, after = _quoted(text, value_start, quote)
            except ValueError as exc:
                raise ValueError(f".env line {lineno}: {exc}") from exc
            values[key] = _expand(value, lookup) if quote == '"' else value
            end = _line_end(text, after)
        else:
            raw = re.split(r"[ \t]#", text[value_start:end], maxsplit=1)[0].strip()
            values[key] = _expand(raw, lookup)
        lineno += text.count("\n", pos, end) + 1
        pos = end + 1
    return values
