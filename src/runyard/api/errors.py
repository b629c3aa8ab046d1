"""How the runtime's errors become HTTP answers (the SDK maps each status to a typed error).

ConflictError, ThreadExistsError   409
InvalidThreadInputError            422
UnsupportedStrategyError           422
GraphNotFoundError                 404 (names the graphs there are)
NotFound (this module)             404
BadRequest (this module)           400
Unprocessable (this module)        422
request validation                 422 (FastAPI's detail names the field)
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    async def _http(_: Request, exc: HttpError) -> JSONResponse:
        return _answer(exc.status_code, exc.detail)

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return _answer(409, str(exc))

    @app.exception_handler(ThreadExistsError)
    async def _exists(_: Request, exc: ThreadExistsError) -> JSONResponse:
        return _answer(409, str(exc))

    @app.exception_handler(InvalidThreadInputError)
    async def _thread_input(_: Request, exc: InvalidThreadInputError) -> JSONResponse:
        return _answer(422, str(exc))

    @app.exception_handler(UnsupportedStrategyError)
    async def _strategy(_: Request, exc: UnsupportedStrategyError) -> JSONResponse:
        return _answer(422, str(exc))

    @app.exception_handler(UnknownStreamModeError)
    async def _mode(_: Request, exc: UnknownStreamModeError) -> JSONResponse:
        return _answer(422, str(exc))

    @app.exception_handler(GraphNotFoundError)
    async def _graph(_: Request, exc: GraphNotFoundError) -> JSONResponse:
        return _answer(404, str(exc))
