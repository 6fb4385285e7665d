"""``consent-csv``: consent and preference changes."""

from __future__ import annotations

import pytest

from connectors.base import ItemError, ParseOptions
from connectors.csv import ConsentCsvConnector, parse_mapping
from connectors.registry import get_connector
from schemas import ConsentChange, PreferenceChange
from schemas.records import ChangeOrigin, ConsentStatus, ContactChannel, DoNotContact
from tests.connectors.csv.helpers import (
    FIXTURES,
    MADRID,
    SPAIN,
    csv_bytes,
    email,
    errors,
    external,
    keys,
    only,
    parsed,
    phone,
    refusal,
    run,
    utc,
)
from tests.helpers import parse_options

CONSENT = ConsentCsvConnector()
CONSENT_HEADER = "change_id,changed_at,customer_id,email,phone,channel,purpose,status"
PREFERENCE_HEADER = (
    "change_id,changed_at,customer_id,purpose,do_not_contact,do_not_contact_reason,"
    "preferred_channel"
)
CHANNELS = "expected one of email, sms, phone, whatsapp, postal, push"


def consent_of(row: str, options: ParseOptions = SPAIN) -> ConsentChange:
    record = only(run(CONSENT, csv_bytes(CONSENT_HEADER, row), options))
    assert isinstance(record, ConsentChange)
    return record


def consent_error(row: str, header: str = CONSENT_HEADER) -> str:
    results = run(CONSENT, csv_bytes(header, row), SPAIN)
    assert len(results) == 1, results
    assert isinstance(results[0], ItemError), results[0]
    return results[0].reason


class TestRegistry:
    def test_both_connectors_are_registered_with_their_kinds(self) -> None:
        assert get_connector("consent-csv").kinds == ("consent_change", "preference_change")
        assert get_connector("contact-points-csv").kinds == ("contact_point_status",)


