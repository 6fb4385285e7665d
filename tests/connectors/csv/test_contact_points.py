"""``contact-points-csv``: bounces, verifications and invalid numbers."""

from __future__ import annotations

import pytest

from connectors.base import ItemError, ParseOptions
from connectors.csv import ContactPointsCsvConnector, parse_mapping
from schemas import ContactPointStatus
from schemas.records import ChangeOrigin, ContactChannel, ContactPointState
from tests.connectors.csv.helpers import (
    SPAIN,
    csv_bytes,
    email,
    errors,
    keys,
    only,
    parsed,
    phone,
    refusal,
    run,
    utc,
)
from tests.helpers import parse_options

POINTS = ContactPointsCsvConnector()
POINTS_HEADER = "event_id,occurred_at,email,phone,contact_point,channel,status,reason"
CHANNELS = "expected one of email, sms, phone, whatsapp, postal, push"
POINT_STATES = "expected one of unverified, verified, bounced, invalid"


def status_of(row: str, options: ParseOptions = SPAIN) -> ContactPointStatus:
    record = only(run(POINTS, csv_bytes(POINTS_HEADER, row), options))
    assert isinstance(record, ContactPointStatus)
    return record


def status_error(row: str) -> str:
    results = run(POINTS, csv_bytes(POINTS_HEADER, row), SPAIN)
    assert len(results) == 1, results
    assert isinstance(results[0], ItemError), results[0]
    return results[0].reason


class TestBouncesFile:
    """``bounces.csv``: an ESP's bounce and verification export."""

    def test_what_each_row_yields(self) -> None:
        results = run(POINTS, "bounces.csv", SPAIN)

        assert [
            (p, r.channel, r.contact_point, r.status, r.origin)
            for p, r in parsed(results)
            if isinstance(r, ContactPointStatus)
        ] == [
            ("line 2", "email", "ana.garcia@example.com", "bounced", "bounce"),
            # line 3 is a soft bounce: no record, no error
            ("line 4", "sms", "+34600123456", "invalid", "bounce"),
            ("line 5", "email", "kenji@example.com", "verified", "import"),
            ("line 8", "whatsapp", "+34611222333", "verified", "import"),
            ("line 10", "push", "f0e1d2c3b4a5968778695a4b3c2d1e0f", "unverified", "import"),
        ]
        assert errors(results) == [
            (
                "line 6",
                f"status: unknown value 'maybe'; {POINT_STATES}",
            ),
            ("line 7", "occurred_at: missing"),
            ("line 9", "channel: missing (the row has an e-mail and a phone: which is it?)"),
        ]

    def test_hard_bounce(self) -> None:
        found = dict(parsed(run(POINTS, "bounces.csv", SPAIN)))

        assert found["line 2"] == ContactPointStatus(
            source="esp",
            external_id="B-1",
            occurred_at=utc(2024, 9, 10, 8),
            identifiers=[email("ana.garcia@example.com")],
            origin=ChangeOrigin.BOUNCE,
            channel=ContactChannel.EMAIL,
            contact_point="ana.garcia@example.com",
            status=ContactPointState.BOUNCED,
            reason="550 5.1.1 <ana.garcia@example.com>: mailbox unknown",
        )

    def test_invalid_number_without_an_event_id(self) -> None:
        status = dict(parsed(run(POINTS, "bounces.csv", SPAIN)))["line 4"]

        assert isinstance(status, ContactPointStatus)
        assert status.identifiers == [phone("+34600123456")]  # "600 12 34 56" in Spain
        assert status.reason == "number not assigned"
        assert len(status.external_id) == 32  # derived from channel, number and time

    def test_a_push_token_joins_through_the_rows_email(self) -> None:
        status = dict(parsed(run(POINTS, "bounces.csv", SPAIN)))["line 10"]

        assert keys(status) == ["email:ana.garcia@example.com"]


