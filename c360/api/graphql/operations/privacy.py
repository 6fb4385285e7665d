"""GraphQL operations of data-subject requests (admin): create, verify, reject, extend and run
access and erasure requests, read them, lift a suppression. Every mutation is in the access
audit (with its arguments, until an erasure scrubs the person from them); the reads are
audited here. Expected failures (unknown request, a step its status does not allow, bad
identifiers, another role) are answered as their union members by the schema's handlers."""

from __future__ import annotations

import json
from typing import Annotated

import strawberry
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.context import Context
from c360.api.graphql.types.privacy import (
    ErasureLifted,
    LiftErasureResult,
    LiftSuppressionResult,
    PrivacyIdentifierInput,
    PrivacyRequest,
    PrivacyRequestResult,
    SuppressionLifted,
    answer,
)
from c360.audit.service import Action
from c360.auth.service import Permission
from c360.errors import NotFound
from c360.privacy.rules import RequestType, Status


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="Privacy requests, newest first (admin): by status, and overdue ones "
        "(still open past their deadline) or not.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def privacy_requests(
        self,
        info: Info[Context, None],
        status: Status | None = None,
        overdue: bool | None = None,
        first: int = 100,
    ) -> list[PrivacyRequest] | None:
        now = info.context.now
        docs = await info.context.services.privacy.page(status, overdue, now, first)
        asked = {"status": status and status.value, "overdue": overdue, "first": first}
        info.context.audit.add(Action.READ, "privacyRequests", detail=json.dumps(asked))
        return [PrivacyRequest.of(d, now) for d in docs]

    @strawberry.field(
        description="One privacy request (admin).", extensions=[Requires(Permission.PRIVACY)]
    )
    async def privacy_request(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> PrivacyRequest | None:
        try:
            doc = await info.context.services.privacy.get(str(id))
        except NotFound:
            return None
        info.context.audit.add(Action.READ, "privacyRequest", detail=json.dumps({"id": str(id)}))
        return PrivacyRequest.of(doc, info.context.now)


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Receive a data-subject request (admin): access or erasure, with the "
        "identifiers the person gave. The deadline is one calendar month from now.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def create_privacy_request(
        self,
        info: Info[Context, None],
        type: RequestType,
        identifiers: list[PrivacyIdentifierInput],
        note: str | None = None,
    ) -> PrivacyRequestResult:
        doc = await info.context.services.privacy.create(
            type,
            [i.given() for i in identifiers],
            actor=info.context.actor,
            now=info.context.now,
            note=note,
        )
        return answer(doc, info.context.now)

    @strawberry.mutation(
        description="The person proved who they are (admin): the request may be run.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def verify_privacy_request(
        self, info: Info[Context, None], id: strawberry.ID, note: str | None = None
    ) -> PrivacyRequestResult:
        doc = await info.context.services.privacy.verify(
            str(id), actor=info.context.actor, now=info.context.now, note=note
        )
        return answer(doc, info.context.now)

    @strawberry.mutation(
        description="Refuse a request (admin), with the reason told to the person.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def reject_privacy_request(
        self, info: Info[Context, None], id: strawberry.ID, reason: str
    ) -> PrivacyRequestResult:
        doc = await info.context.services.privacy.reject(
            str(id), actor=info.context.actor, now=info.context.now, reason=reason
        )
        return answer(doc, info.context.now)

    @strawberry.mutation(
        description="Extend a request's deadline by whole months (admin), with the reason; "
        "C360_PRIVACY_MAX_EXTENSION_MONTHS in all.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def extend_privacy_request(
        self, info: Info[Context, None], id: strawberry.ID, months: int, reason: str
    ) -> PrivacyRequestResult:
        doc = await info.context.services.privacy.extend(
            str(id), months, reason=reason, actor=info.context.actor, now=info.context.now
        )
        return answer(doc, info.context.now)

    @strawberry.mutation(
        description="Carry out a verified request (admin), or continue one that failed: an "
        "erasure runs its journal of steps to the end and signs its receipt. A request whose "
        "scope has warnings (PrivacyRequest.scope: identifiers the requester did not give, a "
        "manual merge) is a ConflictError ScopeNotAcknowledged naming them, unless "
        "acknowledgeScope is that scope's fingerprint.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def run_privacy_request(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        acknowledge_scope: Annotated[
            str | None,
            strawberry.argument(
                description="The fingerprint of the scope reviewed (PrivacyScope.fingerprint): "
                "the request runs past its warnings only while its scope is still that one."
            ),
        ] = None,
    ) -> PrivacyRequestResult:
        doc = await info.context.services.privacy.run(
            str(id), actor=info.context.actor, now=info.context.now, acknowledged=acknowledge_scope
        )
        return answer(doc, info.context.now)

    @strawberry.mutation(
        description="Let an erased person's identifier be imported again (admin): they came "
        "back and consent. Once none of an erasure's identifiers is suppressed, its records "
        "are not either. Opt-out tombstones stay until the person opts in again.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def lift_suppression(
        self, info: Info[Context, None], identifier: PrivacyIdentifierInput
    ) -> LiftSuppressionResult:
        lifted = await info.context.services.privacy.lift_suppression(identifier.given())
        return SuppressionLifted(lifted=lifted)

    @strawberry.mutation(
        description="Let an erased person be imported again whole (admin): every identifier a "
        "completed erasure suppressed, whichever the person remembers, and its records' and "
        "dead letters' suppressions. Another request, or one still being completed, is a "
        "ConflictError. Opt-out tombstones stay until the person opts in again.",
        extensions=[Requires(Permission.PRIVACY)],
    )
    async def lift_erasure(self, info: Info[Context, None], id: strawberry.ID) -> LiftErasureResult:
        lifted = await info.context.services.privacy.lift_erasure(str(id))
        return ErasureLifted(lifted=lifted)
