"""The application: the API's routes (less those ``http.disable_*`` turns off), error mapping, the
lifespan that owns the services, and the user's ``http.app`` and ``http.mount_prefix`` around it
(``user_app``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette

from .. import __version__
from ..config import Settings
from ..graphs import GraphRegistry, HttpConfig
from ..persistence.store import plan_store
from . import errors
from .routes import assistants, internal, meta, runs, store, threads
from .services import open_services
from .user_app import compose
from .webhooks import webhook_policy


def _routers(settings: Settings, http: HttpConfig) -> list[APIRouter]:
    """The API's routers, as langgraph-api mounts them: each ``disable_*`` flag drops its own."""
    chosen = [meta.minimal_router if http.disable_meta else meta.router]
    if not http.disable_assistants:
        chosen.append(assistants.router)
    if not http.disable_threads:
        chosen.append(threads.router)
    if not http.disable_runs:
        chosen.append(runs.router)
    if not http.disable_store:
        chosen.append(store.router)
    if settings.dev_mode:
        chosen.append(internal.router)
    return chosen


def create_api(settings: Settings, registry: GraphRegistry, http: HttpConfig) -> FastAPI:
    """The Agent Server API alone; its lifespan opens the services."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, registry) as services:
            app.state.services = services
            yield

    docs = {} if not http.disable_meta else {"openapi_url": None, "docs_url": None, "redoc_url": None}
    app = FastAPI(title="runyard", version=__version__, lifespan=lifespan, **docs)  # type: ignore[arg-type]
    errors.install(app)
    for router in _routers(settings, http):
        app.include_router(router)
    return app


def create_app(settings: Settings, graphs: GraphRegistry | None = None) -> Starlette:
    """The app ``runyard serve`` serves: the API, with the project's ``http`` options applied.

    Raises ``ConfigError`` when ``http.app`` cannot be loaded or is not a Starlette app, or when
    ``store.path`` or ``store.index.embed`` cannot be loaded, or when ``webhooks`` is malformed.
    """
    registry = graphs or GraphRegistry.from_file(settings.config_path)
    plan_store(registry.config)  # a bad store.path or store.index.embed stops start-up here, by name
    webhook_policy(registry)  # a malformed ``webhooks`` section stops the start, named
    http = registry.config.http or HttpConfig()
    api = create_api(settings, registry, http)
    return compose(api, http, config_file=registry.config.path, dev_mode=settings.dev_mode)
