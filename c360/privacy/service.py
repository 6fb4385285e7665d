"""Data-subject requests (access and erasure) as a workflow, erasure as a journal of
idempotent steps, the suppression list that keeps erased people from being re-imported, and
the opt-out tombstones the contact policy consults.

A request is received with the identifiers the person gave, verified by an admin (who checked
that the person is who they say), then run. An erasure's run resolves the person once — every
profile holding one of those identifiers and every profile merged into them — and keeps that
scope in the request's journal; then each step of :data:`c360.privacy.erasure.STEPS` notes how
many documents it will change, changes them, and marks itself done. A run cut short anywhere
(a crash, a lost store) is run again and continues where it stopped; the receipt, signed, is
written once; closing the request replaces the identifiers it held by their keyed hashes.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from c360.errors import InvalidInput, NotFound
from c360.privacy import rules
from c360.privacy.erasure import STEPS, Custom, Delete, Of
from c360.privacy.export import AccessExport
from c360.privacy.hashing import CONTACT_CHANNELS, Hasher
from c360.privacy.repository import (
    ErasureRepository,
    ReceiptRepository,
    RequestRepository,
    SuppressionRepository,
    TombstoneRepository,
    journal_count,
    journal_done,
)
from c360.privacy.rules import RequestType, Status
from c360.store import Document
from c360.store.epoch import epoch_ms
from schemas.identifiers import IdentifierType, identity_key, normalize_value

log = logging.getLogger(__name__)

StepHook = Callable[[str], Awaitable[None]]
MAX_IDENTIFIERS = 50
MAX_PAGE = 500


async def _no_hook(step: str) -> None:
    return None


class PrivacyRequestNotFound(NotFound):
    pass


@dataclass(frozen=True)
class GivenIdentifier:
    type: IdentifierType
    value: str
    source: str | None = None


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
        export: AccessExport,
        config: PrivacyConfig,
    ) -> None:
        self.export = export
        self._requests = requests
        self._suppressions = suppressions
        self._tombstones = tombstones
        self._receipts = receipts
        self._erasure = erasure
        self.config = config
        self.hasher = Hasher(config.secret)
        self.before_step: StepHook = _no_hook

    # --- The workflow -----------------------------------------------------------------------

    async def create(
        self,
        kind: RequestType,
        identifiers: Sequence[GivenIdentifier],
        *,
        actor: str,
        now: dt.datetime,
        note: str | None = None,
    ) -> Document:
        if not identifiers:
            raise InvalidInput("a request names at least one identifier of the person")
        if len(identifiers) > MAX_IDENTIFIERS:
            raise InvalidInput(f"a request names at most {MAX_IDENTIFIERS} identifiers")
        given = [self._normalized(i) for i in identifiers]
        doc: Document = {
            "_id": secrets.token_hex(12),
            "type": kind.value,
            "status": Status.RECEIVED.value,
            "identifiers": given,
            "received_ms": epoch_ms(now),
            "deadline_ms": epoch_ms(rules.deadline(now, self.config.deadline_months, 0)),
            "extension_months": 0,
            "extensions": [],
            "events": [_event(now, actor, None, Status.RECEIVED, note)],
            "version": 0,
            "journal": {"counts": {}, "done": {}},
        }
        await self._requests.insert(doc)
        return doc

    async def get(self, request_id: str) -> Document:
        doc = await self._requests.get(request_id)
        if doc is None:
            raise PrivacyRequestNotFound(f"no privacy request {request_id!r}")
        return doc

    async def verify(
        self, request_id: str, *, actor: str, now: dt.datetime, note: str | None = None
    ) -> Document:
        return await self._move(request_id, Status.VERIFIED, actor, now, note)

    async def reject(
        self, request_id: str, *, actor: str, now: dt.datetime, reason: str
    ) -> Document:
        if not reason.strip():
            raise InvalidInput("a rejection needs its reason (it is told to the person)")
        return await self._move(request_id, Status.REJECTED, actor, now, reason)

    async def extend(
        self, request_id: str, months: int, *, reason: str, actor: str, now: dt.datetime
    ) -> Document:
        doc = await self.get(request_id)
        if Status(doc["status"]) not in rules.OPEN:
            raise rules.ExtensionRefused(f"the request is {doc['status']}: nothing is owed")
        extended = int(doc.get("extension_months", 0))
        rules.check_extension(extended, months, self.config.max_extension_months, reason)
        total = extended + months
        changed = await self._requests.change(
            doc,
            {
                "extension_months": total,
                "deadline_ms": epoch_ms(
                    rules.deadline(received(doc), self.config.deadline_months, total)
                ),
                "extensions": [
                    *doc.get("extensions", []),
                    {"months": months, "reason": reason, "actor": actor, "at_ms": epoch_ms(now)},
                ],
            },
        )
        if changed is None:
            raise rules.TransitionRefused("the request changed meanwhile; try again")
        return changed

    async def page(
        self, status: Status | None, overdue: bool | None, now: dt.datetime, first: int = 100
    ) -> list[Document]:
        if not 0 < first <= MAX_PAGE:
            raise InvalidInput(f"first must be between 1 and {MAX_PAGE}, not {first}")
        statuses = None if status is None else [status.value]
        if overdue:
            open_ones = [s.value for s in rules.OPEN]
            statuses = open_ones if statuses is None else [s for s in statuses if s in open_ones]
        docs = await self._requests.page(statuses, epoch_ms(now) if overdue else None, first)
        if overdue is False:
            docs = [d for d in docs if not is_overdue(d, now)]
        return docs

    async def run(self, request_id: str, *, actor: str, now: dt.datetime) -> Document:
        """Carry a verified request out, or continue one a failure or a crash cut short."""
        doc = await self.get(request_id)
        current = Status(doc["status"])
        rules.check_transition(current, Status.IN_PROGRESS)
        events = doc["events"]
        if current is not Status.IN_PROGRESS:  # a crashed run is continued as it was
            events = [*events, _event(now, actor, current, Status.IN_PROGRESS, None)]
        started = await self._requests.change(
            doc, {"status": Status.IN_PROGRESS.value, "events": events}, ["error"]
        )
        if started is None:
            raise rules.TransitionRefused("the request changed meanwhile; try again")
        try:
            if started["type"] == RequestType.ERASURE.value:
                await self._erase(started, actor, now)
            else:
                await self._prepare_access(started, actor, now)
        except Exception as exc:
            log.warning("privacy request failed", extra={"request": request_id}, exc_info=True)
            failed = await self.get(request_id)
            event = _event(now, actor, Status.IN_PROGRESS, Status.FAILED, type(exc).__name__)
            await self._requests.change(
                failed,
                {
                    "status": Status.FAILED.value,
                    "error": type(exc).__name__,
                    "events": [*failed["events"], event],
                },
            )
        return await self.get(request_id)

    async def receipt(self, request_id: str) -> Document | None:
        return await self._receipts.get(request_id)

    def verify_receipt(self, receipt: Document) -> bool:
        return rules.verify(receipt["public_key"], receipt["body"], receipt["signature"])

    async def lift_suppression(self, identifier: GivenIdentifier) -> bool:
        """The person came back and consents: their identifier may be imported again. Once
        none of an erasure's identifiers is suppressed, its records and dead letters are not
        either. Returns whether there was anything to lift."""
        given = self._normalized(identifier)
        lifted = await self._suppressions.lift(self.hasher.suppression(given["key"]))
        if lifted is None:
            return False
        request = lifted.get("request")
        if request and not await self._suppressions.identifiers_left(request):
            await self._suppressions.lift_request(request)
        return True

    # --- Erasure ----------------------------------------------------------------------------

    async def _erase(self, request: Document, actor: str, now: dt.datetime) -> None:
        scope = request["journal"].get("scope")
        if scope is None:
            scope = await self._scope(request)
            changed = await self._requests.change(request, {"journal.scope": scope})
            if changed is None:
                raise rules.TransitionRefused("the request changed meanwhile; run it again")
            request = changed
        for step in STEPS:
            if journal_done(request, step.name):
                continue
            await self.before_step(step.name)
            count = journal_count(request, step.name)
            await self._step(step, scope, request["_id"], count, now)
            await self._requests.step_done(request["_id"], step.name)
        await self.before_step("receipt")
        await self._write_receipt(await self.get(request["_id"]), actor, now)
        await self.before_step("close")
        await self._complete(await self.get(request["_id"]), actor, now, erased=True)

    async def _prepare_access(self, request: Document, actor: str, now: dt.datetime) -> None:
        """An access request keeps whom it found; the export is read from the store then."""
        if "scope" not in request["journal"]:
            scope = await self._scope(request)
            changed = await self._requests.change(request, {"journal.scope": scope})
            if changed is None:
                raise rules.TransitionRefused("the request changed meanwhile; run it again")
            request = changed
        await self._complete(request, actor, now)

    # --- Access -----------------------------------------------------------------------------

    async def export_scope(self, request_id: str) -> Document:
        """Whom a completed access request found (what its export reads)."""
        doc = await self.get(request_id)
        if doc["type"] != RequestType.ACCESS.value or doc["status"] != Status.COMPLETED.value:
            raise rules.TransitionRefused(
                f"only a completed access request has an export; this is a {doc['type']} "
                f"request, {doc['status']}"
            )
        scope: Document = doc["journal"]["scope"]
        return scope

    async def _scope(self, request: Document) -> Document:
        """Everything that names the person, found once: the profiles holding the given
        identifiers (their survivors if merged) and every profile ever merged into those,
        their identifiers and their person records."""
        keys = [given["key"] for given in request["identifiers"]]
        owners = await self._erasure.owners(keys)
        profiles: set[str] = set()
        for owner in set(owners.values()):
            live = owner
            for _ in range(100):  # follow merges to the live profile
                after = await self._erasure.merged_into(live)
                if after is None:
                    break
                live = after
            profiles.add(live)
        frontier = set(profiles)
        while frontier:
            frontier = set(await self._erasure.absorbed_into(sorted(frontier))) - profiles
            profiles |= frontier
        ordered = sorted(profiles)
        identities = await self._erasure.identities_of(ordered)
        all_keys = sorted({*keys, *(d["_id"] for d in identities)})
        people = await self._erasure.people_of(ordered)
        values: dict[str, set[str]] = {"email": set(), "phone": set(), "other": set()}
        for doc in [*identities, *request["identifiers"]]:
            kind = doc["type"] if doc["type"] in ("email", "phone") else "other"
            values[kind].add(doc["value"])
        return {
            Of.PROFILES.value: ordered,
            Of.KEYS.value: all_keys,
            Of.PEOPLE.value: sorted(d["_id"] for d in people),
            "pattern": rules.text_patterns(
                sorted(values["email"]), sorted(values["phone"]), sorted(values["other"])
            ),
        }

    async def _step(
        self,
        step: Delete | Custom,
        scope: Document,
        request_id: str,
        count: int | None,
        now: dt.datetime,
    ) -> None:
        async def noted(found: int) -> None:
            if count is None:
                await self._requests.note_count(request_id, step.name, found)

        if isinstance(step, Delete):
            values = list(scope.get(step.of.value, []))
            await noted(await self._erasure.count(step, values))
            await self._erasure.delete(step, values)
            return
        profiles, keys = scope[Of.PROFILES.value], scope[Of.KEYS.value]
        match step.name:
            case "suppress identifiers":
                await noted(len(keys))
                await self._suppress([k for k in keys], "identifier", request_id, now)
            case "suppress records":
                unlinked = await self._erasure.unlinked_records(keys)
                total = len(unlinked)
                await self._suppress([f"record:{r}" for r in unlinked], "record", request_id, now)
                async for ids in self._erasure.record_ids(profiles):
                    total += len(ids)
                    await self._suppress([f"record:{r}" for r in ids], "record", request_id, now)
                await noted(total)
            case "suppress dead letters":
                letters = await self._erasure.dead_letters_naming(scope["pattern"])
                await noted(len(letters))
                await self._suppress(
                    [f"dead_letter:{d}" for d in letters], "dead_letter", request_id, now
                )
            case "tombstone contact points":
                points = [k for k in keys if k.split(":", 1)[0] in CONTACT_CHANNELS]
                await noted(len(points))
                await self._tombstones.add(
                    [{"_id": self.hasher.tombstone(k), "at": now} for k in points]
                )
            case "notifications":
                ids = await self._erasure.notifications_of(profiles)
                await noted(len(ids))
                await self._erasure.delete_ids("outbox", ids)
            case "unlinked records":
                ids = await self._erasure.unlinked_records(keys)
                await noted(len(ids))
                await self._erasure.delete_ids("records", ids)
            case "dead letters":
                ids = await self._erasure.dead_letters_naming(scope["pattern"])
                await noted(len(ids))
                await self._erasure.delete_ids("dead_letters", ids)
            case "earlier requests":
                earlier = await self._erasure.requests_naming(keys, request_id)
                await noted(len(earlier))
                for doc in earlier:
                    hashes = sorted(self.hasher.suppression(i["key"]) for i in doc["identifiers"])
                    await self._erasure.forget_identifiers(doc["_id"], hashes)
            case "access audit":
                entries = await self._erasure.audit_entries(profiles, scope["pattern"])
                await noted(len(entries))
                await self._erasure.scrub_audit(entries)
            case _:
                raise RuntimeError(f"no implementation for the erasure step {step.name!r}")

    async def _suppress(
        self, texts: Sequence[str], kind: str, request_id: str, now: dt.datetime
    ) -> None:
        await self._suppressions.add(
            [
                {"_id": self.hasher.suppression(t), "kind": kind, "request": request_id, "at": now}
                for t in texts
            ]
        )

    async def _write_receipt(self, request: Document, actor: str, now: dt.datetime) -> None:
        steps = {step.name: journal_count(request, step.name) or 0 for step in STEPS}
        per_collection: dict[str, int] = {}
        for step in STEPS:
            per_collection[step.collection] = (
                per_collection.get(step.collection, 0) + steps[step.name]
            )
        body = {
            "request": request["_id"],
            "type": request["type"],
            "received_at": received(request).isoformat(),
            "erased_at": now.isoformat(),
            "erased_by": actor,
            "collections": per_collection,
            "steps": steps,
        }
        await self._receipts.put(
            {
                "_id": request["_id"],
                "body": body,
                "signature": rules.sign(self.config.secret, body),
                "public_key": rules.public_key(self.config.secret),
            }
        )

    async def _complete(
        self, request: Document, actor: str, now: dt.datetime, *, erased: bool = False
    ) -> None:
        changes: Document = {"status": Status.COMPLETED.value, "completed_ms": epoch_ms(now)}
        unset: list[str] = []
        if erased:
            # What the person gave is no longer kept: only its keyed hashes, to tell whether a
            # later request names the same person.
            changes["identifier_hashes"] = sorted(
                self.hasher.suppression(i["key"]) for i in request["identifiers"]
            )
            unset = ["identifiers", "journal.scope"]
        changes["events"] = [
            *request["events"],
            _event(now, actor, Status.IN_PROGRESS, Status.COMPLETED, None),
        ]
        if await self._requests.change(request, changes, unset) is None:
            raise rules.TransitionRefused("the request changed meanwhile; run it again")

    # --- Helpers ----------------------------------------------------------------------------

    async def _move(
        self, request_id: str, wanted: Status, actor: str, now: dt.datetime, note: str | None
    ) -> Document:
        doc = await self.get(request_id)
        current = Status(doc["status"])
        rules.check_transition(current, wanted)
        events = [*doc["events"], _event(now, actor, current, wanted, note)]
        changed = await self._requests.change(doc, {"status": wanted.value, "events": events})
        if changed is None:
            raise rules.TransitionRefused("the request changed meanwhile; try again")
        return changed

    def _normalized(self, given: GivenIdentifier) -> Document:
        if (given.type is IdentifierType.EXTERNAL) != (given.source is not None):
            raise InvalidInput("source is required for external ids and only for them")
        try:
            value = normalize_value(given.type, given.value, self.config.default_region)
        except ValueError as exc:
            raise InvalidInput(f"{given.type.value}: {exc}") from exc
        doc: Document = {
            "type": given.type.value,
            "value": value,
            "key": identity_key(given.type, value, given.source),
        }
        if given.source is not None:
            doc["source"] = given.source
        return doc


def is_overdue(request: Document, now: dt.datetime) -> bool:
    return Status(request["status"]) in rules.OPEN and request["deadline_ms"] < epoch_ms(now)


# Request times are epoch milliseconds: the embedded store keeps a date set on a stored
# document as a string, a number as it is.
def from_ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)


def received(request: Document) -> dt.datetime:
    return from_ms(request["received_ms"])


def deadline_of(request: Document) -> dt.datetime:
    return from_ms(request["deadline_ms"])


def _event(
    now: dt.datetime, actor: str, before: Status | None, after: Status, note: str | None
) -> Document:
    event: Document = {"at_ms": epoch_ms(now), "actor": actor, "to": after.value}
    if before is not None:
        event["from"] = before.value
    if note:
        event["note"] = note
    return event
