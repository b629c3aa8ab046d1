"""A project's own FastAPI app, served beside the API through ``http.app``.

Its lifespan sets ``app.state.greeting`` and yields ``{"started_by": ...}`` (request state), and
appends ``started`` / ``stopped`` to the file named by ``CUSTOM_APP_MARKER`` when that is set; its
middleware stamps ``x-custom-middleware`` on every response; it routes ``/custom/hello``, and
``/info`` and ``/ok``, which collide with the API's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response


def _mark(event: str) -> None:
    marker = os.environ.get("CUSTOM_APP_MARKER")
    if marker:
        with Path(marker).open("a") as file:
            file.write(event + "\n")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    app.state.greeting = "hello from the custom lifespan"
    _mark("started")
    yield {"started_by": "custom lifespan"}
    _mark("stopped")


app = FastAPI(lifespan=lifespan)


@app.middleware("http")
async def stamp(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    response.headers["x-custom-middleware"] = "yes"
    return response


@app.get("/custom/hello")
async def hello(request: Request) -> dict[str, Any]:
    return {"greeting": request.app.state.greeting, "started_by": request.state.started_by}


@app.get("/info")
async def info() -> dict[str, Any]:
    return {"server": "custom"}


@app.get("/ok")
async def ok() -> dict[str, Any]:
    return {"custom": True}


not_an_app = {"routes": []}
