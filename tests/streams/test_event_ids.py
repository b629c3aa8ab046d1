"""``parse_event_id``: the key that orders stream event ids (contract invariant 1)."""

from __future__ import annotations

import pytest

from runyard.streams import parse_event_id


@pytest.mark.parametrize(
    ("event_id", "key"),
    [
        ("0", (0, 0)),
        ("0-0", (0, 0)),
        ("1795361023307-0", (1795361023307, 0)),
        ("1795361023307-42", (1795361023307, 42)),
        ("17", (17, 0)),
        (f"{2**64 - 1}-{2**64 - 1}", (2**64 - 1, 2**64 - 1)),
    ],
)
def test_well_formed_ids_parse_to_their_key(event_id: str, key: tuple[int, int]) -> None:
    """ "<ms>-<seq>" and a bare "<ms>" (read as "<ms>-0", as Redis does) parse to (ms, seq)."""
    assert parse_event_id(event_id) == key


@pytest.mark.parametrize(
    "event_id",
    [
        "",
        "-",
        "-1",
        "1-",
        "-1-0",
        "1-2-3",
        "+1-0",
        " 1-0",
        "1-0 ",
        "1_0-0",
        "0x10-0",
        "abc",
        "\u0661\u0662-0",
        f"{2**64}-0",
    ],
)
def test_anything_else_does_not_parse(event_id: str) -> None:
    """Signs, spaces, underscores, non-ASCII digits, extra parts and 64-bit overflow are not ids."""
    assert parse_event_id(event_id) is None


def test_keys_order_ids_where_string_comparison_does_not() -> None:
    """Ids order by their parsed key: "999-0" comes before "1000-0" although it sorts after as a string."""
    assert "999-0" > "1000-0"
    assert parse_event_id("999-0") < parse_event_id("1000-0")  # type: ignore[operator]
    assert parse_event_id("1000-9") < parse_event_id("1000-10")  # type: ignore[operator]
