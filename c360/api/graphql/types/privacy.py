"""GraphQL types of data-subject requests (admin): requests with their events, deadlines,
export deliveries, warnings, erasure counts and signed receipts."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from c360.api.graphql.access import public
from c360.api.graphql.context import Context
from c360.api.graphql.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from c360.privacy import types
from c360.privacy.erasure import STEPS
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType, Status
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


@strawberry.type(description="How many items one section of an access export held.")
class PrivacySectionCount:
    section: str = strawberry.field(metadata=public("an export section's name, a fixed list"))
    count: int


@strawberry.type(
    description="One access export handed over (GET /privacy/requests/{id}/export, c360 "
    "privacy export): when it was made (the generatedAt its header says), by which key or "
    "operator, in which format, the SHA-256 (hex) of the very bytes delivered and how many "
    "there were, and how many items each section held (records again by kind). A download "
    "given up before its last byte is not one."
)
class ExportDelivery:
    at: dt.datetime
    actor: str = strawberry.field(metadata=public(_ADMINS))
    format: str = strawberry.field(metadata=public("json or zip"))
    sha256: str = strawberry.field(metadata=public("a checksum"))
    bytes: int
    sections: list[PrivacySectionCount]
    records: list[PrivacyRecordCount]

    @classmethod
    def of(cls, delivery: types.Delivery) -> ExportDelivery:
        return cls(
            at=delivery.at,
            actor=delivery.actor,
            format=delivery.format,
            sha256=delivery.sha256,
            bytes=delivery.size,
            sections=[
                PrivacySectionCount(section=k, count=n) for k, n in delivery.sections.items()
            ],
            records=_counts(delivery.records),
        )


@strawberry.enum(
    name="PrivacyRequestWarningKind",
    description="DUPLICATE: another request still open, of the same type, names identifiers "
    "this one names.",
)
class RequestWarningKind(enum.Enum):
    DUPLICATE = "duplicate"


@strawberry.type(description="Why a request needs a look before it is answered.")
class PrivacyRequestWarning:
    kind: RequestWarningKind
    message: str = strawberry.field(metadata=public(_ADMINS))
    request_id: strawberry.ID = strawberry.field(
        description="The other request.", metadata=public(_ADMINS)
    )
    identifiers: list[str] = strawberry.field(
        description="The identity keys both name.", metadata=public(_ADMINS)
    )


strawberry.enum(
    types.ScopeWarningKind,
    name="PrivacyScopeWarningKind",
    description="NOT_GIVEN: the scope holds identifiers the requester did not give. "
    "MANUAL_MERGE: it goes through a merge a person made.",
)


@strawberry.type(description="An identifier a request's scope covers, and whether it was given.")
class PrivacyScopeIdentifier:
    key: str = strawberry.field(metadata=public(_ADMINS))
    type: IdentifierType
    value: str = strawberry.field(metadata=public(_ADMINS))
    source: str | None = strawberry.field(metadata=public(_ADMINS))
    given: bool = strawberry.field(description="Whether the requester gave it.")


@strawberry.type(description="How many records of one kind.")
class PrivacyRecordCount:
    kind: str = strawberry.field(metadata=public("a record kind"))
    count: int


def _counts(counts: Mapping[str, int]) -> list[PrivacyRecordCount]:
    return [PrivacyRecordCount(kind=k, count=n) for k, n in sorted(counts.items())]


@strawberry.type(
    description="A profile a request covers: the identifiers it brought (those an unmerge "
    "would give back to it), each marked given or not, the names its person records give, its "
    "records by kind (each where the identifier linking it came from), and the merges between "
    "it and the nearest profile holding an identifier the requester gave."
)
class PrivacyScopeProfile:
    id: strawberry.ID = strawberry.field(metadata=public(_ADMINS))
    merged_into: strawberry.ID | None = strawberry.field(metadata=public(_ADMINS))
    identifiers: list[PrivacyScopeIdentifier]
    names: list[str] = strawberry.field(metadata=public(_ADMINS))
    records: list[PrivacyRecordCount]
    through_merges: list[strawberry.ID] = strawberry.field(
        description="Merge ids from this profile to one the requester named (empty: it holds "
        "an identifier they gave).",
        metadata=public(_ADMINS),
    )
    holds_given: bool


@strawberry.type(
    description="A merge a request's scope goes through, as the merges journal keeps it: "
    "`rule` manual (a person, `actor`) or the automatic rule, with the reason or evidence kept."
)
class PrivacyScopeMerge:
    id: strawberry.ID = strawberry.field(
        description="What unmergeProfile(mergeId) takes.", metadata=public(_ADMINS)
    )
    absorbed_id: strawberry.ID = strawberry.field(metadata=public(_ADMINS))
    survivor_id: strawberry.ID = strawberry.field(metadata=public(_ADMINS))
    rule: str = strawberry.field(metadata=public("a rule name"))
    manual: bool
    actor: str = strawberry.field(metadata=public(_ADMINS))
    merged_at: dt.datetime
    reason: str | None = strawberry.field(metadata=public(_ADMINS))
    moved_identifiers: list[str] = strawberry.field(metadata=public(_ADMINS))


@strawberry.type(description="Why a request's scope needs review before it runs.")
class PrivacyScopeWarning:
    kind: types.ScopeWarningKind
    message: str = strawberry.field(metadata=public(_ADMINS))
    profile_id: strawberry.ID | None = strawberry.field(metadata=public(_ADMINS))
    merge_id: strawberry.ID | None = strawberry.field(
        description="The merge to undo (unmergeProfile(mergeId)) if this is not one person.",
        metadata=public(_ADMINS),
    )
    identifiers: list[str] = strawberry.field(metadata=public(_ADMINS))


@strawberry.type(
    description="What a request covers, to review before it runs: its profiles with their "
    "identifiers, the merges involved, the records by kind and the warnings. A request whose "
    "scope has warnings runs only with acknowledgeScope set to this fingerprint."
)
class PrivacyScope:
    fingerprint: str = strawberry.field(
        description="What runPrivacyRequest(acknowledgeScope) takes to run past the warnings; "
        "another once the scope changes.",
        metadata=public("a keyed hash"),
    )
    kept: bool = strawberry.field(
        description="The scope the run found and keeps (false: the one it would find now)."
    )
    given: list[str] = strawberry.field(metadata=public(_ADMINS))
    unmatched: list[str] = strawberry.field(
        description="Identifiers given that no profile holds.", metadata=public(_ADMINS)
    )
    profiles: list[PrivacyScopeProfile]
    merges: list[PrivacyScopeMerge]
    records: list[PrivacyRecordCount]
    warnings: list[PrivacyScopeWarning]

    @classmethod
    def of(cls, scope: types.ScopePreview) -> PrivacyScope:
        return cls(
            fingerprint=scope.fingerprint,
            kept=scope.kept,
            given=list(scope.given),
            unmatched=list(scope.unmatched),
            profiles=[
                PrivacyScopeProfile(
                    id=strawberry.ID(p.id),
                    merged_into=None if p.merged_into is None else strawberry.ID(p.merged_into),
                    identifiers=[
                        PrivacyScopeIdentifier(
                            key=i.key, type=i.type, value=i.value, source=i.source, given=i.given
                        )
                        for i in p.identifiers
                    ],
                    names=list(p.names),
                    records=_counts(p.records),
                    through_merges=[strawberry.ID(m) for m in p.through],
                    holds_given=p.holds_given,
                )
                for p in scope.profiles
            ],
            merges=[
                PrivacyScopeMerge(
                    id=strawberry.ID(m.id),
                    absorbed_id=strawberry.ID(m.absorbed),
                    survivor_id=strawberry.ID(m.survivor),
                    rule=m.rule,
                    manual=m.manual,
                    actor=m.actor,
                    merged_at=m.at,
                    reason=m.reason,
                    moved_identifiers=list(m.moved),
                )
                for m in scope.merges
            ],
            records=_counts(scope.records),
            warnings=[
                PrivacyScopeWarning(
                    kind=w.kind,
                    message=w.message,
                    profile_id=None if w.profile is None else strawberry.ID(w.profile),
                    merge_id=None if w.merge is None else strawberry.ID(w.merge),
                    identifiers=list(w.identifiers),
                )
                for w in scope.warnings
            ],
        )


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

    @strawberry.field(
        description="What the request covers, for review before running it: the scope its "
        "run kept, else the one it would find now; null once an erasure completed."
    )
    async def scope(self, info: Info[Context, None]) -> PrivacyScope | None:
        found = await info.context.services.privacy.scope(str(self.id))
        if found is None:
            return None
        for profile in found.profiles:  # their identifiers and names, read in full
            info.context.audit.read(profile.id, "PrivacyRequest.scope")
        return PrivacyScope.of(found)

    deliveries: list[ExportDelivery] = strawberry.field(
        description="Each time its access export was handed over, oldest first."
    )
    request: strawberry.Private[types.PrivacyRequest]

    @strawberry.field(
        description="While the request is open: the other open requests of its type naming "
        "an identifier it names (one person's request received twice: run one, reject the "
        "other)."
    )
    async def warnings(self, info: Info[Context, None]) -> list[PrivacyRequestWarning]:
        duplicates = await info.context.services.privacy.duplicates(self.request)
        return [
            PrivacyRequestWarning(
                kind=RequestWarningKind.DUPLICATE,
                message=d.message,
                request_id=strawberry.ID(d.request),
                identifiers=list(d.keys),
            )
            for d in duplicates
        ]

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
            deliveries=[ExportDelivery.of(d) for d in request.deliveries],
            request=request,
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
