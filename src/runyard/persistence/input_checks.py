"""The input checks the assistant and thread stores share, each part raising its own error type.

Both stores refuse the same kinds of bad input (an unknown mode or sort, a negative page, a
non-object JSON value, a bare string where a list of ids belongs) with the same messages; only
the exception differs, so the API maps each part's refusals to 422 on its own. This sits in
``persistence`` because ``assistants`` and ``threads`` are peers that may both build on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


class InputChecks:
    """Checks that raise ``error(message)``, the message naming the value and what is accepted."""

    def __init__(
        self,
        error: Callable[[str], Exception],
        *,
        sort_fields: Sequence[str],
        sort_orders: Sequence[str],
        if_exists_modes: Sequence[str],
    ) -> None:
        self._error = error
        self._sort_fields = sort_fields
        self._sort_orders = sort_orders
        self._if_exists_modes = if_exists_modes

    def one_of(self, kind: str, value: object, allowed: Sequence[str]) -> str:
        """``value`` when it is one of ``allowed``."""
        if not isinstance(value, str) or value not in allowed:
            raise self._error(f"Unknown {kind} {value!r}: use one of {', '.join(allowed)}")
        return value

    def if_exists(self, if_exists: object) -> str:
        return self.one_of("if_exists mode", if_exists, self._if_exists_modes)

    def sort(self, sort_by: object, sort_order: object) -> tuple[str, bool]:
        """The sort field and whether the order is descending."""
        field = self.one_of("sort field", sort_by, self._sort_fields)
        return field, self.one_of("sort order", sort_order, self._sort_orders) == "desc"

    def page(self, limit: int, offset: int) -> None:
        for name, value in (("limit", limit), ("offset", offset)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self._error(f"{name} must be a non-negative integer, got {value!r}")

    def json_object(self, name: str, value: object) -> dict[str, Any]:
        """A JSON object argument (config, metadata, a filter) as a dict; None is ``{}``."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._error(f"{name} must be a JSON object, got {type(value).__name__}")
        return dict(value)

    def optional_object(self, name: str, value: object) -> dict[str, Any] | None:
        """Like ``json_object``, but None stays None ("leave it as it is")."""
        return None if value is None else self.json_object(name, value)

    def string_list(self, name: str, what: str, values: Sequence[str] | None) -> list[str] | None:
        """A list of strings (None filters nothing); a bare string is refused, not split."""
        if values is None:
            return None
        if isinstance(values, str | bytes) or not all(isinstance(value, str) for value in values):
            raise self._error(f"{name} must be {what}, got {values!r}")
        return list(values)
