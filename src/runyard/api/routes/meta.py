"""Meta: health and server information."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ... import __version__

router = APIRouter(tags=["meta"])


@router.get("/ok")
async def ok(request: Request) -> dict[str, Any]:
    services = request.app.state.services
    return {"ok": True, "runs": {"active": services.executor.active, "waiting": services.executor.waiting}}


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
