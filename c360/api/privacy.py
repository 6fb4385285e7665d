"""``GET /privacy/requests/{id}/export``: a completed access request's export, streamed in
constant memory as one JSON document or a zip of JSON and CSV per kind (admin only; each
download is in the access audit, and once its last byte is handed over it is a delivery of the
request, with the SHA-256 of the bytes, in the audit too)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from c360.api.auth import requires
from c360.api.openapi import KEYED, answers
from c360.audit.service import Action
from c360.auth.service import Caller, Permission
from c360.observability.requests import request_id as current_request
from c360.privacy.formats import FORMATS, Format, delivery_detail
from c360.privacy.types import Delivery
from c360.services import Services

router = APIRouter(tags=["privacy"])


@router.get(
    "/privacy/requests/{request_id}/export",
    summary="A completed access request's export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Everything held about the person, every profile merged into "
            "theirs included, each item with its source: one JSON document, or a zip of "
            "JSON and CSV per kind.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **answers(
            *KEYED,
            404,
            409,
            422,
            why={
                404: "No such privacy request.",
                409: "The request is not a completed access request.",
                422: "A format other than json or zip.",
            },
        ),
    },
)
async def export_request(
    request: Request,
    caller: Annotated[Caller, Depends(requires(Permission.PRIVACY))],
    request_id: str,
    format: Format = "json",
) -> StreamingResponse:
    services: Services = request.app.state.services
    privacy_request, scope = await services.privacy.exportable(request_id)
    asked = current_request.get()

    async def audited(what: str, detail: dict[str, Any]) -> None:  # as c360 privacy export
        await services.audit.record(
            caller,
            Action.EXPORT,
            what,
            operation="GET /privacy/requests/{request_id}/export",
            profile_ids=list(scope.profiles) or [None],
            detail=json.dumps(detail),
            request_id=asked,
        )

    async def delivered(delivery: Delivery) -> None:
        await audited("privacy export delivered", delivery_detail(request_id, delivery))

    await audited("privacy export", {"request": request_id, "format": format})

    media, _ = FORMATS[format]
    body = services.privacy.deliver(
        privacy_request,
        scope,
        format,
        actor=f"key:{caller.key_id} ({caller.name})",
        now=dt.datetime.now(dt.UTC),
        delivered=delivered,
    )
    name = f"privacy-{request_id}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=media, headers=headers)
