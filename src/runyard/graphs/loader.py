"""Importing the Python objects ``langgraph.json`` names: ``./path/to/file.py:attr`` or ``pkg.module:attr``.

A spec whose location contains a path separator or ends in ``.py`` is a file, resolved against
the config file's directory; anything else is an importable module name. This is the rule
``langgraph-api`` applies, extended with ``.py`` so ``graph.py:graph`` is a file too.

A file is imported once per process and kept in ``sys.modules``, so objects defined in it can be
pickled and a second registry over the same project reuses the module instead of executing it
again. Its module name is:

- its dotted package name (``my_agent.graph``) when the file sits in a package (a directory with
  ``__init__.py``) whose parent directory is on ``sys.path``. The module is then imported the
  ordinary way, so ``from .tools import search`` works inside it. ``langgraph-api`` loads every
  file under a made-up name, where relative imports fail; runyard accepts what it accepts and
  this as well.
- otherwise a name unique to the file's absolute path (``runyard_user__graph_py_1a2b3c4d5e``).
  Sibling modules are still importable by their plain names (``from tools import search``)
  because the config directory is on ``sys.path`` (see ``environment.add_python_paths``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import keyword
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import ConfigError

logger = logging.getLogger(__name__)

FILE_MODULE_PREFIX = "runyard_user__"
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPEC_FORMS = "expected './path/to/file.py:name' or 'package.module:name'"


class ImportSpec(BaseModel):
    """Where a Python object lives: a ``.py`` file or an importable module, and an attribute in it."""

    model_config = ConfigDict(frozen=True)

    source: str
    """The spec as written in the config."""
    path: Path | None = None
    """The absolute, resolved ``.py`` file, for the file form."""
    module: str | None = None
    """The dotted module name, for the module form."""
    attr: str

    @property
    def location(self) -> str:
        """The file or module part, for messages."""
        return str(self.path) if self.path is not None else str(self.module)


def _is_identifier(name: str) -> bool:
    return bool(_IDENTIFIER.match(name)) and not keyword.iskeyword(name)


def parse_import_spec(spec: str, base_dir: Path, *, must_exist: bool = True) -> ImportSpec:
    """Split and check ``spec``; raise ``ValueError`` with a message that says what is wrong.

    The caller adds where the spec came from (file and key) to the message.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"expected a non-empty string ({_SPEC_FORMS}), got {spec!r}")
    if ":" not in spec:
        raise ValueError(f"{spec!r} has no ':name' part; {_SPEC_FORMS}")
    location, attr = spec.rsplit(":", 1)
    if not location:
        raise ValueError(f"{spec!r} has no file or module before ':'; {_SPEC_FORMS}")
    if not _is_identifier(attr):
        raise ValueError(f"{spec!r}: {attr!r} after ':' is not a Python identifier; {_SPEC_FORMS}")
    if location.endswith(JS_SUFFIXES):
        raise ValueError(f"{spec!r} names a JavaScript file; runyard runs Python graphs only")
    if "/" in location or "\\" in location or location.endswith(".py"):
        if not location.endswith(".py"):
            raise ValueError(f"{spec!r} names a path that is not a '.py' file; {_SPEC_FORMS}")
        path = (base_dir / location).resolve()
        if must_exist and not path.is_file():
            raise ValueError(f"file not found: {path} (from {spec!r})")
        return ImportSpec(source=spec, path=path, attr=attr)
    if not all(_is_identifier(part) for part in location.split(".")):
        raise ValueError(f"{location!r} in {spec!r} is not a dotted module name; {_SPEC_FORMS}")
    return ImportSpec(source=spec, module=location, attr=attr)


def file_module_name(path: Path) -> str:
    """The ``sys.modules`` name a file outside any importable package is loaded under."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode(), usedforsecurity=False).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.name)
    return f"{FILE_MODULE_PREFIX}{stem}_{digest}"


def _same_file(module: ModuleType, path: Path) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and Path(file).resolve() == path


def _package_module_name(path: Path) -> str | None:
    """The dotted name of ``path`` when it sits in a package importable from ``sys.path``."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    directory = path.parent
    if not (directory / "__init__.py").is_file():
        return None
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    if not all(_is_identifier(part) for part in parts):
        return None
    search_path = {Path(entry or ".").resolve() for entry in sys.path if isinstance(entry, str)}
    return ".".join(parts) if directory in search_path else None


def _exec_file(path: Path) -> ModuleType:
    name = file_module_name(path)
    existing = sys.modules.get(name)
    if existing is not None and _same_file(existing, path):
        return existing
    modspec = importlib.util.spec_from_file_location(name, path)
    if modspec is None or modspec.loader is None:
        raise ImportError(f"cannot load a Python module from {path}")
    module = importlib.util.module_from_spec(modspec)
    sys.modules[name] = module
    try:
        modspec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def import_file(path: Path) -> ModuleType:
    """Import the ``.py`` file at ``path`` (see the module docstring for the name it gets)."""
    path = path.resolve()
    dotted = _package_module_name(path)
    if dotted is not None:
        module = importlib.import_module(dotted)
        if _same_file(module, path):
            return module
        logger.warning(
            "%s resolves to %s, not to %s; loading the file under its own name instead",
            dotted,
            getattr(module, "__file__", None),
            path,
        )
    return _exec_file(path)


def import_spec_module(spec: ImportSpec) -> ModuleType:
    """Import the file or module that ``spec`` names."""
    if spec.path is not None:
        return import_file(spec.path)
    return importlib.import_module(str(spec.module))


def _public_names(module: ModuleType) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    )


def load_object(spec: str | ImportSpec, base_dir: Path | None = None, *, what: str = "spec") -> Any:
    """Import the module ``spec`` names and return its attribute.

    ``base_dir`` resolves a relative file path (default: the current directory). ``what`` says
    where the spec came from (``"http.app"``, ``"graph 'chat'"``) and starts every error message.
    Raises ``ConfigError`` when the spec is malformed, the module fails to import, or the
    attribute is missing.
    """
    if isinstance(spec, str):
        try:
            spec = parse_import_spec(spec, base_dir if base_dir is not None else Path.cwd())
        except ValueError as exc:
            raise ConfigError(f"{what}: {exc}") from exc
    try:
        module = import_spec_module(spec)
    except Exception as exc:
        raise ConfigError(
            f"{what}: importing {spec.location} (from {spec.source!r}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        return getattr(module, spec.attr)
    except AttributeError as exc:
        found = _public_names(module)
        hint = f" Found: {', '.join(found[:20])}" if found else ""
        raise ConfigError(
            f"{what}: {spec.location} has no attribute {spec.attr!r} (from {spec.source!r}).{hint}"
        ) from exc


def load_callable(
    spec: str | ImportSpec, base_dir: Path | None = None, *, what: str = "spec"
) -> Callable[..., Any]:
    """``load_object`` for a spec that must name a callable (an ASGI app, an embedding function)."""
    value = load_object(spec, base_dir, what=what)
    if not callable(value):
        source = spec if isinstance(spec, str) else spec.source
        raise ConfigError(f"{what}: {source!r} is a {type(value).__name__}, not a callable")
    return value  # type: ignore[no-any-return]
