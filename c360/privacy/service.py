"""Data-subject requests (access and erasure) as a workflow, erasure as a journal of
idempotent steps, the suppression list that keeps erased people from being re-imported, and
the opt-out tombstones the contact policy consults.

A request is received with the identifiers the person gave, verified by an admin (who checked
that the person is who they say), then run. An erasure's run resolves the person once — every
profile holding one of those identifiers and every profile merged into them — and keeps that
scope in the request's journal; then each step of :data:`c360.privacy.erasure.STEPS` notes how
many documents it will change, changes them, and marks itself done. Then it looks again: an
import that had checked the suppression list just before the erasure wrote it may have stored
some of the person since (their records, a profile again). Whatever it finds widens the scope
and the steps run again over it, in a pass of their own, until a look finds nothing
(:data:`~c360.privacy.erasure.MAX_PASSES` in one run). A run cut short anywhere (a crash, a lost
store) is run again and continues where it stopped; the receipt, signed, is written once;
closing the request replaces the identifiers it held by their keyed hashes.

The passes are :mod:`c360.privacy.erasing`'s. The other side of that race is ingest's, and the
erasures c360 makes to complete one: :mod:`c360.privacy.completions`. The identifiers a person
gives are read by :mod:`c360.privacy.given`, the scope reviewed before a run by
:mod:`c360.privacy.scoping`.
"""

# Over 500 lines, kept whole: a request's workflow is one service, each step of it (receive,
# verify, run, export and its deliveries, lift) the one place the API and the command call; the
# erasure's passes and completions are already their own modules.

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from c360.errors import InvalidInput, NotFound
from c360.notifications.repository import OutboxRepository
from c360.privacy import rules, scoping
from c360.privacy.completions import Completions
from c360.privacy.erasing import Eraser, ErasureUnsettled, FollowUpIds
from c360.privacy.erasure import STEPS
from c360.privacy.export import AccessExport, Tally
from c360.privacy.formats import FORMATS
from c360.privacy.given import GivenIdentifier, normalized
from c360.privacy.hashing import Hasher, SuppressionList
from c360.privacy.repository import (
    ErasureRepository,
    ReceiptRepository,
    RequestRepository,
    SuppressionRepository,
    TombstoneRepository,
)
from c360.privacy.rules import RequestType, Status
from c360.privacy.types import (
    Delivery,
    Duplicate,
    Event,
    Extension,
    Journal,
    PrivacyRequest,
    Receipt,
    Scope,
    ScopePreview,
    ScopeRecord,
)
from c360.steps import StepHook
from schemas.quoting import shown

log = logging.getLogger(__name__)

__all__ = [
    "ErasureUnsettled",
    "PrivacyConfig",
    "PrivacyRequestNotFound",
    "PrivacyService",
]

MAX_IDENTIFIERS = 50
MAX_PAGE = 500


class PrivacyRequestNotFound(NotFound):
    pass


@dataclass(frozen=True)
class PrivacyConfig:
    secret: str
    deadline_months: int
    max_extension_months: int
    tombstone_purposes: tuple[str, ...]
    default_region: str


