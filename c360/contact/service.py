"""Contact preferences, consent and the contact policy: reads, decisions, audiences, changes.

Every question goes through :func:`c360.contact.policy.decide` on facts read from the store, so
a decision, a ranked channel, a preferred channel and an audience member can never disagree.
Every change is a new record appended to the profile (never an update): consent given to an
agent, a preference set in the preference centre, an unsubscribe link followed, a contact
logged. The folds decide what is in force, and the timeline shows each change with its origin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from c360.auth.service import Forbidden
from c360.contact.consent import ConsentState, fold_consent
from c360.contact.facts import ContactFacts, build_facts
from c360.contact.links import LinkSigner, Unsubscribe
from c360.contact.policy import ChannelOption, Decision, PolicyConfig, best_channels, decide
from c360.contact.repository import ContactRepository
from c360.errors import InvalidInput, NotFound
from c360.ingest.service import IngestService, Outcome
from c360.metrics.service import MetricsService
from c360.profiles.service import ProfileService, check_profile_cursor, epoch_ms, from_epoch_ms
from c360.records.repository import RecordRepository
from c360.store import Document
from schemas import CanonicalRecord, describe_errors, parse_record
from schemas.identifiers import IdentifierType, identity_key
from schemas.records import (
    ALL_PURPOSES,
    MAX_CAP_DAYS,
    PHONE_CHANNELS,
    ChangeOrigin,
    ContactChannel,
)

SOURCE = "c360"  # the source of the records c360 itself makes


class ConfirmationRefused(InvalidInput):
    status_code = 410


class UnknownConfirmation(NotFound):
    pass


@dataclass(frozen=True)
class ContactConfig:
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    double_opt_in_channels: frozenset[str] = frozenset({"email"})
    confirmation_ttl: dt.timedelta = dt.timedelta(hours=72)
    gpc_purposes: tuple[str, ...] = ("marketing",)
    # Purposes for which callers without unmasked contact points are handed them in full.
    handout_purposes: frozenset[str] = frozenset({"marketing", "surveys"})
    public_url: str = "http://127.0.0.1:8000"
    default_region: str | None = None
    audience_batch: int = 500


@dataclass(frozen=True)
class Actor:
    """Who asks for a change, and how it came about."""

    origin: ChangeOrigin
    name: str | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class ConsentReceipt:
    """What recordConsent did: the record appended and, for a double opt-in, the link."""

    profile_id: str
    record_id: str
    status: str
    confirmation_url: str | None = None
    confirmation_expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class AudienceFilter:
    lifecycle_stages: frozenset[str] | None = None
    value_tiers: frozenset[str] | None = None
    countries: frozenset[str] | None = None

    @property
    def needs_metrics(self) -> bool:
        return self.lifecycle_stages is not None or self.value_tiers is not None


@dataclass(frozen=True)
class Member:
    profile_id: str
    decision: Decision
    unsubscribe_url: str | None


@dataclass(frozen=True)
class AudiencePage:
    members: list[Member]
    end_cursor: str | None  # the last profile examined (members are a subset)
    has_next_page: bool


class ContactService:
    def __init__(
        self,
        contacts: ContactRepository,
        records: RecordRepository,
        profiles: ProfileService,
        metrics: MetricsService,
        ingest: IngestService,
        signer: LinkSigner,
        config: ContactConfig,
    ) -> None:
        self._contacts = contacts
        self._records = records
        self._profiles = profiles
        self._metrics = metrics
        self._ingest = ingest
        self._signer = signer
        self.config = config

    @property
    def policy(self) -> PolicyConfig:
        return self.config.policy

    # --- Reading ------------------------------------------------------------------------------

    async def states(self, profile_ids: Sequence[str]) -> list[list[ConsentState]]:
        """Each profile's consent, in the order asked (a DataLoader's batch function)."""
        changes = await self._records.of_kind(profile_ids, "consent_change")
        return [fold_consent(changes[p]) for p in profile_ids]

    async def facts(
        self,
        profile_ids: Sequence[str],
        at: dt.datetime,
        *,
        cases: bool = True,
        identities: Mapping[str, list[Document]] | None = None,
    ) -> list[ContactFacts]:
        """What the policy knows of each profile, in the order asked (a DataLoader's batch).
        ``identities``: the profiles' identities when the caller has them already."""
        wanted = list(dict.fromkeys(profile_ids))
        if identities is None:
            identities = dict(zip(wanted, await self._profiles.identifiers(wanted), strict=True))
        records = await self._contacts.records(wanted, _contacts_since(at), cases=cases)
        return [build_facts(p, identities[p], records[p]) for p in profile_ids]

    async def decide(
        self, profile_id: str, channel: str, purpose: str, at: dt.datetime
    ) -> Decision:
        live = (await self._profiles.get(profile_id))["_id"]
        [facts] = await self.facts([live], at, cases=False)
        return decide(facts, channel, purpose, at, self.policy)

    async def best_channels(
        self, profile_id: str, purpose: str, at: dt.datetime
    ) -> list[ChannelOption]:
        live = (await self._profiles.get(profile_id))["_id"]
        [facts] = await self.facts([live], at)
        return best_channels(facts, purpose, at, self.policy)

    # --- Audiences ----------------------------------------------------------------------------

    async def audience(
        self,
        channel: str,
        purpose: str,
        at: dt.datetime,
        audience_filter: AudienceFilter,
        *,
        first: int,
        after: str | None,
    ) -> AudiencePage:
        """The next ``first`` profiles the policy allows, scanning live profiles by id."""
        members: list[Member] = []
        cursor = check_profile_cursor(after)
        while len(members) < first:
            batch = await self._contacts.live_after(cursor, self.config.audience_batch)
            if not batch:
                return AudiencePage(members, cursor, has_next_page=False)
            for profile_id, member in await self._examine(
                batch, channel, purpose, at, audience_filter
            ):
                cursor = profile_id
                if member is not None:
                    members.append(member)
                    if len(members) == first:
                        break
        more = bool(await self._contacts.live_after(cursor, 1))
        return AudiencePage(members, cursor, has_next_page=more)

    async def stream(
        self, channel: str, purpose: str, at: dt.datetime, audience_filter: AudienceFilter
    ) -> AsyncIterator[Member]:
        """Every member, one batch of profiles in memory at a time."""
        cursor: str | None = None
        while batch := await self._contacts.live_after(cursor, self.config.audience_batch):
            for _, member in await self._examine(batch, channel, purpose, at, audience_filter):
                if member is not None:
                    yield member
            cursor = batch[-1]

    async def _examine(
        self,
        profile_ids: list[str],
        channel: str,
        purpose: str,
        at: dt.datetime,
        audience_filter: AudienceFilter,
    ) -> list[tuple[str, Member | None]]:
        docs = await self._contacts.facts_between(profile_ids, _contacts_since(at))
        facts = {p: build_facts(p, docs.identities[p], docs.records[p]) for p in profile_ids}
        wanted = set(profile_ids)
        if audience_filter.needs_metrics:
            wanted = await self._segment(profile_ids, audience_filter, at)
        examined: list[tuple[str, Member | None]] = []
        for profile_id in profile_ids:
            member = None
            if profile_id in wanted:
                decision = decide(facts[profile_id], channel, purpose, at, self.policy)
                countries = audience_filter.countries
                if decision.allowed and (countries is None or decision.country in countries):
                    member = Member(profile_id, decision, self.unsubscribe_url(decision))
            examined.append((profile_id, member))
        return examined

    async def _segment(
        self, profile_ids: list[str], audience_filter: AudienceFilter, at: dt.datetime
    ) -> set[str]:
        profiles = await self._profiles.get_many(profile_ids)
        aggregates = await self._metrics.aggregates(profile_ids)
        chosen = set()
        for doc, aggregate in zip(profiles, aggregates, strict=True):
            if doc is None:
                continue
            view = await self._metrics.view(aggregate, from_epoch_ms(doc.get("last_seen_ms")), at)
            stages, tiers = audience_filter.lifecycle_stages, audience_filter.value_tiers
            if stages is not None and view.stage.stage.value not in stages:
                continue
            if tiers is not None and view.tier.tier.value not in tiers:
                continue
            chosen.add(doc["_id"])
        return chosen

    def unsubscribe_url(self, decision: Decision) -> str | None:
        """A one-click unsubscribe link for what was decided, for purposes one may leave."""
        if not decision.allowed or decision.purpose not in self.policy.regime_purposes:
            return None
        what = Unsubscribe(
            decision.profile_id, decision.channel, decision.purpose, decision.contact_point
        )
        return f"{self.config.public_url.rstrip('/')}/unsubscribe/{self._signer.sign(what)}"

    # --- Changes ------------------------------------------------------------------------------

    async def record_consent(
        self,
        profile_id: str,
        channel: str,
        purpose: str | None,
        status: str,
        contact_point: str | None,
        actor: Actor,
        now: dt.datetime,
    ) -> ConsentReceipt:
        """Append a consent change. An opt-in on a double opt-in channel (e-mail) is recorded
        as pending, with a single-use confirmation link that expires."""
        purpose = purpose or ALL_PURPOSES
        if purpose != ALL_PURPOSES:
            self.check_purpose(purpose)
        live, identities = await self._owner(profile_id)
        double = (
            status == "opted_in"
            and channel in self.config.double_opt_in_channels
            and actor.origin not in (ChangeOrigin.IMPORT, ChangeOrigin.DOUBLE_OPT_IN)
        )
        if double and contact_point is None:
            contact_point = _only_point(identities, channel)
        data = {
            "channel": channel,
            "purpose": purpose,
            "status": "pending" if double else status,
            "contact_point": contact_point,
        }
        record = self._record("consent_change", data, identities, actor, now)
        _check_owned(record, identities)
        await self._append(live, record, identities=identities)
        if not double:
            return ConsentReceipt(live, record.record_id, status)
        token = secrets.token_urlsafe(32)
        expires = now + self.config.confirmation_ttl
        await self._contacts.add_token(
            {
                "_id": _hash(token),
                "profile_id": live,
                "channel": channel,
                "purpose": purpose,
                "contact_point": getattr(record, "contact_point", None),
                "requested": record.record_id,
                **({"requested_by": actor.name} if actor.name else {}),
                "created_ms": epoch_ms(now),
                "expires_ms": epoch_ms(expires),
            }
        )
        url = f"{self.config.public_url.rstrip('/')}/consent/confirm/{token}"
        return ConsentReceipt(live, record.record_id, "pending", url, expires)

    def read_link(self, token: str, now: dt.datetime) -> Unsubscribe:
        """What a signed unsubscribe link is for; refused when tampered with or expired."""
        return self._signer.read(token, now)

    async def confirmation(self, token: str, now: dt.datetime) -> Document:
        """The pending double opt-in a token confirms, without using it."""
        doc = await self._contacts.token(_hash(token))
        _check_usable(doc, epoch_ms(now))
        assert doc is not None
        return doc

    async def confirm(self, token: str, now: dt.datetime, evidence: str) -> ConsentReceipt:
        """Complete a double opt-in: the token must exist, be unused and unexpired. Only the
        customer's own request to the link calls this (``evidence``: when, from which address
        and browser); no API key can confirm for them."""
        token_hash = _hash(token)
        doc = await self._contacts.use_token(token_hash, epoch_ms(now))
        if doc is None:
            _check_usable(await self._contacts.token(token_hash), epoch_ms(now))
            raise ConfirmationRefused("this confirmation link was used meanwhile")
        live, identities = await self._owner(doc["profile_id"])
        requested = from_epoch_ms(doc["created_ms"])
        asked = f" by {doc['requested_by']}" if doc.get("requested_by") else ""
        actor = Actor(
            ChangeOrigin.DOUBLE_OPT_IN,
            evidence=f"{evidence}; confirms {doc['requested']}, asked{asked} at {requested}",
        )
        data = {
            "channel": doc["channel"],
            "purpose": doc["purpose"],
            "status": "opted_in",
            "contact_point": doc.get("contact_point"),
        }
        records = [self._record("consent_change", data, identities, actor, now)]
        if doc.get("contact_point") is not None:
            point = {"channel": doc["channel"], "contact_point": doc["contact_point"]}
            status = {**point, "status": "verified", "reason": "double opt-in confirmed"}
            records.append(self._record("contact_point_status", status, identities, actor, now))
        await self._append(live, *records, identities=identities)
        return ConsentReceipt(live, records[0].record_id, "opted_in")

    async def unsubscribe(self, token: str, evidence: str, now: dt.datetime) -> Unsubscribe:
        """Follow a signed unsubscribe link: an opt-out, at once. Repeating it changes nothing."""
        what = self._signer.read(token, now)
        live, identities = await self._owner(what.profile_id)
        data = {
            "channel": what.channel,
            "purpose": what.purpose,
            "status": "opted_out",
            "contact_point": what.contact_point,
        }
        actor = Actor(ChangeOrigin.UNSUBSCRIBE_LINK, evidence=evidence)
        # One record per link: following it twice is a duplicate, not a second change.
        record = self._record(
            "consent_change", data, identities, actor, now, external_id=_hash(token)[:40]
        )
        await self._append(live, record, identities=identities)
        return what

    async def record_gpc(self, profile_id: str, actor: Actor, now: dt.datetime) -> None:
        """A Global Privacy Control signal: opt out of the sale/sharing purposes everywhere."""
        live, identities = await self._owner(profile_id)
        gpc = Actor(ChangeOrigin.GPC, actor.name, actor.evidence or "Sec-GPC: 1")
        records = [
            self._record(
                "consent_change",
                {"channel": channel.value, "purpose": purpose, "status": "opted_out"},
                identities,
                gpc,
                now,
            )
            for channel in ContactChannel
            for purpose in self.config.gpc_purposes
        ]
        await self._append(live, *records, identities=identities)

    async def set_preferences(
        self, profile_id: str, change: Mapping[str, Any], actor: Actor, now: dt.datetime
    ) -> str:
        """Append a preference change (see :class:`schemas.PreferenceChange`); returns the
        profile it went to."""
        live, identities = await self._owner(profile_id)
        for purpose in change.get("preferred_channels", {}):
            self.check_purpose(purpose)
        for cap in change.get("frequency_caps", ()):
            self.check_purpose(str(cap["purpose"]))
        record = self._record("preference_change", dict(change), identities, actor, now)
        await self._append(live, record, identities=identities)
        return live

    async def set_point_status(
        self,
        profile_id: str,
        channel: str,
        contact_point: str,
        status: str,
        reason: str | None,
        actor: Actor,
        now: dt.datetime,
    ) -> str:
        live, identities = await self._owner(profile_id)
        data = {"channel": channel, "contact_point": contact_point, "status": status}
        if reason is not None:
            data["reason"] = reason
        record = self._record("contact_point_status", data, identities, actor, now)
        _check_owned(record, identities)
        await self._append(live, record, identities=identities)
        return live

    async def record_contact(
        self,
        profile_id: str,
        data: Mapping[str, Any],
        actor: Actor,
        now: dt.datetime,
        external_id: str | None = None,
    ) -> tuple[str, Document]:
        """Log an outbound contact; returns the profile and the stored record."""
        live, identities = await self._owner(profile_id)
        self.check_purpose(str(data["purpose"]))
        record = self._record(
            "outbound_contact", {**data, "actor": actor.name}, identities, None, now, external_id
        )
        [(doc, outcome)] = await self._append(live, record, identities=identities)
        if outcome == "duplicate":  # logged before: what is stored, not what was sent again
            doc = await self._records.get(record.record_id) or doc
        return live, doc

    # --- Helpers ------------------------------------------------------------------------------

    async def _owner(self, profile_id: str) -> tuple[str, list[Document]]:
        """The live profile (an absorbed id resolves to its survivor) and its identities."""
        live = (await self._profiles.get(profile_id))["_id"]
        [identities] = await self._profiles.identifiers([live])
        return live, identities

    def hands_out(self, purpose: str, *, unmasked: bool) -> bool:
        """Whether a caller is handed contact points in full for ``purpose``: callers who read
        them unmasked anyway for every purpose, the others (marketing) only for the purposes
        they send for — not the addresses a customer gave for service or transactions."""
        return unmasked or purpose in self.config.handout_purposes

    def check_handout(self, purpose: str, *, unmasked: bool) -> None:
        """Refuses an audience or export of contact points the caller may not have."""
        if not self.hands_out(purpose, unmasked=unmasked):
            allowed = ", ".join(sorted(self.config.handout_purposes)) or "none"
            raise Forbidden(
                f"contact points for {purpose!r} are not handed out to keys that read them "
                f"masked; their purposes: {allowed} (C360_CONTACT_MARKETING_PURPOSES)"
            )

    def check_purpose(self, purpose: str) -> None:
        if purpose not in self.policy.purposes:
            known = ", ".join(self.policy.purposes)
            raise InvalidInput(f"unknown purpose {purpose!r}; the configured purposes: {known}")

    def _record(
        self,
        kind: str,
        data: Mapping[str, Any],
        identities: Sequence[Document],
        actor: Actor | None,
        now: dt.datetime,
        external_id: str | None = None,
    ) -> CanonicalRecord:
        """A canonical record made here, validated as any connector's would be."""
        occurred = data.get("occurred_at", now)
        payload: dict[str, Any] = {
            **{k: v for k, v in data.items() if v is not None},
            "kind": kind,
            "source": SOURCE,
            "external_id": external_id or uuid.uuid4().hex,
            "occurred_at": occurred,
            "identifiers": _identifiers(data, identities),
        }
        if actor is not None:
            payload["origin"] = actor.origin.value
            if actor.name is not None:
                payload["actor"] = actor.name
            if actor.evidence is not None:
                payload["evidence"] = actor.evidence
        try:
            return parse_record(payload, default_region=self.config.default_region)
        except ValidationError as exc:
            raise InvalidInput(describe_errors(exc)) from None

    async def _append(
        self,
        profile_id: str,
        *records: CanonicalRecord,
        identities: Sequence[Document] = (),
    ) -> list[tuple[Document, Outcome]]:
        """Store the records on the profile in one write; each follows its contact point's
        identity on unmerge. Returns each one's document and outcome."""
        links = [_link_key(r, getattr(r, "contact_point", None), identities) for r in records]
        return await self._ingest.append(profile_id, records, links)


def _check_usable(doc: Document | None, now_ms: int) -> None:
    if doc is None:
        raise UnknownConfirmation("this confirmation link is not known")
    if "used_ms" in doc:
        used = from_epoch_ms(doc["used_ms"])
        raise ConfirmationRefused(f"this confirmation link was already used ({used})")
    if doc["expires_ms"] <= now_ms:
        expired = from_epoch_ms(doc["expires_ms"])
        raise ConfirmationRefused(f"this confirmation link expired at {expired}")


def utc_instant(at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """The instant a question is asked for (``now`` when not given), in UTC; a time without a
    zone is refused rather than read in the server's."""
    if at is None:
        return now
    if at.tzinfo is None:
        raise InvalidInput(f"{at.isoformat()} has no time zone; e.g. 2026-11-22T10:00:00Z")
    if not ASKABLE_YEARS[0] <= at.year < ASKABLE_YEARS[1]:
        first, end = ASKABLE_YEARS
        raise InvalidInput(f"{at.isoformat()} is not in the years {first} to {end - 1}")
    return at.astimezone(dt.UTC)


ASKABLE_YEARS = (1900, 9000)
"""Years (as written) a decision can be asked for: the policy looks a year back (caps) and days
ahead (quiet hours, windows), which must stay within the calendar."""
ASKABLE_PATTERN = r"^(19|[2-8][0-9])[0-9][0-9]-"
"""The same years as a pattern of an ISO 8601 timestamp, for the API's documents."""


def _contacts_since(at: dt.datetime) -> dt.datetime:
    """How far back the contact log is read: the longest window a cap may have."""
    return at - dt.timedelta(days=MAX_CAP_DAYS)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _identity_type(channel: str) -> str | None:
    if channel == "email":
        return "email"
    if channel in PHONE_CHANNELS:
        return "phone"
    return None


def _only_point(identities: Sequence[Document], channel: str) -> str:
    kind = _identity_type(channel)
    points = [d["value"] for d in identities if d["type"] == kind]
    if len(points) != 1:
        found = "no" if not points else f"{len(points)}"
        raise InvalidInput(f"name the contact point: the profile has {found} {channel} addresses")
    return str(points[0])


def _check_owned(record: CanonicalRecord, identities: Sequence[Document]) -> None:
    """An e-mail address or number named in a change must be one of the profile's."""
    point, channel = getattr(record, "contact_point", None), getattr(record, "channel", None)
    kind = _identity_type(str(channel)) if channel is not None else None
    if point is None or kind is None:
        return
    if not any(d["type"] == kind and d["value"] == point for d in identities):
        raise InvalidInput(f"{point} is not one of the profile's {channel} contact points")


def _identifiers(data: Mapping[str, Any], identities: Sequence[Document]) -> list[Document]:
    """The profile's identifier the change is about (its contact point), else its first."""
    point, kind = data.get("contact_point"), _identity_type(str(data.get("channel", "")))
    if point is not None and kind is not None:
        return [{"type": kind, "value": point}]
    if not identities:
        raise InvalidInput("the profile has no identifier to attach the change to")
    doc = identities[0]
    identifier = {"type": doc["type"], "value": doc["value"]}
    if doc.get("source"):
        identifier["source"] = doc["source"]
    return [identifier]


def _link_key(
    record: CanonicalRecord, point: str | None, identities: Sequence[Document]
) -> str | None:
    """What an unmerge follows: the identity of the contact point, when the profile owns it."""
    channel = getattr(record, "channel", None)
    kind = _identity_type(str(channel)) if channel is not None else None
    if point is None or kind is None:
        return None
    key = identity_key(IdentifierType(kind), point)
    return key if any(d["_id"] == key for d in identities) else None
