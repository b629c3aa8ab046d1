"""How the runtime's errors become HTTP answers (the SDK maps each status to a typed error).

ConflictError, ThreadExistsError   409
InvalidThreadInputError            422
UnsupportedStrategyError           422
GraphNotFoundError                 404 (names the graphs there are)
AssistantExistsError               409
AssistantVersionNotFoundError      404
InvalidAssistantInputError         422
NotFound (this module)             404
BadRequest (this module)           400
Unprocessable (this module)        422
request validation                 422 (FastAPI's detail names the field)

Error bodies are written with ASCII escapes, so one that quotes a client's invalid Unicode (a
lone surrogate) still serialises instead of failing as a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..assistants.errors import (
    AssistantExistsError,
    AssistantVersionNotFoundError,
    InvalidAssistantInputError,
)
from ..graphs import GraphNotFoundError
from ..runs import ConflictError, UnsupportedStrategyError
from ..runs.stream_modes import UnknownStreamModeError
from ..threads.errors import InvalidThreadInputError, ThreadExistsError


class HttpError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(HttpError):
    status_code = 404


class BadRequest(HttpError):
    status_code = 400


class Unprocessable(HttpError):
    status_code = 422


class Conflict(HttpError):
    status_code = 409


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities (which a client can send, not JSON) as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


class AsciiJSONResponse(JSONResponse):
    """Strict JSON in ASCII: what the client sent may be quoted back whatever it held."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _answer(status: int, detail: Any) -> JSONResponse:
    return AsciiJSONResponse({"detail": detail}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _answer(422, jsonable_encoder(exc.errors()))

    @app.exception_handler(HttpError)
    async def _http(_: Request, exc: HttpError) -> JSONResponse:
        return _answer(exc.status_code, exc.detail)

    for exc_type, status in _STATUS_OF.items():
        app.add_exception_handler(exc_type, _fixed_status(status))


# The runtime's own errors, each with the one status it always maps to (see the module docstring).
_STATUS_OF: dict[type[Exception], int] = {
    ConflictError: 409,
    ThreadExistsError: 409,
    InvalidThreadInputError: 422,
    UnsupportedStrategyError: 422,
    UnknownStreamModeError: 422,
    GraphNotFoundError: 404,
    AssistantExistsError: 409,
    AssistantVersionNotFoundError: 404,
    InvalidAssistantInputError: 422,
}


def _fixed_status(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return _answer(status, str(exc))

    return handler
