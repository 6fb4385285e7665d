"""The Shopify connectors: orders (with their customers and consents) and refunds, no store."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from connectors.base import Connector, Ignored, ItemError, Parsed, ParseOptions, ParseResult
from connectors.shopify import (
    ShopifyCustomersConnector,
    ShopifyOrdersConnector,
    ShopifyRefundsConnector,
)
from schemas import (
    ConsentChange,
    ContactPointStatus,
    Identifier,
    IdentifierType,
    Money,
    Order,
    Person,
    RecordKind,
    Return,
)
from schemas.records import (
    ChangeOrigin,
    ContactChannel,
    ContactPointState,
    LineItem,
    PostalAddress,
    ReturnItem,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "shopify"
ORDERS = ShopifyOrdersConnector()
REFUNDS = ShopifyRefundsConnector()

R = TypeVar("R", Order, Person, ConsentChange, ContactPointStatus, Return)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def parse_file(
    connector: Connector, name: str, options: ParseOptions | None = None
) -> list[ParseResult]:
    with (FIXTURES / name).open("rb") as stream:
        return list(connector.parse(stream, options or ParseOptions()))


def parse_values(
    connector: Connector, values: Iterable[Any], options: ParseOptions | None = None
) -> list[ParseResult]:
    """Parse Python values written as JSON lines."""
    data = "".join(json.dumps(value) + "\n" for value in values).encode()
    return list(connector.parse(io.BytesIO(data), options or ParseOptions()))


def records(results: Iterable[ParseResult], kind: type[R]) -> list[R]:
    found = [r.record for r in results if isinstance(r, Parsed)]
    return [record for record in found if isinstance(record, kind)]


def errors(results: Iterable[ParseResult]) -> list[tuple[str, str]]:
    return [(r.position, r.reason) for r in results if isinstance(r, ItemError)]


def summary(results: Iterable[ParseResult]) -> list[tuple[str, str]]:
    """Each result as (position, kind of record or "error")."""
    return [(r.position, r.record.kind if isinstance(r, Parsed) else "error") for r in results]


def an_order(order_id: int = 1, **overrides: Any) -> dict[str, Any]:
    """A minimal valid Shopify order resource."""
    return {
        "id": order_id,
        "name": f"#{order_id}",
        "email": "ana@example.com",
        "created_at": "2024-05-01T12:00:00+02:00",
        "updated_at": "2024-05-01T12:00:00+02:00",
        "currency": "EUR",
        "total_price": "25.00",
        "source_name": "web",
        "line_items": [
            {"id": 11, "sku": "SKU-1", "title": "Thing", "price": "25.00", "quantity": 1}
        ],
        **overrides,
    }


def a_customer(customer_id: int = 42, **overrides: Any) -> dict[str, Any]:
    return {
        "id": customer_id,
        "email": "ana@example.com",
        "phone": None,
        "created_at": "2024-01-01T09:00:00Z",
        "updated_at": "2024-04-01T09:00:00Z",
        **overrides,
    }


def email_consent(state: str, at: str | None = "2024-03-01T08:00:00-05:00") -> dict[str, Any]:
    return {"state": state, "opt_in_level": "single_opt_in", "consent_updated_at": at}


def a_refund(refund_id: int = 9, **overrides: Any) -> dict[str, Any]:
    return {
        "id": refund_id,
        "order_id": 1,
        "created_at": "2024-05-03T10:00:00Z",
        "note": None,
        "refund_line_items": [
            {
                "id": 91,
                "line_item_id": 11,
                "quantity": 1,
                "subtotal": "25.00",
                "line_item": {"sku": "SKU-1", "price": "25.00"},
            }
        ],
        "transactions": [
            {"kind": "refund", "status": "success", "currency": "EUR", "amount": "25.00"}
        ],
        **overrides,
    }


class TestDeclarations:
    def test_orders_connector_names_its_kinds(self) -> None:
        connector: Connector = ShopifyOrdersConnector()
        assert connector.name == "shopify-orders"
        assert connector.kinds == (
            RecordKind.ORDER,
            RecordKind.PERSON,
            RecordKind.CONSENT_CHANGE,
            RecordKind.CONTACT_POINT_STATUS,
        )

    def test_refunds_connector_names_its_kind(self) -> None:
        connector: Connector = ShopifyRefundsConnector()
        assert connector.name == "shopify-refunds"
        assert connector.kinds == (RecordKind.RETURN,)


class TestRestResponse:
    """``orders.json``: a pretty-printed ``{"orders": [...]}`` REST response, streamed."""

    def test_every_order_yields_its_order_customer_and_consents(self) -> None:
        assert summary(parse_file(ORDERS, "orders.json")) == [
            ("item 1", "order"),
            ("item 1", "person"),
            ("item 1", "consent_change"),  # e-mail subscribed; SMS not_subscribed yields none
            ("item 1", "contact_point_status"),  # verified_email
            ("item 2", "order"),
            ("item 2", "person"),
            ("item 2", "consent_change"),
            ("item 2", "consent_change"),
            ("item 3", "order"),
            ("item 3", "person"),
            ("item 3", "consent_change"),
            ("item 3", "contact_point_status"),
        ]

    def test_web_order(self) -> None:
        order = records(parse_file(ORDERS, "orders.json"), Order)[0]
        assert order.record_id == "shopify:order:450789469"
        assert order.occurred_at == utc(2024, 3, 13, 20, 9, 54)
        assert order.updated_at == utc(2024, 3, 13, 20, 9, 55)
        assert order.order_number == "#1001"
        assert order.channel == "online"
        assert order.store_id is None
        assert order.cancelled_at is None
        assert order.total == Money(amount=59894, currency="USD")
        assert order.line_items == [
            LineItem(
                line_id="466157049",
                sku="IPOD2008GREEN",
                title="IPod Nano - 8gb",
                category="Cult Products",
                quantity=1,
                unit_price=Money(amount=19900, currency="USD"),
            ),
            LineItem(
                line_id="518995019",
                sku="IPOD2008BLACK",
                title="IPod Nano - 8gb",
                category=None,
                quantity=2,
                unit_price=Money(amount=19900, currency="USD"),
            ),
        ]

    def test_web_order_identifiers_are_normalised_and_deduplicated(self) -> None:
        order = records(parse_file(ORDERS, "orders.json"), Order)[0]
        # Order and customer both give the e-mail (in two spellings) and the phone (in two).
        assert [i.key for i in order.identifiers] == [
            "email:bob.norman@mail.example.com",
            "phone:+16135550142",
            "ext:shopify:207119551",
        ]

    def test_pos_order_is_in_store_at_its_location(self) -> None:
        order = records(parse_file(ORDERS, "orders.json"), Order)[1]
        assert order.external_id == "450789470"
        assert order.channel == "in_store"
        assert order.store_id == "905684977"
        assert order.occurred_at == utc(2024, 3, 14, 11, 15)
        assert order.total == Money(amount=3600, currency="EUR")
        assert [(i.sku, i.quantity, i.unit_price.amount) for i in order.line_items] == [
            ("MUG-01", 3, 1200),
            (None, 1, 0),  # an empty SKU is no SKU
        ]
        assert [i.key for i in order.identifiers] == [
            "email:ana.garcia@example.com",
            "phone:+34600123456",
            "ext:shopify:115310627",
        ]

    def test_customer_becomes_a_person(self) -> None:
        person = records(parse_file(ORDERS, "orders.json"), Person)[0]
        assert person.record_id == "shopify:person:207119551"
        assert person.occurred_at == utc(2024, 1, 5, 15)
        assert person.updated_at == utc(2024, 3, 13, 20, 9, 55)
        assert person.given_name == "Bob"
        assert person.family_name == "Norman"
        assert person.addresses == [
            PostalAddress(
                line1="Chestnut Street 92",
                line2="Apt 3",
                city="Louisville",
                region="Kentucky",
                postal_code="40202",
                country="US",
            )
        ]
        assert [i.key for i in person.identifiers] == [
            "ext:shopify:207119551",
            "email:bob.norman@mail.example.com",
            "phone:+16135550142",
        ]

    def test_subscribed_email_consent(self) -> None:
        consent = records(parse_file(ORDERS, "orders.json"), ConsentChange)[0]
        assert consent.external_id == "207119551:email:marketing:2024-01-05T15:00:00Z"
        assert consent.occurred_at == utc(2024, 1, 5, 15)
        assert consent.updated_at is None
        assert consent.channel == "email"
        assert consent.purpose == "marketing"
        assert consent.status == "opted_in"
        assert consent.contact_point == "bob.norman@mail.example.com"
        assert consent.evidence == (
            "shopify email_marketing_consent state=subscribed opt_in_level=confirmed_opt_in"
        )
        assert [i.key for i in consent.identifiers] == [
            "ext:shopify:207119551",
            "email:bob.norman@mail.example.com",
        ]

    def test_unsubscribed_email_and_subscribed_sms(self) -> None:
        consents = records(parse_file(ORDERS, "orders.json"), ConsentChange)[1:3]
        assert [
            (c.external_id, c.channel, c.status, c.contact_point, c.occurred_at, c.evidence)
            for c in consents
        ] == [
            (
                "115310627:email:marketing:2024-02-01T08:30:00Z",
                "email",
                "opted_out",
                "ana.garcia@example.com",
                utc(2024, 2, 1, 8, 30),
                "shopify email_marketing_consent state=unsubscribed opt_in_level=single_opt_in",
            ),
            (
                "115310627:sms:marketing:2024-02-20T10:00:00Z",
                "sms",
                "opted_in",
                "+34600123456",
                utc(2024, 2, 20, 10),
                "shopify sms_marketing_consent state=subscribed opt_in_level=single_opt_in"
                " collected_from=SHOPIFY",
            ),
        ]
        assert [i.key for i in consents[1].identifiers] == [
            "ext:shopify:115310627",
            "phone:+34600123456",
        ]


class TestRevisions:
    def test_cancellation_is_a_newer_revision_of_the_same_order(self) -> None:
        placed, _, cancelled = records(parse_file(ORDERS, "orders.json"), Order)
        assert placed.record_id == cancelled.record_id == "shopify:order:450789469"
        assert placed.revision == utc(2024, 3, 13, 20, 9, 55)
        assert cancelled.revision == utc(2024, 3, 15, 12, 0, 1)
        assert placed.cancelled_at is None
        assert cancelled.cancelled_at == utc(2024, 3, 15, 12)

    def test_the_same_customer_and_consent_again_are_duplicates(self) -> None:
        results = parse_file(ORDERS, "orders.json")
        people = records(results, Person)
        consents = records(results, ConsentChange)
        assert people[0] == people[2]
        assert consents[0] == consents[3]

    def test_a_new_consent_change_is_a_new_record(self) -> None:
        customer = a_customer(email_marketing_consent=email_consent("subscribed"))
        changed = a_customer(
            email_marketing_consent=email_consent("unsubscribed", "2024-04-01T09:00:00Z")
        )
        results = parse_values(
            ORDERS, [an_order(1, customer=customer), an_order(2, customer=changed)]
        )
        assert [c.external_id for c in records(results, ConsentChange)] == [
            "42:email:marketing:2024-03-01T13:00:00Z",
            "42:email:marketing:2024-04-01T09:00:00Z",
        ]


class TestJsonLines:
    """``orders.jsonl``: one order per line, blank lines skipped."""

    def test_positions_are_line_numbers(self) -> None:
        assert summary(parse_file(ORDERS, "orders.jsonl")) == [
            ("line 1", "order"),
            ("line 2", "order"),
            ("line 2", "person"),
            ("line 2", "consent_change"),
            ("line 4", "order"),
        ]

    def test_jpy_has_no_minor_units(self) -> None:
        order = records(parse_file(ORDERS, "orders.jsonl"), Order)[0]
        assert order.line_items[0].unit_price == Money(amount=1500, currency="JPY")
        assert order.line_items[0].quantity == 2
        assert order.total == Money(amount=3000, currency="JPY")

    def test_guest_checkout_is_identified_by_its_email_only(self) -> None:
        order = records(parse_file(ORDERS, "orders.jsonl"), Order)[0]
        assert [i.key for i in order.identifiers] == ["email:kenji@example.jp"]

    def test_an_online_order_has_no_store_even_with_a_location(self) -> None:
        order = records(parse_file(ORDERS, "orders.jsonl"), Order)[0]
        assert order.channel == "online"
        assert order.store_id is None

    def test_app_order_identified_by_phone(self) -> None:
        order = records(parse_file(ORDERS, "orders.jsonl"), Order)[2]
        assert order.external_id == "5000000003"
        assert order.channel == "online"
        assert [i.key for i in order.identifiers] == ["phone:+14155552671"]
        assert order.total == Money(amount=500, currency="USD")


class TestWebhookBody:
    """``order_webhook.json``: one ``orders/create`` body, as Shopify posts it (one line)."""

    def test_one_item(self) -> None:
        assert summary(parse_file(ORDERS, "order_webhook.json")) == [
            ("line 1", "order"),
            ("line 1", "person"),
            ("line 1", "consent_change"),  # pending: not subscribed until confirmed,
            ("line 1", "consent_change"),  # and the confirmation waited for
        ]

    def test_order(self) -> None:
        order = records(parse_file(ORDERS, "order_webhook.json"), Order)[0]
        assert order.external_id == "820982911946154508"
        assert order.order_number == "#9999"
        assert order.total == Money(amount=40300, currency="USD")
        assert order.cancelled_at == utc(2024, 4, 10, 14, 5)
        assert [i.key for i in order.identifiers] == [
            "email:jon@example.com",
            "email:john@example.com",
            "ext:shopify:115310627314723954",
        ]

    def test_customer_without_dates_is_dated_by_the_order(self) -> None:
        person = records(parse_file(ORDERS, "order_webhook.json"), Person)[0]
        assert person.occurred_at == utc(2024, 4, 10, 14)
        assert person.updated_at is None
        assert person.addresses[0].country == "CA"

    def test_double_opt_in_waiting_for_confirmation_is_pending(self) -> None:
        consents = records(parse_file(ORDERS, "order_webhook.json"), ConsentChange)
        assert [(c.status, c.contact_point) for c in consents] == [
            ("opted_out", "john@example.com"),
            ("pending", "john@example.com"),
        ]


class TestIdentifiers:
    def test_invalid_email_is_dropped_when_a_phone_identifies_the_order(self) -> None:
        results = parse_file(ORDERS, "orders_messy.jsonl")
        order = next(o for o in records(results, Order) if o.external_id == "7009")
        assert [i.key for i in order.identifiers] == ["phone:+34600123456"]

    def test_invalid_customer_email_is_dropped_from_person_and_consent(self) -> None:
        customer = a_customer(
            email="bob@", phone="+34600123456", email_marketing_consent=email_consent("subscribed")
        )
        results = parse_values(ORDERS, [an_order(customer=customer)])
        person = records(results, Person)[0]
        consent = records(results, ConsentChange)[0]
        assert [i.key for i in person.identifiers] == ["ext:shopify:42", "phone:+34600123456"]
        assert consent.contact_point is None
        assert [i.key for i in consent.identifiers] == ["ext:shopify:42"]

    def test_phone_without_country_code_is_read_in_the_default_region(self) -> None:
        results = parse_values(
            ORDERS,
            [an_order(email=None, phone="600 123 456")],
            ParseOptions(default_region="ES"),
        )
        assert [i.key for i in records(results, Order)[0].identifiers] == ["phone:+34600123456"]

    def test_source_from_settings_scopes_records_and_customer_ids(self) -> None:
        results = parse_values(
            ORDERS,
            [an_order(customer=a_customer())],
            ParseOptions(settings={"source": "shopify-eu"}),
        )
        order, person = records(results, Order)[0], records(results, Person)[0]
        assert order.record_id == "shopify-eu:order:1"
        assert person.record_id == "shopify-eu:person:42"
        assert [i.key for i in order.identifiers] == ["email:ana@example.com", "ext:shopify-eu:42"]

    def test_customer_id_alone_identifies_an_order(self) -> None:
        results = parse_values(ORDERS, [an_order(email=None, customer=a_customer(email=None))])
        assert [i.key for i in records(results, Order)[0].identifiers] == ["ext:shopify:42"]


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


class TestConsents:
    @pytest.mark.parametrize(
        ("state", "status"),
        [
            ("subscribed", "opted_in"),
            ("unsubscribed", "opted_out"),
            ("redacted", "opted_out"),
            ("invalid", "opted_out"),
        ],
    )
    def test_state_maps_to_status(self, state: str, status: str) -> None:
        customer = a_customer(email_marketing_consent=email_consent(state))
        consents = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)
        assert [(c.status, c.evidence) for c in consents] == [
            (status, f"shopify email_marketing_consent state={state} opt_in_level=single_opt_in")
        ]

    def test_pending_is_not_subscribed_until_confirmed(self) -> None:
        """A "no" from then on (an earlier subscription is over), and the pending confirmation
        as a record of its own that the fold applies after it."""
        customer = a_customer(email_marketing_consent=email_consent("pending"))
        consents = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)
        evidence = "shopify email_marketing_consent state=pending opt_in_level=single_opt_in"
        assert [(c.external_id, c.status, c.evidence) for c in consents] == [
            ("42:email:marketing:2024-03-01T13:00:00Z", "opted_out", evidence),
            ("42:email:marketing:2024-03-01T13:00:00Z:pending", "pending", evidence),
        ]
        assert consents[0].record_id < consents[1].record_id  # same instant: no, then pending

    def test_not_subscribed_with_a_time_is_the_latest_no(self) -> None:
        customer = a_customer(email_marketing_consent=email_consent("not_subscribed"))
        results = parse_values(ORDERS, [an_order(customer=customer)])
        [consent] = records(results, ConsentChange)
        assert (consent.status, consent.occurred_at) == ("opted_out", utc(2024, 3, 1, 13))
        assert consent.evidence == "shopify email_marketing_consent state=not_subscribed" + (
            " opt_in_level=single_opt_in"
        )

    def test_never_asked_yields_no_consent(self) -> None:
        customer = a_customer(email_marketing_consent=email_consent("not_subscribed", None))
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert records(results, ConsentChange) == []

    def test_consent_without_a_time_yields_no_consent(self) -> None:
        customer = a_customer(
            email_marketing_consent=email_consent("subscribed", None),
            sms_marketing_consent={
                "state": "subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": None,
                "consent_collected_from": "OTHER",
            },
        )
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert summary(results) == [("line 1", "order"), ("line 1", "person")]

    def test_sms_consent_without_a_phone_has_no_contact_point(self) -> None:
        customer = a_customer(
            sms_marketing_consent={
                "state": "unsubscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": "2024-03-02T10:00:00Z",
                "consent_collected_from": "OTHER",
            }
        )
        consent = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)[0]
        assert consent.external_id == "42:sms:marketing:2024-03-02T10:00:00Z"
        assert consent.status == "opted_out"
        assert consent.contact_point is None
        assert [i.key for i in consent.identifiers] == ["ext:shopify:42"]

    def test_legacy_accepts_marketing(self) -> None:
        consent = records(parse_file(ORDERS, "orders.jsonl"), ConsentChange)[0]
        assert consent.external_id == "6000000002:email:marketing:2019-06-01T11:00:00Z"
        assert consent.channel == "email"
        assert consent.status == "opted_in"
        assert consent.occurred_at == utc(2019, 6, 1, 11)
        assert consent.contact_point == "old.timer@example.co.uk"
        assert consent.evidence == "shopify accepts_marketing=true opt_in_level=single_opt_in"

    def test_legacy_refusal_is_opted_out(self) -> None:
        customer = a_customer(
            accepts_marketing=False, accepts_marketing_updated_at="2020-01-01T00:00:00Z"
        )
        consent = records(parse_values(ORDERS, [an_order(customer=customer)]), ConsentChange)[0]
        assert (consent.status, consent.evidence) == (
            "opted_out",
            "shopify accepts_marketing=false",
        )

    def test_legacy_field_is_ignored_next_to_email_marketing_consent(self) -> None:
        customer = a_customer(
            accepts_marketing=True,
            accepts_marketing_updated_at="2020-01-01T00:00:00Z",
            email_marketing_consent=email_consent("not_subscribed"),
        )
        results = parse_values(ORDERS, [an_order(customer=customer)])
        assert [c.status for c in records(results, ConsentChange)] == ["opted_out"]

    def test_unknown_state_rejects_the_order(self) -> None:
        results = parse_file(ORDERS, "orders_messy.jsonl")
        assert (
            "line 12",
            "customer.email_marketing_consent.state: unknown consent state 'maybe'",
        ) in errors(results)
        assert not [r for r in results if r.position == "line 12" and isinstance(r, Parsed)]


class TestCheckoutConsent:
    """``buyer_accepts_marketing``: the checkout's box, for orders whose customer carries no
    consent of its own."""

    def consents(self, order: dict[str, Any]) -> list[ConsentChange]:
        return records(parse_values(ORDERS, [order]), ConsentChange)

    def test_a_ticked_box_is_an_opt_in_when_the_order_was_processed(self) -> None:
        order = an_order(
            buyer_accepts_marketing=True,
            processed_at="2024-05-01T12:05:00+02:00",
            customer=a_customer(),
        )
        [consent] = self.consents(order)
        assert (consent.external_id, consent.status, consent.occurred_at) == (
            "order:1:email:marketing",
            "opted_in",
            utc(2024, 5, 1, 10, 5),
        )
        assert (consent.channel, consent.purpose, consent.contact_point) == (
            "email",
            "marketing",
            "ana@example.com",
        )
        assert consent.evidence == "shopify order 1 buyer_accepts_marketing=true"
        assert [i.key for i in consent.identifiers] == ["email:ana@example.com", "ext:shopify:42"]

    def test_a_guest_checkout_is_dated_by_the_order_without_processed_at(self) -> None:
        [consent] = self.consents(an_order(buyer_accepts_marketing=True))
        assert (consent.occurred_at, [i.key for i in consent.identifiers]) == (
            utc(2024, 5, 1, 10),
            ["email:ana@example.com"],
        )

    @pytest.mark.parametrize("ticked", [False, None, "true"])
    def test_only_a_ticked_box_says_anything(self, ticked: Any) -> None:
        assert self.consents(an_order(buyer_accepts_marketing=ticked)) == []

    def test_without_an_email_address_there_is_nothing_to_consent_for(self) -> None:
        order = an_order(email=None, phone="+34 611 22 33 44", buyer_accepts_marketing=True)
        assert self.consents(order) == []

    @pytest.mark.parametrize(
        ("own", "statuses"),
        [
            ({"email_marketing_consent": email_consent("not_subscribed")}, ["opted_out"]),
            ({"email_marketing_consent": email_consent("subscribed", None)}, []),
            ({"accepts_marketing": False, "accepts_marketing_updated_at": None}, []),
        ],
    )
    def test_the_customers_own_state_wins_over_the_box(
        self, own: dict[str, Any], statuses: list[str]
    ) -> None:
        order = an_order(buyer_accepts_marketing=True, customer=a_customer(**own))
        assert [c.status for c in self.consents(order)] == statuses

    def test_a_null_consent_field_is_no_state_of_the_customers(self) -> None:
        customer = a_customer(email_marketing_consent=None, accepts_marketing=None)
        [consent] = self.consents(an_order(buyer_accepts_marketing=True, customer=customer))
        assert (consent.external_id, consent.status) == ("order:1:email:marketing", "opted_in")


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


class TestMessyOrders:
    """``orders_messy.jsonl``: each broken line is one error; the others go on."""

    def test_results_line_by_line(self) -> None:
        assert summary(parse_file(ORDERS, "orders_messy.jsonl")) == [
            ("line 1", "order"),
            ("line 2", "error"),
            ("line 3", "error"),
            ("line 4", "error"),
            ("line 5", "error"),
            ("line 6", "error"),
            ("line 7", "error"),
            ("line 8", "error"),
            ("line 9", "order"),
            ("line 10", "error"),
            ("line 11", "error"),
            ("line 12", "error"),
            ("line 13", "order"),
        ]

    def test_error_reasons(self) -> None:
        assert errors(parse_file(ORDERS, "orders_messy.jsonl")) == [
            ("line 2", "invalid JSON: Unterminated string starting at column 63"),
            ("line 3", "line_items.0.price: '12.999' has more decimals than EUR allows"),
            ("line 4", "line_items.0.quantity: Input should be greater than 0"),
            ("line 5", "currency: 'XXX' is not a currency anything is paid in"),
            ("line 6", "currency: unknown ISO 4217 currency code 'ABC'"),
            ("line 7", "id: missing"),
            ("line 8", "the order names nobody: no valid e-mail, phone or customer id"),
            (
                "line 10",
                "the order names nobody: no valid e-mail, phone or customer id (email: invalid"
                " e-mail address 'not-an-email': An email address must have an @-sign.)",
            ),
            ("line 11", "order: expected an object, got a list"),
            ("line 12", "customer.email_marketing_consent.state: unknown consent state 'maybe'"),
        ]

    def test_rejected_order_takes_its_customer_and_consents_with_it(self) -> None:
        results = parse_file(ORDERS, "orders_messy.jsonl")
        assert [r for r in results if r.position == "line 3"] == [
            ItemError.of(
                "line 3",
                (FIXTURES / "orders_messy.jsonl").read_text().splitlines()[2],
                "line_items.0.price: '12.999' has more decimals than EUR allows",
            )
        ]
        assert records(results, Person) == []

    def test_error_keeps_the_raw_item(self) -> None:
        error = next(
            r for r in parse_file(ORDERS, "orders_messy.jsonl") if isinstance(r, ItemError)
        )
        assert (
            error.raw.strip()
            == '{"id": 7002, "email": "c7002@example.com", "currency": "EUR", "total_pri'
        )

    def test_truncated_document_keeps_the_items_before_the_cut(self) -> None:
        results = parse_file(ORDERS, "orders_truncated.json")
        assert summary(results) == [("item 1", "order"), ("after item 1", "error")]
        assert records(results, Order)[0].external_id == "8001"
        assert errors(results) == [("after item 1", "invalid JSON: parse error: premature EOF")]

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"created_at": None}, "created_at: missing"),
            (
                {"created_at": "2024-05-01 12:00:00"},
                "created_at: timestamp '2024-05-01 12:00:00' has no time zone",
            ),
            ({"currency": None}, "currency: missing"),
            ({"total_price": None}, "total_price: missing"),
            ({"total_price": "free"}, "total_price: not an amount: 'free'"),
            ({"total_price": True}, "total_price: not an amount: a boolean"),
            ({"id": 1.5}, "id: not an id: Decimal('1.5')"),
            ({"line_items": {"id": 1}}, "line_items: expected a list, got an object"),
            ({"customer": "Ana"}, "customer: expected an object, got a string"),
            (
                {"line_items": [{"id": 1, "price": "5.00", "quantity": "2"}]},
                "line_items.0.quantity: Input should be a valid integer",
            ),
            (
                {"cancelled_at": "2024-04-01T00:00:00Z"},
                "cancelled_at is earlier than when the order was placed",
            ),
            (
                {"updated_at": "2024-04-01T00:00:00Z"},
                "updated_at is earlier than occurred_at",
            ),
        ],
    )
    def test_broken_order(self, overrides: dict[str, Any], reason: str) -> None:
        assert errors(parse_values(ORDERS, [an_order(**overrides)])) == [("line 1", reason)]

    def test_broken_customer_rejects_the_order(self) -> None:
        customer = a_customer(created_at="yesterday")
        assert errors(parse_values(ORDERS, [an_order(customer=customer)])) == [
            ("line 1", "customer.created_at: timestamp 'yesterday' is not ISO 8601")
        ]

    @pytest.mark.parametrize(
        "data",
        [b"", b"\n\n", b"not json\n", b"42\n", b'"order"\n', b"[1, {}]", b'{\n  "shop": 1\n}\n'],
    )
    def test_anything_gives_results_not_exceptions(self, data: bytes) -> None:
        results = list(ORDERS.parse(io.BytesIO(data), ParseOptions()))
        assert all(isinstance(r, ItemError) for r in results)


class TestMoney:
    def test_amounts_are_exact_minor_units(self) -> None:
        lines = [
            {"id": 1, "price": "0.10", "quantity": 3},
            {"id": 2, "price": "19.99", "quantity": 1},
        ]
        order = records(
            parse_values(ORDERS, [an_order(line_items=lines, total_price="20.29")]), Order
        )[0]
        assert [i.unit_price.amount for i in order.line_items] == [10, 1999]
        assert order.total == Money(amount=2029, currency="EUR")

    def test_json_numbers_are_read_as_decimals(self) -> None:
        order = records(parse_file(ORDERS, "orders_messy.jsonl"), Order)[-1]
        assert order.external_id == "7013"
        assert order.total == Money(amount=1250, currency="EUR")  # "total_price": 12.5

    def test_three_decimal_currency(self) -> None:
        order = records(
            parse_values(
                ORDERS,
                [
                    an_order(
                        currency="KWD",
                        total_price="1.250",
                        line_items=[{"id": 1, "price": "1.250", "quantity": 1}],
                    )
                ],
            ),
            Order,
        )[0]
        assert order.total == Money(amount=1250, currency="KWD")

    def test_jpy_with_fractions_is_refused(self) -> None:
        results = parse_values(ORDERS, [an_order(currency="jpy", total_price="1500.5")])
        assert errors(results) == [
            ("line 1", "total_price: '1500.5' has more decimals than JPY allows")
        ]

    def test_jpy_written_with_zero_decimals_is_accepted(self) -> None:
        results = parse_values(
            ORDERS,
            [
                an_order(
                    currency="JPY",
                    total_price="1500.00",
                    line_items=[{"id": 1, "price": "1500.00", "quantity": 1}],
                )
            ],
        )
        assert records(results, Order)[0].total == Money(amount=1500, currency="JPY")

    def test_currency_from_settings_when_the_order_has_none(self) -> None:
        results = parse_values(
            ORDERS, [an_order(currency=None)], ParseOptions(settings={"currency": "EUR"})
        )
        assert records(results, Order)[0].total == Money(amount=2500, currency="EUR")


class TestRefunds:
    """``refunds.json``: a ``{"refunds": [...]}`` REST response."""

    def test_refund_with_a_line_item(self) -> None:
        refund = records(parse_file(REFUNDS, "refunds.json"), Return)[0]
        assert refund.record_id == "shopify:return:509562969"
        assert refund.order_external_id == "450789469"
        assert refund.occurred_at == utc(2024, 3, 16, 14)
        assert refund.updated_at is None
        assert refund.reason == "it broke during shipping"
        assert refund.identifiers == []  # linked through its order
        assert refund.items == [
            ReturnItem(
                line_id="466157049",
                sku="IPOD2008GREEN",
                quantity=1,
                amount=Money(amount=19567, currency="USD"),  # "subtotal": 195.67, a number
            )
        ]
        # The successful refund transaction counts, the failed retry does not.
        assert refund.amount == Money(amount=19965, currency="USD")

    def test_shipping_refund_counts_only_successful_refund_transactions(self) -> None:
        refund = records(parse_file(REFUNDS, "refunds.json"), Return)[1]
        assert refund.order_external_id == "450789470"
        assert refund.items == []
        assert refund.reason is None  # "note": ""
        assert refund.amount == Money(amount=450, currency="EUR")

    def test_positions(self) -> None:
        assert summary(parse_file(REFUNDS, "refunds.json")) == [
            ("item 1", "return"),
            ("item 2", "return"),
        ]

    def test_without_transactions_the_items_are_summed(self) -> None:
        results = parse_file(
            REFUNDS, "refunds_messy.jsonl", ParseOptions(settings={"currency": "EUR"})
        )
        refund = records(results, Return)[0]
        assert refund.external_id == "8001"
        assert refund.amount == Money(amount=2500, currency="EUR")

    def test_transaction_currency_wins_over_settings(self) -> None:
        results = parse_values(
            REFUNDS, [a_refund(refund_line_items=[])], ParseOptions(settings={"currency": "USD"})
        )
        assert records(results, Return)[0].amount == Money(amount=2500, currency="EUR")

    def test_transaction_without_status_counts(self) -> None:
        transactions = [{"kind": "refund", "status": None, "currency": "EUR", "amount": "7.50"}]
        results = parse_values(REFUNDS, [a_refund(transactions=transactions)])
        assert records(results, Return)[0].amount == Money(amount=750, currency="EUR")

    def test_only_failed_transactions_refund_nothing(self) -> None:
        transactions = [{"kind": "refund", "status": "failure", "currency": "EUR", "amount": "7"}]
        results = parse_values(REFUNDS, [a_refund(transactions=transactions)])
        assert records(results, Return)[0].amount == Money(amount=0, currency="EUR")

    def test_source_from_settings(self) -> None:
        results = parse_values(REFUNDS, [a_refund()], ParseOptions(settings={"source": "shop-eu"}))
        assert records(results, Return)[0].record_id == "shop-eu:return:9"


class TestMessyRefunds:
    def test_error_reasons(self) -> None:
        assert errors(parse_file(REFUNDS, "refunds_messy.jsonl")) == [
            (
                "line 1",
                "currency: unknown (no currency on the transactions or amounts, and its order "
                "is not known yet: import the order, then replay the dead letters, or set the "
                "source's currency)",
            ),
            ("line 2", "transactions.0.amount: '1.005' has more decimals than USD allows"),
            ("line 3", "invalid JSON: Unterminated string starting at column 46"),
            ("line 4", "order_id: missing"),
            ("line 5", "transactions: refunded in several currencies: EUR, USD"),
            ("line 6", "items.0.quantity: Input should be greater than 0"),
        ]

    def test_a_refund_stating_no_currency_names_the_order_whose_currency_it_needs(
        self,
    ) -> None:
        [error, *others] = [
            r for r in parse_file(REFUNDS, "refunds_messy.jsonl") if isinstance(r, ItemError)
        ]
        assert (error.position, error.currency_of) == ("line 1", "shopify:order:7001")
        assert [e.currency_of for e in others] == [None] * len(others)
        settings = {"currency": "EUR"}
        again = parse_values(REFUNDS, [json.loads(error.raw)], ParseOptions(settings=settings))
        assert records(again, Return)[0].amount == Money(amount=2500, currency="EUR")

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            ({"id": None}, "id: missing"),
            ({"created_at": None}, "created_at: missing"),
            ({"transactions": "none"}, "transactions: expected a list, got a string"),
            (
                {"transactions": [{"kind": "refund", "currency": "ABC", "amount": "1"}]},
                "transactions.currency: unknown ISO 4217 currency code 'ABC'",
            ),
            (
                {"transactions": [{"kind": "refund", "currency": "EUR", "amount": None}]},
                "transactions.0.amount: missing",
            ),
        ],
    )
    def test_broken_refund(self, overrides: dict[str, Any], reason: str) -> None:
        assert errors(parse_values(REFUNDS, [a_refund(**overrides)])) == [("line 1", reason)]


CUSTOMERS = ShopifyCustomersConnector()


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
                "records already stored are kept",
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