class TestConsentFile:
    """``consent_changes.csv``: a CRM preference centre's export, local times in Madrid."""

    def test_what_each_row_yields(self) -> None:
        results = run(CONSENT, "consent_changes.csv", MADRID)

        assert [(p, r.kind) for p, r in parsed(results)] == [
            ("line 2", "consent_change"),
            ("line 3", "consent_change"),
            ("line 4", "consent_change"),
            ("line 5", "consent_change"),
            ("line 6", "preference_change"),
            ("line 7", "consent_change"),  # a status and a preferred channel: both
            ("line 7", "preference_change"),
            ("line 12", "consent_change"),
        ]

    def test_bad_rows_are_rejected_alone_with_their_reason(self) -> None:
        assert errors(run(CONSENT, "consent_changes.csv", MADRID)) == [
            (
                "line 8",
                "status: unknown value 'maybe'; expected one of opted_in, opted_out, pending",
            ),
            ("line 9", "no email, phone or customer_id"),
            ("line 10", "do_not_contact_reason: missing (do_not_contact is true)"),
            (
                "line 11",
                "email: invalid e-mail address 'ana@': There must be something after the @-sign.",
            ),
        ]

    def test_email_opt_in(self) -> None:
        found = dict(parsed(run(CONSENT, "consent_changes.csv", MADRID)))

        assert found["line 2"] == ConsentChange(
            source="crm",
            external_id="PC-1",
            occurred_at=utc(2024, 9, 1, 10),
            identifiers=[email("ana.garcia@example.com"), external("CRM-1001", "crm")],
            origin=ChangeOrigin.IMPORT,
            evidence="web form /newsletter",
            channel=ContactChannel.EMAIL,
            purpose="marketing",  # the default
            status=ConsentStatus.OPTED_IN,  # "subscribed"
            contact_point="ana.garcia@example.com",  # the row's e-mail, normalised
        )

    def test_sms_opt_out_of_a_local_number(self) -> None:
        consent = dict(parsed(run(CONSENT, "consent_changes.csv", MADRID)))["line 3"]

        assert isinstance(consent, ConsentChange)
        assert consent.occurred_at == utc(2024, 9, 2, 6)  # 08:00 in Madrid
        assert (consent.channel, consent.purpose, consent.status) == (
            "sms",
            "marketing",
            "opted_out",
        )
        assert consent.contact_point == "+34600123456"  # "600 12 34 56", read in Spain
        assert keys(consent) == ["phone:+34600123456", "ext:crm:CRM-1001"]
        assert len(consent.external_id) == 32  # no change_id: derived from the content

    def test_channel_wide_opt_out_by_an_agent(self) -> None:
        consent = dict(parsed(run(CONSENT, "consent_changes.csv", MADRID)))["line 5"]

        assert isinstance(consent, ConsentChange)
        assert (consent.channel, consent.purpose, consent.status) == ("email", "all", "opted_out")
        assert consent.contact_point is None  # no e-mail on the row: the whole channel
        assert (consent.actor, consent.evidence) == ("agent.maria", "phone call")

    def test_do_not_contact(self) -> None:
        found = dict(parsed(run(CONSENT, "consent_changes.csv", MADRID)))

        assert found["line 6"] == PreferenceChange(
            source="crm",
            external_id="PC-5",
            occurred_at=utc(2024, 9, 5, 14, 45),
            identifiers=[external("CRM-1001", "crm")],
            origin=ChangeOrigin.IMPORT,
            actor="agent.maria",
            evidence="call, ticket CC-9001",
            do_not_contact=DoNotContact(active=True, reason="asked never to be contacted again"),
        )

    def test_one_row_with_a_status_and_a_preferred_channel(self) -> None:
        both = [r for p, r in parsed(run(CONSENT, "consent_changes.csv", MADRID)) if p == "line 7"]

        consent, preference = both
        assert isinstance(consent, ConsentChange)
        assert isinstance(preference, PreferenceChange)
        assert consent.status == "opted_in"
        assert preference.preferred_channels == {"marketing": ContactChannel.SMS}
        assert preference.do_not_contact is None
        # One change id, two kinds: two records.
        assert consent.external_id == preference.external_id == "PC-6"
        assert consent.record_id != preference.record_id
        assert consent.occurred_at == preference.occurred_at == utc(2024, 9, 6, 9)

    def test_mapping_file(self) -> None:
        columns, settings = parse_mapping((FIXTURES / "preferencias.toml").read_text("utf-8"))
        options = parse_options(default_region="ES", mapping=columns, settings=settings)

        results = run(CONSENT, "preferencias.csv", options)

        assert errors(results) == []
        assert [
            (p, r.channel, r.purpose, r.status, r.contact_point, r.occurred_at, r.evidence)
            for p, r in parsed(results)
            if isinstance(r, ConsentChange)
        ] == [
            (
                "line 2",
                "sms",
                "marketing",
                "opted_out",
                "+34612345678",
                utc(2024, 9, 12, 8, 15),
                "respuesta BAJA",
            ),
            (
                "line 3",
                "email",
                "encuestas",
                "opted_in",
                "kenji@example.com",
                utc(2024, 9, 12, 8, 20),
                "centro de preferencias",
            ),
        ]

    def test_a_header_without_a_change_column_stops_the_file(self) -> None:
        data = csv_bytes("changed_at,email,channel", "2024-09-01,a@b.es,email")

        assert refusal(CONSENT, data, SPAIN) == (
            "line 1",
            "no column for any of status, do_not_contact, preferred_channel",
        )


class TestConsentStatus:
    @pytest.mark.parametrize(
        ("written", "status"),
        [
            ("opted_in", ConsentStatus.OPTED_IN),
            ("Opted-In", ConsentStatus.OPTED_IN),
            ("opt in", ConsentStatus.OPTED_IN),
            ("optin", ConsentStatus.OPTED_IN),
            ("subscribed", ConsentStatus.OPTED_IN),
            ("SUBSCRIBED", ConsentStatus.OPTED_IN),
            ("yes", ConsentStatus.OPTED_IN),
            ("Y", ConsentStatus.OPTED_IN),
            ("true", ConsentStatus.OPTED_IN),
            ("1", ConsentStatus.OPTED_IN),
            ("granted", ConsentStatus.OPTED_IN),
            ("opted_out", ConsentStatus.OPTED_OUT),
            ("Opt-Out", ConsentStatus.OPTED_OUT),
            ("optout", ConsentStatus.OPTED_OUT),
            ("unsubscribed", ConsentStatus.OPTED_OUT),
            ("no", ConsentStatus.OPTED_OUT),
            ("N", ConsentStatus.OPTED_OUT),
            ("false", ConsentStatus.OPTED_OUT),
            ("FALSE", ConsentStatus.OPTED_OUT),
            ("0", ConsentStatus.OPTED_OUT),
            ("revoked", ConsentStatus.OPTED_OUT),
            ("withdrawn", ConsentStatus.OPTED_OUT),
            ("pending", ConsentStatus.PENDING),
            ("Unconfirmed", ConsentStatus.PENDING),
        ],
    )
    def test_spellings(self, written: str, status: ConsentStatus) -> None:
        consent = consent_of(f"C-1,2024-09-01T10:00:00Z,,ana@example.com,,email,,{written}")

        assert consent.status is status

    @pytest.mark.parametrize("written", ["maybe", "not_subscribed", "2", "cleaned"])
    def test_anything_else_rejects_the_row(self, written: str) -> None:
        assert consent_error(f"C-1,2024-09-01T10:00:00Z,,ana@example.com,,email,,{written}") == (
            f"status: unknown value {written!r}; expected one of opted_in, opted_out, pending"
        )

    def test_a_bad_row_does_not_stop_the_next(self) -> None:
        data = csv_bytes(
            CONSENT_HEADER,
            "C-1,2024-09-01T10:00:00Z,,ana@example.com,,email,,perhaps",
            "C-2,2024-09-01T10:00:00Z,,ana@example.com,,email,,opted_out",
        )

        results = run(CONSENT, data, SPAIN)

        assert errors(results) == [
            (
                "line 2",
                "status: unknown value 'perhaps'; expected one of opted_in, opted_out, pending",
            )
        ]
        assert [(p, r.external_id) for p, r in parsed(results)] == [("line 3", "C-2")]


