"""The contact policy: may this person be contacted on this channel for this purpose now, at
which address, and if not, why not and from when.

One pure function, :func:`decide`, answers for every path: the ``contactDecision`` query,
``bestChannels`` and the preferred channel, and every member of an audience or export. The
rules, in order (the first that fails is the first reason given; every failing rule is listed):

1. do-not-contact: a global stop, with its reason;
2. channel opt-out: the customer opted out of the whole channel (purpose ``all``) and has not
   opted in to this purpose since;
3. purpose consent under the regime: an opt-out for the purpose stops it; an opt-in allows it;
   without either, the purposes the regime governs (marketing, surveys by default) need an
   opt-in where the contact point's country requires one (everywhere, by default) — ``pending``
   (a double opt-in not yet confirmed) is not an opt-in; other purposes (service,
   transactional) need no opt-in;
4. contact point status: a bounced or invalid address is not used, nor a landline for SMS or
   WhatsApp;
5. quiet hours and contact windows, in the customer's time zone (when it is not known exactly,
   in every zone they may be in);
6. frequency caps, counted over the outbound contact log.

Rules 2 to 4 are per contact point: the point used is the first that passes them, preferring one
opted in to the purpose, then a verified one, then the newest. Rules 5 and 6 only delay: when they
are all that stands in the way, the decision says when contact would be allowed.

Over 500 lines: the rules are read in their order, top to bottom, next to the decision that
applies them and the ranking that asks it per channel; apart, the order would be lost.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
import pycountry
from babel.core import get_global
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_zones

from c360.contact.consent import ConsentState
from c360.contact.facts import ContactFacts
from c360.contact.hours import in_window, next_window, quiet_until
from c360.contact.preferences import Cap, Hours
from c360.contact.zones import distinct_zones
from schemas.identifiers import IdentifierType
from schemas.quoting import shown
from schemas.records import ALL_PURPOSES, CONTACT_POINT_TYPES, PHONE_CHANNELS, ContactChannel

REGIME_OPT_IN, REGIME_OPT_OUT = "opt_in", "opt_out"
TEXT_CHANNELS = frozenset({ContactChannel.SMS, ContactChannel.WHATSAPP})
"""Channels that need a number able to take texts (a mobile)."""
_SMS_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_MAX_DELAY_STEPS = 16


class Code(enum.StrEnum):
    """Why a decision came out as it did (machine codes; each reason also has a sentence)."""

    DO_NOT_CONTACT = "do_not_contact"
    CHANNEL_OPTED_OUT = "channel_opted_out"
    PURPOSE_OPTED_OUT = "purpose_opted_out"
    CONSENT_REQUIRED = "consent_required"
    CONSENT_PENDING = "consent_pending"
    NO_CONTACT_POINT = "no_contact_point"
    CONTACT_POINT_BOUNCED = "contact_point_bounced"
    CONTACT_POINT_INVALID = "contact_point_invalid"
    CONTACT_POINT_UNSUITABLE = "contact_point_unsuitable"
    QUIET_HOURS = "quiet_hours"
    OUTSIDE_CONTACT_WINDOW = "outside_contact_window"
    FREQUENCY_CAP = "frequency_cap"
    UNKNOWN_PURPOSE = "unknown_purpose"
    # Why it is allowed.
    OPTED_IN = "opted_in"
    OPT_OUT_REGIME = "opt_out_regime"
    CONSENT_NOT_REQUIRED = "consent_not_required"


# Rule order: a candidate that fails a later rule went further than one failing an earlier one.
_RULE_RANK = {
    Code.UNKNOWN_PURPOSE: 0,
    Code.DO_NOT_CONTACT: 0,
    Code.NO_CONTACT_POINT: 1,
    Code.CHANNEL_OPTED_OUT: 2,
    Code.PURPOSE_OPTED_OUT: 3,
    Code.CONSENT_REQUIRED: 3,
    Code.CONSENT_PENDING: 3,
    Code.CONTACT_POINT_BOUNCED: 4,
    Code.CONTACT_POINT_INVALID: 4,
    Code.CONTACT_POINT_UNSUITABLE: 4,
    Code.QUIET_HOURS: 5,
    Code.OUTSIDE_CONTACT_WINDOW: 5,
    Code.FREQUENCY_CAP: 6,
}
DELAYS = frozenset({Code.QUIET_HOURS, Code.OUTSIDE_CONTACT_WINDOW, Code.FREQUENCY_CAP})


@dataclass(frozen=True)
class Reason:
    code: Code
    message: str
    # The sentence without what an agent wrote (a do-not-contact reason is case text), for
    # those who may not read it; None when the message holds none.
    without_case_text: str | None = None


@dataclass(frozen=True)
class PolicyConfig:
    """What the ``C360_CONTACT_*`` settings make of the policy: built from ``Settings`` when the
    services are wired (``c360.services``), so no value has a default of its own here."""

    purposes: tuple[str, ...]
    regime_purposes: frozenset[str]
    opt_out_countries: frozenset[str]  # marketing allowed until an opt-out
    default_country: str | None
    default_time_zone: str
    quiet_hours: Hours | None
    quiet_channels: frozenset[ContactChannel]
    frequency_caps: Mapping[tuple[str, str], Cap]  # (channel, purpose) → the default cap
    channel_order: tuple[ContactChannel, ...]
    inference_window: int

    @property
    def longest_cap_days(self) -> int:
        return max((c.per_days for c in self.frequency_caps.values()), default=0)


@dataclass(frozen=True)
class Decision:
    profile_id: str
    channel: str
    purpose: str
    at: dt.datetime
    allowed: bool
    contact_point: str | None
    reasons: tuple[Reason, ...]
    next_allowed_at: dt.datetime | None  # only when quiet hours, windows or caps stand in the way
    time_zones: tuple[str, ...]
    time_zone_basis: str
    regime: str | None  # for the purposes a regime governs: opt_in | opt_out
    country: str | None


@dataclass(frozen=True)
class _Candidate:
    point: str
    failures: tuple[Reason, ...]
    granted: Reason | None
    regime: str | None
    country: str | None

    @property
    def depth(self) -> int:
        return _RULE_RANK[self.failures[0].code] if self.failures else 99


def _day(moment: dt.datetime) -> str:
    return moment.date().isoformat()


def _recent_reason(count: int, recent: int, channel: str) -> str:
    """Why a channel is inferred, in words that agree with the numbers."""
    if recent == 1:
        return f"The last conversation was by {channel}."
    verb = "was" if count == 1 else "were"
    return f"{count} of the last {recent} conversations {verb} by {channel}."


# --- Contact points ---------------------------------------------------------------------------


@lru_cache(maxsize=65_536)  # bounded: an export sees every number once
def _number(e164: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None


def _phone_region(e164: str) -> str | None:
    number = _number(e164)
    return None if number is None else phonenumbers.region_code_for_number(number)


def country_refusal(code: str) -> str | None:
    """Why ``code`` (upper case) names no country a decision can carry, or None when it names
    one: an ISO 3166-1 alpha-2 code, or a region phone numbers are assigned in that has none
    (XK, AC, TA), since a number's region is its contact point's country."""
    if len(code) == 2 and (
        pycountry.countries.get(alpha_2=code) is not None or code in phonenumbers.SUPPORTED_REGIONS
    ):
        return None
    alpha_3 = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    if alpha_3 is not None:
        return f"{shown(code)} is an alpha-3 code: write {alpha_3.alpha_2}"
    return f"unknown country code {shown(code)}"


def _sms_capable(e164: str) -> bool:
    number = _number(e164)
    return number is not None and phonenumbers.number_type(number) in _SMS_CAPABLE


def _address_line(address: Mapping[str, object]) -> str:
    city = " ".join(str(address[p]) for p in ("postal_code", "city") if address.get(p))
    parts = [address.get("line1"), address.get("line2"), city, address.get("region")]
    return ", ".join(str(p) for p in [*parts, address.get("country")] if p)


def points_of(facts: ContactFacts, channel: str) -> list[tuple[str, str | None]]:
    """The channel's contact points with the country each implies (None: not known from it)."""
    kind = CONTACT_POINT_TYPES.get(channel)
    if kind is IdentifierType.EMAIL:
        return [(e, None) for e in facts.emails]
    if kind is IdentifierType.PHONE:
        return [(p, _phone_region(p)) for p in facts.phones]
    if channel == ContactChannel.POSTAL:
        return [
            (_address_line(a.address), str(a.address.get("country") or "") or None)
            for a in facts.traits.addresses
        ]
    if channel == ContactChannel.PUSH:
        return [(t, None) for t in facts.push_tokens()]
    return []


