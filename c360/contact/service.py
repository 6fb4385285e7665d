"""Contact preferences, consent and the contact policy: reads, decisions, audiences, changes.

Every question goes through :func:`c360.contact.policy.decide` on facts read from the store, so
a decision, a ranked channel, a preferred channel and an audience member can never disagree.
Every change is a new record appended to the profile (never an update): consent given to an
agent, a preference set in the preference centre, an unsubscribe link followed, a contact
logged. The folds decide what is in force, and the timeline shows each change with its origin.

The API hands a caller's request over as it came (the origin it claims, whether a GPC signal
came with it, the instant it asks about); which of that may be, and what follows from it, is
decided here.

Over 500 lines: this is the contact policy's one door, and its sections (reading, audiences,
a caller's changes, the customer's own links) share the facts they read, the configuration and
the way a change becomes a record; the pure rules they apply are in ``policy``, ``changes``
and ``effective``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from c360.auth.service import Forbidden
from c360.contact.changes import (
    SOURCE,
    STATUS_ORIGINS,
    ConfirmationRefused,
    change_record,
    check_claim,
    check_owned,
    check_usable,
    contacts_since,
    link_key,
    only_point,
    token_hash,
    utc_instant,
)
from c360.contact.consent import ConsentState, fold_consent
from c360.contact.effective import Effective, effective
from c360.contact.facts import ContactFacts, build_facts
from c360.contact.links import LinkSigner, Unsubscribe
from c360.contact.policy import (
    ChannelOption,
    Decision,
    PolicyConfig,
    best_channels,
    channel_decisions,
    country_refusal,
    decide,
    usable,
)
from c360.contact.repository import ContactRepository
from c360.contact.types import (
    Actor,
    AudienceFilter,
    AudiencePage,
    Confirmation,
    ConsentReceipt,
    ContactConfig,
    ContactLogged,
    Member,
    PreferencesSet,
    Ranking,
)
from c360.errors import InvalidInput
from c360.ingest.service import IngestService
from c360.metrics.service import MetricsService
from c360.privacy.hashing import Tombstones
from c360.profiles.service import ProfileService, check_profile_cursor
from c360.profiles.types import ProfileIdentifier
from c360.records.repository import RecordRepository
from c360.records.types import Record
from schemas import CanonicalRecord
from schemas.quoting import shown
from schemas.records import ALL_PURPOSES, ChangeOrigin, ConsentStatus, ContactChannel, RecordKind

MAX_AUDIENCE_PAGE = 1000
GPC_EVIDENCE = "Sec-GPC: 1 on a preference-centre request"
_SIGNAL_FIRST = dt.timedelta(microseconds=1)
_REFUSALS_SHOWN = 3  # of a filter's unknown countries, named in its refusal


def check_countries(audience_filter: AudienceFilter) -> None:
    """Refuses a filter naming a country no decision can carry: it would silently match
    nobody. Names the codes refused (the first few)."""
    refusals = [r for c in sorted(audience_filter.countries or ()) if (r := country_refusal(c))]
    if refusals:
        more = len(refusals) - _REFUSALS_SHOWN
        listed = "; ".join(refusals[:_REFUSALS_SHOWN]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidInput(
            f"{listed}: countries are ISO 3166-1 alpha-2 codes, such as ES, FR or US"
        )


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
        tombstones: Tombstones | None = None,
    ) -> None:
        self._tombstones = tombstones
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

    async def states(
        self,
        profile_ids: Sequence[str],
        *,
        identities: Mapping[str, list[ProfileIdentifier]] | None = None,
    ) -> list[list[ConsentState]]:
        """Each profile's consent, in the order asked (a DataLoader's batch function), an
        erased person's tombstones included, as every decision folds it. ``identities``: the
        profiles' identifiers when the caller has them already."""
        changes = await self._records.of_kind(profile_ids, RecordKind.CONSENT_CHANGE)
        if self._tombstones is not None:
            if identities is None:
                wanted = list(changes)
                found = await self._profiles.identifiers(wanted)
                identities = dict(zip(wanted, found, strict=True))
            await self._add_tombstones(identities, changes)
        return [fold_consent(changes[p]) for p in profile_ids]

    async def facts(
        self,
        profile_ids: Sequence[str],
        at: dt.datetime,
        *,
        cases: bool = True,
        identities: Mapping[str, list[ProfileIdentifier]] | None = None,
    ) -> list[ContactFacts]:
        """What the policy knows of each profile, in the order asked (a DataLoader's batch).
        ``identities``: the profiles' identifiers when the caller has them already."""
        wanted = list(dict.fromkeys(profile_ids))
        if identities is None:
            identities = dict(zip(wanted, await self._profiles.identifiers(wanted), strict=True))
        records = await self._contacts.records(wanted, contacts_since(at), cases=cases)
        await self._add_tombstones(identities, records)
        return [build_facts(p, identities[p], records[p], at=at) for p in profile_ids]

    async def decide(
        self, profile_id: str, channel: str, purpose: str, at: dt.datetime
    ) -> Decision:
        """Refuses a purpose the policy does not know, as every other question does (a typo
        would otherwise read as a plain no)."""
        self.check_purpose(purpose)
        at = utc_instant(at)
        live = (await self._profiles.get(profile_id)).id
        [facts] = await self.facts([live], at, cases=False)
        return decide(facts, channel, purpose, at, self.policy)

    async def best_channels(self, profile_id: str, purpose: str, at: dt.datetime) -> Ranking:
        """Refuses a purpose the policy does not know (no ranking for it can be trusted: an
        empty one would read as "no channel allowed")."""
        self.check_purpose(purpose)
        at = utc_instant(at)
        live = (await self._profiles.get(profile_id)).id
        [facts] = await self.facts([live], at)
        decisions = channel_decisions(facts, purpose, at, self.policy)
        return Ranking(
            live,
            purpose,
            at,
            best_channels(facts, purpose, at, self.policy, decisions),
            refused=[d for d in decisions.values() if not usable(d)],
        )

    def preferred_channel(
        self, facts: ContactFacts, purpose: str, at: dt.datetime
    ) -> ChannelOption | None:
        """The channel to use for ``purpose`` at ``at``: the best one, or None when the policy
        allows none."""
        ranked = best_channels(facts, purpose, at, self.policy)
        return ranked[0] if ranked else None

    def preferences(self, facts: ContactFacts) -> Effective:
        """The profile's contact preferences as they are in force, defaults included."""
        return effective(facts, self.policy)

    async def _add_tombstones(
        self,
        identities: Mapping[str, list[ProfileIdentifier]],
        records: Mapping[str, list[Record]],
    ) -> None:
        """An erased person's contact points stay opted out wherever they turn up again."""
        if self._tombstones is None:
            return
        for profile_id, changes in (await self._tombstones.opt_outs(identities)).items():
            records[profile_id].extend(changes)

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
        unmasked: bool,
    ) -> AudiencePage:
        """The next ``first`` profiles the policy allows, scanning live profiles by id; fewer
        when ``audience_page_scan`` profiles were examined first (the page ends where the scan
        stopped, and the next goes on from there). ``unmasked``: whether the caller reads
        contact points in full (see :meth:`hands_out`)."""
        if not 0 < first <= MAX_AUDIENCE_PAGE:
            raise InvalidInput(f"first must be between 1 and {MAX_AUDIENCE_PAGE}, not {first}")
        at = self._audience_instant(purpose, at, unmasked, audience_filter)
        members: list[Member] = []
        cursor = check_profile_cursor(after)
        examined = 0
        scan = self.config.audience_page_scan
        while len(members) < first and examined < scan:
            batch = await self._contacts.live_after(
                cursor, min(self.config.audience_batch, scan - examined)
            )
            if not batch:
                return AudiencePage(members, cursor, has_next_page=False, at=at)
            examined += len(batch)
            for profile_id, member in await self._examine(
                batch, channel, purpose, at, audience_filter
            ):
                cursor = profile_id
                if member is not None:
                    members.append(member)
                    if len(members) == first:
                        break
        more = bool(await self._contacts.live_after(cursor, 1))
        return AudiencePage(members, cursor, has_next_page=more, at=at)

    def export(
        self,
        channel: str,
        purpose: str,
        at: dt.datetime,
        audience_filter: AudienceFilter,
        *,
        unmasked: bool,
    ) -> tuple[dt.datetime, AsyncIterator[Member]]:
        """Every member, one batch of profiles in memory at a time, and the instant decided
        for (checked now, before anything is streamed)."""
        at = self._audience_instant(purpose, at, unmasked, audience_filter)
        return at, self._stream(channel, purpose, at, audience_filter)

    def _audience_instant(
        self, purpose: str, at: dt.datetime, unmasked: bool, audience_filter: AudienceFilter
    ) -> dt.datetime:
        self.check_purpose(purpose)
        self.check_handout(purpose, unmasked=unmasked)
        check_countries(audience_filter)
        return utc_instant(at)

    async def _stream(
        self, channel: str, purpose: str, at: dt.datetime, audience_filter: AudienceFilter
    ) -> AsyncIterator[Member]:
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
        found = await self._contacts.facts_between(profile_ids, contacts_since(at))
        await self._add_tombstones(found.identities, found.records)
        facts = {
            p: build_facts(p, found.identities[p], found.records[p], at=at) for p in profile_ids
        }
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
        for profile, aggregate in zip(profiles, aggregates, strict=True):
            if profile is None:
                continue
            view = await self._metrics.view(aggregate, profile.last_seen_at, at)
            stages, tiers = audience_filter.lifecycle_stages, audience_filter.value_tiers
            if stages is not None and view.stage.stage.value not in stages:
                continue
            if tiers is not None and view.tier.tier.value not in tiers:
                continue
            chosen.add(profile.id)
        return chosen

    def unsubscribe_url(self, decision: Decision) -> str | None:
        """A one-click unsubscribe link for what was decided, for purposes one may leave."""
        if not decision.allowed or decision.purpose not in self.policy.regime_purposes:
            return None
        what = Unsubscribe(
            decision.profile_id, decision.channel, decision.purpose, decision.contact_point
        )
        return f"{self.config.public_url.rstrip('/')}/unsubscribe/{self._signer.sign(what)}"

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
                f"contact points for {shown(purpose)} are not handed out to keys that read them "
                f"masked; their purposes: {allowed} (C360_CONTACT_MARKETING_PURPOSES)"
            )

    def check_purpose(self, purpose: str) -> None:
        if purpose not in self.policy.purposes:
            known = ", ".join(self.policy.purposes)
            raise InvalidInput(
                f"unknown purpose {shown(purpose)}; the configured purposes: {known}"
            )

    # --- Changes a caller asks for ------------------------------------------------------------

    async def record_consent(
        self,
        profile_id: str,
        channel: str,
        purpose: str | None,
        status: str,
        contact_point: str | None,
        actor: Actor,
        now: dt.datetime,
        *,
        gpc_signal: bool = False,
        external_id: str | None = None,
    ) -> ConsentReceipt:
        """Append a consent change. An opt-in on a double opt-in channel (e-mail) is recorded
        as pending, with a single-use confirmation link that expires. ``gpc_signal``: the
        request carried ``Sec-GPC: 1`` (see :meth:`record_signal`). ``external_id``: the
        caller's id of the change; asking again with it (a retry) appends nothing and answers
        what was recorded, with a new link to the same pending opt-in (either confirms it)."""
        check_claim(actor.origin)
        if status == ConsentStatus.PENDING:
            raise InvalidInput("pending is set by the double opt-in, not asked for")
        if external_id is not None and not external_id.strip():
            raise InvalidInput("externalId is empty: give the change's id, or leave it out")
        if external_id is not None and external_id.startswith(CONFIRMATION_PREFIX):
            # c360's own ids of confirmations: a caller's would stand for one and block it.
            raise InvalidInput(
                f"externalId {shown(external_id)}: ids starting {CONFIRMATION_PREFIX!r} are "
                "c360's own; give the change an id of yours"
            )
        purpose = purpose or ALL_PURPOSES
        if purpose != ALL_PURPOSES:
            self.check_purpose(purpose)
        live, identities = await self._owner(profile_id)
        double = status == ConsentStatus.OPTED_IN and channel in self.config.double_opt_in_channels
        if double and contact_point is None:
            contact_point = only_point(identities, channel)
        data = {
            "channel": channel,
            "purpose": purpose,
            "status": ConsentStatus.PENDING if double else status,
            "contact_point": contact_point,
        }
        record = self._record(RecordKind.CONSENT_CHANGE, data, identities, actor, now, external_id)
        check_owned(record, identities)
        stored = None if external_id is None else await self._records.get(record.record_id)
        if stored is not None:
            check_retry(stored, record, live, external_id)
            gpc = False  # recorded, if it came, with the change the first time
            if double and await self._records.get(confirmation_of(record.record_id)):
                # Confirmed already: a new link would only show the customer "confirmed"
                # again, even after a later opt-out.
                return ConsentReceipt(live, record.record_id, ConsentStatus.OPTED_IN)
        else:
            gpc = await self._record_signal(live, identities, actor, gpc_signal, now)
            await self._append(live, record, identities=identities)
        if not double:
            return ConsentReceipt(live, record.record_id, status, gpc_recorded=gpc)
        token = secrets.token_urlsafe(32)
        expires = now + self.config.confirmation_ttl
        await self._contacts.add_token(
            Confirmation(
                token_hash=token_hash(token),
                profile_id=live,
                channel=channel,
                purpose=purpose,
                contact_point=getattr(record, "contact_point", None),
                requested=record.record_id,
                requested_by=actor.name,
                created_at=now,
                expires_at=expires,
            )
        )
        url = f"{self.config.public_url.rstrip('/')}/consent/confirm/{token}"
        return ConsentReceipt(
            live, record.record_id, ConsentStatus.PENDING, url, expires, gpc_recorded=gpc
        )

    async def set_preferences(
        self,
        profile_id: str,
        change: Mapping[str, Any],
        actor: Actor,
        now: dt.datetime,
        *,
        gpc_signal: bool = False,
    ) -> PreferencesSet:
        """Append a preference change (see :class:`schemas.PreferenceChange`)."""
        check_claim(actor.origin)
        live, identities = await self._owner(profile_id)
        for purpose in change.get("preferred_channels", {}):
            self.check_purpose(purpose)
        for cap in change.get("frequency_caps", ()):
            self.check_purpose(str(cap["purpose"]))
        gpc = await self._record_signal(live, identities, actor, gpc_signal, now)
        record = self._record(RecordKind.PREFERENCE_CHANGE, dict(change), identities, actor, now)
        await self._append(live, record, identities=identities)
        return PreferencesSet(live, gpc_recorded=gpc)

    async def set_do_not_contact(
        self, profile_id: str, active: bool, reason: str | None, actor: Actor, now: dt.datetime
    ) -> PreferencesSet:
        """Stop all contact (with why) or allow it again."""
        change = {"do_not_contact": {"active": active, "reason": reason}}
        return await self.set_preferences(profile_id, change, actor, now)

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
        """What became known of an address or number; returns the profile it went to."""
        check_claim(actor.origin, STATUS_ORIGINS)
        live, identities = await self._owner(profile_id)
        data = {"channel": channel, "contact_point": contact_point, "status": status}
        if reason is not None:
            data["reason"] = reason
        record = self._record(RecordKind.CONTACT_POINT_STATUS, data, identities, actor, now)
        check_owned(record, identities)
        await self._append(live, record, identities=identities)
        return live

    async def record_gpc(self, profile_id: str, actor: Actor, now: dt.datetime) -> str:
        """A Global Privacy Control signal: opt out of the sale/sharing purposes everywhere.
        Returns the profile it went to."""
        live, identities = await self._owner(profile_id)
        await self._opt_out_for_gpc(live, identities, actor, now)
        return live

    async def record_contact(
        self,
        profile_id: str,
        contact: Mapping[str, Any],
        actor: Actor,
        now: dt.datetime,
        external_id: str | None = None,
    ) -> ContactLogged:
        """Log an outbound contact (``contact``: an :class:`schemas.OutboundContact`'s fields;
        ``occurred_at`` is when it was sent), with the policy's decision at that instant, before
        it was logged. Logging it again with the same ``external_id`` is a duplicate."""
        at = utc_instant(contact["occurred_at"])
        decision = await self.decide(profile_id, contact["channel"], contact["purpose"], at)
        live, identities = await self._owner(profile_id)
        data = {**contact, "occurred_at": at, "actor": actor.name}
        record = self._record(RecordKind.OUTBOUND_CONTACT, data, identities, None, now, external_id)
        [(stored, outcome)] = await self._append(live, record, identities=identities)
        if outcome == "duplicate":  # logged before: what is stored, not what was sent again
            stored = await self._records.get(record.record_id) or stored
        return ContactLogged(live, stored, decision)

    async def _record_signal(
        self,
        profile_id: str,
        identities: Sequence[ProfileIdentifier],
        actor: Actor,
        gpc_signal: bool,
        now: dt.datetime,
    ) -> bool:
        """A preference-centre request that carries a GPC signal (``Sec-GPC: 1``) records its
        opt-outs too, just before the change it asks for: what the request itself asks is the
        newer change. Whether it was recorded."""
        if not gpc_signal or actor.origin is not ChangeOrigin.PREFERENCE_CENTRE:
            return False
        signal = Actor(ChangeOrigin.GPC, actor.name, GPC_EVIDENCE)
        await self._opt_out_for_gpc(profile_id, identities, signal, now - _SIGNAL_FIRST)
        return True

    async def _opt_out_for_gpc(
        self,
        profile_id: str,
        identities: Sequence[ProfileIdentifier],
        actor: Actor,
        now: dt.datetime,
    ) -> None:
        gpc = Actor(ChangeOrigin.GPC, actor.name, actor.evidence or "Sec-GPC: 1")
        records = [
            self._record(
                RecordKind.CONSENT_CHANGE,
                {"channel": channel, "purpose": purpose, "status": ConsentStatus.OPTED_OUT},
                identities,
                gpc,
                now,
            )
            for channel in ContactChannel
            for purpose in self.config.gpc_purposes
        ]
        await self._append(profile_id, *records, identities=identities)

    # --- The customer's own links -------------------------------------------------------------

    def read_link(self, token: str, now: dt.datetime) -> Unsubscribe:
        """What a signed unsubscribe link is for; refused when tampered with or expired."""
        return self._signer.read(token, now)

    async def confirmation(self, token: str, now: dt.datetime) -> Confirmation:
        """The pending double opt-in a token confirms, without using it."""
        return check_usable(await self._contacts.token(token_hash(token)), now)

    async def confirm(self, token: str, now: dt.datetime, evidence: str) -> ConsentReceipt:
        """Complete a double opt-in: the token must exist, be unused and unexpired. Only the
        customer's own request to the link calls this (``evidence``: when, from which address
        and browser); no API key can confirm for them."""
        hashed = token_hash(token)
        pending = await self._contacts.use_token(hashed, now)
        if pending is None:
            check_usable(await self._contacts.token(hashed), now)
            raise ConfirmationRefused("this confirmation link was used meanwhile")
        live, identities = await self._owner(pending.profile_id)
        asked = f" by {pending.requested_by}" if pending.requested_by else ""
        actor = Actor(
            ChangeOrigin.DOUBLE_OPT_IN,
            evidence=f"{evidence}; confirms {pending.requested}, asked{asked} at "
            f"{pending.created_at}",
        )
        data = {
            "channel": pending.channel,
            "purpose": pending.purpose,
            "status": ConsentStatus.OPTED_IN,
            "contact_point": pending.contact_point,
        }
        confirms = confirmation_id(pending.requested)
        records = [self._record(RecordKind.CONSENT_CHANGE, data, identities, actor, now, confirms)]
        if await self._records.get(records[0].record_id) is not None:
            return ConsentReceipt(live, records[0].record_id, ConsentStatus.OPTED_IN)
        if pending.contact_point is not None:
            point = {"channel": pending.channel, "contact_point": pending.contact_point}
            status = {**point, "status": "verified", "reason": "double opt-in confirmed"}
            records.append(
                self._record(RecordKind.CONTACT_POINT_STATUS, status, identities, actor, now)
            )
        await self._append(live, *records, identities=identities)
        return ConsentReceipt(live, records[0].record_id, ConsentStatus.OPTED_IN)

    async def unsubscribe(self, token: str, evidence: str, now: dt.datetime) -> Unsubscribe:
        """Follow a signed unsubscribe link: an opt-out, at once. Repeating it changes nothing."""
        what = self._signer.read(token, now)
        live, identities = await self._owner(what.profile_id)
        data = {
            "channel": what.channel,
            "purpose": what.purpose,
            "status": ConsentStatus.OPTED_OUT,
            "contact_point": what.contact_point,
        }
        actor = Actor(ChangeOrigin.UNSUBSCRIBE_LINK, evidence=evidence)
        # One record per link: following it twice is a duplicate, not a second change.
        record = self._record(
            RecordKind.CONSENT_CHANGE,
            data,
            identities,
            actor,
            now,
            external_id=token_hash(token)[:40],
        )
        await self._append(live, record, identities=identities)
        return what

    # --- Helpers ------------------------------------------------------------------------------

    async def _owner(self, profile_id: str) -> tuple[str, list[ProfileIdentifier]]:
        """The live profile (an absorbed id resolves to its survivor) and its identifiers."""
        live = (await self._profiles.get(profile_id)).id
        [identities] = await self._profiles.identifiers([live])
        return live, identities

    def _record(
        self,
        kind: RecordKind,
        data: Mapping[str, Any],
        identities: Sequence[ProfileIdentifier],
        actor: Actor | None,
        now: dt.datetime,
        external_id: str | None = None,
    ) -> CanonicalRecord:
        region = self.config.default_region
        return change_record(kind, data, identities, actor, now, external_id, region)

    async def _append(
        self,
        profile_id: str,
        *records: CanonicalRecord,
        identities: Sequence[ProfileIdentifier] = (),
    ) -> Sequence[tuple[Record, str]]:
        """Store the records on the profile in one write; each follows its contact point's
        identity on unmerge. Returns each one as stored, and its outcome."""
        links = [link_key(r, identities) for r in records]
        return await self._ingest.append(profile_id, records, links)


CONFIRMATION_PREFIX = "confirms-"


def confirmation_id(requested: str) -> str:
    """The id of the change that confirms the double opt-in request ``requested``: one
    confirmation per request (a retried request gave the customer a link per call)."""
    return f"{CONFIRMATION_PREFIX}{token_hash(requested)[:40]}"


def confirmation_of(requested: str) -> str:
    """The record id of that confirmation."""
    return f"{SOURCE}:{RecordKind.CONSENT_CHANGE.value}:{confirmation_id(requested)}"


RETRIED_FIELDS = ("channel", "purpose", "status", "contact_point")
"""What a consent change asked for: a retry with its id asks for the same."""


def check_retry(
    stored: Record, record: CanonicalRecord, profile_id: str, external_id: str | None
) -> None:
    """Refuses a change whose id (``external_id``) names a change stored before that asked for
    something else, or for another profile: the caller reused an id."""
    asked = record.model_dump(mode="json")
    same = stored.profile_id == profile_id and all(
        stored.payload.get(name) == asked.get(name) for name in RETRIED_FIELDS
    )
    if not same:
        raise InvalidInput(
            f"externalId {shown(external_id)} names a change recorded before for another "
            "profile, channel, purpose, status or contact point; give each change its own id"
        )
