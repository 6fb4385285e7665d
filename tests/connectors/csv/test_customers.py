"""``customers-csv``: CRM and loyalty master data."""

from __future__ import annotations

import datetime as dt

from connectors import ItemError
from connectors.csv import CustomersCsvConnector
from schemas import Person
from schemas.records import PostalAddress
from tests.connectors.csv.helpers import (
    csv_bytes,
    email,
    errors,
    external,
    keys,
    loyalty,
    phone,
    records,
    run,
    utc,
)
from tests.helpers import parse_options


class TestCustomersCsv:
    def test_crm_export_with_bom(self) -> None:
        results = run(
            CustomersCsvConnector(), "crm_customers.csv", parse_options(default_region="ES")
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

        assert errors(run(CustomersCsvConnector(), data, parse_options())) == [
            ("line 2", "country: missing (an address needs its country)")
        ]

    def test_a_rejected_row_names_whom_it_is_about_by_their_ids(self) -> None:
        # An erasure finds its dead letter by them (the text has no address or number).
        data = csv_bytes(
            "customer_id,loyalty_id,birth_date,created_at",
            "C-1,L-77,not a date,2020-01-01T00:00:00Z",
        )

        (error,) = [r for r in run(CustomersCsvConnector(), data, parse_options())]

        assert isinstance(error, ItemError)
        assert set(error.names) == {"ext:crm:C-1", "loyalty:L-77"}

    def test_bom_is_harmless_with_an_explicit_utf8_encoding(self) -> None:
        options = parse_options(default_region="ES", settings={"encoding": "utf-8"})

        results = run(CustomersCsvConnector(), "crm_customers.csv", options)

        assert list(records(results)) == ["line 2", "line 3", "line 4"]

    def test_birth_date_in_the_date_format_option(self) -> None:
        data = csv_bytes(
            "customer_id,birth_date,created_at",
            "C-1,02/03/1985,2020-01-01T00:00:00Z",
            "C-2,1985-03-02,2020-01-01T00:00:00Z",
        )
        options = parse_options(settings={"date_format": "%d/%m/%Y"})

        results = run(CustomersCsvConnector(), data, options)

        person = records(results)["line 2"]
        assert isinstance(person, Person)
        assert person.birth_date == dt.date(1985, 3, 2)
        assert errors(results) == [
            ("line 3", "birth_date: date '1985-03-02' is not format '%d/%m/%Y'")
        ]