def profile_country(facts: ContactFacts, config: PolicyConfig) -> str | None:
    country = facts.traits.value("country")
    if country is None and facts.traits.addresses:
        country = str(facts.traits.addresses[0].address.get("country") or "") or None
    return country or config.default_country


# --- Consent ----------------------------------------------------------------------------------


def _consent_index(
    states: Iterable[ConsentState],
) -> dict[tuple[str, str | None, str], ConsentState]:
    return {(s.channel, s.contact_point, s.purpose): s for s in states}


def _own_or_wide(
    index: Mapping[tuple[str, str | None, str], ConsentState],
    channel: str,
    point: str,
    purpose: str,
) -> ConsentState | None:
    """The point's own state for the purpose, else the channel-wide one."""
    return index.get((channel, point, purpose)) or index.get((channel, None, purpose))


def _consent(
    index: Mapping[tuple[str, str | None, str], ConsentState],
    channel: str,
    point: str,
    purpose: str,
    regime: str | None,
    country: str | None,
) -> tuple[list[Reason], Reason | None]:
    """Rules 2 and 3 for one point: (failures, why it is allowed)."""
    own = _own_or_wide(index, channel, point, purpose)
    whole = _own_or_wide(index, channel, point, ALL_PURPOSES)
    if (
        whole is not None
        and whole.status == "opted_out"
        and (own is None or own.status != "opted_in" or whole.since > own.since)
    ):
        sentence = f"Opted out of all {channel} contact on {_day(whole.since)} ({whole.source})."
        return [Reason(Code.CHANNEL_OPTED_OUT, sentence)], None
    if own is not None and own.status == "opted_out":
        sentence = f"Opted out of {purpose} by {channel} on {_day(own.since)} ({own.source})."
        return [Reason(Code.PURPOSE_OPTED_OUT, sentence)], None
    if own is not None and own.status == "opted_in":
        sentence = f"Opted in to {purpose} by {channel} on {_day(own.since)} ({own.source})."
        return [], Reason(Code.OPTED_IN, sentence)
    where = country or "an unknown country"
    if regime == REGIME_OPT_IN:
        pending = own.pending_since if own is not None else None
        if own is not None and own.status == "pending":
            pending = own.since
        if pending is not None:
            sentence = (
                f"The opt-in to {purpose} by {channel} awaits confirmation (requested "
                f"{_day(pending)})."
            )
            return [Reason(Code.CONSENT_PENDING, sentence)], None
        sentence = f"{purpose.capitalize()} by {channel} needs an opt-in in {where}; none given."
        return [Reason(Code.CONSENT_REQUIRED, sentence)], None
    if regime == REGIME_OPT_OUT:
        sentence = f"{where} allows {purpose} by {channel} until an opt-out; none given."
        return [], Reason(Code.OPT_OUT_REGIME, sentence)
    sentence = f"{purpose.capitalize()} contact needs no opt-in, and there is no opt-out."
    return [], Reason(Code.CONSENT_NOT_REQUIRED, sentence)


