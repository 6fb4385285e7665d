"""``shopify-orders``: orders with their refunds, customer, addresses and identifiers."""

from __future__ import annotations

import io
from typing import Any

import pytest

from connectors.base import Connector, ItemError
from connectors.shopify import ShopifyOrdersConnector, ShopifyRefundsConnector
from schemas import ConsentChange, Money, Order, Person, RecordKind
from schemas.records import LineItem, PostalAddress
from tests.connectors.shopify.helpers import (
    FIXTURES,
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
from tests.helpers import parse_options


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
        assert order.discount == Money(amount=1000, currency="USD")  # total_discounts
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
        assert order.discount is None  # no total_discounts
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
            parse_options(default_region="ES"),
        )
        assert [i.key for i in records(results, Order)[0].identifiers] == ["phone:+34600123456"]

    def test_source_from_settings_scopes_records_and_customer_ids(self) -> None:
        results = parse_values(
            ORDERS,
            [an_order(customer=a_customer())],
            parse_options(settings={"source": "shopify-eu"}),
        )
        order, person = records(results, Order)[0], records(results, Person)[0]
        assert order.record_id == "shopify-eu:order:1"
        assert person.record_id == "shopify-eu:person:42"
        assert [i.key for i in order.identifiers] == ["email:ana@example.com", "ext:shopify-eu:42"]

    def test_customer_id_alone_identifies_an_order(self) -> None:
        results = parse_values(ORDERS, [an_order(email=None, customer=a_customer(email=None))])
        assert [i.key for i in records(results, Order)[0].identifiers] == ["ext:shopify:42"]


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
                names=["ext:shopify:7103"],  # whom it is about: its customer, for an erasure
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
            ({"id": 1.5}, "id: not an id: 1.5"),
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
        results = list(ORDERS.parse(io.BytesIO(data), parse_options()))
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
            ORDERS, [an_order(currency=None)], parse_options(settings={"currency": "EUR"})
        )
        assert records(results, Order)[0].total == Money(amount=2500, currency="EUR")
