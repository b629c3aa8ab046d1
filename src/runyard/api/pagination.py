"""langgraph-api's pagination headers on search endpoints (assistants, threads)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Response

T = TypeVar("T")


def paginate(rows: list[T], *, limit: int, offset: int, response: Response) -> list[T]:
    """The page of ``rows`` (fetched with ``limit + 1`` to see whether more follow), with the
    headers set as langgraph-api sets them: with a next page, ``X-Pagination-Total`` is the next
    offset + 1 (it does not count) and ``X-Pagination-Next`` the next offset."""
    if len(rows) > limit:
        next_offset = offset + limit
        response.headers["X-Pagination-Total"] = str(next_offset + 1)
        response.headers["X-Pagination-Next"] = str(next_offset)
        return rows[:limit]
    response.headers["X-Pagination-Total"] = str(offset + len(rows))
    return rows
