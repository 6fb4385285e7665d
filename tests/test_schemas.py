"""The canonical data contracts in :mod:`schemas`: normalisation, rejections, timestamps, export."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from c360.api.graphql.schema import render_sdl
from schemas import (
    RECORD_MODELS,
    ConsentChange,
    Identifier,
    IdentifierType,
    Order,
    Person,
    RecordKind,
    Return,
    ServiceCase,
    SurveyResponse,
    describe_errors,
    parse_record,
)
from schemas.common import MAX_AMOUNT
from schemas.export import JSON_SCHEMA_DIR, build_json_schemas, render
from schemas.identifiers import contact_keys_in
from schemas.quoting import cut, shown
from tests.factories import (
    Record,
    email,
    external,
    order,
    person,
    phone,
    service_case,
    site_event,
    survey,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
GRAPHQL_SDL_PATH = REPO_ROOT / "schemas" / "schema.graphql"
REGENERATE_HINT = "the committed schema is stale: run `make schemas` and commit the result"

# The JSON Schema file every record kind is published as; canonical-record covers their union.
KIND_FILES: dict[RecordKind, str] = {
    RecordKind.PERSON: "person.schema.json",
    RecordKind.SITE_EVENT: "site-event.schema.json",
    RecordKind.ORDER: "order.schema.json",
    RecordKind.RETURN: "return.schema.json",
    RecordKind.SERVICE_CASE: "service-case.schema.json",
    RecordKind.SURVEY_RESPONSE: "survey-response.schema.json",
    RecordKind.CONSENT_CHANGE: "consent-change.schema.json",
    RecordKind.PREFERENCE_CHANGE: "preference-change.schema.json",
    RecordKind.CONTACT_POINT_STATUS: "contact-point-status.schema.json",
    RecordKind.OUTBOUND_CONTACT: "outbound-contact.schema.json",
}
UNION_FILE = "canonical-record.schema.json"


def return_record(**overrides: Any) -> Record:
    """A valid ``return`` record dict; it carries no identifiers unless given."""
    return {
        "kind": "return",
        "source": "shop",
        "external_id": "R-1",
        "occurred_at": "2024-05-05T10:00:00Z",
        "order_external_id": "1001",
        "amount": {"amount": 2500, "currency": "EUR"},
        **overrides,
    }


def consent_change(**overrides: Any) -> Record:
    """A valid ``consent_change`` record dict (e-mail channel, marketing, opted in)."""
    return {
        "kind": "consent_change",
        "source": "crm",
        "external_id": "CC-1",
        "occurred_at": "2024-05-05T10:00:00Z",
        "identifiers": [email("ana@example.com")],
        "channel": "email",
        "purpose": "marketing",
        "status": "opted_in",
        **overrides,
    }


def rejection(data: Record, *, default_region: str | None = None) -> str:
    """Validate ``data``, expecting a rejection; return the one-line description of it."""
    with pytest.raises(ValidationError) as caught:
        parse_record(data, default_region=default_region)
    return describe_errors(caught.value)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()


# --- Identifier normalisation ---------------------------------------------------------------


class TestEmailNormalisation:
    @pytest.mark.parametrize(
        "spelling",
        [
            "ana.garcia@example.com",
            "  ana.garcia@example.com  ",
            "Ana.Garcia@Example.COM",
            "\tANA.GARCIA@EXAMPLE.COM\n",
        ],
    )
    def test_trimmed_and_lower_cased(self, spelling: str) -> None:
        record = parse_record(order(identifiers=[email(spelling)]))

        (identifier,) = record.identifiers
        assert identifier.type is IdentifierType.EMAIL
        assert identifier.value == "ana.garcia@example.com"
        assert identifier.key == "email:ana.garcia@example.com"

    def test_two_spellings_share_one_key(self) -> None:
        first = parse_record(order(identifiers=[email("Ana@Example.com")]))
        second = parse_record(order(identifiers=[email(" ana@EXAMPLE.com ")]))

        assert first.identifiers[0].key == second.identifiers[0].key


class TestPhoneNormalisation:
    @pytest.mark.parametrize(
        ("spelling", "default_region"),
        [
            ("+34 600 12 34 56", None),
            ("+34600123456", None),
            ("0034600123456", None),
            ("0034 600 12 34 56", "US"),
            ("0034600123456", "ES"),
            ("600123456", "ES"),
            ("600 12 34 56", "ES"),
            ("600123456", "es"),
        ],
    )
    def test_spanish_spellings_give_one_e164_key(
        self, spelling: str, default_region: str | None
    ) -> None:
        record = parse_record(
            service_case(identifiers=[phone(spelling)]), default_region=default_region
        )

        (identifier,) = record.identifiers
        assert identifier.type is IdentifierType.PHONE
        assert identifier.value == "+34600123456"
        assert identifier.key == "phone:+34600123456"

    @pytest.mark.parametrize(
        ("spelling", "default_region"),
        [
            ("(415) 555-2671", "US"),
            ("415-555-2671", "US"),
            ("+1 415 555 2671", "ES"),
            ("(415) 555-2671", None),  # without a region, numbers are read as US ones
        ],
    )
    def test_us_spellings_give_one_e164_key(
        self, spelling: str, default_region: str | None
    ) -> None:
        record = parse_record(
            service_case(identifiers=[phone(spelling)]), default_region=default_region
        )

        assert record.identifiers[0].key == "phone:+14155552671"

    def test_national_number_depends_on_default_region(self) -> None:
        spanish = parse_record(service_case(identifiers=[phone("600123456")]), default_region="ES")

        assert spanish.identifiers[0].value == "+34600123456"
        assert "identifiers.0.value" in rejection(service_case(identifiers=[phone("600123456")]))

    def test_identifier_reads_region_from_validation_context(self) -> None:
        identifier = Identifier.model_validate(
            {"type": "phone", "value": "600 12 34 56"}, context={"default_region": "ES"}
        )

        assert identifier.key == "phone:+34600123456"


class TestContactPointsInText:
    """What a line that could not be read says of whom: the suppression of erased people reads
    rejected items with it."""

    def test_addresses_and_numbers_anywhere_normalised_as_identifiers(self) -> None:
        line = '{"email": " Xavier.Erasmo@Example.NET", "note": "call 622 71 95 38", "at": "x"}'
        assert contact_keys_in(line, "ES") == {
            "email:xavier.erasmo@example.net",
            "phone:+34622719538",
        }

    def test_in_any_shape_a_line_takes(self) -> None:
        csv = "C-9;mailto:ana@example.com;0034 611 22 33 44;2024-13-45"
        assert contact_keys_in(csv, "ES") == {"email:ana@example.com", "phone:+34611223344"}

    @pytest.mark.parametrize(
        "text",
        [
            "https://shop.example/unsubscribe?email=ana@example.com",
            "C-9|ana@example.com|paid",
            "'ana@example.com'",
            '{"note": "Hi\\nana@example.com"}',  # a JSON escape before it
            "https://shop.example/?to=ana%40example.com",
        ],
    )
    def test_joined_to_the_text_before_it(self, text: str) -> None:
        assert "email:ana@example.com" in contact_keys_in(text, "ES")

    def test_what_only_looks_like_one_is_not(self) -> None:
        text = "user@localhost, a@b, on 2024-05-01 at 10:00, total 12.50, v2.120.0"
        assert contact_keys_in(text, "ES") == set()


class TestExternalIdentifiers:
    def test_keyed_with_their_source(self) -> None:
        record = parse_record(
            order(identifiers=[external("shopify", "123"), external("zendesk", "123")])
        )

        keys = [identifier.key for identifier in record.identifiers]
        assert keys == ["ext:shopify:123", "ext:zendesk:123"]
        assert keys[0] != keys[1]

    def test_value_trimmed_but_case_kept(self) -> None:
        record = parse_record(order(identifiers=[external("shopify", "  Cust-9A ")]))

        assert record.identifiers[0].value == "Cust-9A"
        assert record.identifiers[0].key == "ext:shopify:Cust-9A"

    @pytest.mark.parametrize(
        ("kind", "value", "key"),
        [
            ("loyalty", " L-0042 ", "loyalty:L-0042"),
            ("anonymous", "a1b2c3", "anon:a1b2c3"),
        ],
    )
    def test_other_kinds_keyed_by_type_only(self, kind: str, value: str, key: str) -> None:
        record = parse_record(order(identifiers=[{"type": kind, "value": value}]))

        assert record.identifiers[0].key == key
        assert record.identifiers[0].source is None


# --- Rejections -----------------------------------------------------------------------------


class TestIdentifierRules:
    @pytest.mark.parametrize(
        ("identifier", "expected"),
        [
            (phone("abc"), "identifiers.0.value: unparseable phone number 'abc'"),
            (email("not-an-email"), "identifiers.0.value: invalid e-mail address 'not-an-email'"),
            (
                {"type": "external", "value": "123"},
                "identifiers.0: an external identifier needs the source that issued it",
            ),
            (
                {"type": "email", "value": "ana@example.com", "source": "shopify"},
                "identifiers.0: only external identifiers carry a source, not email",
            ),
            ({"type": "fax", "value": "123"}, "identifiers.0.type: Input should be"),
            (external("Shop Ify", "123"), "identifiers.0.source: String should match pattern"),
            ({"type": "loyalty", "value": "   "}, "identifiers.0.value"),
        ],
    )
    def test_bad_identifier_rejected(self, identifier: Record, expected: str) -> None:
        assert expected in rejection(order(identifiers=[identifier]))

    def test_unparseable_phone_in_second_identifier_names_its_position(self) -> None:
        message = rejection(order(identifiers=[email("ana@example.com"), phone("abc")]))

        assert message == "identifiers.1.value: unparseable phone number 'abc'"

    @pytest.mark.parametrize(
        "record",
        [
            order(identifiers=[]),
            service_case(identifiers=[]),
            survey(identifiers=[]),
            person(identifiers=[]),
            consent_change(identifiers=[]),
        ],
    )
    def test_identified_kind_needs_at_least_one(self, record: Record) -> None:
        message = rejection(record)

        assert message.startswith("identifiers: ")
        assert "at least 1 item" in message

    def test_return_without_identifiers_accepted(self) -> None:
        record = parse_record(return_record())

        assert isinstance(record, Return)
        assert record.identifiers == []


class TestMoneyAndQuantities:
    @pytest.mark.parametrize("quantity", [0, -1])
    def test_non_positive_quantity_rejected(self, quantity: int) -> None:
        message = rejection(order(quantity=quantity))

        assert "line_items.0.quantity: Input should be greater than 0" in message

    def test_negative_amount_rejected(self) -> None:
        message = rejection(order(amount=-1))

        assert "line_items.0.unit_price.amount: Input should be greater than or equal to 0" in (
            message
        )
        assert "total.amount: Input should be greater than or equal to 0" in message

    def test_zero_amount_accepted(self) -> None:
        record = parse_record(order(amount=0))

        assert isinstance(record, Order)
        assert record.total.amount == 0

    def test_unknown_currency_rejected(self) -> None:
        message = rejection(order(currency="XXZ"))

        assert "total.currency: unknown ISO 4217 currency code 'XXZ'" in message
        assert "line_items.0.unit_price.currency: unknown ISO 4217 currency code 'XXZ'" in message

    @pytest.mark.parametrize("spelling", ["eur", "Eur", " eur "])
    def test_currency_upper_cased(self, spelling: str) -> None:
        record = parse_record(order(currency=spelling))

        assert isinstance(record, Order)
        assert record.total.currency == "EUR"
        assert record.line_items[0].unit_price.currency == "EUR"

    def test_line_item_currency_must_match_order_total(self) -> None:
        message = rejection(order(currency="EUR", total={"amount": 2500, "currency": "USD"}))

        assert message == "line items in EUR on an order in USD"

    def test_return_item_currency_must_match_return_amount(self) -> None:
        items = [{"quantity": 1, "amount": {"amount": 100, "currency": "USD"}}]

        assert rejection(return_record(items=items)) == "items in USD on a return in EUR"

    @pytest.mark.parametrize("amount", [MAX_AMOUNT + 1, 2**63, 10**30])
    def test_an_amount_over_the_bound_is_rejected(self, amount: int) -> None:
        # Sums of many (a lifetime value) must stay within the store's 64-bit integers.
        message = rejection(order(total={"amount": amount, "currency": "EUR"}))

        assert f"total.amount: Input should be less than or equal to {MAX_AMOUNT}" in message

    def test_the_largest_amount_is_accepted(self) -> None:
        record = parse_record(order(amount=MAX_AMOUNT, quantity=1))

        assert isinstance(record, Order)
        assert record.total.amount == MAX_AMOUNT


class TestSurveyScores:
    @pytest.mark.parametrize(
        ("survey_type", "score", "expected"),
        [
            ("nps", 11, "nps score 11 is outside 0..10"),
            ("nps", -1, "nps score -1 is outside 0..10"),
            ("csat", 0, "csat score 0 is outside 1..5"),
            ("csat", 6, "csat score 6 is outside 1..5"),
            ("ces", 8, "ces score 8 is outside 1..7"),
            ("ces", 0, "ces score 0 is outside 1..7"),
        ],
    )
    def test_out_of_range_rejected(self, survey_type: str, score: int, expected: str) -> None:
        assert rejection(survey(survey_type=survey_type, score=score)) == expected

    @pytest.mark.parametrize(
        ("survey_type", "score"),
        [("nps", 0), ("nps", 10), ("csat", 1), ("csat", 5), ("ces", 1), ("ces", 7)],
    )
    def test_range_edges_accepted(self, survey_type: str, score: int) -> None:
        record = parse_record(survey(survey_type=survey_type, score=score))

        assert isinstance(record, SurveyResponse)
        assert record.survey_type == survey_type
        assert record.score == score


class TestValidationRejects:
    def test_unknown_kind(self) -> None:
        message = rejection(order(kind="invoice"))

        assert "'invoice'" in message
        assert "'kind'" in message

    def test_missing_external_id(self) -> None:
        data = order()
        del data["external_id"]

        assert rejection(data) == "external_id: Field required"

    def test_unknown_extra_field(self) -> None:
        assert rejection(order(coupon="SPRING")) == "coupon: Extra inputs are not permitted"

    def test_source_must_be_lower_case(self) -> None:
        assert rejection(order(source="Shopify")).startswith("source: String should match pattern")

    def test_case_solved_before_it_was_opened(self) -> None:
        message = rejection(service_case(solved_at="2024-05-01T09:00:00Z"))

        assert message == "solved_at is earlier than when the case was opened"

    def test_case_answered_before_it_was_opened(self) -> None:
        message = rejection(service_case(first_response_at="2024-05-02T08:59:59Z"))

        assert message == "first_response_at is earlier than when the case was opened"

    def test_case_solved_after_it_was_opened_accepted(self) -> None:
        record = parse_record(service_case(status="solved", solved_at="2024-05-02T09:30:00+00:00"))

        assert isinstance(record, ServiceCase)
        assert record.solved_at == dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC)

    def test_updated_before_occurred(self) -> None:
        message = rejection(order(updated_at="2024-04-30T10:00:00Z"))

        assert message == "updated_at is earlier than occurred_at"

    def test_online_order_with_store(self) -> None:
        assert rejection(order(store_id="MAD-01")) == "an online order has no store_id"

    def test_every_problem_reported_on_one_line(self) -> None:
        message = rejection(order(coupon="X", identifiers=[phone("abc")]))

        assert "\n" not in message
        assert message.split("; ") == [
            "identifiers.0.value: unparseable phone number 'abc'",
            "coupon: Extra inputs are not permitted",
        ]


class TestPersonFields:
    @pytest.mark.parametrize(
        ("field", "value", "expected"),
        [
            ("country", "XX", "country: unknown ISO 3166-1 alpha-2 country code 'XX'"),
            ("country", "ESP", "country: unknown ISO 3166-1 alpha-2 country code 'ESP'"),
            ("language", "zz", "language: unknown language tag 'zz'"),
            ("language", "", "language: unknown language tag ''"),
            ("time_zone", "Mars/Olympus", "time_zone: unknown IANA time zone 'Mars/Olympus'"),
            ("time_zone", "Europe/", "time_zone: unknown IANA time zone 'Europe/'"),
            ("birth_date", "1899-12-31", "birth_date: implausible birth date 1899-12-31"),
        ],
    )
    def test_invalid_value_rejected(self, field: str, value: str, expected: str) -> None:
        assert rejection({**person(), field: value}) == expected

    def test_birth_date_in_the_future_rejected(self) -> None:
        tomorrow = dt.date.today() + dt.timedelta(days=1)

        message = rejection(person(birth_date=tomorrow.isoformat()))

        assert message == f"birth_date: implausible birth date {tomorrow.isoformat()}"

    def test_address_country_checked(self) -> None:
        message = rejection(person(addresses=[{"line1": "Calle Mayor 1", "country": "QQ"}]))

        assert message == "addresses.0.country: unknown ISO 3166-1 alpha-2 country code 'QQ'"

    def test_valid_values_normalised(self) -> None:
        record = parse_record(
            person(
                country=" es ",
                language="pt_br",
                time_zone="Europe/Madrid",
                birth_date="1900-01-01",
                addresses=[{"line1": "Calle Mayor 1", "country": "es"}],
            )
        )

        assert isinstance(record, Person)
        assert record.country == "ES"
        assert record.language == "pt-BR"
        assert record.time_zone == "Europe/Madrid"
        assert record.birth_date == dt.date(1900, 1, 1)
        assert record.addresses[0].country == "ES"


# --- Timestamps and identity ----------------------------------------------------------------


class TestTimestamps:
    def test_naive_timestamp_rejected(self) -> None:
        message = rejection(order(occurred_at="2024-05-01T10:00:00"))

        assert message.startswith("occurred_at: ")
        assert "timezone" in message

    @pytest.mark.parametrize(
        ("stamp", "utc"),
        [
            ("2024-05-01T10:00:00+02:00", dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)),
            ("2024-05-01T01:30:00+02:00", dt.datetime(2024, 4, 30, 23, 30, tzinfo=dt.UTC)),
            ("2024-05-01T10:00:00-05:00", dt.datetime(2024, 5, 1, 15, 0, tzinfo=dt.UTC)),
            ("2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)),
        ],
    )
    def test_offset_converted_to_utc(self, stamp: str, utc: dt.datetime) -> None:
        record = parse_record(order(occurred_at=stamp))

        assert record.occurred_at.tzinfo is dt.UTC
        assert record.occurred_at.hour == utc.hour
        assert record.occurred_at == utc

    def test_other_timestamps_converted_to_utc(self) -> None:
        record = parse_record(
            order(
                updated_at="2024-05-01T14:00:00+02:00",
                cancelled_at="2024-05-01T15:00:00+02:00",
            )
        )

        assert isinstance(record, Order)
        assert record.updated_at is not None
        assert record.updated_at.tzinfo is dt.UTC
        assert record.updated_at == dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
        assert record.cancelled_at is not None
        assert record.cancelled_at.tzinfo is dt.UTC
        assert record.cancelled_at.hour == 13

    @pytest.mark.parametrize("field", ["occurred_at", "updated_at"])
    def test_more_than_a_day_ahead_rejected(self, field: str) -> None:
        ahead = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        data = {**order(occurred_at="2024-05-01T10:00:00Z"), field: iso(ahead)}

        message = rejection(data)

        assert message.startswith(f"{field}: timestamp ")
        assert message.endswith(" is in the future")

    @pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:30:00+00:45"])
    def test_a_time_before_year_1_in_utc_is_rejected(self, stamp: str) -> None:
        message = rejection(order(occurred_at=stamp))

        assert message == f"occurred_at: timestamp {stamp} is outside years 1 to 9999 in UTC"

    def test_clock_skew_within_a_day_accepted(self) -> None:
        ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)

        record = parse_record(order(occurred_at=iso(ahead)))

        assert record.occurred_at == ahead


class TestEventProperties:
    """Free-form JSON with plain numbers; what the store cannot hold is refused at ingest
    (``c360/ingest/storable.py``), not rewritten here."""

    def test_parsed_decimals_become_json_numbers(self) -> None:
        # The streaming JSON reader gives Decimals, which the store cannot encode.
        properties = {"price": Decimal("12.50"), "count": Decimal("3"), "big": Decimal("1e400")}

        record = parse_record(site_event(properties=properties))

        assert record.model_dump()["properties"] == {
            "price": 12.5,
            "count": 3,
            "big": float("inf"),  # refused at ingest as its item's error
        }

    def test_integers_past_64_bits_and_nan_are_not_rewritten(self) -> None:
        properties = {"n": 2**70, "nested": [{"x": float("nan")}], "ok": 2**63 - 1}

        dumped = parse_record(site_event(properties=properties)).model_dump()["properties"]

        assert dumped["n"] == 2**70
        assert math.isnan(dumped["nested"][0]["x"])
        assert dumped["ok"] == 2**63 - 1


class TestRecordIdentity:
    @pytest.mark.parametrize(
        ("data", "record_id"),
        [
            (order(source="shopify", external_id="1001"), "shopify:order:1001"),
            (service_case(external_id="T-77"), "helpdesk:service_case:T-77"),
            (survey(external_id="S-9"), "surveys:survey_response:S-9"),
            (person(external_id="C-5"), "crm:person:C-5"),
            (return_record(external_id="R-3"), "shop:return:R-3"),
            (consent_change(external_id="CC-2"), "crm:consent_change:CC-2"),
        ],
    )
    def test_record_id_is_source_kind_external_id(self, data: Record, record_id: str) -> None:
        assert parse_record(data).record_id == record_id

    def test_revision_is_updated_at_when_given(self) -> None:
        record = parse_record(
            order(occurred_at="2024-05-01T10:00:00Z", updated_at="2024-05-03T08:00:00Z")
        )

        assert record.revision == dt.datetime(2024, 5, 3, 8, 0, tzinfo=dt.UTC)

    def test_revision_is_occurred_at_otherwise(self) -> None:
        record = parse_record(order(occurred_at="2024-05-01T10:00:00Z"))

        assert record.updated_at is None
        assert record.revision == dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)

    @pytest.mark.parametrize(
        ("data", "model"),
        [
            (order(), Order),
            (service_case(), ServiceCase),
            (survey(), SurveyResponse),
            (person(), Person),
            (return_record(), Return),
            (consent_change(), ConsentChange),
        ],
    )
    def test_kind_selects_the_model(self, data: Record, model: type[object]) -> None:
        record = parse_record(data)

        assert type(record) is model
        assert RECORD_MODELS[RecordKind(record.kind)] is model


class TestConsentContactPoint:
    def test_email_lower_cased(self) -> None:
        record = parse_record(consent_change(contact_point="  Ana.Garcia@Example.COM "))

        assert isinstance(record, ConsentChange)
        assert record.contact_point == "ana.garcia@example.com"

    @pytest.mark.parametrize("channel", ["sms", "phone", "whatsapp"])
    @pytest.mark.parametrize(
        ("spelling", "default_region"),
        [("600 12 34 56", "ES"), ("0034 600 12 34 56", None), ("+34 600-123-456", "US")],
    )
    def test_phone_channels_to_e164(
        self, channel: str, spelling: str, default_region: str | None
    ) -> None:
        record = parse_record(
            consent_change(channel=channel, contact_point=spelling), default_region=default_region
        )

        assert isinstance(record, ConsentChange)
        assert record.contact_point == "+34600123456"

    @pytest.mark.parametrize(
        ("channel", "contact_point", "expected"),
        [
            ("email", "not-an-email", "contact_point: invalid e-mail address 'not-an-email'"),
            ("sms", "abc", "contact_point: unparseable phone number 'abc'"),
        ],
    )
    def test_invalid_contact_point_rejected(
        self, channel: str, contact_point: str, expected: str
    ) -> None:
        message = rejection(consent_change(channel=channel, contact_point=contact_point))

        assert message.startswith(expected)

    def test_postal_contact_point_kept(self) -> None:
        record = parse_record(consent_change(channel="postal", contact_point=" Calle Mayor 1 "))

        assert isinstance(record, ConsentChange)
        assert record.contact_point == "Calle Mayor 1"

    def test_contact_point_optional(self) -> None:
        record = parse_record(consent_change(channel="sms"))

        assert isinstance(record, ConsentChange)
        assert record.contact_point is None


# --- Exported contracts ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_schemas() -> dict[str, dict[str, Any]]:
    return build_json_schemas()


class TestJsonSchemaExport:
    def test_one_file_per_kind_plus_union(self, json_schemas: dict[str, dict[str, Any]]) -> None:
        assert set(KIND_FILES) == set(RecordKind), "a new record kind needs its KIND_FILES entry"
        assert set(json_schemas) == {*KIND_FILES.values(), UNION_FILE}

    @pytest.mark.parametrize("name", sorted([*KIND_FILES.values(), UNION_FILE]))
    def test_committed_file_is_current(
        self, json_schemas: dict[str, dict[str, Any]], name: str
    ) -> None:
        path = JSON_SCHEMA_DIR / name

        assert path.is_file(), f"{path} is missing: run `make schemas`"
        assert path.read_text(encoding="utf-8") == render(json_schemas[name]), (
            f"{path.name}: {REGENERATE_HINT}"
        )

    def test_no_file_the_exporter_would_not_write(
        self, json_schemas: dict[str, dict[str, Any]]
    ) -> None:
        committed = {path.name for path in JSON_SCHEMA_DIR.iterdir()}

        assert committed - set(json_schemas) == set(), f"stale schema files: {REGENERATE_HINT}"
        assert not (JSON_SCHEMA_DIR / "invoice.schema.json").exists()

    def test_every_schema_identified(self, json_schemas: dict[str, dict[str, Any]]) -> None:
        for name, schema in json_schemas.items():
            assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
            assert schema["$id"] == f"urn:c360:schemas:{name}"

    def test_kind_schema_pins_its_kind(self, json_schemas: dict[str, dict[str, Any]]) -> None:
        for kind, name in KIND_FILES.items():
            schema = json_schemas[name]
            assert schema["title"] == RECORD_MODELS[kind].__name__
            assert schema["properties"]["kind"]["const"] == kind.value
            assert schema["additionalProperties"] is False

    def test_union_discriminates_on_kind(self, json_schemas: dict[str, dict[str, Any]]) -> None:
        union = json_schemas[UNION_FILE]

        assert union["title"] == "CanonicalRecord"
        assert union["discriminator"]["propertyName"] == "kind"
        assert set(union["discriminator"]["mapping"]) == {kind.value for kind in RecordKind}
        assert len(union["oneOf"]) == len(RecordKind)

    def test_identifiers_required_except_on_returns(
        self, json_schemas: dict[str, dict[str, Any]]
    ) -> None:
        for kind, name in KIND_FILES.items():
            required = json_schemas[name]["required"]
            assert ("identifiers" in required) is (kind is not RecordKind.RETURN), name

    def test_render_is_stable_text(self, json_schemas: dict[str, dict[str, Any]]) -> None:
        text = render(json_schemas[KIND_FILES[RecordKind.ORDER]])

        assert text.endswith("}\n")
        assert text == render(build_json_schemas()[KIND_FILES[RecordKind.ORDER]])


class TestGraphqlSdlExport:
    def test_committed_sdl_is_current(self) -> None:
        assert GRAPHQL_SDL_PATH.is_file(), f"{GRAPHQL_SDL_PATH} is missing: run `make schemas`"
        assert GRAPHQL_SDL_PATH.read_text(encoding="utf-8") == render_sdl(), (
            f"schema.graphql: {REGENERATE_HINT}"
        )


class TestQuoting:
    """How every message quotes a value: whole when short, its first 100 characters when not."""

    def test_a_short_value_is_quoted_whole(self) -> None:
        assert shown("ana@example.com") == "'ana@example.com'"
        assert shown("x" * 100) == repr("x" * 100)
        assert shown(7) == "7"
        assert shown(Decimal("4.50")) == "4.50"  # as the JSON readers give fractions
        assert cut("no such thing") == "no such thing"

    def test_a_long_value_is_cut_and_its_length_said(self) -> None:
        assert shown("x" * 101) == f"{'x' * 100!r}… (101 characters)"
        assert shown(["y" * 200]) == repr(["y" * 200])[:100] + "…"
        assert shown(10**5000) == "a number too long to show"
        assert cut("z" * 250) == "z" * 100 + "…"
