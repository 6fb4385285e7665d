"""GraphQL types of data-subject requests (admin): requests with their events, deadlines,
erasure counts and signed receipts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from c360.api.graphql.access import public
from c360.api.graphql.context import Context
from c360.api.graphql.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from c360.privacy.erasure import STEPS
from c360.privacy.repository import journal_count
from c360.privacy.rules import RequestType, Status
from c360.privacy.service import GivenIdentifier, deadline_of, from_ms, is_overdue, received
from c360.store import Document
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
    "whom, signed with Ed25519: `body` as canonical JSON (sorted keys, no spaces) is what "
    "`signature` signs, `publicKey` verifies it."
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

    @strawberry.field(description="The signed receipt of a completed erasure.")
    async def receipt(self, info: Info[Context, None]) -> ErasureReceipt | None:
        privacy = info.context.services.privacy
        doc = await privacy.receipt(str(self.id))
        if doc is None:
            return None
        return ErasureReceipt(
            body=doc["body"],
            signature=doc["signature"],
            public_key=doc["public_key"],
            valid=privacy.verify_receipt(doc),
        )

    @classmethod
    def from_doc(cls, doc: Document, now: dt.datetime) -> PrivacyRequest:
        erasure = doc["type"] == RequestType.ERASURE.value
        done = doc.get("journal", {}).get("done", {})
        return cls(
            id=strawberry.ID(doc["_id"]),
            type=RequestType(doc["type"]),
            status=Status(doc["status"]),
            identifiers=None
            if "identifiers" not in doc
            else [
                PrivacyIdentifier(
                    type=IdentifierType(i["type"]), value=i["value"], source=i.get("source")
                )
                for i in doc["identifiers"]
            ],
            received_at=received(doc),
            deadline=deadline_of(doc),
            overdue=is_overdue(doc, now),
            extension_months=doc.get("extension_months", 0),
            extensions=[
                DeadlineExtension(
                    months=e["months"], reason=e["reason"], actor=e["actor"], at=from_ms(e["at_ms"])
                )
                for e in doc.get("extensions", [])
            ],
            events=[_event(e) for e in doc.get("events", [])],
            completed_at=from_ms(doc["completed_ms"]) if "completed_ms" in doc else None,
            error=doc.get("error"),
            erasure_steps=[
                ErasureStepCount(
                    step=step.name,
                    collection=step.collection,
                    count=journal_count(doc, step.name),
                    done=bool(done.get(step.name.replace(" ", "_"))),
                )
                for step in STEPS
            ]
            if erasure
            else None,
        )


def _event(doc: dict[str, Any]) -> PrivacyRequestEvent:
    return PrivacyRequestEvent(
        at=from_ms(doc["at_ms"]),
        actor=doc["actor"],
        from_status=Status(doc["from"]) if "from" in doc else None,
        to_status=Status(doc["to"]),
        note=doc.get("note"),
    )


@strawberry.type(description="Whether a suppression was there to lift.")
class SuppressionLifted:
    lifted: bool


PrivacyRequestResult = Annotated[
    PrivacyRequest | ForbiddenError | NotFoundError | InvalidInputError | ConflictError,
    strawberry.union("PrivacyRequestResult"),
]
LiftSuppressionResult = Annotated[
    SuppressionLifted | ForbiddenError | InvalidInputError,
    strawberry.union("LiftSuppressionResult"),
]


def answer(doc: Document) -> PrivacyRequest:
    return PrivacyRequest.from_doc(doc, dt.datetime.now(dt.UTC))
