"""``shopify-customers``, and a customer as a person with a verified e-mail address."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import Ignored, ItemError
from schemas import ConsentChange, ContactPointStatus, Identifier, IdentifierType, Person
from schemas.records import ChangeOrigin, ContactChannel, ContactPointState
from tests.connectors.shopify.helpers import (
    CUSTOMERS,
    ORDERS,
    a_customer,
    an_order,
    email_consent,
    errors,
    parse_file,
    parse_values,
    records,
    summary,
    utc,
)


class TestPerson:
    def test_address_with_an_invalid_country_is_left_out(self) -> None:
        person = records(parse_file(ORDERS, "orders.jsonl"), Person)[0]
        assert person.external_id == "6000000002"
        assert person.addresses == []  # "UK" is no ISO 3166 code

    def test_address_without_a_street_is_left_out(self) -> None:
        customer = a_customer(default_address={"city": "Madrid", "country_code": "ES"})
        person = records(parse_values(ORDERS, [an_order(customer=customer)]), Person)[0]
        assert person.addresses == []

    def test_updated_before_created_is_no_revision(self) -> None:
        customer = a_customer(created_at="2024-02-01T00:00:00Z", updated_at="2024-01-01T00:00:00Z")
        person = records(parse_values(ORDERS, [an_order(customer=customer)]), Person)[0]
        assert person.occurred_at == utc(2024, 2, 1)
        assert person.updated_at is None

    def test_customer_without_id_yields_only_the_order(self) -> None:
        customer = a_customer(email_marketing_consent=email_consent("subscribed"))
        del customer["id"]
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert summary(results) == [("line 1", "order")]


class TestVerifiedEmail:
    def test_verified_email_becomes_a_contact_point_status(self) -> None:
        status = records(parse_file(ORDERS, "orders.json"), ContactPointStatus)[0]
        assert status == ContactPointStatus(
            source="shopify",
            external_id="207119551:email:caa7822525c07341082aa1fdde58f99c",
            occurred_at=utc(2024, 1, 5, 15),  # the customer's created_at
            updated_at=utc(2024, 3, 13, 20, 9, 55),  # its updated_at: the revision
            identifiers=[
                Identifier(type=IdentifierType.EXTERNAL, value="207119551", source="shopify"),
                Identifier(type=IdentifierType.EMAIL, value="bob.norman@mail.example.com"),
            ],
            origin=ChangeOrigin.IMPORT,
            evidence="shopify verified_email=true",
            channel=ContactChannel.EMAIL,
            contact_point="bob.norman@mail.example.com",
            status=ContactPointState.VERIFIED,
        )

    def test_the_same_customer_again_is_a_duplicate(self) -> None:
        first, again = records(parse_file(ORDERS, "orders.json"), ContactPointStatus)
        assert first == again
        parsed_twice = records(parse_file(ORDERS, "orders.json"), ContactPointStatus)
        assert [s.record_id for s in parsed_twice] == [first.record_id, again.record_id]

    def test_a_later_customer_update_is_a_revision_of_the_same_record(self) -> None:
        before = a_customer(verified_email=True, email="Ana@Example.com")
        after = a_customer(
            verified_email=True, email="ana@example.com ", updated_at="2024-06-01T09:00:00Z"
        )
        results = parse_values(ORDERS, [an_order(1, customer=before), an_order(2, customer=after)])
        old, new = records(results, ContactPointStatus)
        assert (
            old.record_id
            == new.record_id
            == ("shopify:contact_point_status:42:email:8e43ca37701228e74983efdbd0cff5c1")
        )
        assert old.occurred_at == new.occurred_at == utc(2024, 1, 1, 9)
        assert (old.revision, new.revision) == (utc(2024, 4, 1, 9), utc(2024, 6, 1, 9))

    def test_without_customer_dates_it_is_dated_by_the_order(self) -> None:
        customer = a_customer(verified_email=True, created_at=None, updated_at=None)
        status = records(parse_values(ORDERS, [an_order(customer=customer)]), ContactPointStatus)
        assert [(s.occurred_at, s.updated_at) for s in status] == [(utc(2024, 5, 1, 10), None)]

    @pytest.mark.parametrize("verified", [False, None, "true"])
    def test_only_a_verified_email_is_stated(self, verified: Any) -> None:
        customer = a_customer(verified_email=verified)
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert summary(results) == [("line 1", "order"), ("line 1", "person")]

    def test_an_invalid_address_is_no_contact_point(self) -> None:
        customer = a_customer(verified_email=True, email="ana@", phone="+34600123456")
        results = parse_values(ORDERS, [an_order(email=None, customer=customer)])
        assert errors(results) == []
        assert records(results, ContactPointStatus) == []


class TestCustomers:
    """``shopify-customers``: the Customer resource and the consent topics' bodies, where a
    customer's consent changes reach the shop's systems without an order."""

    def test_declarations(self) -> None:
        assert CUSTOMERS.name == "shopify-customers"
        assert set(CUSTOMERS.kinds) == {"person", "consent_change", "contact_point_status"}

    def test_a_customer_is_a_person_with_consents_and_a_verified_address(self) -> None:
        customer = a_customer(
            first_name="Ana",
            last_name="García",
            verified_email=True,
            email_marketing_consent=email_consent("unsubscribed"),
        )
        results = parse_values(CUSTOMERS, [{"customer": customer}])
        assert summary(results) == [
            ("line 1", "person"),
            ("line 1", "contact_point_status"),
            ("line 1", "consent_change"),
        ]
        [person] = records(results, Person)
        assert (person.external_id, person.given_name, person.updated_at) == (
            "42",
            "Ana",
            utc(2024, 4, 1, 9),
        )
        [consent] = records(results, ConsentChange)
        # The same record an order carrying this customer gives: one change, stored once.
        from_order = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)
        assert [consent] == from_order
        assert consent.status == "opted_out"

    def test_an_email_consent_update_body(self) -> None:
        body = {
            "customer_id": 42,
            "email_address": "Ana@Example.com",
            "email_marketing_consent": {
                "state": "subscribed",
                "opt_in_level": "confirmed_opt_in",
                "consent_updated_at": "2024-06-01T10:00:00-04:00",
                "consent_collected_from": "SHOPIFY",
            },
        }
        [consent] = records(parse_values(CUSTOMERS, [body]), ConsentChange)
        assert (consent.external_id, consent.status, consent.contact_point) == (
            "42:email:marketing:2024-06-01T14:00:00Z",
            "opted_in",
            "ana@example.com",
        )
        assert [i.key for i in consent.identifiers] == ["ext:shopify:42", "email:ana@example.com"]

    def test_an_sms_consent_update_body(self) -> None:
        body = {
            "id": 42,
            "phone": "+34 611 22 33 44",
            "sms_marketing_consent": {
                "state": "unsubscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": "2024-06-01T10:00:00Z",
                "consent_collected_from": "OTHER",
            },
        }
        [consent] = records(parse_values(CUSTOMERS, [body]), ConsentChange)
        assert (consent.channel, consent.status, consent.contact_point) == (
            "sms",
            "opted_out",
            "+34611223344",
        )

    @pytest.mark.parametrize(
        ("body", "reason"),
        [
            (
                {"id": 42},
                "a customers/delete body names only customer 42: the records already stored "
                "are kept",
            ),
            (
                {"shop_id": 1, "customer": {"id": 42}, "orders_to_redact": [1]},
                "a customers/redact request: erasing a customer is not done by an import; the "
                "records already stored are kept (sent to /webhooks/shopify, it becomes an "
                "erasure request)",
            ),
            (
                {"customer_id": 42, "email_address": "a@example.com"},
                "an e-mail consent update of customer 42 stating no consent",
            ),
            (
                {"customer_id": 42, "email_marketing_consent": email_consent("subscribed", None)},
                "an e-mail consent update of customer 42 without consent_updated_at (never "
                "asked): it changes nothing",
            ),
            (
                {"id": 42, "email": "a@example.com", "tags": "vip"},
                "customer 42: nothing c360 reads (no times, no timed consent)",
            ),
        ],
    )
    def test_bodies_with_nothing_to_read_are_ignored_with_the_reason(
        self, body: dict[str, Any], reason: str
    ) -> None:
        assert parse_values(CUSTOMERS, [body]) == [Ignored(position="line 1", reason=reason)]

    def test_a_broken_consent_rejects_the_item(self) -> None:
        customer = a_customer(
            email_marketing_consent={"state": "maybe", "consent_updated_at": "2024-01-01T00:00:00Z"}
        )
        assert errors(parse_values(CUSTOMERS, [customer])) == [
            ("line 1", "customer.email_marketing_consent.state: unknown consent state 'maybe'")
        ]
        (error,) = parse_values(CUSTOMERS, [{"customer": customer}])
        assert isinstance(error, ItemError)
        assert error.names == ("ext:shopify:42",)  # whom it is about, for an erasure
