"""Settings from the environment: dev mode (``RUNYARD_DEV``) and ``LANGGRAPH_CONFIG``."""

from __future__ import annotations

import pytest

from runyard.config import SettingsError, parse_assistant_configs, settings_from_env


def test_dev_mode_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dev mode defaults on; RUNYARD_DEV=0 or the CLI's override (dev_mode=False) turns it off."""
    monkeypatch.delenv("RUNYARD_DEV", raising=False)
    assert settings_from_env().dev_mode
    assert not settings_from_env(dev_mode=False).dev_mode
    for off in ("0", "false", "No", " off "):
        monkeypatch.setenv("RUNYARD_DEV", off)
        assert not settings_from_env().dev_mode
    monkeypatch.setenv("RUNYARD_DEV", "1")
    assert settings_from_env().dev_mode


def test_langgraph_config_becomes_the_assistant_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    """LANGGRAPH_CONFIG maps graph ids to configs; null is an empty config; unset is none at all."""
    monkeypatch.delenv("LANGGRAPH_CONFIG", raising=False)
    assert settings_from_env().assistant_configs == {}
    monkeypatch.setenv(
        "LANGGRAPH_CONFIG", '{"a": {"configurable": {"k": 1}, "recursion_limit": 5}, "b": null}'
    )
    assert settings_from_env().assistant_configs == {
        "a": {"configurable": {"k": 1}, "recursion_limit": 5},
        "b": {},
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1]", "JSON object mapping graph ids"),
        ('{"a": 1}', "LANGGRAPH_CONFIG['a']: must be a JSON object"),
        ('{"a": {"tags": "x"}}', "tags: must be a list of strings"),
        ('{"a": {"recursion_limit": 0}}', "recursion_limit: must be a positive integer"),
        ("{", "must be valid JSON"),
    ],
)
def test_a_bad_langgraph_config_is_refused_by_name(raw: str, message: str) -> None:
    """Each malformed LANGGRAPH_CONFIG raises SettingsError saying what and where."""
    with pytest.raises(SettingsError, match=message.replace("[", r"\[")):
        parse_assistant_configs(raw)
