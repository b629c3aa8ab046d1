"""A project's own Starlette/FastAPI app (``http.app``) served beside the API, and ``http.mount_prefix``.

Arranged as langgraph-api 0.16 arranges it; the user's app becomes the served app and its router
is rebuilt as:

1. the API's unshadowable routes: ``/ok``, ``/docs``, ``/redoc``, ``/openapi.json`` and, in dev
   mode, ``/internal/*``;
2. the user's routes, in their order: a user route on an API path (``GET /info``, ``GET /``,
   even ``POST /threads``) wins over the API's;
3. the whole API, mounted at the root: any path the user's routes do not match reaches it.

The user's middleware (``app.user_middleware``) wraps the whole router, so it runs for the API's
routes too (langgraph-api's default ``middleware_order``). The lifespans nest: runyard's services
open first, then the user's lifespan is entered (it may call the API), and they close in reverse.
State the user's lifespan sets on its app (``app.state``) or yields (``request.state``) reaches
the user's routes. The user's exception handlers handle the user's routes; the API keeps its own.
If the user's app is a FastAPI app, its operations join the API's ``/openapi.json``.

``mount_prefix`` puts all of that under the prefix, and keeps ``/ok`` (and ``/``) at the root too,
for health checks. runyard has no auth middleware yet, so ``middleware_order`` and
``enable_custom_route_auth`` have nothing to order or apply; options runyard does not implement
(``cors``, ``configurable_headers``, ``logging_headers``...) are logged as ignored at start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Match, Mount, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from ..graphs import ConfigError, HttpConfig, load_object

logger = logging.getLogger(__name__)

DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
INTERNAL_PREFIX = "/internal/"
Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


def _route_path(scope: Scope) -> str:
    """The path a router matches: the request's path less the enclosing mount's ``root_path``."""
    path: str = scope["path"]
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


class ForwardPaths(BaseRoute):
    """Matches the listed paths (and any under ``prefixes``) and hands the request to ``app``,
    which routes it itself (a method it does not serve gets its 405)."""

    def __init__(self, app: ASGIApp, paths: Iterable[str], prefixes: Iterable[str] = ()) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.prefixes = tuple(prefixes)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        path = _route_path(scope)
        if path in self.paths or path.startswith(self.prefixes):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _unshadowable(api: FastAPI, *, dev_mode: bool) -> ForwardPaths:
    """The API routes no user route shadows: ``/ok``, the docs and schema when served, and
    ``/internal/*`` in dev mode (langgraph-api's "unshadowable" meta routes)."""
    paths = ["/ok", *(DOCS_PATHS if api.openapi_url else ())]
    return ForwardPaths(api, paths, (INTERNAL_PREFIX,) if dev_mode else ())


def load_user_app(http: HttpConfig, config_file: Path) -> Starlette | None:
    """The app ``http.app`` names, or None; ``ConfigError`` when it is not a Starlette app."""
    if http.app is None:
        return None
    what = f"{config_file}: http.app"
    value = load_object(http.app, config_file.parent, what=what)
    if not isinstance(value, Starlette):
        raise ConfigError(
            f"{what}: {http.app.source!r} is a {type(value).__name__}, not a Starlette or FastAPI "
            "application (e.g. app = FastAPI() or app = Starlette(routes=[...]))"
        )
    return value


def _combined_lifespan(api: FastAPI, user_lifespan: Lifespan) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Mapping[str, Any] | None]:
        async with api.router.lifespan_context(api) as api_state, user_lifespan(app) as user_state:
            if api_state is None and user_state is None:
                yield None
            else:
                yield {**(api_state or {}), **(user_state or {})}

    return lifespan


def _merge_openapi(api: FastAPI, user: FastAPI) -> None:
    """Add the user's FastAPI operations (theirs win on a shared path and method) to the API's schema."""
    if api.openapi_url is None:
        return
    build = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = build()
        theirs = user.openapi()
        for path, operations in theirs.get("paths", {}).items():
            schema.setdefault("paths", {}).setdefault(path, {}).update(operations)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in theirs.get("components", {}).get("schemas", {}).items():
            components.setdefault(name, model)
        return schema

    api.openapi = openapi  # type: ignore[method-assign]


def mount_user_app(api: FastAPI, user: Starlette, *, dev_mode: bool) -> Starlette:
    """Rebuild ``user``'s router around the API (see the module docstring); return ``user``."""
    user_routes: list[BaseRoute] = list(user.router.routes)
    if isinstance(user, FastAPI):
        _merge_openapi(api, user)
    user.router.routes = [_unshadowable(api, dev_mode=dev_mode), *user_routes, Mount("", app=api)]
    user.router.lifespan_context = _combined_lifespan(api, user.router.lifespan_context)
    return user


def _lifespan_of(app: Starlette) -> Lifespan:
    def lifespan(_outer: Any) -> AbstractAsyncContextManager[Any]:
        return app.router.lifespan_context(app)

    return lifespan


def mount_under_prefix(prefix: str, app: Starlette, api: FastAPI) -> Starlette:
    """``app`` under ``prefix``, with the API's health routes at the root too."""
    health = ["/ok", "/"] if api.openapi_url else ["/ok"]  # "/" is a meta route, as /docs is
    outer = Starlette(routes=[ForwardPaths(api, health), Mount(prefix, app=app)], lifespan=_lifespan_of(app))
    outer.state = app.state
    return outer


def _warn_ignored(http: HttpConfig) -> None:
    for key in sorted(http.model_extra or {}):
        logger.warning("http.%s is not supported by runyard yet and is ignored", key)
    if http.enable_custom_route_auth:
        logger.warning("http.enable_custom_route_auth: runyard has no auth yet; custom routes stay open")


def compose(api: FastAPI, http: HttpConfig, *, config_file: Path, dev_mode: bool) -> Starlette:
    """The served app: ``api``, beside the user's ``http.app`` and under ``http.mount_prefix``."""
    _warn_ignored(http)
    user = load_user_app(http, config_file)
    app: Starlette = api if user is None else mount_user_app(api, user, dev_mode=dev_mode)
    if http.mount_prefix:
        app = mount_under_prefix(http.mount_prefix, app, api)
    return app
