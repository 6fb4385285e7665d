"""What the contact policy knows of one profile, built from its identities and records.

Everything here is a fold over the profile's records, computed when asked: contact points from the
identities (e-mails, phones) and person records (postal addresses), their status from
contact-point-status records, consent and preferences from their change records, and the
contacts and conversations that frequency caps and channel inference count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from c360.contact.consent import OPTED_OUT, ConsentState, change_order, fold_consent
from c360.contact.preferences import Preferences, fold_preferences
from c360.profiles.traits import Traits, fold_traits
from c360.profiles.types import ProfileIdentifier
from c360.records.types import Record
from schemas.identifiers import IdentifierType
from schemas.records import ContactChannel, RecordKind, ServiceChannel

# The record kinds a decision reads (outbound contacts only within the longest cap window).
DECISION_KINDS = (
    RecordKind.PERSON,
    RecordKind.CONSENT_CHANGE,
    RecordKind.PREFERENCE_CHANGE,
    RecordKind.CONTACT_POINT_STATUS,
)
CONTACT_KIND = RecordKind.OUTBOUND_CONTACT
CASE_KIND = RecordKind.SERVICE_CASE
# A case's channel as a channel one can contact the customer on (chat, web… cannot be).
CASE_CHANNELS = {
    ServiceChannel.EMAIL: ContactChannel.EMAIL,
    ServiceChannel.PHONE: ContactChannel.PHONE,
    ServiceChannel.SMS: ContactChannel.SMS,
    ServiceChannel.WHATSAPP: ContactChannel.WHATSAPP,
}
ENGAGED = frozenset({"answered", "opened", "clicked"})


@dataclass(frozen=True)
class PointStatus:
    status: str  # unverified | verified | bounced | invalid
    since: dt.datetime
    reason: str | None
    origin: str
    record_id: str


@dataclass(frozen=True)
class Contact:
    """One outbound contact: what frequency caps count."""

    at: dt.datetime
    channel: str
    purpose: str
    outcome: str


@dataclass(frozen=True)
class Conversation:
    """A conversation the customer started (a case) or answered (an engaged contact)."""

    at: dt.datetime
    channel: str
    purpose: str | None  # None: a case, whatever it was about


@dataclass
class ContactFacts:
    profile_id: str
    emails: list[str] = field(default_factory=list)  # newest identity first
    phones: list[str] = field(default_factory=list)
    traits: Traits = field(default_factory=Traits)
    consents: list[ConsentState] = field(default_factory=list)
    preferences: Preferences = field(default_factory=Preferences)
    statuses: dict[tuple[str, str], PointStatus] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)  # counted: not failed
    conversations: list[Conversation] = field(default_factory=list)  # newest first

    def push_tokens(self) -> list[str]:
        """Push tokens the app registered and that still work, newest first."""
        tokens = [
            (s.since, point)
            for (channel, point), s in self.statuses.items()
            if channel == ContactChannel.PUSH and s.status in ("verified", "unverified")
        ]
        return [point for _, point in sorted(tokens, reverse=True)]

    def status_of(self, channel: str, point: str) -> PointStatus | None:
        """The point's status on this channel; a number found invalid is invalid everywhere."""
        own = self.statuses.get((channel, point))
        if own is not None and own.status != "unverified":
            return own
        invalid = [
            s
            for (other, value), s in self.statuses.items()
            if value == point and s.status == "invalid" and other != channel
        ]
        return max(invalid, key=lambda s: s.since) if invalid else own


_LONG_AGO = dt.datetime.min.replace(tzinfo=dt.UTC)


def _given_after(record: Record, at: dt.datetime) -> bool:
    return (
        record.kind is RecordKind.CONSENT_CHANGE
        and record.occurred_at > at
        and record.payload.get("status") != OPTED_OUT
    )


def _newest_first(identities: Iterable[ProfileIdentifier], kind: IdentifierType) -> list[str]:
    found = [i for i in identities if i.type is kind]
    found.sort(key=lambda i: i.first_seen_at or _LONG_AGO)
    return [i.value for i in reversed(found)]


def _statuses(changes: Iterable[Record]) -> dict[tuple[str, str], PointStatus]:
    latest: dict[tuple[str, str], PointStatus] = {}
    for record in sorted(changes, key=change_order):
        data = record.payload
        latest[(data["channel"], data["contact_point"])] = PointStatus(
            status=data["status"],
            since=record.occurred_at,
            reason=data.get("reason"),
            origin=data.get("origin", "import"),
            record_id=record.id,
        )
    return latest


def build_facts(
    profile_id: str,
    identities: Sequence[ProfileIdentifier],
    records: Sequence[Record],
    *,
    at: dt.datetime | None = None,
) -> ContactFacts:
    """``records``: the profile's records of :data:`DECISION_KINDS`, plus its recent outbound
    contacts and, for channel inference, its cases (both optional).

    ``at``: the moment decided for. A consent change after it that is not an opt-out is left
    out: an opt-in given later did not allow a send before it (asked about a moment past, the
    answer is not a yes it was not then). An opt-out counts whenever it came: never a yes to
    someone who said no, whatever the moment asked (a source's clock a little ahead included).
    """
    by_kind: dict[RecordKind, list[Record]] = {}
    for record in records:
        if at is not None and _given_after(record, at):
            continue
        by_kind.setdefault(record.kind, []).append(record)
    contacts = [
        Contact(r.occurred_at, r.payload["channel"], r.payload["purpose"], r.payload["outcome"])
        for r in by_kind.get(CONTACT_KIND, ())
        if r.payload.get("outcome") != "failed"
    ]
    conversations = [
        Conversation(r.occurred_at, CASE_CHANNELS[r.payload["channel"]], None)
        for r in by_kind.get(CASE_KIND, ())
        if r.payload["channel"] in CASE_CHANNELS
    ]
    conversations += [
        Conversation(c.at, c.channel, c.purpose) for c in contacts if c.outcome in ENGAGED
    ]
    conversations.sort(key=lambda c: c.at, reverse=True)
    return ContactFacts(
        profile_id=profile_id,
        emails=_newest_first(identities, IdentifierType.EMAIL),
        phones=_newest_first(identities, IdentifierType.PHONE),
        traits=fold_traits(by_kind.get(RecordKind.PERSON, ())),
        consents=fold_consent(by_kind.get(RecordKind.CONSENT_CHANGE, ())),
        preferences=fold_preferences(by_kind.get(RecordKind.PREFERENCE_CHANGE, ())),
        statuses=_statuses(by_kind.get(RecordKind.CONTACT_POINT_STATUS, ())),
        contacts=sorted(contacts, key=lambda c: c.at),
        conversations=conversations,
    )
