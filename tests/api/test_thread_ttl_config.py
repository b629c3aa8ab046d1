"""Thread ttl settings: ``LANGGRAPH_THREAD_TTL`` over ``checkpointer.ttl``, as langgraph-api reads them."""

from __future__ import annotations

from typing import Any

import pytest

from runyard.api.thread_ttl import DEFAULT_SWEEP_MINUTES, ThreadTtlConfig, thread_ttl_config
from runyard.graphs import ConfigError


def test_nothing_configured_means_no_default_and_the_default_sweep() -> None:
    config = thread_ttl_config(None, {})
    assert config == ThreadTtlConfig()
    assert config.default_for_new_thread() is None
    assert config.sweep_interval_minutes == DEFAULT_SWEEP_MINUTES


def test_checkpointer_ttl_from_langgraph_json() -> None:
    config = thread_ttl_config(
        {
            "ttl": {
                "strategy": "keep_latest",
                "default_ttl": 60,
                "sweep_interval_minutes": 2,
                "sweep_limit": 50,
            }
        },
        {},
    )
    assert config == ThreadTtlConfig("keep_latest", 60.0, 2.0, 50)
    assert config.default_for_new_thread() == {"strategy": "keep_latest", "ttl": 60.0}


def test_the_environment_wins_as_a_number_or_an_object() -> None:
    from_json = {"ttl": {"default_ttl": 1}}
    assert thread_ttl_config(from_json, {"LANGGRAPH_THREAD_TTL": "30"}).default_ttl == 30.0
    config = thread_ttl_config(from_json, {"LANGGRAPH_THREAD_TTL": '{"sweep_interval_minutes": 0.01}'})
    assert config.default_ttl is None and config.sweep_interval_minutes == 0.01


@pytest.mark.parametrize(
    ("checkpointer", "env", "message"),
    [
        ({"ttl": {"strategy": "archive"}}, {}, "checkpointer.ttl.strategy"),
        ({"ttl": {"default_ttl": 0}}, {}, "checkpointer.ttl.default_ttl"),
        ({"ttl": {"sweep_interval_minutes": "often"}}, {}, "sweep_interval_minutes"),
        ({"ttl": {"sweep_limit": 0}}, {}, "sweep_limit"),
        ({"ttl": {"ttl": 5}}, {}, "unknown key"),
        ({"ttl": 5}, {}, "must be an object"),
        (None, {"LANGGRAPH_THREAD_TTL": "soon"}, "LANGGRAPH_THREAD_TTL"),
        (None, {"LANGGRAPH_THREAD_TTL": "{nope"}, "invalid JSON"),
        (None, {"LANGGRAPH_THREAD_TTL": "-3"}, "positive"),
    ],
)
def test_bad_settings_are_refused_by_name(checkpointer: Any, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        thread_ttl_config(checkpointer, env)