def _status(facts: ContactFacts, channel: str, point: str) -> list[Reason]:
    """Rule 4 for one point."""
    status = facts.status_of(channel, point)
    if status is not None and status.status == "bounced":
        detail = f": {status.reason}" if status.reason else ""
        return [Reason(Code.CONTACT_POINT_BOUNCED, f"Bounced on {_day(status.since)}{detail}.")]
    if status is not None and status.status == "invalid":
        detail = f": {status.reason}" if status.reason else ""
        sentence = f"Found invalid on {_day(status.since)}{detail}."
        return [Reason(Code.CONTACT_POINT_INVALID, sentence)]
    if channel in TEXT_CHANNELS and not _sms_capable(point):
        sentence = f"The number is not a mobile number; it cannot take {channel}."
        return [Reason(Code.CONTACT_POINT_UNSUITABLE, sentence)]
    return []


def _candidates(
    facts: ContactFacts, channel: str, purpose: str, config: PolicyConfig
) -> list[_Candidate]:
    index = _consent_index(facts.consents)
    fallback_country = profile_country(facts, config)
    governed = purpose in config.regime_purposes
    found = []
    for point, point_country in points_of(facts, channel):
        country = point_country or fallback_country
        regime = None
        if governed:
            regime = REGIME_OPT_OUT if country in config.opt_out_countries else REGIME_OPT_IN
        failures, granted = _consent(index, channel, point, purpose, regime, country)
        if not failures:
            failures = _status(facts, channel, point)
        found.append(_Candidate(point, tuple(failures), granted, regime, country))

    def preference(candidate: _Candidate) -> tuple[int, int]:
        status = facts.status_of(channel, candidate.point)
        opted_in = candidate.granted is not None and candidate.granted.code is Code.OPTED_IN
        verified = status is not None and status.status == "verified"
        return (0 if opted_in else 1, 0 if verified else 1)

    return sorted(found, key=preference)  # stable: newest first within a tie


