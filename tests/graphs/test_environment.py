"""``env`` and ``dependencies`` applied to the process: the .env reader, precedence, ``sys.path``."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from runyard.graphs import (
    GraphRegistry,
    add_python_paths,
    apply_env,
    load_config,
    parse_dotenv,
    read_env,
)

from .conftest import GRAPH_MODULE, Project


def test_dotenv_syntax() -> None:
    """Comments, ``export``, quotes, escapes, inline comments and multi-line values read as python-dotenv does."""
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "export EXPORTED=yes\n"
        "SPACED = padded value   \n"
        "INLINE=kept # dropped\n"
        "HASH=a#b\n"
        "SINGLE='no $expansion ${PLAIN} \\n'\n"
        'DOUBLE="tab\\there \\"quoted\\" ${PLAIN}"\n'
        'MULTI="line one\nline two"\n'
        "EMPTY=\n"
        "QUOTED_COMMENT='x' # note\n"
    )
    assert parse_dotenv(text) == {
        "PLAIN": "value",
        "EXPORTED": "yes",
        "SPACED": "padded value",
        "INLINE": "kept",
        "HASH": "a#b",
        "SINGLE": "no $expansion ${PLAIN} \\n",
        "DOUBLE": 'tab\there "quoted" value',
        "MULTI": "line one\nline two",
        "EMPTY": "",
        "QUOTED_COMMENT": "x",
    }


def test_dotenv_expansion_and_precedence() -> None:
    """``${NAME}`` and ``${NAME:-default}`` expand; ``prefer_file`` says whether file or process wins."""
    text = "HOST=file-host\nURL=http://${HOST}:${PORT:-8000}/${MISSING}\n"
    environ = {"HOST": "env-host"}
    assert parse_dotenv(text, environ)["URL"] == "http://env-host:8000/"
    assert parse_dotenv(text, environ, prefer_file=True)["URL"] == "http://file-host:8000/"


def test_dotenv_skips_a_line_without_equals(caplog: pytest.LogCaptureFixture) -> None:
    """A line that is not KEY=value is skipped with a warning naming its line number."""
    with caplog.at_level(logging.WARNING, logger="runyard.graphs.dotenv"):
        assert parse_dotenv("A=1\njust words\nB=2\n") == {"A": "1", "B": "2"}
    assert [r.getMessage() for r in caplog.records] == [".env line 2 is not KEY=value; skipped"]


def test_dotenv_unterminated_quote_is_an_error() -> None:
    """An unterminated quote raises ValueError with the line number."""
    with pytest.raises(ValueError, match=r"\.env line 2: unterminated \" quote"):
        parse_dotenv('A=1\nB="open\n')


def test_env_file_does_not_override_the_process_by_default(project: Project) -> None:
    """A variable already set keeps its value; the others are set and returned."""
    project.write(".env", "RY_SET=from-file\nRY_NEW=new\n")
    config = load_config(project.config({"graphs": {"a": "m:g"}, "env": ".env"}))
    environ = {"RY_SET": "from-process"}
    assert apply_env(config, environ=environ) == {"RY_NEW": "new"}
    assert environ == {"RY_SET": "from-process", "RY_NEW": "new"}


def test_env_override_is_langgraph_dev_behaviour(project: Project) -> None:
    """With ``override=True`` every value from the file is written, as ``langgraph dev`` does."""
    project.write(".env", "RY_SET=from-file\n")
    config = load_config(project.config({"graphs": {"a": "m:g"}, "env": ".env"}))
    environ = {"RY_SET": "from-process"}
    assert apply_env(config, override=True, environ=environ) == {"RY_SET": "from-file"}
    assert environ == {"RY_SET": "from-file"}


def test_env_mapping_applies_like_a_file(project: Project) -> None:
    """Inline ``env`` variables follow the same precedence."""
    config = load_config(project.config({"graphs": {"a": "m:g"}, "env": {"RY_A": "1", "RY_B": "2"}}))
    environ = {"RY_A": "0"}
    assert apply_env(config, environ=environ) == {"RY_B": "2"}
    assert environ == {"RY_A": "0", "RY_B": "2"}


def test_missing_env_file_is_a_warning_not_an_error(
    project: Project, caplog: pytest.LogCaptureFixture
) -> None:
    """A ``.env`` that a fresh checkout lacks loads nothing and logs why."""
    config = load_config(project.config({"graphs": {"a": "m:g"}, "env": ".env"}))
    with caplog.at_level(logging.WARNING, logger="runyard.graphs.environment"):
        assert read_env(config) == {}
    assert "does not exist" in caplog.records[0].getMessage()


def test_no_env_applies_nothing(project: Project) -> None:
    """A config without ``env`` sets nothing."""
    config = load_config(project.config({"graphs": {"a": "m:g"}}))
    assert apply_env(config, environ={}) == {}


def test_python_paths_are_appended_once(project: Project) -> None:
    """The config dir and local dependencies go to the end of ``sys.path``, without duplicates."""
    (project.root / "libs").mkdir(parents=True)
    config = load_config(project.config({"graphs": {"a": "m:g"}, "dependencies": [".", "./libs"]}))
    expected = [str(project.root.resolve()), str((project.root / "libs").resolve())]
    assert add_python_paths(config) == expected
    assert sys.path[-2:] == expected
    assert add_python_paths(config) == []
    assert sys.path.count(expected[0]) == 1


def test_registry_applies_env_before_importing_graphs(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A graph module that reads a variable at import time sees the project's ``env``; set ones win."""
    for name in ("RY_GRAPH_VALUE", "RY_KEPT"):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.setenv("RY_KEPT", "from-process")
    project.write(".env", "RY_GRAPH_VALUE=from-env-file\nRY_KEPT=from-file\n")
    project.write(
        "graph.py",
        GRAPH_MODULE.replace('VALUE = "compiled"', 'import os\nVALUE = os.environ["RY_GRAPH_VALUE"]'),
    )
    registry = GraphRegistry.from_file(project.config({"graphs": {"g": "./graph.py:graph"}, "env": ".env"}))
    assert os.environ["RY_GRAPH_VALUE"] == "from-env-file"
    assert os.environ["RY_KEPT"] == "from-process"
    graph = registry.entry("g").graph
    assert graph is not None and graph.invoke({})["value"] == "from-env-file"


def test_registry_can_leave_the_environment_alone(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """``apply_env=False`` imports the graphs without touching ``os.environ``."""
    monkeypatch.setenv("RY_UNTOUCHED", "placeholder")
    monkeypatch.delenv("RY_UNTOUCHED")
    project.write("graph.py", GRAPH_MODULE)
    GraphRegistry.from_file(
        project.config({"graphs": {"g": "./graph.py:graph"}, "env": {"RY_UNTOUCHED": "x"}}), apply_env=False
    )
    assert "RY_UNTOUCHED" not in os.environ
