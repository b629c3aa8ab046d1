"""Meta: health and server information.

``GET /`` answers like ``/ok`` (load balancers probe the root; a user's ``http.app`` may shadow
it). With ``http.disable_meta`` only ``minimal_router``'s ``/ok`` remains, answering ``{"ok": true}``
so an operator still sees the server is up (langgraph-api does the same).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ... import __version__

router = APIRouter(tags=["meta"])
minimal_router = APIRouter(tags=["meta"])


@router.get("/ok")
async def ok(request: Request) -> dict[str, Any]:
    services = request.app.state.services
    return {"ok": True, "runs": {"active": services.executor.active, "waiting": services.executor.waiting}}


@router.get("/")
async def root(request: Request) -> dict[str, Any]:
    return await ok(request)


@minimal_router.get("/ok")
async def ok_minimal() -> dict[str, Any]:
    return {"ok": True}


@router.get("/info")
async def info() -> dict[str, Any]:
    import langgraph.version

    return {
        "version": __version__,
        "server": "runyard",
        "langgraph_py_version": getattr(langgraph.version, "__version__", None),
        "flags": {"assistants": True, "crons": False, "langsmith": False},
        "host": {"kind": "self-hosted"},
    }
