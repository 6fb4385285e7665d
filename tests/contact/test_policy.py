"""The contact policy's rules, their precedence, quiet hours across time zones and DST, caps at
their boundary and channel ranking: table-driven over facts built from records
(the store round trip is covered by tests/contact/test_api.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from c360.contact.facts import build_facts
from c360.contact.policy import Basis, Code, PolicyConfig, best_channels, decide
from c360.contact.preferences import Cap
from c360.contact.zones import distinct_zones
from c360.profiles.types import ProfileIdentifier
from c360.records.types import Record
from c360.services import contact_config
from c360.settings import Settings
from schemas.identifiers import IdentifierType
from schemas.records import RecordKind

UTC = dt.UTC
T0 = dt.datetime(2026, 6, 10, 12, 0, tzinfo=UTC)  # a Wednesday; 14:00 in Madrid
EMAIL = "ana@example.com"
OTHER_EMAIL = "ana.work@example.com"
MOBILE = "+34600123456"  # Spanish mobile
LANDLINE = "+34912345678"  # Madrid landline
US_MOBILE = "+12125550123"  # New York
_ids = itertools.count()


def record(kind: str, at: dt.datetime, source: str = "crm", **data: Any) -> Record:
    external_id = f"{next(_ids):06d}"
    record_id = f"{source}:{kind}:{external_id}"
    return Record(record_id, RecordKind(kind), source, external_id, at, at, data)


def consent(
    status: str,
    at: dt.datetime = T0 - dt.timedelta(days=30),
    channel: str = "email",
    purpose: str = "marketing",
    point: str | None = EMAIL,
) -> Record:
    data: dict[str, Any] = {"channel": channel, "purpose": purpose, "status": status}
    if point is not None:
        data["contact_point"] = point
    return record("consent_change", at, **data)


def prefs(at: dt.datetime = T0 - dt.timedelta(days=10), **data: Any) -> Record:
    return record("preference_change", at, **data)


def status(value: str, point: str = EMAIL, channel: str = "email", at: dt.datetime = T0) -> Record:
    return record(
        "contact_point_status",
        at - dt.timedelta(days=1),
        channel=channel,
        contact_point=point,
        status=value,
        reason=f"{value} by the gateway",
    )


def sent(
    at: dt.datetime, channel: str = "email", purpose: str = "marketing", **data: Any
) -> Record:
    outcome = data.pop("outcome", "sent")
    return record("outbound_contact", at, channel=channel, purpose=purpose, outcome=outcome)


def person(**data: Any) -> Record:
    return record("person", T0 - dt.timedelta(days=400), **data)


def case(channel: str, at: dt.datetime) -> Record:
    return record("service_case", at, source="zendesk", channel=channel, status="solved")


def identity(kind: str, value: str, days_ago: int = 100) -> ProfileIdentifier:
    first_seen = T0 - dt.timedelta(days=days_ago)
    return ProfileIdentifier(f"{kind}:{value}", IdentifierType(kind), value, None, first_seen, "p1")


def madrid() -> Record:
    return person(time_zone="Europe/Madrid")


DEFAULT_IDENTITIES = (identity("email", EMAIL), identity("phone", MOBILE))
SPAIN = contact_config(Settings(_env_file=None, default_region="ES")).policy
"""The policy as configured by default, in a deployment whose region is Spain."""


@dataclass
class Case:
    name: str
    records: list[Record]
    channel: str = "email"
    purpose: str = "marketing"
    at: dt.datetime = T0
    allowed: bool = False
    codes: list[Code] = field(default_factory=list)
    point: str | None = None
    next_allowed: dt.datetime | None = None
    identities: tuple[ProfileIdentifier, ...] = DEFAULT_IDENTITIES
    config: PolicyConfig = SPAIN


CASES = [
    # Rule 3: purpose consent under the regime.
    Case(
        "opt-in allows marketing",
        [consent("opted_in")],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case("no consent: opt-in regime refuses", [], codes=[Code.CONSENT_REQUIRED]),
    Case(
        "no consent: opt-out regime allows",
        [],
        config=replace(SPAIN, opt_out_countries=frozenset({"ES"})),
        allowed=True,
        codes=[Code.OPT_OUT_REGIME],
        point=EMAIL,
    ),
    Case(
        "regime follows the phone number's country",
        [],
        channel="sms",
        identities=(identity("phone", US_MOBILE),),
        config=replace(SPAIN, opt_out_countries=frozenset({"US"})),
        at=dt.datetime(2026, 6, 10, 16, tzinfo=UTC),  # noon in New York
        allowed=True,
        codes=[Code.OPT_OUT_REGIME],
        point=US_MOBILE,
    ),
    Case("pending is not consent", [consent("pending")], codes=[Code.CONSENT_PENDING]),
    Case(
        "opt-out beats an older opt-in",
        [
            consent("opted_in", T0 - dt.timedelta(days=9)),
            consent("opted_out", T0 - dt.timedelta(days=5)),
        ],
        codes=[Code.PURPOSE_OPTED_OUT],
    ),
    Case(
        "a newer opt-in beats an older opt-out",
        [
            consent("opted_out", T0 - dt.timedelta(days=9)),
            consent("opted_in", T0 - dt.timedelta(days=5)),
        ],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "service needs no opt-in",
        [],
        purpose="service",
        allowed=True,
        codes=[Code.CONSENT_NOT_REQUIRED],
        point=EMAIL,
    ),
    Case(
        "an opt-out of service stops service",
        [consent("opted_out", purpose="service")],
        purpose="service",
        codes=[Code.PURPOSE_OPTED_OUT],
    ),
    Case(
        "channel-wide opt-in covers the address",
        [consent("opted_in", point=None)],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "a newer channel-wide opt-out covers the address's opt-in",
        [
            consent("opted_in", T0 - dt.timedelta(days=9)),
            consent("opted_out", T0 - dt.timedelta(days=2), point=None),
        ],
        codes=[Code.PURPOSE_OPTED_OUT],
    ),
    # Rule 2: the whole channel.
    Case(
        "channel opt-out stops every purpose",
        [consent("opted_out", purpose="all", point=None)],
        purpose="service",
        codes=[Code.CHANNEL_OPTED_OUT],
    ),
    Case(
        "channel opt-out comes before purpose consent",
        [
            consent("opted_in", T0 - dt.timedelta(days=20)),
            consent("opted_out", T0 - dt.timedelta(days=2), purpose="all"),
        ],
        codes=[Code.CHANNEL_OPTED_OUT],
    ),
    Case(
        "an opt-in after the channel opt-out reopens that purpose",
        [
            consent("opted_out", T0 - dt.timedelta(days=20), purpose="all"),
            consent("opted_in", T0 - dt.timedelta(days=2)),
        ],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    # Rule 1: do-not-contact, before everything.
    Case(
        "do-not-contact stops even an opted-in address",
        [consent("opted_in"), prefs(do_not_contact={"active": True, "reason": "legal hold"})],
        codes=[Code.DO_NOT_CONTACT],
    ),
    Case(
        "do-not-contact is listed first, with the other failing rules after it",
        [consent("opted_out"), prefs(do_not_contact={"active": True, "reason": "deceased"})],
        codes=[Code.DO_NOT_CONTACT, Code.PURPOSE_OPTED_OUT],
    ),
    Case(
        "lifted do-not-contact no longer stops",
        [
            consent("opted_in"),
            prefs(
                T0 - dt.timedelta(days=9), do_not_contact={"active": True, "reason": "complaint"}
            ),
            prefs(T0 - dt.timedelta(days=3), do_not_contact={"active": False}),
        ],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    # Rule 4: the contact point.
    Case(
        "a bounced address is not used",
        [consent("opted_in"), status("bounced")],
        codes=[Code.CONTACT_POINT_BOUNCED],
    ),
    Case(
        "the other address is used when one bounced",
        [consent("opted_in", point=None), status("bounced")],
        identities=(identity("email", EMAIL, 5), identity("email", OTHER_EMAIL, 50)),
        allowed=True,
        codes=[Code.OPTED_IN],
        point=OTHER_EMAIL,
    ),
    Case(
        "the opted-in address is preferred over a newer one",
        [consent("opted_in", point=OTHER_EMAIL)],
        identities=(identity("email", EMAIL, 5), identity("email", OTHER_EMAIL, 50)),
        allowed=True,
        codes=[Code.OPTED_IN],
        point=OTHER_EMAIL,
    ),
    Case(
        "an invalid number is invalid for every phone channel",
        [status("invalid", MOBILE, "sms")],
        channel="phone",
        purpose="service",
        codes=[Code.CONTACT_POINT_INVALID],
    ),
    Case(
        "a landline takes no SMS",
        [consent("opted_in", channel="sms", point=None)],
        channel="sms",
        identities=(identity("phone", LANDLINE),),
        codes=[Code.CONTACT_POINT_UNSUITABLE],
    ),
    Case(
        "no address on the channel",
        [],
        channel="push",
        purpose="service",
        codes=[Code.NO_CONTACT_POINT],
    ),
    Case(
        "consent comes before the point's status",
        [consent("opted_out"), status("bounced")],
        codes=[Code.PURPOSE_OPTED_OUT],
    ),
    Case("unknown purpose", [], purpose="raffle", codes=[Code.UNKNOWN_PURPOSE]),
    # Rule 5: quiet hours in the customer's time zone.
    Case(
        "quiet hours at night in Madrid",
        [madrid()],
        channel="phone",
        purpose="service",
        at=dt.datetime(2026, 6, 10, 20, 30, tzinfo=UTC),  # 22:30 CEST
        codes=[Code.QUIET_HOURS],
        point=MOBILE,
        next_allowed=dt.datetime(2026, 6, 11, 6, 0, tzinfo=UTC),  # 08:00 CEST
    ),
    Case(
        "quiet hours do not apply to e-mail",
        [],
        purpose="service",
        at=dt.datetime(2026, 6, 10, 20, 30, tzinfo=UTC),
        allowed=True,
        codes=[Code.CONSENT_NOT_REQUIRED],
        point=EMAIL,
    ),
    Case(
        "the same instant is daytime in New York",
        [],
        channel="phone",
        purpose="service",
        identities=(identity("phone", US_MOBILE),),
        at=dt.datetime(2026, 6, 10, 20, 30, tzinfo=UTC),  # 16:30 EDT
        allowed=True,
        codes=[Code.CONSENT_NOT_REQUIRED],
        point=US_MOBILE,
    ),
    Case(
        "the customer's time zone preference wins over the number's",
        [prefs(time_zone="America/New_York")],
        channel="phone",
        purpose="service",
        at=dt.datetime(2026, 6, 10, 20, 30, tzinfo=UTC),
        allowed=True,
        codes=[Code.CONSENT_NOT_REQUIRED],
        point=MOBILE,
    ),
    Case(
        "quiet hours end at 08:00 local on the night the clocks go back (New York)",
        [],
        channel="phone",
        purpose="service",
        identities=(identity("phone", US_MOBILE),),
        at=dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC),  # 23:00 EDT on Oct 31
        codes=[Code.QUIET_HOURS],
        point=US_MOBILE,
        next_allowed=dt.datetime(2026, 11, 1, 13, 0, tzinfo=UTC),  # 08:00 EST
    ),
    Case(
        "quiet hours end at 08:00 local on the night the clocks go forward (Madrid)",
        [madrid()],
        channel="phone",
        purpose="service",
        at=dt.datetime(2026, 3, 28, 22, 0, tzinfo=UTC),  # 23:00 CET on Mar 28
        codes=[Code.QUIET_HOURS],
        point=MOBILE,
        next_allowed=dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC),  # 08:00 CEST
    ),
    Case(
        "the customer's own quiet hours",
        [madrid(), prefs(quiet_hours={"start": "12:00", "end": "15:00"})],
        channel="phone",
        purpose="service",
        codes=[Code.QUIET_HOURS],
        point=MOBILE,
        next_allowed=dt.datetime(2026, 6, 10, 13, 0, tzinfo=UTC),
    ),
    Case(
        "outside the customer's contact windows",
        [
            madrid(),
            prefs(contact_windows=[{"days": ["mon", "tue"], "start": "09:00", "end": "12:00"}]),
        ],
        channel="phone",
        purpose="service",
        codes=[Code.OUTSIDE_CONTACT_WINDOW],
        point=MOBILE,
        next_allowed=dt.datetime(2026, 6, 15, 7, 0, tzinfo=UTC),  # Monday 09:00 CEST
    ),
    Case(
        "inside a contact window",
        [madrid(), prefs(contact_windows=[{"days": ["wed"], "start": "13:00", "end": "15:00"}])],
        channel="phone",
        purpose="service",
        allowed=True,
        codes=[Code.CONSENT_NOT_REQUIRED],
        point=MOBILE,
    ),
    Case(
        "a window for calls does not restrict e-mail",
        [
            prefs(
                contact_windows=[
                    {"days": ["mon"], "start": "09:00", "end": "10:00", "channels": ["phone"]}
                ]
            )
        ],
        purpose="service",
        allowed=True,
        codes=[Code.CONSENT_NOT_REQUIRED],
        point=EMAIL,
    ),
    # Rule 6: frequency caps (default: 2 marketing e-mails in any 7 days).
    Case(
        "under the cap",
        [consent("opted_in"), sent(T0 - dt.timedelta(days=2))],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "at the cap",
        [consent("opted_in"), sent(T0 - dt.timedelta(days=6)), sent(T0 - dt.timedelta(days=2))],
        codes=[Code.FREQUENCY_CAP],
        point=EMAIL,
        next_allowed=T0 + dt.timedelta(days=1),
    ),
    Case(
        "a contact exactly the window ago no longer counts",
        [consent("opted_in"), sent(T0 - dt.timedelta(days=7)), sent(T0 - dt.timedelta(days=2))],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "one microsecond inside the window still counts",
        [
            consent("opted_in"),
            sent(T0 - dt.timedelta(days=7) + dt.timedelta(microseconds=1)),
            sent(T0 - dt.timedelta(days=2)),
        ],
        codes=[Code.FREQUENCY_CAP],
        point=EMAIL,
        next_allowed=T0 + dt.timedelta(microseconds=1),
    ),
    Case(
        "failed sends do not count",
        [
            consent("opted_in"),
            sent(T0 - dt.timedelta(days=6), outcome="failed"),
            sent(T0 - dt.timedelta(days=2)),
        ],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "contacts for another purpose do not count",
        [
            consent("opted_in"),
            sent(T0 - dt.timedelta(days=6), purpose="service"),
            sent(T0 - dt.timedelta(days=2)),
        ],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "the customer's stricter cap",
        [
            consent("opted_in"),
            prefs(
                frequency_caps=[
                    {"channel": "email", "purpose": "marketing", "max_contacts": 1, "per_days": 30}
                ]
            ),
            sent(T0 - dt.timedelta(days=20)),
        ],
        codes=[Code.FREQUENCY_CAP],
        point=EMAIL,
        next_allowed=T0 + dt.timedelta(days=10),
    ),
    Case(
        "contacts after the instant asked about are not counted",
        [consent("opted_in"), sent(T0 - dt.timedelta(days=1)), sent(T0 + dt.timedelta(hours=1))],
        allowed=True,
        codes=[Code.OPTED_IN],
        point=EMAIL,
    ),
    Case(
        "quiet hours and a cap together: allowed once both lift",
        [
            madrid(),
            consent("opted_in", channel="sms", point=None),
            sent(dt.datetime(2026, 6, 4, 6, 30, tzinfo=UTC), channel="sms"),
        ],
        channel="sms",
        at=dt.datetime(2026, 6, 10, 22, 0, tzinfo=UTC),  # 00:00 CEST; the cap frees at 06:30 UTC
        codes=[Code.QUIET_HOURS, Code.FREQUENCY_CAP],
        point=MOBILE,
        next_allowed=dt.datetime(2026, 6, 11, 6, 30, tzinfo=UTC),
    ),
    Case(
        "a delay does not hide a refusal: no next time when consent is missing",
        [sent(T0 - dt.timedelta(days=1)), sent(T0 - dt.timedelta(days=2))],
        codes=[Code.CONSENT_REQUIRED, Code.FREQUENCY_CAP],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_rule(case: Case) -> None:
    for records in (case.records, list(reversed(case.records))):  # arrival order is irrelevant
        facts = build_facts("p1", list(case.identities), records)
        decision = decide(facts, case.channel, case.purpose, case.at, case.config)

        assert [r.code for r in decision.reasons] == case.codes
        assert all(r.message for r in decision.reasons)
        assert decision.allowed is case.allowed
        assert decision.contact_point == case.point
        assert decision.next_allowed_at == case.next_allowed
        if case.next_allowed is not None:  # and at that moment, it is allowed
            later = decide(facts, case.channel, case.purpose, case.next_allowed, case.config)
            assert later.allowed, later.reasons


def test_time_zone_unknown_exactly_holds_quiet_hours_in_every_zone() -> None:
    # A Spanish number may be on the Canary Islands (an hour behind Madrid): at 07:30 in the
    # Canaries it is 08:30 in Madrid, and still quiet where the customer may be.
    facts = build_facts("p1", [identity("phone", MOBILE)], [])
    at = dt.datetime(2026, 6, 10, 6, 30, tzinfo=UTC)

    decision = decide(facts, "phone", "service", at, SPAIN)

    assert set(decision.time_zones) == {"Atlantic/Canary", "Europe/Madrid"}
    assert decision.next_allowed_at == dt.datetime(2026, 6, 10, 7, 0, tzinfo=UTC)


def test_zero_cap_never_allows() -> None:
    config = replace(SPAIN, frequency_caps={("email", "marketing"): Cap(0, 7)})
    facts = build_facts("p1", list(DEFAULT_IDENTITIES), [consent("opted_in")])

    decision = decide(facts, "email", "marketing", T0, config)

    assert [r.code for r in decision.reasons] == [Code.FREQUENCY_CAP]
    assert decision.next_allowed_at is None


class TestBestChannels:
    def test_explicit_preference_first(self) -> None:
        facts = build_facts(
            "p1",
            list(DEFAULT_IDENTITIES),
            [
                prefs(preferred_channels={"service": "phone"}),
                case("email", T0 - dt.timedelta(days=3)),
            ],
        )

        ranked = best_channels(facts, "service", T0, SPAIN)

        assert [o.channel for o in ranked][:2] == ["phone", "email"]
        assert ranked[0].basis is Basis.EXPLICIT
        assert "asked to be contacted by phone" in ranked[0].reason

    def test_inferred_from_the_last_conversations(self) -> None:
        cases = [case("phone", T0 - dt.timedelta(days=d)) for d in (1, 2, 3, 5)]
        cases.append(case("email", T0 - dt.timedelta(days=4)))
        cases.append(case("chat", T0 - dt.timedelta(hours=2)))  # no channel to contact back on
        facts = build_facts("p1", list(DEFAULT_IDENTITIES), cases)

        ranked = best_channels(facts, "service", T0, SPAIN)

        assert [(o.channel, o.basis) for o in ranked][:2] == [
            ("phone", Basis.INFERRED),
            ("email", Basis.INFERRED),
        ]
        assert ranked[0].reason == "4 of the last 5 conversations were by phone."

    def test_answered_contacts_count_for_their_purpose(self) -> None:
        records = [
            consent("opted_in", channel="sms", point=None),
            consent("opted_in"),
            sent(T0 - dt.timedelta(days=1), channel="sms", outcome="clicked"),
            sent(T0 - dt.timedelta(days=2), outcome="sent"),
        ]
        facts = build_facts("p1", list(DEFAULT_IDENTITIES), records)

        ranked = best_channels(facts, "marketing", T0, SPAIN)

        assert ranked[0].channel == "sms"
        assert ranked[0].basis is Basis.INFERRED

    def test_only_usable_channels(self) -> None:
        records = [consent("opted_out", channel="phone", purpose="all", point=None)]
        facts = build_facts("p1", list(DEFAULT_IDENTITIES), records)

        ranked = best_channels(facts, "service", T0, SPAIN)

        assert "phone" not in [o.channel for o in ranked]
        assert "postal" not in [o.channel for o in ranked]  # no address known
        assert [o.channel for o in ranked] == ["email", "sms", "whatsapp"]
        assert all(o.basis is Basis.DEFAULT for o in ranked)

    def test_preferred_channel_in_quiet_hours_says_when(self) -> None:
        facts = build_facts(
            "p1",
            list(DEFAULT_IDENTITIES),
            [madrid(), prefs(preferred_channels={"service": "phone"})],
        )
        night = dt.datetime(2026, 6, 10, 21, 0, tzinfo=UTC)

        top = best_channels(facts, "service", night, SPAIN)[0]

        assert top.channel == "phone"
        assert not top.decision.allowed
        assert top.decision.next_allowed_at == dt.datetime(2026, 6, 11, 6, 0, tzinfo=UTC)


def test_zones_keeping_one_time_are_named_once_by_the_zone_of_most_people() -> None:
    assert distinct_zones(("Europe/Berlin", "Europe/Busingen")) == ("Europe/Berlin",)
    assert distinct_zones(("Africa/Ceuta", "Atlantic/Canary", "Europe/Madrid")) == (
        "Europe/Madrid",
        "Atlantic/Canary",
    )
    # Arizona keeps no summer time: it is not Denver.
    assert distinct_zones(("America/Phoenix", "America/Denver")) == (
        "America/Denver",
        "America/Phoenix",
    )
