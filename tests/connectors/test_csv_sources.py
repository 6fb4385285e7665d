"""CSV connectors: mapping files, encodings, delimiters, and each source's rows → records."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from connectors._csv import parse_mapping
from connectors.base import Connector, ItemError, Parsed, ParseOptions, ParseResult
from connectors.csv_sources import (
    CustomersCsvConnector,
    PosCsvConnector,
    ReturnsCsvConnector,
    ServiceCsvConnector,
    SurveysCsvConnector,
)
from schemas import (
    CanonicalRecord,
    Identifier,
    IdentifierType,
    Money,
    Order,
    Person,
    Return,
    ServiceCase,
    SurveyResponse,
)
from schemas.records import (
    CasePriority,
    CaseStatus,
    LineItem,
    OrderChannel,
    PostalAddress,
    ReturnItem,
    ServiceChannel,
    SurveyType,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "csv"
POS_COLUMNS, POS_OPTIONS = parse_mapping((FIXTURES / "pos_madrid.toml").read_text("utf-8"))


def run(connector: Connector, source: str | bytes, options: ParseOptions) -> list[ParseResult]:
    """Parse a fixture file (by name) or inline bytes."""
    data = source if isinstance(source, bytes) else (FIXTURES / source).read_bytes()
    return list(connector.parse(io.BytesIO(data), options))


def records(results: Iterable[ParseResult]) -> dict[str, CanonicalRecord]:
    return {r.position: r.record for r in results if isinstance(r, Parsed)}


def errors(results: Iterable[ParseResult]) -> list[tuple[str, str]]:
    return [(r.position, r.reason) for r in results if isinstance(r, ItemError)]


def keys(record: CanonicalRecord) -> list[str]:
    return [identifier.key for identifier in record.identifiers]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def eur(amount: int) -> Money:
    return Money(amount=amount, currency="EUR")


def email(value: str) -> Identifier:
    return Identifier(type=IdentifierType.EMAIL, value=value)


def phone(value: str) -> Identifier:
    return Identifier(type=IdentifierType.PHONE, value=value)


def external(value: str, source: str) -> Identifier:
    return Identifier(type=IdentifierType.EXTERNAL, value=value, source=source)


def loyalty(value: str) -> Identifier:
    return Identifier(type=IdentifierType.LOYALTY, value=value)


def pos_options(**settings: str) -> ParseOptions:
    return ParseOptions(
        default_region="ES", mapping=POS_COLUMNS, settings={**POS_OPTIONS, **settings}
    )


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return "".join(f"{line}\n" for line in lines).encode(encoding)


POS_HEADER = "order_id,ordered_at,store_id,sku,quantity,unit_price,currency,email"


class TestParseMapping:
    def test_reads_columns_and_options_of_the_pos_mapping(self) -> None:
        assert POS_COLUMNS == {
            "order_id": "ticket",
            "ordered_at": "fecha",
            "store_id": "tienda",
            "sku": "referencia",
            "title": "descripcion",
            "category": "familia",
            "quantity": "unidades",
            "unit_price": "precio",
            "email": "correo",
            "phone": "telefono",
            "loyalty_id": "tarjeta_socio",
        }
        assert POS_OPTIONS == {
            "source": "pos",
            "delimiter": ";",
            "decimal_separator": ",",
            "currency": "EUR",
            "time_zone": "Europe/Madrid",
            "timestamp_format": "%d/%m/%Y %H:%M",
        }

    def test_both_tables_are_optional(self) -> None:
        assert parse_mapping("") == ({}, {})
        assert parse_mapping('[options]\nencoding = "latin-1"\n') == ({}, {"encoding": "latin-1"})

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                '[options]\ntimezone = "Europe/Madrid"\n',
                "unknown option 'timezone' in [options]; known: source, time_zone, "
                "timestamp_format, date_format, currency, decimal_separator, delimiter, encoding",
            ),
            ("[options]\ndelimiter = 59\n", "options.delimiter must be a string, not int"),
            ("[columns]\nquantity = 3\n", "columns.quantity must be a string, not int"),
            ('[columns]\nsku = " "\n', "columns.sku is empty"),
            ('columns = "ticket"\n', "columns must be a table ([columns]), not a str"),
            (
                '[colums]\norder_id = "ticket"\n',
                "mapping file has unknown keys 'colums'; expected [columns] and [options]",
            ),
            (
                '[options]\ntime_zone = "Europe/Madird"\ndecimal_separator = ";"\n',
                "invalid [options]: time_zone: unknown IANA time zone 'Europe/Madird'; "
                "decimal_separator: ';' is neither '.' nor ','",
            ),
            ('[options]\nencoding = "base64"\n', "encoding: unknown text encoding 'base64'"),
            ('[options]\ncurrency = "EUROS"\n', "unknown ISO 4217 currency code 'EUROS'"),
            ('[options]\nsource = "Loyalty App"\n', "'Loyalty App' is not a lower-case source"),
            ('[options]\ndelimiter = ";;"\n', "delimiter: ';;' is not one character or 'auto'"),
        ],
    )
    def test_refuses_what_it_does_not_understand(self, text: str, message: str) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_mapping(text)

    def test_refuses_invalid_toml(self) -> None:
        with pytest.raises(ValueError, match=r"^mapping file is not valid TOML: "):
            parse_mapping("[columns\n")


class TestPosCsv:
    def test_spanish_export_with_mapping(self) -> None:
        results = run(PosCsvConnector(), "pos_madrid.csv", pos_options())

        # An order of several lines is at all of them.
        assert [r.position for r in results] == [
            "lines 2-3",
            "line 4",
            "lines 6-7",
            "line 8",
            "line 9",
        ]
        found = records(results)
        assert found["lines 2-3"] == Order(
            source="pos",
            external_id="T-1001",
            occurred_at=utc(2024, 9, 14, 9, 32),  # 11:32 in Madrid (CEST)
            identifiers=[
                email("ana.garcia@example.com"),
                phone("+34600123456"),
                loyalty("SOC-77"),
            ],
            channel=OrderChannel.IN_STORE,
            store_id="MAD-01",
            line_items=[
                LineItem(
                    sku="CAM-001",
                    title="Camiseta básica",
                    category="Ropa",
                    quantity=2,
                    unit_price=eur(1250),
                ),
                LineItem(
                    sku="CAL-002",
                    title="Calcetines pack 3",
                    category="Ropa",
                    quantity=1,
                    unit_price=eur(499),
                ),
            ],
            total=eur(2999),
        )
        assert keys(found["lines 2-3"]) == [
            "email:ana.garcia@example.com",
            "phone:+34600123456",
            "loyalty:SOC-77",
        ]
        assert found["line 4"] == Order(
            source="pos",
            external_id="T-1002",
            occurred_at=utc(2024, 9, 14, 10, 5),
            identifiers=[phone("+34612345678")],
            channel=OrderChannel.IN_STORE,
            store_id="MAD-01",
            line_items=[
                LineItem(
                    sku="CAF-010",
                    title="Cafetera espresso",
                    category="Hogar",
                    quantity=1,
                    unit_price=eur(104900),  # "1.049,00"
                )
            ],
            total=eur(104900),
        )
        order = found["line 9"]
        assert isinstance(order, Order)
        assert keys(order) == ["loyalty:SOC-91"]  # the invalid e-mail is dropped
        assert order.occurred_at == utc(2024, 9, 15, 7, 15)
        assert errors(results) == [
            ("lines 6-7", "line 7: quantity (column 'unidades'): not a whole number: '1,5'"),
            ("line 8", "no email, phone, customer_id or loyalty_id"),
        ]

    def test_rejected_order_keeps_all_its_lines_as_raw(self) -> None:
        results = run(PosCsvConnector(), "pos_madrid.csv", pos_options())

        rejected = next(r for r in results if isinstance(r, ItemError))
        # Under its header line, so that the dead letter can be replayed on its own.
        assert rejected.raw == (
            "ticket;fecha;tienda;referencia;descripcion;familia;unidades;precio;correo;telefono;"
            "tarjeta_socio\n"
            "T-1003;14/09/2024 12:40;MAD-02;TAZ-003;Taza;Hogar;2;3,50;luis@example.com;;\n"
            "T-1003;14/09/2024 12:40;MAD-02;PLA-004;Plato llano;Hogar;1,5;2,00;luis@example.com;;"
        )

    def test_canonical_headers_need_no_mapping(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T11:32:00+02:00,S1,SKU-1,1,9.99,EUR,ana@example.com",
            "A-1,,,SKU-2,3,1.00,,",
        )

        found = records(run(PosCsvConnector(), data, ParseOptions()))

        order = found["lines 2-3"]
        assert isinstance(order, Order)
        assert order.occurred_at == utc(2024, 9, 14, 9, 32)
        assert order.total == eur(1299)
        assert [(i.sku, i.quantity, i.unit_price.amount) for i in order.line_items] == [
            ("SKU-1", 1, 999),
            ("SKU-2", 3, 100),
        ]

    def test_only_adjacent_rows_make_one_order(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "B-2,2024-09-14T09:05:00Z,S1,SKU-2,1,7.00,EUR,bob@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-3,1,2.00,EUR,ana@example.com",
        )

        found = records(run(PosCsvConnector(), data, ParseOptions()))

        assert [(p, r.external_id) for p, r in found.items()] == [
            ("line 2", "A-1"),
            ("line 3", "B-2"),
            ("line 4", "A-1"),
        ]

    def test_total_column_wins_over_the_sum_of_lines(self) -> None:
        data = csv_bytes(
            POS_HEADER + ",total",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,2,5.00,EUR,ana@example.com,9.00",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-2,1,1.00,EUR,ana@example.com,9.00",
        )

        order = records(run(PosCsvConnector(), data, ParseOptions()))["lines 2-3"]

        assert isinstance(order, Order)
        assert order.total == eur(900)

    def test_lines_contradicting_the_order_reject_it(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S2,SKU-2,1,5.00,USD,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-3,0,5.00,EUR,ana@example.com",
        )

        assert errors(run(PosCsvConnector(), data, ParseOptions())) == [
            (
                "lines 2-4",
                "line 3: store_id 'S2' differs from 'S1' on line 2; "
                "line 3: currency 'USD' differs from 'EUR' on line 2; "
                "line 4: quantity: Input should be greater than 0",
            )
        ]

    def test_row_without_order_id_is_rejected_alone(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            ",2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,ana@example.com",
        )

        results = run(PosCsvConnector(), data, ParseOptions())

        assert errors(results) == [("line 2", "order_id: missing")]
        assert list(records(results)) == ["line 3"]

    def test_bad_order_level_values_are_reported_once(self) -> None:
        data = csv_bytes(
            POS_HEADER,
            "A-1,14.09.2024,S1,SKU-1,1,5.00,EUR,ana@example.com",
            "A-1,14.09.2024,S1,SKU-2,1,5.00,EUR,ana@example.com",
        )

        assert errors(run(PosCsvConnector(), data, ParseOptions())) == [
            ("lines 2-3", "ordered_at: timestamp '14.09.2024' is not ISO 8601")
        ]

    @pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00"])
    def test_a_time_before_year_1_in_utc_is_an_error(self, stamp: str) -> None:
        data = csv_bytes(POS_HEADER, f"A-1,{stamp},S1,SKU-1,1,5.00,EUR,ana@example.com")
        options = ParseOptions(settings={"time_zone": "Asia/Tokyo"})  # east: UTC is earlier

        assert errors(run(PosCsvConnector(), data, options)) == [
            ("line 2", f"ordered_at: timestamp {stamp!r} is outside years 1 to 9999 in UTC")
        ]

    def test_source_option_overrides_the_default(self) -> None:
        data = csv_bytes(POS_HEADER, "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,")
        data = data.replace(b",email\n", b",customer_id\n").replace(b"EUR,\n", b"EUR,C-7\n")

        order = records(run(PosCsvConnector(), data, ParseOptions(settings={"source": "tpv"})))

        assert order["line 2"].source == "tpv"
        assert keys(order["line 2"]) == ["ext:tpv:C-7"]


class TestReturnsCsv:
    def test_returns_file(self) -> None:
        options = ParseOptions(default_region="ES", settings={"time_zone": "Europe/Madrid"})

        results = run(ReturnsCsvConnector(), "returns.csv", options)

        found = records(results)
        assert found == {
            "line 2": Return(
                source="pos",
                external_id="R-501",
                occurred_at=utc(2024, 9, 20, 8, 15),
                order_external_id="T-1001",
                items=[ReturnItem(sku="CAM-001", quantity=1)],
                amount=eur(1250),
                reason="Wrong size",
            ),
            "line 3": Return(
                source="pos",
                external_id="R-502",
                occurred_at=utc(2024, 9, 21, 9, 0),
                identifiers=[email("kenji@example.com"), external("C-4410", "pos")],
                order_external_id="W-88001",
                amount=Money(amount=1500, currency="JPY"),
                reason="Damaged in transit",
            ),
        }
        assert keys(found["line 2"]) == []
        assert keys(found["line 3"]) == ["email:kenji@example.com", "ext:pos:C-4410"]
        assert errors(results) == [
            ("line 4", "order_id: missing"),
            ("line 5", "amount: '104.999' has more decimals than EUR allows"),
            ("line 6", "quantity: not a whole number: 'two'"),
        ]

    def test_currency_from_the_option(self) -> None:
        data = csv_bytes(
            "return_id,returned_at,order_id,amount",
            'R-1,2024-09-20T10:15:00Z,T-1,"1.049,50"',
        )
        options = ParseOptions(settings={"currency": "EUR", "decimal_separator": ","})

        found = records(run(ReturnsCsvConnector(), data, options))

        assert isinstance(found["line 2"], Return)
        assert found["line 2"].amount == eur(104950)

    def test_returned_quantity_must_be_positive(self) -> None:
        data = csv_bytes(
            "return_id,returned_at,order_id,quantity,amount,currency",
            "R-1,2024-09-20T10:15:00Z,T-1,0,5.00,EUR",
            "R-2,2024-09-20T10:15:00Z,T-1,2,5.00,EUR",
        )

        results = run(ReturnsCsvConnector(), data, ParseOptions())

        assert errors(results) == [("line 2", "items.0.quantity: Input should be greater than 0")]
        returned = records(results)["line 3"]
        assert isinstance(returned, Return)
        assert returned.items == [ReturnItem(quantity=2)]

    def test_without_currency_the_file_is_refused(self) -> None:
        data = csv_bytes("return_id,returned_at,order_id,amount", "R-1,2024-09-20,T-1,5.00")

        assert errors(run(ReturnsCsvConnector(), data, ParseOptions())) == [
            ("line 1", "no currency column and no currency option")
        ]


class TestServiceCsv:
    OPTIONS = ParseOptions(default_region="ES", settings={"time_zone": "Europe/Madrid"})

    def test_call_centre_log(self) -> None:
        results = run(ServiceCsvConnector(), "service_log.csv", self.OPTIONS)

        found = records(results)
        assert found["line 2"] == ServiceCase(
            source="callcentre",
            external_id="CC-9001",
            occurred_at=utc(2024, 9, 14, 7, 0),
            identifiers=[email("ana.garcia@example.com"), external("CRM-1001", "callcentre")],
            channel=ServiceChannel.PHONE,
            status=CaseStatus.SOLVED,
            priority=CasePriority.HIGH,
            subject="Late delivery",
            description=(
                "Customer called twice about order T-1001.\n"
                "Parcel stuck in the Zaragoza hub since Monday.\n"
                '"Please call me back before 6pm", she said.'
            ),
            first_response_at=utc(2024, 9, 14, 7, 5),
            solved_at=utc(2024, 9, 14, 8, 30),
            satisfaction="good",
            tags=["delivery", "late"],
            complaint=False,
        )
        assert found["line 5"] == ServiceCase(
            source="callcentre",
            external_id="CC-9002",
            occurred_at=utc(2024, 9, 15, 14, 20),
            identifiers=[phone("+34612345678")],
            channel=ServiceChannel.CHAT,
            status=CaseStatus.PENDING,
            subject="Refund request",
            description="Asks for a refund of the coffee maker.",
            tags=["billing", "Complaint"],
            complaint=True,  # tagged
        )
        assert keys(found["line 2"]) == ["email:ana.garcia@example.com", "ext:callcentre:CRM-1001"]

    def test_errors_are_at_the_first_line_of_multi_line_rows(self) -> None:
        results = run(ServiceCsvConnector(), "service_log.csv", self.OPTIONS)

        assert errors(results) == [
            (
                "line 6",
                "channel: unknown value 'fax'; expected one of email, phone, chat, web, sms, "
                "whatsapp, social, in_person, other",
            ),
            ("line 7", "complaint: expected true/false, yes/no or 1/0, not 'maybe'"),
            ("line 9", "no email, phone, customer_id or loyalty_id"),
            ("line 10", "first_response_at is earlier than when the case was opened"),
        ]

    @pytest.mark.parametrize(
        ("channel", "expected"),
        [
            ("Call", ServiceChannel.PHONE),
            ("voice", ServiceChannel.PHONE),
            ("TELEPHONE", ServiceChannel.PHONE),
            ("chat", ServiceChannel.CHAT),
            ("LiveChat", ServiceChannel.CHAT),
            ("mail", ServiceChannel.EMAIL),
            ("E-mail", ServiceChannel.EMAIL),
            ("WhatsApp", ServiceChannel.WHATSAPP),
            ("in person", ServiceChannel.IN_PERSON),
        ],
    )
    def test_channel_synonyms(self, channel: str, expected: ServiceChannel) -> None:
        data = csv_bytes(
            "case_id,opened_at,channel,email", f"C-1,2024-09-14T09:00:00Z,{channel},a@b.es"
        )

        case = records(run(ServiceCsvConnector(), data, ParseOptions()))["line 2"]

        assert isinstance(case, ServiceCase)
        assert case.channel is expected
        assert case.status is CaseStatus.OPEN
        assert case.priority is CasePriority.NORMAL

    def test_complaint_tags_come_from_the_options(self) -> None:
        data = csv_bytes(
            "case_id,opened_at,channel,tags,complaint,email",
            "C-1,2024-09-14T09:00:00Z,chat,billing | Queja,,a@b.es",
            "C-2,2024-09-14T09:00:00Z,chat,complaint,,a@b.es",
            "C-3,2024-09-14T09:00:00Z,chat,,1,a@b.es",
        )
        options = ParseOptions(complaint_tags=frozenset({"queja"}))

        found = records(run(ServiceCsvConnector(), data, options))

        assert [(c.tags, c.complaint) for c in found.values() if isinstance(c, ServiceCase)] == [
            (["billing", "Queja"], True),
            (["complaint"], False),
            ([], True),
        ]


class TestCustomersCsv:
    def test_crm_export_with_bom(self) -> None:
        results = run(
            CustomersCsvConnector(), "crm_customers.csv", ParseOptions(default_region="ES")
        )

        found = records(results)
        assert found["line 2"] == Person(
            source="crm",
            external_id="CRM-1001",
            occurred_at=utc(2019, 5, 10, 8, 0),
            updated_at=utc(2024, 9, 1, 12, 0),
            identifiers=[
                email("ana.garcia@example.com"),
                phone("+34600123456"),
                external("CRM-1001", "crm"),
                loyalty("SOC-77"),
            ],
            given_name="Ana",
            family_name="García",
            full_name="Ana García López",
            addresses=[
                PostalAddress(
                    line1="Calle de Alcalá 12",
                    line2="3º B",
                    city="Madrid",
                    region="Madrid",
                    postal_code="28014",
                    country="ES",
                )
            ],
            birth_date=dt.date(1985, 3, 2),
            language="es",
            country="ES",
            time_zone="Europe/Madrid",
        )
        assert keys(found["line 2"]) == [
            "email:ana.garcia@example.com",
            "phone:+34600123456",
            "ext:crm:CRM-1001",
            "loyalty:SOC-77",
        ]
        # An invalid e-mail address is dropped; the customer id still identifies the person.
        assert keys(found["line 3"]) == ["ext:crm:CRM-1002"]
        assert found["line 3"].occurred_at == utc(2020, 2, 1, 8, 30)
        # Without a customer id, the loyalty id is the person's id in the source.
        assert found["line 4"].external_id == "SOC-91"
        assert keys(found["line 4"]) == ["phone:+34611222333", "loyalty:SOC-91"]
        assert errors(results) == [
            ("line 5", "customer_id: missing, and no loyalty_id either"),
            ("line 6", "birth_date: implausible birth date 1850-01-01"),
            ("line 7", "updated_at is earlier than occurred_at"),
        ]

    def test_an_address_needs_its_country(self) -> None:
        data = csv_bytes(
            "customer_id,address_line1,city,created_at",
            "C-1,Calle Mayor 1,Madrid,2020-01-01T00:00:00Z",
        )

        assert errors(run(CustomersCsvConnector(), data, ParseOptions())) == [
            ("line 2", "country: missing (an address needs its country)")
        ]

    def test_bom_is_harmless_with_an_explicit_utf8_encoding(self) -> None:
        options = ParseOptions(default_region="ES", settings={"encoding": "utf-8"})

        results = run(CustomersCsvConnector(), "crm_customers.csv", options)

        assert list(records(results)) == ["line 2", "line 3", "line 4"]

    def test_birth_date_in_the_date_format_option(self) -> None:
        data = csv_bytes(
            "customer_id,birth_date,created_at",
            "C-1,02/03/1985,2020-01-01T00:00:00Z",
            "C-2,1985-03-02,2020-01-01T00:00:00Z",
        )
        options = ParseOptions(settings={"date_format": "%d/%m/%Y"})

        results = run(CustomersCsvConnector(), data, options)

        person = records(results)["line 2"]
        assert isinstance(person, Person)
        assert person.birth_date == dt.date(1985, 3, 2)
        assert errors(results) == [
            ("line 3", "birth_date: date '1985-03-02' is not format '%d/%m/%Y'")
        ]


class TestSurveysCsv:
    def test_messy_survey_export(self) -> None:
        results = run(SurveysCsvConnector(), "surveys_messy.csv", ParseOptions(default_region="ES"))

        found = records(results)
        assert found == {
            "line 2": SurveyResponse(
                source="surveys",
                external_id="S-1",
                occurred_at=utc(2024, 9, 15, 8, 0),
                identifiers=[email("ana.garcia@example.com")],
                survey_type=SurveyType.NPS,
                score=9,
                comment="Great service, fast checkout",
                touchpoint="store",
            ),
            "line 7": SurveyResponse(
                source="typeform",
                external_id="S-6",
                occurred_at=utc(2024, 9, 15, 8, 25),
                identifiers=[external("C-4410", "typeform")],
                survey_type=SurveyType.CSAT,
                score=5,
                touchpoint="delivery",
            ),
            "line 9": SurveyResponse(
                source="surveys",
                external_id="S-8",
                occurred_at=utc(2024, 9, 15, 8, 35),
                identifiers=[phone("+34612345678")],
                survey_type=SurveyType.CES,
                score=2,
            ),
        }
        assert keys(found["line 7"]) == ["ext:typeform:C-4410"]
        assert errors(results) == [
            ("line 3", "no email, phone or customer_id"),
            ("line 4", "score: 11 is outside 0..10 for nps"),
            ("line 5", "responded_at: timestamp 'yesterday' is not ISO 8601"),
            ("line 6", "type: unknown value 'foo'; expected one of nps, csat, ces"),
            ("line 8", "score: not a whole number: '8.5'"),
        ]

    def test_source_option_is_the_default_source(self) -> None:
        data = csv_bytes(
            "response_id,responded_at,email,source,type,score",
            "S-1,2024-09-15T08:00:00Z,a@b.es,,nps,10",
            "S-2,2024-09-15T08:00:00Z,a@b.es,Medallia,nps,0",
        )
        options = ParseOptions(settings={"source": "delighted"})

        found = records(run(SurveysCsvConnector(), data, options))

        assert [r.source for r in found.values()] == ["delighted", "medallia"]

    def test_every_bad_field_of_a_row_is_named(self) -> None:
        data = csv_bytes(
            "response_id,responded_at,email,type,score",
            "S-1,,a@b.es,,ten",
        )

        assert errors(run(SurveysCsvConnector(), data, ParseOptions())) == [
            ("line 2", "type: missing; score: not a whole number: 'ten'; responded_at: missing")
        ]


class TestEncoding:
    def test_wrong_encoding_rejects_only_the_rows_it_garbles(self) -> None:
        results = run(CustomersCsvConnector(), "customers_latin1.csv", ParseOptions())

        assert errors(results) == [
            ("line 2", "not utf-8: undecodable bytes in columns 'first_name', 'last_name'")
        ]
        rejected = results[0]
        assert isinstance(rejected, ItemError)
        assert (
            rejected.raw == "customer_id,first_name,last_name,email,country,created_at\n"
            "CRM-2001,Jos\ufffd,Mu\ufffdoz,jose@example.com,ES,2024-01-02T10:00:00Z"
        )
        assert list(records(results)) == ["line 3"]

    def test_encoding_option(self) -> None:
        options = ParseOptions(settings={"encoding": "latin-1"})

        found = records(run(CustomersCsvConnector(), "customers_latin1.csv", options))

        assert [(p.given_name, p.family_name) for p in found.values() if isinstance(p, Person)] == [
            ("José", "Muñoz"),
            ("John", "Smith"),
        ]

    def test_undecodable_bytes_in_an_order_reject_the_order(self) -> None:
        data = csv_bytes(POS_HEADER, "A-1,2024-09-14T09:00:00Z,S1,SKU-1,1,5.00,EUR,a@b.es")
        data += "A-1,2024-09-14T09:00:00Z,S1,Café,1,5.00,EUR,a@b.es\n".encode("cp1252")

        assert errors(run(PosCsvConnector(), data, ParseOptions())) == [
            ("lines 2-3", "line 3: not utf-8: undecodable bytes in column 'sku'")
        ]

    def test_other_encodings_are_named(self) -> None:
        data = csv_bytes("customer_id,created_at", "C-\u00e9,2020-01-01T00:00:00Z")
        data = data.replace("\u00e9".encode(), b"\x80")
        options = ParseOptions(settings={"encoding": "ascii"})

        assert errors(run(CustomersCsvConnector(), data, options)) == [
            ("line 2", "not ascii: undecodable bytes in column 'customer_id'")
        ]


class TestDelimiter:
    def test_sniffs_the_delimiter_from_the_header(self) -> None:
        results = run(PosCsvConnector(), "pos_madrid.csv", pos_options(delimiter="auto"))

        assert list(records(results)) == ["lines 2-3", "line 4", "line 9"]

    def test_sniffs_tabs(self) -> None:
        data = csv_bytes(
            "case_id\topened_at\tchannel\temail", "C-1\t2024-09-14T09:00Z\tcall\ta@b.es"
        )

        found = records(
            run(ServiceCsvConnector(), data, ParseOptions(settings={"delimiter": "auto"}))
        )

        assert list(found) == ["line 2"]

    def test_a_row_split_differently_from_the_header_is_refused(self) -> None:
        data = csv_bytes(
            "return_id,returned_at,order_id,amount,currency",
            "R-1,2024-09-20T10:15:00Z,T-1,12,50,EUR",
            "R-2,2024-09-20T10:15:00Z,T-1",
            "R-3,2024-09-20T10:15:00Z,T-1,12.50,EUR,,",
        )

        results = run(ReturnsCsvConnector(), data, ParseOptions())

        assert errors(results) == [
            ("line 2", "6 fields where the header has 5"),
            ("line 3", "3 fields where the header has 5"),
        ]
        assert list(records(results)) == ["line 4"]  # trailing empty fields are harmless

    def test_wrong_delimiter_leaves_the_header_unusable(self) -> None:
        options = ParseOptions(mapping=POS_COLUMNS, settings={"currency": "EUR"})

        results = run(PosCsvConnector(), "pos_madrid.csv", options)

        assert len(results) == 1
        assert errors(results) == [
            (
                "line 1",
                "missing columns: 'ticket' (order_id), 'fecha' (ordered_at), 'tienda' (store_id), "
                "'referencia' (sku), 'descripcion' (title), 'familia' (category), "
                "'unidades' (quantity), 'precio' (unit_price), 'correo' (email), "
                "'telefono' (phone), 'tarjeta_socio' (loyalty_id); "
                "no column for any of email, phone, customer_id, loyalty_id",
            )
        ]


class TestHeaderAndMapping:
    def test_mapped_column_missing_from_the_header_stops_the_file(self) -> None:
        options = ParseOptions(
            mapping={**POS_COLUMNS, "store_id": "sucursal", "customer_id": "cliente"},
            settings=POS_OPTIONS,
        )

        results = run(PosCsvConnector(), "pos_madrid.csv", options)

        assert len(results) == 1
        assert errors(results) == [
            ("line 1", "missing columns: 'sucursal' (store_id), 'cliente' (customer_id)")
        ]
        assert isinstance(results[0], ItemError)
        assert results[0].raw.startswith("ticket;fecha;tienda;")

    def test_required_columns_are_checked_without_a_mapping(self) -> None:
        results = run(
            SurveysCsvConnector(), csv_bytes("id,date,score", "1,2024-01-01,9"), ParseOptions()
        )

        assert errors(results) == [
            (
                "line 1",
                "missing columns: 'response_id', 'responded_at', 'type'; "
                "no column for any of email, phone, customer_id",
            )
        ]

    def test_mapping_naming_an_unknown_field_stops_the_file(self) -> None:
        options = ParseOptions(mapping={"emial": "correo"})

        results = run(SurveysCsvConnector(), "surveys_messy.csv", options)

        assert errors(results) == [
            (
                "line 1",
                "the mapping names unknown fields 'emial'; known: response_id, responded_at, "
                "email, phone, customer_id, source, type, score, comment, touchpoint, "
                "contact_requested",
            )
        ]

    def test_invalid_options_stop_the_file(self) -> None:
        options = ParseOptions(settings={"time_zone": "Mars/Olympus", "encoding": "klingon"})

        assert errors(run(ReturnsCsvConnector(), "returns.csv", options)) == [
            (
                "options",
                "invalid options: time_zone: unknown IANA time zone 'Mars/Olympus'; "
                "encoding: unknown text encoding 'klingon'",
            )
        ]

    def test_empty_file(self) -> None:
        assert errors(run(ReturnsCsvConnector(), b"\n\n", ParseOptions())) == [
            ("line 1", "no header line: the file is empty")
        ]

    def test_header_only(self) -> None:
        assert (
            run(ServiceCsvConnector(), csv_bytes("case_id,opened_at,channel,phone"), ParseOptions())
            == []
        )

    def test_blank_rows_are_skipped_and_counted(self) -> None:
        data = (
            b"case_id,opened_at,channel,email\r\n"
            b"\r\n"
            b",,,\r\n"
            b"C-1,2024-09-14T09:00Z,chat,a@b.es\r\n"
            b"\r\n"
        )

        assert list(records(run(ServiceCsvConnector(), data, ParseOptions()))) == ["line 4"]

    def test_empty_cells_count_as_missing(self) -> None:
        data = csv_bytes(
            "case_id,opened_at,channel,status,email", "C-1,2024-09-14T09:00Z,chat,  ,a@b.es"
        )

        case = records(run(ServiceCsvConnector(), data, ParseOptions()))["line 2"]

        assert isinstance(case, ServiceCase)
        assert case.status is CaseStatus.OPEN


class TestStreaming:
    class _Counting(io.RawIOBase):
        """A byte stream that tells how much has been read from it."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)
            self.read_bytes = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            self.read_bytes += len(chunk)
            return len(chunk)

    def test_first_order_comes_before_the_file_is_read(self) -> None:
        lines = [
            f"A-{n // 3},2024-09-14T09:00:00Z,S1,SKU-{n},1,5.00,EUR,a@b.es" for n in range(30_000)
        ]
        data = csv_bytes(POS_HEADER, *lines)
        raw = self._Counting(data)

        results = PosCsvConnector().parse(io.BufferedReader(raw), ParseOptions())
        first = next(results)

        assert isinstance(first, Parsed)
        assert isinstance(first.record, Order)
        assert len(first.record.line_items) == 3
        assert raw.read_bytes < len(data) // 10
        assert sum(1 for _ in results) == 9_999

    def test_an_overlong_line_is_cut_and_its_row_rejected(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("connectors._csv.MAX_LINE_CHARS", 60)
        data = csv_bytes(
            "case_id,opened_at,channel,subject,email",
            "C-1,2024-09-14T09:00Z,chat," + "x" * 200 + ",a@b.es",
            "C-2,2024-09-14T09:00Z,chat,short,a@b.es",
        )

        results = run(ServiceCsvConnector(), data, ParseOptions())

        assert errors(results) == [
            ("line 2", "4 fields where the header has 5; a line longer than 60 characters")
        ]
        assert list(records(results)) == ["line 3"]

    def test_a_field_over_the_csv_limit_is_an_error_and_reading_goes_on(self) -> None:
        data = csv_bytes(
            "case_id,opened_at,channel,description,email",
            'C-1,2024-09-14T09:00Z,chat,"' + "y" * 200_000 + '",a@b.es',
            "C-2,2024-09-14T09:00Z,chat,short,a@b.es",
        )

        results = run(ServiceCsvConnector(), data, ParseOptions())

        assert errors(results) == [
            ("line 2", "unreadable CSV: field larger than field limit (131072)")
        ]
        assert list(records(results)) == ["line 3"]

    def test_the_callers_stream_stays_open(self) -> None:
        stream = io.BytesIO(csv_bytes("case_id,opened_at,channel,email"))

        list(ServiceCsvConnector().parse(stream, ParseOptions()))

        assert not stream.closed