class TestContactPointStatus:
    @pytest.mark.parametrize(
        ("written", "status"),
        [
            ("verified", ContactPointState.VERIFIED),
            ("Valid", ContactPointState.VERIFIED),
            ("deliverable", ContactPointState.VERIFIED),
            ("ok", ContactPointState.VERIFIED),
            ("confirmed", ContactPointState.VERIFIED),
            ("unverified", ContactPointState.UNVERIFIED),
            ("unknown", ContactPointState.UNVERIFIED),
            ("catch-all", ContactPointState.UNVERIFIED),
            ("bounced", ContactPointState.BOUNCED),
            ("bounce", ContactPointState.BOUNCED),
            ("hard", ContactPointState.BOUNCED),
            ("hard_bounce", ContactPointState.BOUNCED),
            ("Hard Bounce", ContactPointState.BOUNCED),
            ("hardbounce", ContactPointState.BOUNCED),
            ("invalid", ContactPointState.INVALID),
            ("undeliverable", ContactPointState.INVALID),
        ],
    )
    def test_spellings(self, written: str, status: ContactPointState) -> None:
        record = status_of(f"E-1,2024-09-10T08:00:00Z,ana@example.com,,,,{written},")

        assert record.status is status
        undeliverable = status in (ContactPointState.BOUNCED, ContactPointState.INVALID)
        assert record.origin is (ChangeOrigin.BOUNCE if undeliverable else ChangeOrigin.IMPORT)

    def test_a_broken_soft_bounce_row_is_still_an_error(self) -> None:
        data = csv_bytes(POINTS_HEADER, "E-1,not-a-date,,,,,soft,")

        [(position, reason)] = errors(run(POINTS, data, SPAIN))

        assert position == "line 2"
        assert "occurred_at" in reason

    @pytest.mark.parametrize(
        "written", ["soft", "soft_bounce", "Soft Bounce", "softbounce", "soft-bounced"]
    )
    def test_a_soft_bounce_changes_nothing(self, written: str) -> None:
        data = csv_bytes(
            POINTS_HEADER,
            f"E-1,2024-09-10T08:00:00Z,ana@example.com,,,,{written},452 mailbox full",
            "E-2,2024-09-10T08:00:00Z,ana@example.com,,,,hard,550 no such user",
        )

        results = run(POINTS, data, SPAIN)

        assert errors(results) == []
        assert [(p, r.external_id) for p, r in parsed(results)] == [("line 3", "E-2")]

    @pytest.mark.parametrize("written", ["maybe", "spam_trap", "complained"])
    def test_anything_else_rejects_the_row(self, written: str) -> None:
        assert status_error(f"E-1,2024-09-10T08:00:00Z,ana@example.com,,,,{written},") == (
            f"status: unknown value {written!r}; {POINT_STATES}"
        )

    def test_a_long_reason_is_cut(self) -> None:
        record = status_of("E-1,2024-09-10T08:00:00Z,ana@example.com,,,,hard," + "x" * 3000)

        assert record.reason == "x" * 2000


class TestContactPointChannel:
    @pytest.mark.parametrize(
        ("row", "channel", "point"),
        [
            ("ana@example.com,,,", "email", "ana@example.com"),
            (",600123456,,", "sms", "+34600123456"),
            (",600123456,,phone", "phone", "+34600123456"),
            (",600123456,,WhatsApp", "whatsapp", "+34600123456"),
            ("ana@example.com,600123456,,sms", "sms", "+34600123456"),
            ("ana@example.com,600123456,,email", "email", "ana@example.com"),
            (",,Ana@Example.com,email", "email", "ana@example.com"),
            (",,+34 611 222 333,sms", "sms", "+34611222333"),
        ],
    )
    def test_the_contact_point(self, row: str, channel: str, point: str) -> None:
        record = status_of(f"E-1,2024-09-10T08:00:00Z,{row},invalid,")

        assert (record.channel, record.contact_point) == (channel, point)

    @pytest.mark.parametrize(
        ("row", "reason"),
        [
            (",,,", "no email, phone or contact_point"),
            (",,abc123,push", "no email or phone to link the push contact point to"),
            (",,abc123,", "channel: missing (contact_point needs its channel)"),
            ("ana@example.com,,,sms", "phone: missing (needed for channel sms)"),
            (",600123456,,email", "email: missing (needed for channel email)"),
            ("ana@example.com,,,push", "contact_point: missing (needed for channel push)"),
            (
                "ana@example.com,,,fax",
                f"channel: unknown value 'fax'; {CHANNELS}",
            ),
            (
                "ana@,,,",
                "email: invalid e-mail address 'ana@': There must be something after the @-sign.",
            ),
            (",12,,", "phone: invalid phone number '12' (read in region ES)"),
        ],
    )
    def test_rows_without_a_usable_contact_point(self, row: str, reason: str) -> None:
        assert status_error(f"E-1,2024-09-10T08:00:00Z,{row},bounced,") == reason

    def test_a_header_without_an_address_column_stops_the_file(self) -> None:
        data = csv_bytes("occurred_at,status,customer", "2024-09-10,hard,C-1")

        assert refusal(POINTS, data, SPAIN) == (
            "line 1",
            "no column for any of email, phone, contact_point",
        )