# --- Time: zones, quiet hours, windows, caps ------------------------------------------------


@cache
def _country_zones(country: str) -> tuple[str, ...]:
    zones: Mapping[str, Sequence[str]] = get_global("territory_zones")
    return distinct_zones(tuple(zones.get(country.upper(), ())))


def _number_zones(e164: str) -> tuple[str, ...]:
    number = _number(e164)
    if number is None:
        return ()
    found = phone_zones.time_zones_for_number(number)
    return distinct_zones(tuple(z for z in found if z != "Etc/Unknown"))


def time_zones(
    facts: ContactFacts, channel: str, point: str | None, config: PolicyConfig
) -> tuple[tuple[str, ...], str]:
    """The zones the customer may be in, and how they are known."""
    if facts.preferences.time_zone is not None:
        return (facts.preferences.time_zone.value,), "preference"
    if (zone := facts.traits.value("time_zone")) is not None:
        return (zone,), "profile"
    phones = [point] if point and channel in PHONE_CHANNELS else facts.phones[:1]
    for phone in phones:
        if zones := _number_zones(phone):
            return zones, "phone number"
    country = profile_country(facts, config)
    if country and (zones := _country_zones(country)):
        return zones, f"country {country}"
    return (config.default_time_zone,), "default"


def _quiet(
    facts: ContactFacts,
    channel: str,
    zones: Sequence[ZoneInfo],
    moment: dt.datetime,
    config: PolicyConfig,
) -> tuple[Reason, dt.datetime] | None:
    if channel not in config.quiet_channels:
        return None
    own = facts.preferences.quiet_hours
    hours = own.value if own is not None else config.quiet_hours
    if hours is None:
        return None
    quiet = [(zone, end) for zone in zones if (end := quiet_until(hours, moment, zone)) is not None]
    if not quiet:
        return None
    zone = quiet[0][0]  # where it is quiet: the sentence names it, not another possible zone
    local = moment.astimezone(zone).strftime("%H:%M")
    whose = "the customer's" if own is not None else "default"
    sentence = (
        f"It is {local} in {zone.key}: {whose} quiet hours are "
        f"{hours.start:%H:%M}-{hours.end:%H:%M}."
    )
    return Reason(Code.QUIET_HOURS, sentence), max(end for _, end in quiet)


def _window(
    facts: ContactFacts,
    channel: str,
    zones: Sequence[ZoneInfo],
    moment: dt.datetime,
) -> tuple[Reason, dt.datetime] | None:
    chosen = facts.preferences.contact_windows
    windows = [w for w in chosen.value if w.applies_to(channel)] if chosen else []
    if not windows or all(in_window(windows, moment, zone) for zone in zones):
        return None
    opens = max(next_window(windows, moment, zone) for zone in zones)
    outside = next(zone for zone in zones if not in_window(windows, moment, zone))
    local = moment.astimezone(outside).strftime("%a %H:%M")
    sentence = f"It is {local} in {outside.key}, outside the customer's contact windows."
    return Reason(Code.OUTSIDE_CONTACT_WINDOW, sentence), opens


def cap_for(
    facts: ContactFacts, channel: str, purpose: str, config: PolicyConfig
) -> tuple[Cap, str] | None:
    """The frequency cap in force and whose it is: the customer's, else the default."""
    own = facts.preferences.frequency_caps.get((channel, purpose))
    if own is not None:
        return own.value, "customer"
    default = config.frequency_caps.get((channel, purpose))
    return None if default is None else (default, "default")


def caps_in_force(
    facts: ContactFacts, config: PolicyConfig
) -> dict[tuple[str, str], tuple[Cap, str]]:
    """Every cap that applies, per channel and purpose: the customer's, else the default."""
    keys = sorted({*config.frequency_caps, *facts.preferences.frequency_caps})
    return {key: found for key in keys if (found := cap_for(facts, *key, config)) is not None}