class PrivacyService:
    def __init__(
        self,
        requests: RequestRepository,
        suppressions: SuppressionRepository,
        tombstones: TombstoneRepository,
        receipts: ReceiptRepository,
        erasure: ErasureRepository,
        follow_ups: FollowUpIds,
        outbox: OutboxRepository,
        export: AccessExport,
        config: PrivacyConfig,
        erased: SuppressionList,
    ) -> None:
        """``erased``: the suppression list ingest and the follow-ups ask (which people an
        erasure removed), asked by erasures too."""
        self.export = export
        self._requests = requests
        self._suppressions = suppressions
        self._receipts = receipts
        self._erasure = erasure
        self.config = config
        self.hasher = Hasher(config.secret)
        self._eraser = Eraser(
            requests, suppressions, tombstones, erasure, follow_ups, outbox, self.hasher, erased
        )
        self.completions = Completions(
            requests, suppressions, self._eraser, self.hasher, config.deadline_months, self.run
        )

    @property
    def before_step(self) -> StepHook:
        """Awaited before each erasure step (its pass after the first), the look after each
        pass, the receipt and the close: tests cut a run short there."""
        return self._eraser.before_step

    @before_step.setter
    def before_step(self, hook: StepHook) -> None:
        self._eraser.before_step = hook

    # --- The workflow -----------------------------------------------------------------------

    async def create(
        self,
        kind: RequestType,
        identifiers: Sequence[GivenIdentifier],
        *,
        actor: str,
        now: dt.datetime,
        note: str | None = None,
    ) -> PrivacyRequest:
        if not identifiers:
            raise InvalidInput("a request names at least one identifier of the person")
        if len(identifiers) > MAX_IDENTIFIERS:
            raise InvalidInput(f"a request names at most {MAX_IDENTIFIERS} identifiers")
        request = PrivacyRequest(
            id=secrets.token_hex(12),
            type=kind,
            status=Status.RECEIVED,
            received_at=now,
            deadline=rules.deadline(now, self.config.deadline_months, 0),
            identifiers=tuple(normalized(i, self.config.default_region) for i in identifiers),
            events=(Event(now, actor, Status.RECEIVED, note=note),),
        )
        await self._requests.insert(request)
        return await self.get(request.id)  # as stored (its times to the millisecond)

    async def receive(
        self,
        kind: RequestType,
        identifiers: Sequence[GivenIdentifier],
        *,
        sender: str,
        reference: str | None,
        now: dt.datetime,
        note: str,
    ) -> tuple[PrivacyRequest, bool]:
        """A request a signed sender passes on, which it verified: Shopify sends one that a
        shop's owner took from the customer. It starts verified on the sender's word (both
        events name the sender; ``note`` keeps what the sender said) and waits for a person to
        run it, as any other. ``reference``: the sender's own id for the request (a delivery's
        event id, Shopify's data request id); a delivery repeated with it answers the request
        the first made, and False (one insert-only write, so deliveries at once store one)."""
        given = [normalized(i, self.config.default_region) for i in identifiers]
        if not given or len(given) > MAX_IDENTIFIERS:
            raise InvalidInput(f"a request names 1 to {MAX_IDENTIFIERS} identifiers")
        request = PrivacyRequest(
            id=secrets.token_hex(12) if reference is None else rules.request_id_of(reference),
            type=kind,
            status=Status.VERIFIED,
            received_at=now,
            deadline=rules.deadline(now, self.config.deadline_months, 0),
            identifiers=tuple(given),
            events=(
                Event(now, sender, Status.RECEIVED, note=note),
                Event(now, sender, Status.VERIFIED, Status.RECEIVED, f"signed by {sender}"),
            ),
        )
        created = await self._requests.insert_new(request)
        received = await self.get(request.id)
        if created and (duplicates := await self.duplicates(received)):
            log.warning(
                "privacy request received twice",
                extra={"request": received.id, "open": [d.request for d in duplicates]},
            )
        return received, created

    async def duplicates(self, request: PrivacyRequest) -> list[Duplicate]:
        """The other requests still open, of the request's type, that name an identifier it
        names (an operator would run two erasures, or send two exports, for one person),
        oldest first; none once it is closed itself."""
        if request.status not in rules.OPEN or not request.identifiers:
            return []
        others = await self._requests.open_of_type(request.type, but=request.id)
        found = [d for other in others if (d := request.duplicated_by(other)) is not None]
        return sorted(found, key=lambda d: (d.received_at, d.request))

    async def get(self, request_id: str) -> PrivacyRequest:
        request = await self._requests.get(request_id)
        if request is None:
            raise PrivacyRequestNotFound(f"no privacy request {shown(request_id)}")
        return request

    async def verify(
        self, request_id: str, *, actor: str, now: dt.datetime, note: str | None = None
    ) -> PrivacyRequest:
        return await self._move(request_id, Status.VERIFIED, actor, now, note)

    async def reject(
        self, request_id: str, *, actor: str, now: dt.datetime, reason: str
    ) -> PrivacyRequest:
        if not reason.strip():
            raise InvalidInput("a rejection needs its reason (it is told to the person)")
        return await self._move(request_id, Status.REJECTED, actor, now, reason)

    async def extend(
        self, request_id: str, months: int, *, reason: str, actor: str, now: dt.datetime
    ) -> PrivacyRequest:
        request = await self.get(request_id)
        if request.status not in rules.OPEN:
            raise rules.ExtensionRefused(f"the request is {request.status}: nothing is owed")
        first = rules.deadline(request.received_at, self.config.deadline_months, 0)
        if now > first:  # GDPR art. 12(3): the person is told of an extension within it
            raise rules.ExtensionRefused(
                f"an extension is told to the person before the first deadline "
                f"({first.isoformat()}), which has passed: the request is overdue"
            )
        rules.check_extension(
            request.extension_months, months, self.config.max_extension_months, reason
        )
        total = request.extension_months + months
        return await self._saved(
            request,
            dataclasses.replace(
                request,
                extension_months=total,
                deadline=rules.deadline(request.received_at, self.config.deadline_months, total),
                extensions=(*request.extensions, Extension(months, reason, actor, now)),
            ),
            "the request changed meanwhile; try again",
        )

    async def page(
        self, status: Status | None, overdue: bool | None, now: dt.datetime, first: int = 100
    ) -> list[PrivacyRequest]:
        if not 0 < first <= MAX_PAGE:
            raise InvalidInput(f"first must be between 1 and {MAX_PAGE}, not {first}")
        statuses = None if status is None else [status]
        if overdue:
            statuses = [s for s in statuses or rules.OPEN if s in rules.OPEN]
        requests = await self._requests.page(statuses, now if overdue else None, first)
        if overdue is False:
            requests = [r for r in requests if not r.overdue(now)]
        return requests

    async def run(
        self,
        request_id: str,
        *,
        actor: str,
        now: dt.datetime,
        acknowledged: str | None = None,
    ) -> PrivacyRequest:
        """Carry a verified request out, or continue one a failure or a crash cut short.

        A first run finds whom the request covers and keeps it; if that scope has warnings
        (:mod:`c360.privacy.scoping`) it runs only when ``acknowledged`` is the fingerprint of
        that very scope, else :class:`~c360.privacy.scoping.ScopeNotAcknowledged` and the
        request stays as it was. A run continued, and a request c360 made with its scope
        (completing an erasure), go on over the scope kept."""
        request = await self.get(request_id)
        rules.check_transition(request.status, Status.IN_PROGRESS)
        journal, note = request.journal, None
        if journal.scope is None:
            found = await self._eraser.resolve(request.keys)
            preview = await self._preview(request, found)
            scoping.check_acknowledged(preview, acknowledged)
            journal, note = Journal(found, journal.passes), scoping.acknowledgement_note(preview)
        events = request.events
        if request.status is not Status.IN_PROGRESS:  # a crashed run is continued as it was
            events = (*events, Event(now, actor, Status.IN_PROGRESS, request.status, note))
        started = await self._saved(
            request,
            dataclasses.replace(
                request, status=Status.IN_PROGRESS, events=events, error=None, journal=journal
            ),
            "the request changed meanwhile; try again",
        )
        try:
            if started.type is RequestType.ERASURE:
                await self._erase(started, actor, now)
            else:
                await self._prepare_access(started, actor, now)
        except Exception as exc:
            log.warning("privacy request failed", extra={"request": request_id}, exc_info=True)
            failed = await self.get(request_id)
            event = Event(now, actor, Status.FAILED, Status.IN_PROGRESS, type(exc).__name__)
            await self._requests.save(
                failed,
                dataclasses.replace(
                    failed,
                    status=Status.FAILED,
                    error=type(exc).__name__,
                    events=(*failed.events, event),
                ),
            )
        return await self.get(request_id)

    async def scope(self, request_id: str) -> ScopePreview | None:
        """What the request covers, for review before it runs: the scope its run kept, else
        the one it would find now. None once an erasure completed (it forgot whom)."""
        request = await self.get(request_id)
        if request.identifiers is None:
            return None
        kept = request.journal.scope
        if kept is not None:
            return await self._preview(request, kept, kept=True)
        return await self._preview(request, await self._eraser.resolve(request.keys))

    async def _preview(
        self, request: PrivacyRequest, scope: Scope, *, kept: bool = False
    ) -> ScopePreview:
        profiles = await self._erasure.merged_state(scope.profiles)
        records: Counter[ScopeRecord] = Counter()  # alike records once: a person's share keys
        async for page in self._erasure.scope_records(scope.profiles):
            records.update(page)
        return scoping.preview(
            request.id,
            request.keys,
            profiles,
            await self._erasure.identities_of(scope.profiles),
            await self._erasure.merges_absorbing(scope.profiles),
            records,
            self.hasher.scope,
            kept=kept,
        )

    async def receipt(self, request_id: str) -> Receipt | None:
        return await self._receipts.get(request_id)

    def verify_receipt(self, receipt: Receipt) -> bool:
        return rules.verify(receipt.public_key, receipt.body, receipt.signature)

    async def lift_suppression(self, identifier: GivenIdentifier) -> bool:
        """The person came back and consents: their identifier may be imported again. Once
        none of an erasure's identifiers is suppressed, its records and dead letters are not
        either. Returns whether there was anything to lift."""
        given = normalized(identifier, self.config.default_region)
        digest = self.hasher.suppression(given.key)
        held = await self._suppressions.held(digest)
        if held is not None and held.request:
            left = await self._requests.completions_of(held.request, rules.UNFINISHED)
            rules.check_completed(held.request, left)
        lifted = await self._suppressions.lift(digest)
        if lifted is None:
            return False
        if lifted.request and not await self._suppressions.identifiers_left(lifted.request):
            await self._suppressions.lift_request(lifted.request)
        return True

    async def lift_erasure(self, request_id: str) -> int:
        """The person came back and consents: every suppression a completed erasure left
        (each identifier it found, its records' and dead letters'), whichever identifiers the
        person remembers. Returns how many were lifted; opt-out tombstones stay."""
        request = await self.get(request_id)
        left = await self._requests.completions_of(request.id, rules.UNFINISHED)
        rules.check_liftable(request.id, request.type, request.status, request.completes, left)
        return await self._suppressions.lift_request(request.id)

    # --- Erasure ----------------------------------------------------------------------------

    async def _erase(self, request: PrivacyRequest, actor: str, now: dt.datetime) -> None:
        await self._eraser.run(await self._scoped(request), now)
        await self.before_step("receipt")
        await self._write_receipt(await self.get(request.id), actor, now)
        await self.before_step("close")
        await self._complete(await self.get(request.id), actor, now, erased=True)

    async def _write_receipt(self, request: PrivacyRequest, actor: str, now: dt.datetime) -> None:
        steps = {step.name: request.journal.count(step.name) or 0 for step in STEPS}
        per_collection: dict[str, int] = {}
        for step in STEPS:
            per_collection[step.collection] = (
                per_collection.get(step.collection, 0) + steps[step.name]
            )
        body: dict[str, Any] = {
            "request": request.id,
            "type": request.type.value,
            "received_at": request.received_at.isoformat(),
            "erased_at": now.isoformat(),
            "erased_by": actor,
            "collections": per_collection,
            "steps": steps,
            "passes": request.journal.current,
        }
        if request.completes is not None:
            body["completes"] = request.completes
        await self._receipts.put(
            Receipt(
                request.id,
                body,
                rules.sign(self.config.secret, body),
                rules.public_key(self.config.secret),
            )
        )

    async def _complete(
        self, request: PrivacyRequest, actor: str, now: dt.datetime, *, erased: bool = False
    ) -> None:
        event = Event(now, actor, Status.COMPLETED, Status.IN_PROGRESS)
        after = dataclasses.replace(
            request, status=Status.COMPLETED, completed_at=now, events=(*request.events, event)
        )
        if erased:
            # What the person gave is no longer kept: only its keyed hashes, to tell whether a
            # later request names the same person.
            # Nor what the notes say of them (how they asked, how they were checked).
            scope = request.journal.scope
            pattern = (scope.pattern if scope else "") or rules.key_pattern(request.keys)
            names = rules.name_pattern(scope.names if scope else ())
            after = dataclasses.replace(
                after.unnamed(pattern, names),
                identifiers=None,
                identifier_hashes=tuple(sorted(self.hasher.suppression(k) for k in request.keys)),
                journal=dataclasses.replace(request.journal, scope=None),
            )
        await self._saved(request, after, "the request changed meanwhile; run it again")

    # --- Access -----------------------------------------------------------------------------

    async def _prepare_access(self, request: PrivacyRequest, actor: str, now: dt.datetime) -> None:
        """An access request keeps whom it found; the export is read from the store then."""
        await self._complete(await self._scoped(request), actor, now)

    async def deliver(
        self,
        request: PrivacyRequest,
        scope: Scope,
        form: str,
        *,
        actor: str,
        now: dt.datetime,
        delivered: Callable[[Delivery], Awaitable[None]] | None = None,
    ) -> AsyncIterator[bytes]:
        """A completed access request's export (:meth:`exportable`) in a format of
        :data:`~c360.privacy.formats.FORMATS`, hashed and counted as it is handed over. Once
        its last byte is, the delivery is recorded on the request — each download its own: the
        store, and the time the export says it was made, may differ — and ``delivered`` is
        told of it. A download given up before its end records nothing here."""
        _, write = FORMATS[form]
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as the delivery keeps it
        tally = Tally()
        digest = hashlib.sha256()
        size = 0
        async for chunk in write(self.export, request, scope, now, tally):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        delivery = Delivery(
            at=now,
            actor=actor,
            format=form,
            sha256=digest.hexdigest(),
            size=size,
            sections=dict(tally.sections),
            records=dict(sorted(tally.records.items())),
        )
        await self._requests.add_delivery(request.id, delivery)
        if delivered is not None:
            await delivered(delivery)

    async def export_scope(self, request_id: str) -> Scope:
        """Whom a completed access request found (what its export reads)."""
        _, scope = await self.exportable(request_id)
        return scope

    async def exportable(self, request_id: str) -> tuple[PrivacyRequest, Scope]:
        """A completed access request and whom it found (refused for any other request)."""
        request = await self.get(request_id)
        if request.type is not RequestType.ACCESS or request.status is not Status.COMPLETED:
            raise rules.TransitionRefused(
                # Both types begin with a vowel.
                f"only a completed access request has an export; this is an {request.type} "
                f"request, {request.status}"
            )
        return request, request.journal.scope or Scope()

    # --- Helpers ----------------------------------------------------------------------------

    async def _scoped(self, request: PrivacyRequest) -> PrivacyRequest:
        """The request with whom it found in its journal: found now if it was not yet."""
        if request.journal.scope is not None:
            return request
        scope = await self._eraser.resolve(request.keys)
        return await self._saved(
            request,
            dataclasses.replace(request, journal=Journal(scope, request.journal.passes)),
            "the request changed meanwhile; run it again",
        )

    async def _saved(
        self, before: PrivacyRequest, after: PrivacyRequest, refused: str
    ) -> PrivacyRequest:
        saved = await self._requests.save(before, after)
        if saved is None:
            raise rules.TransitionRefused(refused)
        return saved

    async def _move(
        self, request_id: str, wanted: Status, actor: str, now: dt.datetime, note: str | None
    ) -> PrivacyRequest:
        request = await self.get(request_id)
        rules.check_transition(request.status, wanted)
        event = Event(now, actor, wanted, request.status, note)
        return await self._saved(
            request,
            dataclasses.replace(request, status=wanted, events=(*request.events, event)),
            "the request changed meanwhile; try again",
        )