class TestContactPointIdentifiers:
    def test_phones_in_e164_in_the_default_region(self) -> None:
        row = "E-1,2024-09-10T08:00:00Z,,(415) 555-2671,,,invalid,"

        us = status_of(row, parse_options(default_region="US"))
        assert (us.contact_point, keys(us)) == ("+14155552671", ["phone:+14155552671"])

        assert (
            status_error(row) == "phone: invalid phone number '(415) 555-2671' (read in region ES)"
        )

    def test_the_point_itself_then_the_rows_other_identifier(self) -> None:
        record = status_of(
            "E-1,2024-09-10T08:00:00Z,Ana@Example.com,0034 600 12 34 56,,sms,invalid,"
        )

        assert keys(record) == ["phone:+34600123456", "email:ana@example.com"]

    def test_an_invalid_other_identifier_is_dropped(self) -> None:
        record = status_of("E-1,2024-09-10T08:00:00Z,ana@,600123456,,sms,invalid,")

        assert keys(record) == ["phone:+34600123456"]

    def test_mapping_file_of_an_sms_gateway(self) -> None:
        columns, settings = parse_mapping(
            '[columns]\nphone = "msisdn"\noccurred_at = "fecha"\nstatus = "resultado"\n'
            'reason = "detalle"\n\n[options]\nsource = "smsgw"\ndelimiter = ";"\n'
            'time_zone = "Europe/Madrid"\n'
        )
        options = parse_options(default_region="ES", mapping=columns, settings=settings)
        data = csv_bytes(
            "msisdn;fecha;resultado;detalle",
            "612345678;2024-09-10 10:00;invalid;unknown subscriber",
        )

        record = only(run(POINTS, data, options))

        assert isinstance(record, ContactPointStatus)
        assert (record.source, record.channel, record.contact_point) == (
            "smsgw",
            "sms",
            "+34612345678",
        )
        assert record.occurred_at == utc(2024, 9, 10, 8)


class TestContactPointIds:
    def test_parsing_twice_gives_the_same_records(self) -> None:
        first = parsed(run(POINTS, "bounces.csv", SPAIN))
        again = parsed(run(POINTS, "bounces.csv", SPAIN))

        assert [r.record_id for _, r in first] == [r.record_id for _, r in again]
        assert first == again

    def test_a_derived_id_ignores_how_values_are_written(self) -> None:
        data = csv_bytes(
            POINTS_HEADER,
            ",2024-09-10T10:00:00+02:00,,600 12 34 56,,SMS,hard bounce,",
            ",2024-09-10T08:00:00Z,,+34600123456,,sms,bounced,",
        )

        first, second = (r for _, r in parsed(run(POINTS, data, SPAIN)))

        assert first.record_id == second.record_id

    def test_a_derived_id_differs_by_point_channel_and_time(self) -> None:
        data = csv_bytes(
            POINTS_HEADER,
            ",2024-09-10T08:00:00Z,,600123456,,sms,invalid,",
            ",2024-09-10T08:00:00Z,,600123456,,whatsapp,invalid,",
            ",2024-09-10T08:00:00Z,,611222333,,sms,invalid,",
            ",2024-09-10T08:00:01Z,,600123456,,sms,invalid,",
        )

        ids = [r.record_id for _, r in parsed(run(POINTS, data, SPAIN))]

        assert len(set(ids)) == 4

    def test_a_derived_id_differs_by_status(self) -> None:
        data = csv_bytes(
            POINTS_HEADER,
            ",2024-09-10T08:00:00Z,,600123456,,sms,invalid,",
            ",2024-09-10T08:00:00Z,,600123456,,sms,verified,",
        )

        first, second = (r.record_id for _, r in parsed(run(POINTS, data, SPAIN)))

        assert first != second
