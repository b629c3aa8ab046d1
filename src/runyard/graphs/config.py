"""Parsing ``langgraph.json``: the graphs, dependencies, env, http, store and checkpointer of a project.

Every relative path is resolved against the directory that holds the config file. (``langgraph
dev`` resolves them against the current directory, which is the same thing when it is started
next to the file, as its docs ask; Aegra uses the file's directory, like runyard.)

Parsing imports nothing and changes nothing: ``environment`` applies ``env`` and
``dependencies``, ``registry`` imports the graphs. A problem raises ``ConfigError`` whose message
starts with the file and the offending key, e.g.
``/srv/app/langgraph.json: graphs.chat: './chat.py' has no ':name' part; ...``.

Keys runyard does not use yet (``auth``, ``checkpointer``, the ``http`` options beyond ``app``,
``disable_*`` and ``mount_prefix``) are validated for shape and kept as data. Keys that only
concern building a container image (``python_version``, ``dockerfile_lines``...) are kept in
``extra`` silently; keys nobody knows are kept in ``extra`` with a warning (a typo should not
stop a server, but should not pass unnoticed either).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError
from .loader import ImportSpec, parse_import_spec

logger = logging.getLogger(__name__)

CONFIG_FILENAME = "langgraph.json"

_USED_KEYS = frozenset({"graphs", "dependencies", "env", "http", "store", "checkpointer", "auth"})
# Keys langgraph-cli knows that runyard has no use for (image building, JS, features not served).
_IGNORED_KEYS = frozenset(
    {
        "$schema",
        "python_version",
        "node_version",
        "api_version",
        "base_image",
        "image_distro",
        "pip_config_file",
        "pip_installer",
        "source",
        "dockerfile_lines",
        "encryption",
        "priority",
        "webhooks",
        "ui",
        "ui_config",
        "keep_pkg_tools",
        "disable_persistence",
        "_INTERNAL_docker_tag",
    }
)


class GraphSpec(ImportSpec):
    """One entry of ``graphs``: where the graph lives, under which id, and its description."""

    graph_id: str
    description: str | None = None


class HttpConfig(BaseModel):
    """``http``: a user's Starlette/FastAPI ``app`` to mount, and the switches that turn routes off.

    Options not listed (``cors``, ``configurable_headers``, ``logging_headers``...) are kept as
    extra fields, readable with ``model_extra``.
    """

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    app: ImportSpec | None = None
    disable_assistants: bool = False
    disable_threads: bool = False
    disable_runs: bool = False
    disable_store: bool = False
    disable_meta: bool = False
    disable_webhooks: bool = False
    disable_ui: bool = False
    disable_mcp: bool = False
    disable_a2a: bool = False
    mount_prefix: str | None = None
    enable_custom_route_auth: bool = False
    middleware_order: Literal["auth_first", "middleware_first"] | None = None

    @field_validator("mount_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or value.endswith("/")):
            raise ValueError(
                f"{value!r} must start with '/' and must not end with '/' (e.g. '/my-api', '/api/v1')"
            )
        return value


class IndexConfig(BaseModel):
    """``store.index``: semantic search over store items."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    embed: str
    """A file or module spec (``./embed.py:embed``), or a LangChain ``provider:model`` id."""
    dims: int = Field(gt=0)
    fields: list[str] | None = None
    embed_spec: ImportSpec | None = None
    """``embed`` parsed, when it names Python code (it contains ``.py:``, langgraph-api's rule);
    ``None`` when it is a provider id for ``langchain.embeddings.init_embeddings``."""


