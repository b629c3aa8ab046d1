"""JSON encoding of what graphs stream: LangChain messages, interrupts, commands, dataclasses.

Each chunk is encoded once, when the executor publishes it, into an ``orjson.Fragment``: SSE
framing, ``/wait`` bodies and cross-process bridges then embed the bytes as they are instead of
walking the state again (and a later mutation of the state cannot change what was sent).
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

import orjson
from langgraph.types import Command, Interrupt, Send

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    if isinstance(obj, Interrupt):
        return {"value": obj.value, "id": obj.id}
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump):
        return model_dump()
    if isinstance(obj, Send):
        return {"node": obj.node, "arg": obj.arg}
    if isinstance(obj, Command):
        return {
            k: v
            for k, v in (
                ("graph", obj.graph),
                ("update", obj.update),
                ("resume", obj.resume),
                ("goto", obj.goto),
            )
            if v
        }
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    as_dict = getattr(obj, "dict", None)  # pydantic v1 models
    if callable(as_dict):
        return as_dict()
    return str(obj)


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes for anything a graph can put in its state or stream."""
    return orjson.dumps(obj, default=_default, option=_OPTIONS)


def fragment(obj: Any) -> orjson.Fragment:
    """``obj`` encoded once, embeddable in any later orjson output without re-encoding."""
    return orjson.Fragment(dumps(obj))


def to_jsonable(obj: Any) -> Any:
    """A plain JSON value (dicts, lists, scalars) equal to what ``dumps`` would write."""
    return orjson.loads(dumps(obj))
