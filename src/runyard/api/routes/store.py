"""The long-term store: put, get, delete and search items, list namespaces (langgraph-api's ``/store``).

Bodies and statuses are langgraph-api's: ``PUT`` and ``DELETE`` answer 204; ``GET`` answers the
item (``namespace``, ``key``, ``value``, ``created_at``, ``updated_at``) or ``null`` when there
is none, as the reference does and the SDK's ``get_item`` expects; search answers
``{"items": [...]}``, each item with its ``score`` (``null`` without a ``query``); namespaces
``{"namespaces": [[...], ...]}``. The store is the one the runs' graphs see
(``Services.store``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from langgraph.store.base import BaseStore, Item

from ..errors import BadRequest, Unprocessable
from ..json_check import problem
from ..services import Services
from ..store_models import StoreDelete, StoreListNamespaces, StorePut, StoreSearch, namespace_problem

router = APIRouter(tags=["store"])


def item_json(item: Item) -> dict[str, Any]:
    """``Item.dict()`` with timestamps in UTC (the SQLite store's come back naive, meaning UTC)."""
    body = item.dict()
    for field in ("created_at", "updated_at"):
        stamp: datetime = getattr(item, field)
        if stamp.tzinfo is None:
            body[field] = stamp.replace(tzinfo=UTC).isoformat()
    return body


def _store(request: Request) -> BaseStore:
    services: Services = request.app.state.services
    store: BaseStore = services.store
    return store


@contextmanager
def _refused_as_422(what: str) -> Iterator[None]:
    """The store's own refusals (a namespace, a filter key, an unsupported option) become a 422."""
    try:
        yield
    except NotImplementedError as exc:
        raise Unprocessable(f"{what}: not supported by the configured store: {exc}") from exc
    except ValueError as exc:
        raise Unprocessable(f"{what}: {exc}") from exc


@router.put("/store/items", status_code=204, response_class=Response)
async def put_item(body: StorePut, request: Request) -> Response:
    store = _store(request)
    options: dict[str, Any] = {"index": body.index}
    if "ttl" in body.model_fields_set:  # absent: the store's default_ttl; null: never expires
        options["ttl"] = body.ttl
    with _refused_as_422("put"):
        await store.aput(tuple(body.namespace), body.key, body.value, **options)
    return Response(status_code=204)


@router.get("/store/items")
async def get_item(
    request: Request,
    key: Annotated[str | None, Query()] = None,
    namespace: Annotated[str, Query(description="The namespace's labels joined with '.'")] = "",
    refresh_ttl: Annotated[bool | None, Query()] = None,
) -> dict[str, Any] | None:
    labels = namespace.split(".")
    if found := namespace_problem(labels, allow_empty=False):
        raise Unprocessable(f"namespace {namespace!r}: {found}")
    if not key:
        raise BadRequest("key is required")
    if found := problem(key):
        raise Unprocessable(f"key: {found}")
    with _refused_as_422("get"):
        item = await _store(request).aget(tuple(labels), key, refresh_ttl=refresh_ttl)
    return None if item is None else item_json(item)


@router.delete("/store/items", status_code=204, response_class=Response)
async def delete_item(body: StoreDelete, request: Request) -> Response:
    with _refused_as_422("delete"):
        await _store(request).adelete(tuple(body.namespace), body.key)
    return Response(status_code=204)


@router.post("/store/items/search")
async def search_items(body: StoreSearch, request: Request) -> dict[str, list[dict[str, Any]]]:
    with _refused_as_422("search"):
        items = await _store(request).asearch(
            tuple(body.namespace_prefix or ()),
            query=body.query,
            filter=body.filter,
            limit=body.limit,
            offset=body.offset,
            refresh_ttl=body.refresh_ttl,
        )
    return {"items": [item_json(item) for item in items]}


@router.post("/store/namespaces")
async def list_namespaces(body: StoreListNamespaces, request: Request) -> dict[str, list[list[str]]]:
    with _refused_as_422("list namespaces"):
        namespaces = await _store(request).alist_namespaces(
            prefix=tuple(body.prefix) if body.prefix else None,
            suffix=tuple(body.suffix) if body.suffix else None,
            max_depth=body.max_depth,
            limit=body.limit,
            offset=body.offset,
        )
    return {"namespaces": [list(namespace) for namespace in namespaces]}
