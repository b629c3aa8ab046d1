"""Edits to the OpenAPI schema pydantic derives from the request models, where the models' own
types say less than the validation does: rules across keys, and values refused by name.

They change the published schema only, never what is accepted: a client (or a schema-driven
fuzzer such as schemathesis) that follows the schema sends what the server takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

UUID_FORMAT: dict[str, Any] = {"format": "uuid"}


def not_both(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema for "not ``first`` and ``second`` together"."""
    return {"not": {"allOf": [first, second]}}


def unsupported(*allowed: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A field's schema narrowed to its "off" values: runyard refuses the others by name (422)."""

    def edit(schema: dict[str, Any]) -> None:
        schema.clear()
        schema.update(anyOf=list(allowed), description="Not supported by runyard yet: leave it unset")

    return edit
