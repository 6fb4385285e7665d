"""GraphQL types of data-subject requests (admin): requests with their events, deadlines,
erasure counts and signed receipts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from c360.api.graphql.access import public
from c360.api.graphql.context import Context
from c360.api.graphql.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from c360.privacy import types
from c360.privacy.erasure import STEPS
from c360.privacy.rules import RequestType, Status
from c360.privacy.service import GivenIdentifier
from schemas.identifiers import IdentifierType

strawberry.enum(RequestType, name="PrivacyRequestType")
strawberry.enum(Status, name="PrivacyRequestStatus")

_ADMINS = "privacy requests, reached only through their admin-only fields (privacyRequests)"


@strawberry.input(description="An identifier the person gave, written as any source writes it.")
class PrivacyIdentifierInput:
    type: IdentifierType
    value: str
    source: str | None = None

    def given(self) -> GivenIdentifier:
        return GivenIdentifier(self.type, self.value, self.source)


@strawberry.type(description="An identifier a request names (normalised as at ingest).")
class PrivacyIdentifier:
    type: IdentifierType
    value: str = strawberry.field(metadata=public(_ADMINS))
    source: str | None = strawberry.field(metadata=public(_ADMINS))


@strawberry.type(description="A change of a request's status, and who made it.")
class PrivacyRequestEvent:
    at: dt.datetime
    actor: str = strawberry.field(metadata=public(_ADMINS))
    from_status: Status | None
    to_status: Status
    note: str | None = strawberry.field(metadata=public(_ADMINS))


@strawberry.type(description="An extension of the deadline, with its reason.")
class DeadlineExtension:
    months: int
    reason: str = strawberry.field(metadata=public(_ADMINS))
    actor: str = strawberry.field(metadata=public(_ADMINS))
    at: dt.datetime


@strawberry.type(description="What one erasure step changed (documents counted before it ran).")
class ErasureStepCount:
    step: str = strawberry.field(metadata=public("a step's name, from a fixed list"))
    collection: str = strawberry.field(metadata=public("a collection's name"))
    count: int | None
    done: bool


@strawberry.type(
    description="What an erasure removed, counts per collection (never content), when and by "
    "whom, signed with Ed25519: `body` as canonical JSON (sorted keys, separators `,` and `:`, "
    "non-ASCII escaped as \\uXXXX) is what `signature` signs. `publicKey` is the key it was "
    "signed with, which proves nothing alone: check it against this install's key "
    "(`c360 privacy public-key`), obtained from its operator."
)
class ErasureReceipt:
    body: JSON = strawberry.field(metadata=public(_ADMINS))
    signature: str = strawberry.field(metadata=public("a signature"))
    public_key: str = strawberry.field(metadata=public("the receipts' public key"))
    valid: bool = strawberry.field(description="Whether the signature verifies now.")


@strawberry.type(description="A data-subject request: access (a copy) or erasure.")
class PrivacyRequest:
    id: strawberry.ID = strawberry.field(metadata=public(_ADMINS))
    type: RequestType
    status: Status
    identifiers: list[PrivacyIdentifier] | None = strawberry.field(
        description="What the person gave; null once erased (only keyed hashes are kept)."
    )
    received_at: dt.datetime
    deadline: dt.datetime = strawberry.field(
        description="One calendar month after receipt, plus the extensions."
    )
    overdue: bool
    extension_months: int
    extensions: list[DeadlineExtension]
    events: list[PrivacyRequestEvent]
    completed_at: dt.datetime | None
    error: str | None = strawberry.field(
        description="Why the last run failed (the error's class); run it again to continue.",
        metadata=public("an error class name"),
    )
    erasure_steps: list[ErasureStepCount] | None
    completes: strawberry.ID | None = strawberry.field(
        description="The erasure this one completes: an import stored again some of the "
        "person it erased (it had asked the suppression list just before), and c360 erased "
        "that by this request.",
        metadata=public(_ADMINS),
    )

    @strawberry.field(description="The signed receipt of a completed erasure.")
    async def receipt(self, info: Info[Context, None]) -> ErasureReceipt | None:
        privacy = info.context.services.privacy
        receipt = await privacy.receipt(str(self.id))
        if receipt is None:
            return None
        return ErasureReceipt(
            body=JSON(dict(receipt.body)),
            signature=receipt.signature,
            public_key=receipt.public_key,
            valid=privacy.verify_receipt(receipt),
        )

    @classmethod
    def of(cls, request: types.PrivacyRequest, now: dt.datetime) -> PrivacyRequest:
        journal = request.journal
        return cls(
            id=strawberry.ID(request.id),
            type=request.type,
            status=request.status,
            identifiers=None
            if request.identifiers is None
            else [
                PrivacyIdentifier(type=i.type, value=i.value, source=i.source)
                for i in request.identifiers
            ],
            received_at=request.received_at,
            deadline=request.deadline,
            overdue=request.overdue(now),
            extension_months=request.extension_months,
            extensions=[
                DeadlineExtension(months=e.months, reason=e.reason, actor=e.actor, at=e.at)
                for e in request.extensions
            ],
            events=[
                PrivacyRequestEvent(
                    at=e.at, actor=e.actor, from_status=e.before, to_status=e.to, note=e.note
                )
                for e in request.events
            ],
            completed_at=request.completed_at,
            error=request.error,
            erasure_steps=[
                ErasureStepCount(
                    step=step.name,
                    collection=step.collection,
                    count=journal.count(step.name),
                    done=journal.done(step.name),
                )
                for step in STEPS
            ]
            if request.type is RequestType.ERASURE
            else None,
            completes=None if request.completes is None else strawberry.ID(request.completes),
        )


@strawberry.type(description="Whether a suppression was there to lift.")
class SuppressionLifted:
    lifted: bool


PrivacyRequestResult = Annotated[
    PrivacyRequest | ForbiddenError | NotFoundError | InvalidInputError | ConflictError,
    strawberry.union("PrivacyRequestResult"),
]


@strawberry.type(description="How many suppressions an erasure had left, now lifted.")
class ErasureLifted:
    lifted: int


LiftErasureResult = Annotated[
    ErasureLifted | ForbiddenError | NotFoundError | ConflictError,
    strawberry.union("LiftErasureResult"),
]
LiftSuppressionResult = Annotated[
    SuppressionLifted | ForbiddenError | InvalidInputError,
    strawberry.union("LiftSuppressionResult"),
]


def answer(request: types.PrivacyRequest, now: dt.datetime) -> PrivacyRequest:
    """The request as a mutation answers it, overdue or not at the request's instant."""
    return PrivacyRequest.of(request, now)
