"""Values of the contact domain that cross its boundary: who asks for a change, what a change
did, an audience's filter, page and members, a pending double opt-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from c360.contact.policy import ChannelOption, Decision, PolicyConfig
from c360.records.types import Record
from schemas.records import ChangeOrigin, ContactChannel


@dataclass(frozen=True)
class ContactConfig:
    """The ``C360_CONTACT_*`` settings and those links and audiences need, built from
    ``Settings`` when the services are wired (``c360.services``): no default of its own."""

    policy: PolicyConfig
    double_opt_in_channels: frozenset[ContactChannel]
    confirmation_ttl: dt.timedelta
    gpc_purposes: tuple[str, ...]
    # Purposes for which callers without unmasked contact points are handed them in full.
    handout_purposes: frozenset[str]
    public_url: str
    default_region: str | None
    audience_batch: int
    audience_page_scan: int


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
    gpc_recorded: bool = False  # the request's GPC signal was recorded first


@dataclass(frozen=True)
class PreferencesSet:
    """What a preference change did: the profile it went to, and whether the request's GPC
    signal was recorded first."""

    profile_id: str
    gpc_recorded: bool = False


@dataclass(frozen=True)
class ContactLogged:
    """An outbound contact logged, with the policy's decision at its time (before it)."""

    profile_id: str
    record: Record
    decision: Decision


@dataclass(frozen=True)
class Confirmation:
    """A double opt-in awaiting the customer's confirmation through its link."""

    token_hash: str  # the link's token is never stored, only its SHA-256
    profile_id: str
    channel: str
    purpose: str
    contact_point: str | None
    requested: str  # the record of the pending consent
    requested_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


@dataclass(frozen=True)
class AudienceFilter:
    lifecycle_stages: frozenset[str] | None = None
    value_tiers: frozenset[str] | None = None
    countries: frozenset[str] | None = None  # ISO 3166 alpha-2, upper case

    @classmethod
    def of(
        cls,
        lifecycle_stages: Iterable[str] | None = None,
        value_tiers: Iterable[str] | None = None,
        countries: Iterable[str] | None = None,
    ) -> AudienceFilter:
        """The filter a caller asked for; None leaves a criterion out (an empty list matches
        nobody). Countries in any case."""
        return cls(
            lifecycle_stages=None if lifecycle_stages is None else frozenset(lifecycle_stages),
            value_tiers=None if value_tiers is None else frozenset(value_tiers),
            countries=None if countries is None else frozenset(c.upper() for c in countries),
        )

    @property
    def needs_metrics(self) -> bool:
        return self.lifecycle_stages is not None or self.value_tiers is not None


@dataclass(frozen=True)
class Ranking:
    """The channels the policy allows for a purpose at an instant, best first; ``refused``:
    the decisions of the channels it allows for it neither now nor later (why the ranking is
    short, or empty), in the configured order."""

    profile_id: str
    purpose: str
    at: dt.datetime
    options: list[ChannelOption]
    refused: list[Decision] = field(default_factory=list)


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
    at: dt.datetime
