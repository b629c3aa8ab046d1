"""Dev mode's test helpers, mounted only when ``Settings.dev_mode`` is on (``runyard serve``'s
default; ``--no-dev`` or ``RUNYARD_DEV=0`` turns them off). Not in the OpenAPI schema, as in
langgraph-api."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from ..models import Strict
from ..services import Services
from ..truncate import Truncation, truncate

router = APIRouter(tags=["internal"], include_in_schema=False)


class TruncateFlags(Strict):
    """langgraph-api's flags; each one true wipes that part. None true (or no body) wipes all."""

    runs: bool = False
    threads: bool = False
    assistants: bool = False
    checkpointer: bool = False
    store: bool = False


@router.post("/internal/truncate")
async def truncate_all(
    request: Request, body: Annotated[TruncateFlags | None, Body()] = None
) -> dict[str, Any]:
    services: Services = request.app.state.services
    flags = body or TruncateFlags()
    chosen = (flags.runs, flags.threads, flags.checkpointer, flags.store)
    what = (
        Truncation(*chosen, assistants=flags.assistants) if any(chosen) or flags.assistants else Truncation()
    )
    return {"ok": True, "deleted": await truncate(services, what)}