def _capped(
    facts: ContactFacts, channel: str, purpose: str, moment: dt.datetime, config: PolicyConfig
) -> tuple[Reason, dt.datetime] | None:
    found = cap_for(facts, channel, purpose, config)
    if found is None:
        return None
    cap, whose = found
    span = dt.timedelta(days=cap.per_days)
    sent = [
        c.at
        for c in facts.contacts
        if c.channel == channel and c.purpose == purpose and moment - span < c.at <= moment
    ]
    if len(sent) < cap.max_contacts:
        return None
    # Allowed again once enough of them are older than the window.
    frees = sent[len(sent) - cap.max_contacts] + span if cap.max_contacts else None
    sentence = (
        f"{len(sent)} {purpose} contacts by {channel} in the last {cap.per_days} days; "
        f"the {whose} cap is {cap.max_contacts}."
    )
    if frees is None:
        return Reason(Code.FREQUENCY_CAP, sentence), dt.datetime.max.replace(tzinfo=dt.UTC)
    return Reason(Code.FREQUENCY_CAP, sentence), frees


def _delays(
    facts: ContactFacts,
    channel: str,
    purpose: str,
    zones: Sequence[ZoneInfo],
    moment: dt.datetime,
    config: PolicyConfig,
) -> list[tuple[Reason, dt.datetime]]:
    checks = (
        _quiet(facts, channel, zones, moment, config),
        _window(facts, channel, zones, moment),
        _capped(facts, channel, purpose, moment, config),
    )
    return [c for c in checks if c is not None]


def _next_allowed(
    facts: ContactFacts,
    channel: str,
    purpose: str,
    zones: Sequence[ZoneInfo],
    moment: dt.datetime,
    config: PolicyConfig,
) -> dt.datetime | None:
    """The first instant at which no delay holds (each one lifted may meet another)."""
    for _ in range(_MAX_DELAY_STEPS):
        delays = _delays(facts, channel, purpose, zones, moment, config)
        if not delays:
            return moment
        moment = max(until for _, until in delays)
        if moment.year == dt.MAXYEAR:
            return None  # a cap of zero: never
    return None


# --- The decision -----------------------------------------------------------------------------


def decide(
    facts: ContactFacts, channel: str, purpose: str, at: dt.datetime, config: PolicyConfig
) -> Decision:
    """The policy's answer for one profile, channel, purpose and instant."""
    failures: list[Reason] = []
    if purpose not in config.purposes:
        known = ", ".join(config.purposes)
        failures.append(Reason(Code.UNKNOWN_PURPOSE, f"Unknown purpose {shown(purpose)}; {known}."))
    stop = facts.preferences.do_not_contact
    if stop is not None and stop.value is not None:
        since = _day(stop.change.since)
        sentence = f"Do not contact: {stop.value} (since {since})."
        failures.append(Reason(Code.DO_NOT_CONTACT, sentence, f"Do not contact (since {since})."))

    candidates = _candidates(facts, channel, purpose, config)
    chosen = next((c for c in candidates if not c.failures), None)
    if chosen is None and candidates:
        chosen = max(candidates, key=lambda c: c.depth)  # max keeps the first of equals
    if chosen is None:
        sentence = f"The profile has no {channel} contact point."
        failures.append(Reason(Code.NO_CONTACT_POINT, sentence))
    else:
        failures.extend(chosen.failures)

    point = chosen.point if chosen is not None else None
    names, basis = time_zones(facts, channel, point, config)
    zones = [ZoneInfo(name) for name in names]
    delays = _delays(facts, channel, purpose, zones, at, config)
    failures.extend(reason for reason, _ in delays)

    allowed = not failures
    next_allowed = None
    if failures and all(r.code in DELAYS for r in failures):
        next_allowed = _next_allowed(facts, channel, purpose, zones, at, config)
    granted = chosen.granted if chosen is not None else None
    reasons = tuple(failures) if failures else ((granted,) if granted is not None else ())
    return Decision(
        profile_id=facts.profile_id,
        channel=channel,
        purpose=purpose,
        at=at,
        allowed=allowed,
        contact_point=point if allowed or next_allowed is not None else None,
        reasons=reasons,
        next_allowed_at=next_allowed,
        time_zones=names,
        time_zone_basis=basis,
        regime=chosen.regime if chosen is not None else None,
        country=chosen.country if chosen is not None else profile_country(facts, config),
    )


# --- Ranking channels -------------------------------------------------------------------------


class Basis(enum.StrEnum):
    EXPLICIT = "explicit"  # the customer asked for it
    INFERRED = "inferred"  # from the channels they start conversations on and answer
    DEFAULT = "default"  # the configured order


