"""``load_object``/``load_callable``: importing what a spec names, under a stable module name."""

from __future__ import annotations

import os.path
import pickle
import sys
from pathlib import Path

import pytest

from runyard.graphs import ConfigError, load_callable, load_config, load_object, parse_import_spec
from runyard.graphs.loader import FILE_MODULE_PREFIX, file_module_name, import_file

from .conftest import Project


def test_parse_file_and_module_specs(tmp_path: Path) -> None:
    """A path-like location is a file resolved against the base dir; a dotted name is a module."""
    spec = parse_import_spec("./sub/x.py:fn", tmp_path, must_exist=False)
    assert (spec.path, spec.module, spec.attr) == ((tmp_path / "sub/x.py").resolve(), None, "fn")
    spec = parse_import_spec("a.b.c:fn", tmp_path)
    assert (spec.path, spec.module, spec.attr) == (None, "a.b.c", "fn")


def test_load_callable_from_a_module() -> None:
    """A module spec imports the module by name."""
    assert load_callable("os.path:join") is os.path.join


def test_load_callable_from_a_file_for_http_app_and_embed(project: Project) -> None:
    """``http.app`` and ``store.index.embed`` specs from the config load as callables."""
    project.write("webapp.py", "async def app(scope, receive, send):\n    pass\n")
    project.write("embed.py", "def embed(texts):\n    return [[1.0, 0.0] for _ in texts]\n")
    config = load_config(
        project.config(
            {
                "graphs": {"a": "m:g"},
                "http": {"app": "./webapp.py:app"},
                "store": {"index": {"embed": "./embed.py:embed", "dims": 2}},
            }
        )
    )
    assert config.http is not None and config.http.app is not None
    assert (
        config.store is not None
        and config.store.index is not None
        and config.store.index.embed_spec is not None
    )
    app = load_callable(config.http.app, what="http.app")
    embed = load_callable(config.store.index.embed_spec, what="store.index.embed")
    assert app.__name__ == "app"
    assert embed(["a", "b"]) == [[1.0, 0.0], [1.0, 0.0]]
    assert load_callable("./embed.py:embed", project.root) is embed


def test_not_callable(project: Project) -> None:
    """``load_callable`` refuses an attribute that is not callable; ``load_object`` returns it."""
    project.write("values.py", "NUMBER = 3\n")
    assert load_object("./values.py:NUMBER", project.root) == 3
    with pytest.raises(ConfigError, match=r"^http\.app: './values\.py:NUMBER' is a int, not a callable"):
        load_callable("./values.py:NUMBER", project.root, what="http.app")


def test_missing_attribute_lists_what_the_module_has(project: Project) -> None:
    """A missing attribute names the file, the attribute and the public names found."""
    project.write("values.py", "import json\nNUMBER = 3\ndef helper():\n    pass\n_private = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_object("./values.py:nope", project.root, what="store.index.embed")
    message = str(caught.value)
    assert message.startswith("store.index.embed: ")
    assert "has no attribute 'nope' (from './values.py:nope'). Found: NUMBER, helper" in message


def test_import_error_is_wrapped_with_the_spec(project: Project) -> None:
    """An exception raised while importing is a ConfigError naming the spec and the cause."""
    project.write("broken.py", "import does_not_exist_anywhere\n")
    with pytest.raises(
        ConfigError, match=r"importing .*broken\.py \(from './broken\.py:x'\) failed: ModuleNotFoundError"
    ):
        load_object("./broken.py:x", project.root)
    assert not any(name.startswith(FILE_MODULE_PREFIX + "broken_py") for name in sys.modules)


def test_malformed_spec(tmp_path: Path) -> None:
    """A malformed spec is a ConfigError starting with ``what``."""
    with pytest.raises(ConfigError, match=r"^http\.app: 'app' has no ':name' part"):
        load_object("app", tmp_path, what="http.app")


def test_files_get_unique_module_names_and_are_imported_once(project: Project) -> None:
    """Two ``graph.py`` files get distinct names; importing one twice runs it once."""
    first = project.write("one/graph.py", "WHO = 'one'\n")
    second = project.write("two/graph.py", "WHO = 'two'\n")
    assert file_module_name(first) != file_module_name(second)
    assert file_module_name(first).startswith(FILE_MODULE_PREFIX + "graph_py_")
    module = import_file(first)
    assert import_file(first) is module
    assert sys.modules[file_module_name(first)] is module
    assert import_file(second).WHO == "two"


def test_objects_from_a_file_module_pickle(project: Project) -> None:
    """A class defined in a loaded file can be pickled, since its module is in ``sys.modules``."""
    project.write(
        "models.py",
        "from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n",
    )
    point_cls = load_object("./models.py:Point", project.root)
    point = point_cls(1, 2)
    assert pickle.loads(pickle.dumps(point)) == point


def test_a_file_in_a_package_is_imported_by_its_dotted_name(project: Project) -> None:
    """In a package whose parent is on ``sys.path``, a file is its package's module: relative imports work."""
    pkg = f"agentpkg_{project.tag}"
    project.write(f"{pkg}/__init__.py")
    project.write(f"{pkg}/helpers.py", "GREETING = 'hello'\n")
    project.write(f"{pkg}/main.py", "from .helpers import GREETING\n")
    sys.path.append(str(project.root.resolve()))
    assert load_object(f"./{pkg}/main.py:GREETING", project.root) == "hello"
    assert sys.modules[f"{pkg}.main"].__file__ == str((project.root / pkg / "main.py").resolve())


def test_a_package_not_on_the_path_falls_back_to_a_file_name(project: Project) -> None:
    """A package file whose package root is not importable still loads, under the file's own name."""
    pkg = f"lonepkg_{project.tag}"
    project.write(f"{pkg}/__init__.py")
    path = project.write(f"{pkg}/main.py", "VALUE = 7\n")
    assert load_object(f"./{pkg}/main.py:VALUE", project.root) == 7
    assert file_module_name(path) in sys.modules
    assert f"{pkg}.main" not in sys.modules
