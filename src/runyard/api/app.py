"""The FastAPI application: routes, error mapping, and the lifespan that owns the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..graphs import GraphRegistry
from . import errors
from .routes import assistants, meta, runs, threads
from .services import open_services


def create_app(settings: Settings, graphs: GraphRegistry | None = None) -> FastAPI:
    """An app serving ``settings.config_path``'s graphs; the services open in its lifespan."""
    registry = graphs or GraphRegistry.from_file(settings.config_path)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, registry) as services:
            app.state.services = services
            yield

    app = FastAPI(title="runyard", version=__version__, lifespan=lifespan)
    errors.install(app)
    for module in (meta, assistants, threads, runs):
        app.include_router(module.router)
    return app
