"""Applying a project's ``env`` and ``dependencies`` to the process, before its graphs are imported.

Precedence of ``env``: **a variable already set in the process wins** over the value in
``langgraph.json`` or its ``.env`` file, unless ``override=True``. That is python-dotenv's
``load_dotenv`` default, what Aegra's ``aegra serve`` does, and what a deployment expects
(``OPENAI_API_KEY=... runyard serve`` must not be undone by a developer's ``.env``).
``langgraph dev`` does the opposite: it writes every ``env`` value over the process environment
(keeping only its own settings); pass ``override=True`` to get that behaviour.

A missing ``.env`` file is logged and skipped, as ``langgraph dev`` does: projects commonly name a
git-ignored ``.env`` that a fresh checkout does not have.

``dependencies``: the config directory and each local dependency directory are *appended* to
``sys.path`` (as ``langgraph dev`` does), so a graph file can import its sibling modules and
an installed package of the same name still takes precedence.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping

from .config import ProjectConfig
from .dotenv import parse_dotenv
from .errors import ConfigError

logger = logging.getLogger(__name__)


def read_env(config: ProjectConfig, *, prefer_file: bool = False) -> dict[str, str]:
    """The variables the project's ``env`` defines (an inline object, or a ``.env`` file's contents).

    ``prefer_file`` is passed to ``parse_dotenv`` for ``${NAME}`` expansion.
    """
    if config.env is None:
        return {}
    if isinstance(config.env, dict):
        return dict(config.env)
    try:
        text = config.env.read_text(encoding="utf-8")
    except FileNotFoundError:
        logger.warning("%s: env file %s does not exist; no variables loaded from it", config.path, config.env)
        return {}
    except OSError as exc:
        raise ConfigError(f"{config.path}: env: cannot read {config.env}: {exc}") from exc
    try:
        return parse_dotenv(text, os.environ, prefer_file=prefer_file)
    except ValueError as exc:
        raise ConfigError(f"{config.path}: env: {config.env}: {exc}") from exc


def apply_env(
    config: ProjectConfig,
    *,
    override: bool = False,
    environ: MutableMapping[str, str] | None = None,
) -> dict[str, str]:
    """Set the project's variables in ``environ`` (default ``os.environ``); return those set.

    Without ``override`` a variable already present is left alone and not returned.
    """
    target = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for name, value in read_env(config, prefer_file=override).items():
        if not override and name in target:
            continue
        target[name] = value
        applied[name] = value
    if applied:
        logger.debug("%s: set environment variables %s", config.path, sorted(applied))
    return applied


def add_python_paths(config: ProjectConfig) -> list[str]:
    """Append the config directory and local dependency directories to ``sys.path``; return those added."""
    added: list[str] = []
    for path in config.python_paths:
        entry = str(path)
        if entry not in sys.path:
            sys.path.append(entry)
            added.append(entry)
    return added
