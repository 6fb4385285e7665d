"""``customers-csv``: CRM and loyalty master data, one row per person."""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.csv._base import RowConnector
from connectors.csv._rows import CsvSpec, Row
from connectors.csv._values import Values
from schemas import Person, RecordKind


class CustomersCsvConnector(RowConnector):
    """Customer master data, one row per person.

    Columns: ``customer_id, loyalty_id, first_name, last_name, full_name, email, phone,
    address_line1, address_line2, city, region, postal_code, country, birth_date, language,
    time_zone, owner, created_at, updated_at``. The person's id in the source is
    ``customer_id``, or ``loyalty_id`` when there is none; ``birth_date`` is ISO 8601 or in the
    ``date_format`` option. An address is kept when it has a first line (its country is the
    row's ``country``). A phone number without a country code is read in the row's
    ``country``, else in the default region. ``owner`` names the customer's account owner (an
    account manager), to whom their follow-ups are assigned.
    """

    name: ClassVar[str] = "customers-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.PERSON,)
    default_source: ClassVar[str] = "crm"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "customer_id",
            "loyalty_id",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "birth_date",
            "language",
            "time_zone",
            "owner",
            "created_at",
            "updated_at",
        ),
        required=("created_at",),
        any_of=(("customer_id", "loyalty_id"),),
    )

    model: ClassVar[type[Person]] = Person

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        external_id = values.text("customer_id") or values.text("loyalty_id")
        if external_id is None:
            values.fail("customer_id", "missing, and no loyalty_id either")
        line1 = values.text("address_line1")
        if line1 is not None and values.text("country") is None:
            values.fail("country", "missing (an address needs its country)")
        address = {
            "line1": line1,
            "line2": values.text("address_line2"),
            "city": values.text("city"),
            "region": values.text("region"),
            "postal_code": values.text("postal_code"),
            "country": values.text("country"),
        }
        data = {
            "source": values.source,
            "external_id": external_id,
            "occurred_at": values.timestamp("created_at", required=True),
            "updated_at": values.timestamp("updated_at"),
            # A CRM's national numbers are the customer's country's, not the default region's.
            "identifiers": values.identifiers(region=values.country()),
            "given_name": values.text("first_name"),
            "family_name": values.text("last_name"),
            "full_name": values.text("full_name"),
            "addresses": [address] if line1 else [],
            "birth_date": values.date("birth_date"),
            "language": values.text("language"),
            "country": values.text("country"),
            "time_zone": values.text("time_zone"),
            "account_owner": values.text("owner"),
        }
        return data