class TestConsentRow:
    @pytest.mark.parametrize(
        ("written", "channel"),
        [
            ("email", "email"),
            ("E-Mail", "email"),
            ("mail", "email"),
            ("SMS", "sms"),
            ("text", "sms"),
            ("phone", "phone"),
            ("call", "phone"),
            ("WhatsApp", "whatsapp"),
        ],
    )
    def test_channels_and_their_default_contact_point(self, written: str, channel: str) -> None:
        consent = consent_of(f"C-1,2024-09-01T10:00:00Z,,Ana@Example.com,600123456,{written},,yes")

        assert consent.channel == channel
        # The row's e-mail on the email channel, its phone on the phone channels.
        expected = "ana@example.com" if channel == "email" else "+34600123456"
        assert consent.contact_point == expected

    @pytest.mark.parametrize(
        ("written", "channel"), [("postal", "postal"), ("post", "postal"), ("push", "push")]
    )
    def test_channels_without_a_default_contact_point(self, written: str, channel: str) -> None:
        consent = consent_of(f"C-1,2024-09-01T10:00:00Z,,ana@example.com,600123456,{written},,no")

        assert (consent.channel, consent.contact_point) == (channel, None)

    def test_an_explicit_contact_point_wins(self) -> None:
        data = csv_bytes(
            CONSENT_HEADER + ",contact_point",
            "C-1,2024-09-01T10:00:00Z,CRM-1,ana@example.com,,email,,no,Ana.Work@Example.com",
            "C-2,2024-09-01T10:00:00Z,CRM-1,,,sms,,no,+34 611 22 23 33",
            "C-3,2024-09-01T10:00:00Z,CRM-1,,,sms,,no,12",
        )

        results = run(CONSENT, data, SPAIN)

        assert [r.contact_point for _, r in parsed(results) if isinstance(r, ConsentChange)] == [
            "ana.work@example.com",
            "+34611222333",
        ]
        assert errors(results) == [
            ("line 4", "contact_point: invalid phone number '12' (read in region ES)")
        ]

    def test_an_invalid_address_is_never_widened_to_the_whole_channel(self) -> None:
        assert consent_error("C-1,2024-09-01T10:00:00Z,CRM-1,,12,sms,,no") == (
            "phone: invalid phone number '12' (read in region ES)"
        )

    def test_without_an_address_the_change_is_for_the_whole_channel(self) -> None:
        consent = consent_of("C-1,2024-09-01T10:00:00Z,CRM-1,,,sms,,no")

        assert consent.contact_point is None
        assert keys(consent) == ["ext:crm:CRM-1"]

    @pytest.mark.parametrize(
        ("written", "purpose"),
        [
            ("", "marketing"),
            ("all", "all"),
            ("Newsletter", "newsletter"),
            ("service updates", "service_updates"),
        ],
    )
    def test_purpose(self, written: str, purpose: str) -> None:
        assert consent_of(f"C-1,2024-09-01T10:00:00Z,CRM-1,,,email,{written},no").purpose == purpose

    def test_an_invalid_purpose_rejects_the_row(self) -> None:
        assert consent_error("C-1,2024-09-01T10:00:00Z,CRM-1,,,email,2024 promo!,no") == (
            "purpose: '2024 promo!' is not a purpose name (a letter, then letters, digits or _)"
        )

    @pytest.mark.parametrize(
        ("row", "reason"),
        [
            ("C-1,2024-09-01T10:00:00Z,CRM-1,,,email,,", "status: missing"),
            ("C-1,2024-09-01T10:00:00Z,CRM-1,,,,,yes", "channel: missing"),
            (
                "C-1,2024-09-01T10:00:00Z,CRM-1,,,fax,,yes",
                f"channel: unknown value 'fax'; {CHANNELS}",
            ),
            ("C-1,,CRM-1,,,email,,yes", "changed_at: missing"),
            (
                "C-1,01/09/2024,CRM-1,,,email,,yes",
                "changed_at: timestamp '01/09/2024' is not ISO 8601",
            ),
            (
                "C-1,2024-09-01T10:00:00Z,,,,,,",
                "no email, phone or customer_id; "
                "nothing to import: no status, do_not_contact or preferred_channel",
            ),
        ],
    )
    def test_incomplete_rows(self, row: str, reason: str) -> None:
        assert consent_error(row) == reason

    def test_each_change_keeps_its_own_time(self) -> None:
        # An older opt-in after a newer opt-out in the file: both are kept, each at its time;
        # the store's fold decides (the newer opt-out stands).
        data = csv_bytes(
            CONSENT_HEADER,
            ",2024-09-02T10:00:00Z,,ana@example.com,,email,,unsubscribed",
            ",2024-09-01T10:00:00Z,,ana@example.com,,email,,subscribed",
        )

        found = [r for _, r in parsed(run(CONSENT, data, SPAIN))]

        assert [(r.occurred_at, r.updated_at) for r in found] == [
            (utc(2024, 9, 2, 10), None),
            (utc(2024, 9, 1, 10), None),
        ]
        assert found[0].external_id != found[1].external_id