@dataclass(frozen=True)
class ChannelOption:
    channel: str
    basis: Basis
    reason: str
    decision: Decision


def channel_decisions(
    facts: ContactFacts, purpose: str, at: dt.datetime, config: PolicyConfig
) -> dict[str, Decision]:
    """The decision for each channel of the configured order, in that order."""
    return {ch: decide(facts, ch, purpose, at, config) for ch in config.channel_order}


def usable(decision: Decision) -> bool:
    """Allowed now, or later the same way once quiet hours, windows or caps lift."""
    return decision.allowed or decision.next_allowed_at is not None


def best_channels(
    facts: ContactFacts,
    purpose: str,
    at: dt.datetime,
    config: PolicyConfig,
    decisions: Mapping[str, Decision] | None = None,
) -> list[ChannelOption]:
    """The channels the policy allows for the purpose (now, or later the same way once quiet
    hours or caps lift: see each decision), ranked: the customer's explicit preference, then
    what their behaviour shows, then the configured order. ``decisions``: those of
    :func:`channel_decisions`, when the caller has them."""
    if decisions is None:
        decisions = channel_decisions(facts, purpose, at, config)
    usable_ones = {ch: d for ch, d in decisions.items() if usable(d)}
    options: list[tuple[tuple[int, int, int], ChannelOption]] = []
    explicit = facts.preferences.preferred_channels.get(purpose)
    recent = [c for c in facts.conversations if c.purpose in (None, purpose) and c.at <= at][
        : config.inference_window
    ]
    counts: dict[str, int] = {}
    latest: dict[str, int] = {}  # how recent the channel's last conversation is: 0 = newest
    for position, conversation in enumerate(recent):
        counts[conversation.channel] = counts.get(conversation.channel, 0) + 1
        latest.setdefault(conversation.channel, position)
    for index, (channel, decision) in enumerate(usable_ones.items()):
        if explicit is not None and explicit.value == channel:
            reason = (
                f"The customer asked to be contacted by {channel} for {purpose} "
                f"(since {_day(explicit.change.since)}, {explicit.change.origin})."
            )
            options.append(
                ((0, 0, index), ChannelOption(channel, Basis.EXPLICIT, reason, decision))
            )
        elif channel in counts:
            count = counts[channel]
            reason = _recent_reason(count, len(recent), channel)
            options.append(
                (
                    (1, -count, latest[channel]),
                    ChannelOption(channel, Basis.INFERRED, reason, decision),
                )
            )
        else:
            reason = f"No preference or history for {channel}; it comes next in the default order."
            options.append(((2, 0, index), ChannelOption(channel, Basis.DEFAULT, reason, decision)))
    ranked = [option for _, option in sorted(options, key=lambda o: o[0])]
    stated = next((ch for ch in decisions if explicit is not None and explicit.value == ch), None)
    if explicit is not None and stated is not None and stated not in usable_ones:
        # The customer's stated channel cannot be used: whatever is offered instead says so, or
        # the one who recorded it sees another channel offered with no word of their change.
        passed_over = (
            f" The customer asked for {stated} for {purpose} "
            f"(since {_day(explicit.change.since)}, {explicit.change.origin}), but "
            f"{_unusable(stated, decisions[stated])}."
        )
        ranked = [replace(o, reason=o.reason + passed_over) for o in ranked]
    return ranked


# Why a channel cannot be used, in words that quote nothing a person wrote (a do-not-contact
# reason is case text, which some roles may not read).
_UNUSABLE = {
    Code.NO_CONTACT_POINT: "there is no {channel} address or number for them",
    Code.CONTACT_POINT_BOUNCED: "their {channel} address bounced",
    Code.CONTACT_POINT_INVALID: "their {channel} address or number is invalid",
    Code.CONTACT_POINT_UNSUITABLE: "their {channel} number cannot take it",
    Code.DO_NOT_CONTACT: "they are not to be contacted",
    Code.CHANNEL_OPTED_OUT: "they opted out of {channel}",
    Code.PURPOSE_OPTED_OUT: "they opted out of it by {channel}",
    Code.CONSENT_REQUIRED: "{channel} needs their opt-in, which there is not",
    Code.CONSENT_PENDING: "their {channel} opt-in is not confirmed yet",
}


def _unusable(channel: str, decision: Decision) -> str:
    for reason in decision.reasons:
        words = _UNUSABLE.get(reason.code)
        if words is not None:
            return words.format(channel=channel)
    return f"{channel} may not be used"
