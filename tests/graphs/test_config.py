"""``load_config``: every form ``langgraph.json`` allows, and a named error for every mistake."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from runyard.graphs import ConfigError, ImportSpec, load_config

from .conftest import Project


@pytest.fixture
def files(project: Project) -> Project:
    """A project with a graph file, a local library directory and an embedding file."""
    project.write("agent/graph.py", "graph = None\n")
    project.write("embed.py", "def embed(texts): return [[0.0] * 3 for _ in texts]\n")
    project.write("webapp.py", "async def app(scope, receive, send): pass\n")
    (project.root / "libs").mkdir()
    return project


def test_graph_string_and_object_forms(files: Project) -> None:
    """A graph is a spec string or an object with ``path`` and an optional ``description``."""
    config = load_config(
        files.config(
            {
                "graphs": {
                    "plain": "./agent/graph.py:graph",
                    "described": {"path": "./agent/graph.py:graph", "description": "An agent"},
                    "bare": {"path": "agent/graph.py:graph"},
                }
            }
        )
    )
    file = (files.root / "agent/graph.py").resolve()
    plain, described, bare = config.graphs["plain"], config.graphs["described"], config.graphs["bare"]
    assert (plain.graph_id, plain.path, plain.module, plain.attr) == ("plain", file, None, "graph")
    assert plain.source == "./agent/graph.py:graph"
    assert plain.description is None
    assert described.description == "An agent"
    assert bare.path == file
    assert list(config.graphs) == ["plain", "described", "bare"]


def test_module_form_and_py_suffix_without_slash(files: Project) -> None:
    """``pkg.mod:attr`` is a module; ``file.py:attr`` without a slash is still a file."""
    files.write("flat.py", "graph = None\n")
    config = load_config(files.config({"graphs": {"mod": "my_pkg.graphs:graph", "flat": "flat.py:graph"}}))
    assert (config.graphs["mod"].module, config.graphs["mod"].path) == ("my_pkg.graphs", None)
    assert config.graphs["mod"].location == "my_pkg.graphs"
    assert config.graphs["flat"].path == (files.root / "flat.py").resolve()


def test_paths_resolve_against_the_config_directory_not_the_cwd(
    files: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative paths are resolved against the file's directory, wherever the process runs."""
    path = files.config({"graphs": {"a": "./agent/graph.py:graph"}, "env": ".env"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.path == path.resolve()
    assert config.base_dir == files.root.resolve()
    assert config.graphs["a"].path == (files.root / "agent/graph.py").resolve()
    assert config.env == (files.root / ".env").resolve()


def test_a_directory_means_its_langgraph_json(files: Project) -> None:
    """``load_config`` accepts the directory that holds ``langgraph.json``."""
    files.config({"graphs": {"a": "./agent/graph.py:graph"}})
    assert load_config(files.root).path == (files.root / "langgraph.json").resolve()


def test_dependencies_give_python_paths(files: Project) -> None:
    """The config dir comes first, then local dirs; packages stay data unless a directory matches."""
    (files.root / "vendored").mkdir()
    config = load_config(
        files.config(
            {
                "graphs": {"a": "./agent/graph.py:graph"},
                "dependencies": [".", "./libs", "langchain-openai>=0.3", "vendored", "./libs/"],
            }
        )
    )
    root = files.root.resolve()
    assert config.dependencies == (".", "./libs", "langchain-openai>=0.3", "vendored", "./libs/")
    assert config.python_paths == (root, root / "libs", root / "vendored")


def test_no_dependencies_still_puts_the_config_dir_on_the_path(files: Project) -> None:
    """Without ``dependencies`` the config directory is still importable, as under ``langgraph dev``."""
    config = load_config(files.config({"graphs": {"a": "./agent/graph.py:graph"}}))
    assert config.dependencies == ()
    assert config.python_paths == (files.root.resolve(),)


def test_env_as_a_mapping(files: Project) -> None:
    """``env`` may be an object of variables, kept as given."""
    config = load_config(
        files.config({"graphs": {"a": "./agent/graph.py:graph"}, "env": {"A": "1", "B": ""}})
    )
    assert config.env == {"A": "1", "B": ""}


def test_http_app_and_switches(files: Project) -> None:
    """``http.app`` is parsed as a spec, ``disable_*`` are booleans, other options are kept."""
    config = load_config(
        files.config(
            {
                "graphs": {"a": "./agent/graph.py:graph"},
                "http": {
                    "app": "./webapp.py:app",
                    "disable_store": True,
                    "disable_mcp": True,
                    "cors": {"allow_origins": ["*"]},
                    "mount_prefix": "/api",
                },
            }
        )
    )
    http = config.http
    assert http is not None and http.app is not None
    assert (http.app.path, http.app.attr) == ((files.root / "webapp.py").resolve(), "app")
    assert (http.disable_store, http.disable_mcp, http.disable_runs) == (True, True, False)
    assert http.mount_prefix == "/api"
    assert http.model_extra == {"cors": {"allow_origins": ["*"]}}


def test_store_index_and_ttl(files: Project) -> None:
    """``store.index.embed`` naming a file is parsed; ``dims``, ``fields`` and ``ttl`` are kept."""
    config = load_config(
        files.config(
            {
                "graphs": {"a": "./agent/graph.py:graph"},
                "store": {
                    "index": {"embed": "./embed.py:embed", "dims": 3, "fields": ["text", "meta.title"]},
                    "ttl": {"refresh_on_read": False, "default_ttl": 60, "sweep_interval_minutes": 5},
                },
            }
        )
    )
    store = config.store
    assert store is not None and store.index is not None and store.ttl is not None
    assert store.index.embed == "./embed.py:embed"
    assert store.index.embed_spec == ImportSpec(
        source="./embed.py:embed", path=(files.root / "embed.py").resolve(), attr="embed"
    )
    assert (store.index.dims, store.index.fields) == (3, ["text", "meta.title"])
    assert (store.ttl.refresh_on_read, store.ttl.default_ttl, store.ttl.sweep_interval_minutes) == (
        False,
        60.0,
        5,
    )
    assert store.path is None


def test_store_embed_provider_id_is_not_an_import(files: Project) -> None:
    """A ``provider:model`` embed (no ``.py:``) is kept as a string with no import spec."""
    config = load_config(
        files.config(
            {
                "graphs": {"a": "./agent/graph.py:graph"},
                "store": {"index": {"embed": "openai:text-embedding-3-small", "dims": 1536}},
            }
        )
    )
    assert config.store is not None and config.store.index is not None
    assert config.store.index.embed_spec is None
    assert config.store.ttl is None


def test_checkpointer_auth_and_other_keys_are_kept_as_data(
    files: Project, caplog: pytest.LogCaptureFixture
) -> None:
    """``checkpointer`` and ``auth`` are kept; image keys go to ``extra`` quietly, unknown ones with a warning."""
    checkpointer = {"ttl": {"strategy": "delete", "default_ttl": 60}, "serde": {"pickle_fallback": True}}
    with caplog.at_level(logging.WARNING, logger="runyard.graphs.config"):
        config = load_config(
            files.config(
                {
                    "graphs": {"a": "./agent/graph.py:graph"},
                    "checkpointer": checkpointer,
                    "auth": {"path": "./auth.py:auth"},
                    "python_version": "3.12",
                    "graphz": {},
                }
            )
        )
    assert config.checkpointer == checkpointer
    assert config.auth == {"path": "./auth.py:auth"}
    assert config.extra == {"python_version": "3.12", "graphz": {}}
    assert [r.getMessage() for r in caplog.records] == [f"{config.path}: unknown key 'graphz' is ignored"]


GOOD_GRAPHS = {"a": "./agent/graph.py:graph"}

BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("graphs missing", {}, "graphs: missing"),
    ("graphs not an object", {"graphs": ["./agent/graph.py:graph"]}, "graphs: must be an object"),
    ("graphs empty", {"graphs": {}}, "graphs: is empty"),
    ("graph spec a number", {"graphs": {"a": 3}}, "graphs.a: must be a spec string or an object"),
    ("object form without path", {"graphs": {"a": {"description": "x"}}}, "graphs.a.path: missing"),
    (
        "description not a string",
        {"graphs": {"a": {"path": "./agent/graph.py:graph", "description": 1}}},
        "graphs.a.description: must be a string",
    ),
    (
        "spec without colon",
        {"graphs": {"a": "./agent/graph.py"}},
        "graphs.a: './agent/graph.py' has no ':name' part",
    ),
    (
        "empty attribute",
        {"graphs": {"a": "./agent/graph.py:"}},
        "graphs.a: './agent/graph.py:': '' after ':'",
    ),
    ("attribute not an identifier", {"graphs": {"a": "./agent/graph.py:1x"}}, "'1x' after ':' is not"),
    ("nothing before colon", {"graphs": {"a": ":graph"}}, "graphs.a: ':graph' has no file or module"),
    ("bad module name", {"graphs": {"a": "my-pkg.graphs:graph"}}, "graphs.a: 'my-pkg.graphs' in"),
    ("missing file", {"graphs": {"a": "./nope.py:graph"}}, "graphs.a: file not found: "),
    (
        "missing file, object form",
        {"graphs": {"a": {"path": "./nope.py:graph"}}},
        "graphs.a.path: file not found",
    ),
    (
        "not a .py file",
        {"graphs": {"a": "./agent/graph.txt:graph"}},
        "graphs.a: './agent/graph.txt:graph' names a path",
    ),
    (
        "JavaScript graph",
        {"graphs": {"a": "./agent/graph.ts:graph"}},
        "graphs.a: './agent/graph.ts:graph' names a JavaScript",
    ),
    ("dependencies not a list", {"graphs": GOOD_GRAPHS, "dependencies": "."}, "dependencies: must be a list"),
    (
        "dependency not a string",
        {"graphs": GOOD_GRAPHS, "dependencies": [".", 3]},
        "dependencies[1]: must be",
    ),
    (
        "missing local dependency",
        {"graphs": GOOD_GRAPHS, "dependencies": ["./gone"]},
        "dependencies[0]: './gone' is not",
    ),
    ("env a number", {"graphs": GOOD_GRAPHS, "env": 3}, "env: must be a path to a .env file or an object"),
    (
        "env value a number",
        {"graphs": GOOD_GRAPHS, "env": {"PORT": 8000}},
        "env.PORT: environment values must be",
    ),
    ("http not an object", {"graphs": GOOD_GRAPHS, "http": "./webapp.py:app"}, "http: must be an object"),
    (
        "http.app without colon",
        {"graphs": GOOD_GRAPHS, "http": {"app": "./webapp.py"}},
        "http.app: './webapp.py' has",
    ),
    (
        "http.app missing file",
        {"graphs": GOOD_GRAPHS, "http": {"app": "./x.py:app"}},
        "http.app: file not found",
    ),
    (
        "http switch not a bool",
        {"graphs": GOOD_GRAPHS, "http": {"disable_runs": "yes"}},
        "http.disable_runs: Input",
    ),
    ("store not an object", {"graphs": GOOD_GRAPHS, "store": []}, "store: must be an object"),
    ("index not an object", {"graphs": GOOD_GRAPHS, "store": {"index": 3}}, "store.index: must be an object"),
    (
        "index without dims",
        {"graphs": GOOD_GRAPHS, "store": {"index": {"embed": "a:b"}}},
        "store.index.dims: Field",
    ),
    (
        "index dims zero",
        {"graphs": GOOD_GRAPHS, "store": {"index": {"embed": "a:b", "dims": 0}}},
        "store.index.dims: Input should be greater than 0",
    ),
    (
        "index dims a string",
        {"graphs": GOOD_GRAPHS, "store": {"index": {"embed": "a:b", "dims": "3"}}},
        "store.index.dims: Input should be a valid integer",
    ),
    (
        "index without embed",
        {"graphs": GOOD_GRAPHS, "store": {"index": {"dims": 3}}},
        "store.index.embed: Field",
    ),
    (
        "embed file missing",
        {"graphs": GOOD_GRAPHS, "store": {"index": {"embed": "./gone.py:embed", "dims": 3}}},
        "store.index.embed: file not found",
    ),
    (
        "negative ttl",
        {"graphs": GOOD_GRAPHS, "store": {"ttl": {"default_ttl": -1}}},
        "store.ttl.default_ttl: Input should be greater than 0",
    ),
    ("checkpointer a list", {"graphs": GOOD_GRAPHS, "checkpointer": []}, "checkpointer: must be an object"),
    ("auth a string", {"graphs": GOOD_GRAPHS, "auth": "./auth.py:auth"}, "auth: must be an object"),
]


@pytest.mark.parametrize(
    ("data", "expected"), [case[1:] for case in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_invalid_config_names_the_file_and_key(files: Project, data: dict[str, Any], expected: str) -> None:
    """Each mistake raises ConfigError whose message starts with the file and names the key."""
    path = files.config(data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path.resolve()}: ")
    assert expected in message


def test_missing_config_file(tmp_path: Path) -> None:
    """A config file that does not exist is a ConfigError naming it."""
    with pytest.raises(ConfigError, match=r"langgraph\.json: config file not found"):
        load_config(tmp_path / "langgraph.json")


def test_invalid_json(files: Project) -> None:
    """Malformed JSON is a ConfigError with the line and column."""
    path = files.write("langgraph.json", '{\n  "graphs": {,}\n}\n')
    with pytest.raises(ConfigError, match=r"invalid JSON at line 2, column 14"):
        load_config(path)


def test_top_level_not_an_object(files: Project) -> None:
    """A JSON array at the top level is a ConfigError."""
    path = files.write("langgraph.json", "[]")
    with pytest.raises(ConfigError, match="the top level must be a JSON object, got list"):
        load_config(path)