class TestPreferenceRow:
    def test_do_not_contact_lifted(self) -> None:
        record = only(
            run(
                CONSENT, csv_bytes(PREFERENCE_HEADER, "P-1,2024-09-01T10:00:00Z,CRM-1,,no,,"), SPAIN
            )
        )

        assert isinstance(record, PreferenceChange)
        assert record.do_not_contact == DoNotContact(active=False)
        assert record.preferred_channels == {}

    def test_preferred_channel_for_a_purpose(self) -> None:
        record = only(
            run(
                CONSENT,
                csv_bytes(PREFERENCE_HEADER, "P-1,2024-09-01T10:00:00Z,CRM-1,surveys,,,WhatsApp"),
                SPAIN,
            )
        )

        assert isinstance(record, PreferenceChange)
        assert record.preferred_channels == {"surveys": ContactChannel.WHATSAPP}
        assert record.do_not_contact is None

    def test_none_removes_the_preferred_channel(self) -> None:
        record = only(
            run(
                CONSENT,
                csv_bytes(PREFERENCE_HEADER, "P-1,2024-09-01T10:00:00Z,CRM-1,,,,none"),
                SPAIN,
            )
        )

        assert isinstance(record, PreferenceChange)
        assert record.preferred_channels == {"marketing": None}

    @pytest.mark.parametrize(
        ("row", "reason"),
        [
            (
                "P-1,2024-09-01T10:00:00Z,CRM-1,,maybe,,",
                "do_not_contact: expected true/false, yes/no or 1/0, not 'maybe'",
            ),
            (
                "P-1,2024-09-01T10:00:00Z,CRM-1,,,moved abroad,",
                "do_not_contact: missing (do_not_contact_reason is given)",
            ),
            (
                "P-1,2024-09-01T10:00:00Z,CRM-1,,1,,",
                "do_not_contact_reason: missing (do_not_contact is true)",
            ),
            (
                "P-1,2024-09-01T10:00:00Z,CRM-1,all,,,sms",
                "purpose: 'all' has no preferred channel; name one purpose",
            ),
            (
                "P-1,2024-09-01T10:00:00Z,CRM-1,,,,pigeon",
                f"preferred_channel: unknown value 'pigeon'; {CHANNELS}",
            ),
        ],
    )
    def test_bad_preferences(self, row: str, reason: str) -> None:
        assert consent_error(row, PREFERENCE_HEADER) == reason

    def test_a_row_is_all_or_nothing(self) -> None:
        # A good consent change on a row whose preference is bad is rejected with it.
        header = CONSENT_HEADER + ",preferred_channel"
        assert consent_error(
            "C-1,2024-09-01T10:00:00Z,,ana@example.com,,email,,yes,pigeon", header
        ) == (f"preferred_channel: unknown value 'pigeon'; {CHANNELS}")