class StoreTTLConfig(BaseModel):
    """``store.ttl``: how long store items live (minutes) and how often expired ones are swept."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    refresh_on_read: bool = True
    default_ttl: float | None = Field(default=None, gt=0)
    sweep_interval_minutes: float | None = Field(default=None, gt=0)
    """langgraph-api takes whole minutes; a fraction is accepted too (short sweeps for tests)."""


class StoreConfig(BaseModel):
    """``store``: an optional custom store (``path``), the vector index and TTLs of the built-in one."""

    model_config = ConfigDict(frozen=True, extra="allow", strict=True)

    path: ImportSpec | None = None
    index: IndexConfig | None = None
    ttl: StoreTTLConfig | None = None


class ProjectConfig(BaseModel):
    """A parsed ``langgraph.json``. Paths in it are absolute."""

    model_config = ConfigDict(frozen=True)

    path: Path
    """The config file."""
    graphs: dict[str, GraphSpec]
    dependencies: tuple[str, ...] = ()
    """As written: local directories and package requirements."""
    python_paths: tuple[Path, ...] = ()
    """Directories to put on ``sys.path``: the config directory, then each local dependency."""
    env: Path | dict[str, str] | None = None
    """A ``.env`` file, or variables given inline."""
    http: HttpConfig | None = None
    store: StoreConfig | None = None
    checkpointer: dict[str, Any] | None = None
    auth: dict[str, Any] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    """Top-level keys runyard does not interpret."""

    @property
    def base_dir(self) -> Path:
        """The directory relative paths in the config are resolved against."""
        return self.path.parent


def _key(prefix: str, loc: tuple[int | str, ...]) -> str:
    return prefix + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _validation_error(file: Path, prefix: str, exc: ValidationError) -> ConfigError:
    problems = [
        f"{_key(prefix, tuple(err['loc']))}: {str(err['msg']).removeprefix('Value error, ')}"
        for err in exc.errors()
    ]
    return ConfigError(f"{file}: " + "; ".join(problems))


def _read_json(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: config file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{file}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a JSON object, got {type(data).__name__}")
    return data


def _parse_graphs(file: Path, raw: object) -> dict[str, GraphSpec]:
    if raw is None:
        raise ConfigError(
            f'{file}: graphs: missing; add at least one graph, e.g. "agent": "./graph.py:graph"'
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{file}: graphs: must be an object mapping graph ids to specs, got {type(raw).__name__}"
        )
    if not raw:
        raise ConfigError(f"{file}: graphs: is empty; add at least one graph")
    graphs: dict[str, GraphSpec] = {}
    for graph_id, value in raw.items():
        key = f"graphs.{graph_id}"
        if not graph_id.strip():
            raise ConfigError(f"{file}: {key}: a graph id must not be empty")
        description: str | None = None
        if isinstance(value, dict):
            if "path" not in value:
                raise ConfigError(
                    f'{file}: {key}.path: missing; the object form is {{"path": "./graph.py:graph"}}'
                )
            spec, raw_description = value["path"], value.get("description")
            if raw_description is not None and not isinstance(raw_description, str):
                raise ConfigError(f"{file}: {key}.description: must be a string")
            description = raw_description
            key = f"{key}.path"
        elif isinstance(value, str):
            spec = value
        else:
            raise ConfigError(
                f"{file}: {key}: must be a spec string or an object with 'path', got {type(value).__name__}"
            )
        try:
            parsed = parse_import_spec(spec, file.parent)
        except ValueError as exc:
            raise ConfigError(f"{file}: {key}: {exc}") from exc
        graphs[graph_id] = GraphSpec(**parsed.model_dump(), graph_id=graph_id, description=description)
    return graphs


def _parse_dependencies(file: Path, raw: object) -> tuple[tuple[str, ...], tuple[Path, ...]]:
    """Return the dependencies as written and the directories they add to ``sys.path``.

    An entry that starts with ``.`` or ``/`` is a local directory and must exist. Any other entry
    is a package requirement (installing it is the user's business), except that, like ``langgraph
    dev``, an entry naming an existing directory next to the config is added to the path too.
    """
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ConfigError(
            f"{file}: dependencies: must be a list of paths or packages, got {type(raw).__name__}"
        )
    paths = [file.parent.resolve()]
    for index, dep in enumerate(raw):
        if not isinstance(dep, str) or not dep.strip():
            raise ConfigError(f"{file}: dependencies[{index}]: must be a non-empty string, got {dep!r}")
        candidate = (file.parent / dep).resolve()
        if dep.startswith((".", "/")):
            if not candidate.is_dir():
                raise ConfigError(f"{file}: dependencies[{index}]: {dep!r} is not a directory ({candidate})")
        elif not candidate.is_dir():
            continue
        if candidate not in paths:
            paths.append(candidate)
    return tuple(raw), tuple(paths)


def _parse_env(file: Path, raw: object) -> Path | dict[str, str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if not raw.strip():
            raise ConfigError(f"{file}: env: must be a path to a .env file or an object of variables")
        return (file.parent / raw).resolve()
    if isinstance(raw, dict):
        for name, value in raw.items():
            if not isinstance(value, str):
                raise ConfigError(
                    f"{file}: env.{name}: environment values must be strings, got {type(value).__name__}"
                )
        return dict(raw)
    raise ConfigError(
        f"{file}: env: must be a path to a .env file or an object of variables, got {type(raw).__name__}"
    )


def _spec(file: Path, key: str, raw: object, *, must_exist: bool = True) -> ImportSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(f"{file}: {key}: must be a spec string, got {type(raw).__name__}")
    try:
        return parse_import_spec(raw, file.parent, must_exist=must_exist)
    except ValueError as exc:
        raise ConfigError(f"{file}: {key}: {exc}") from exc


def _object(file: Path, key: str, raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: {key}: must be an object, got {type(raw).__name__}")
    return raw


def _parse_http(file: Path, raw: object) -> HttpConfig | None:
    data = _object(file, "http", raw)
    if data is None:
        return None
    data = {**data, "app": _spec(file, "http.app", data.get("app"))}
    try:
        return HttpConfig.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(file, "http", exc) from exc


def _parse_store(file: Path, raw: object) -> StoreConfig | None:
    data = _object(file, "store", raw)
    if data is None:
        return None
    data = {**data, "path": _spec(file, "store.path", data.get("path"))}
    index = _object(file, "store.index", data.get("index"))
    if index is not None:
        embed = index.get("embed")
        embed_spec = (
            _spec(file, "store.index.embed", embed) if isinstance(embed, str) and ".py:" in embed else None
        )
        data["index"] = {**index, "embed_spec": embed_spec}
    try:
        return StoreConfig.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(file, "store", exc) from exc


def load_config(path: str | Path) -> ProjectConfig:
    """Read and check a ``langgraph.json``; raise ``ConfigError`` naming the file and key at fault.

    ``path`` may also be the directory that holds ``langgraph.json``.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        file = file / CONFIG_FILENAME
    file = file.resolve()
    data = _read_json(file)
    dependencies, python_paths = _parse_dependencies(file, data.get("dependencies"))
    extra = {key: value for key, value in data.items() if key not in _USED_KEYS}
    for key in sorted(set(extra) - _IGNORED_KEYS):
        logger.warning("%s: unknown key %r is ignored", file, key)
    return ProjectConfig(
        path=file,
        graphs=_parse_graphs(file, data.get("graphs")),
        dependencies=dependencies,
        python_paths=python_paths,
        env=_parse_env(file, data.get("env")),
        http=_parse_http(file, data.get("http")),
        store=_parse_store(file, data.get("store")),
        checkpointer=_object(file, "checkpointer", data.get("checkpointer")),
        auth=_object(file, "auth", data.get("auth")),
        extra=extra,
    )