class TestConsentIdentifiers:
    def test_phones_in_e164_in_the_default_region(self) -> None:
        row = "C-1,2024-09-01T10:00:00Z,CRM-1,,(415) 555-2671,sms,,yes"

        us = consent_of(row, parse_options(default_region="US"))
        assert keys(us) == ["phone:+14155552671", "ext:crm:CRM-1"]
        assert us.contact_point == "+14155552671"

        assert (
            consent_error(row) == "phone: invalid phone number '(415) 555-2671' (read in region ES)"
        )

    def test_the_itu_prefix_and_spaces(self) -> None:
        consent = consent_of("C-1,2024-09-01T10:00:00Z,,,0034 600 12 34 56,whatsapp,,yes")

        assert consent.identifiers == [phone("+34600123456")]
        assert consent.contact_point == "+34600123456"

    def test_an_invalid_email_is_dropped_while_another_identifier_remains(self) -> None:
        consent = consent_of("C-1,2024-09-01T10:00:00Z,CRM-1,ana@,600123456,sms,,yes")

        assert keys(consent) == ["phone:+34600123456", "ext:crm:CRM-1"]

    def test_source_option_scopes_customer_ids(self) -> None:
        options = parse_options(settings={"source": "braze"})
        consent = consent_of("C-1,2024-09-01T10:00:00Z,u-77,,,push,,yes", options)

        assert consent.source == "braze"
        assert keys(consent) == ["ext:braze:u-77"]


class TestConsentIds:
    def test_parsing_twice_gives_the_same_records(self) -> None:
        first = parsed(run(CONSENT, "consent_changes.csv", MADRID))
        again = parsed(run(CONSENT, "consent_changes.csv", MADRID))

        assert [r.record_id for _, r in first] == [r.record_id for _, r in again]
        assert first == again

    def test_a_derived_id_ignores_how_values_are_written(self) -> None:
        data = csv_bytes(
            "changed_at,customer_id,email,phone,channel,purpose,status,do_not_contact,"
            "do_not_contact_reason",
            "2024-09-01T12:00:00+02:00,CRM-1,Ana@Example.com,600 12 34 56,E-mail,Marketing,"
            "yes,true,asked",
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,+34600123456,email,marketing,"
            "subscribed,1,asked",
        )

        (p1, consent1), (_, pref1), (p2, consent2), (_, pref2) = parsed(run(CONSENT, data, SPAIN))

        assert (p1, p2) == ("line 2", "line 3")
        assert consent1.record_id == consent2.record_id
        assert pref1.record_id == pref2.record_id

    @pytest.mark.parametrize(
        "other",
        [
            "2024-09-01T10:00:01Z,CRM-1,ana@example.com,email,marketing,",  # another time
            "2024-09-01T10:00:00Z,CRM-2,ana@example.com,email,marketing,",  # another person
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,sms,marketing,",  # another channel
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,email,surveys,",  # another purpose
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,email,marketing,ana@work.example.com",
        ],
    )
    def test_a_derived_id_differs_with_what_changed(self, other: str) -> None:
        data = csv_bytes(
            "changed_at,customer_id,email,channel,purpose,contact_point,status",
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,email,marketing,,yes",
            other + ",yes",
        )
        ids = [
            r.record_id for _, r in parsed(run(CONSENT, data, parse_options(default_region="ES")))
        ]

        assert len(ids) == 2
        assert ids[0] != ids[1]

    def test_opposite_changes_at_one_instant_are_two_records(self) -> None:
        data = csv_bytes(
            "changed_at,customer_id,email,channel,status,do_not_contact,do_not_contact_reason",
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,email,yes,true,asked by phone",
            "2024-09-01T10:00:00Z,CRM-1,ana@example.com,email,no,false,",
        )

        (_, in_), (_, stop), (_, out), (_, go) = parsed(run(CONSENT, data, SPAIN))

        assert in_.record_id != out.record_id  # neither replaces the other as a "revision"
        assert stop.record_id != go.record_id
