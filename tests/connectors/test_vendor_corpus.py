"""The vendors' own published examples (``tests/fixtures/vendor/``, origins in ``INDEX.md``):
each imports with no rejects but the truly unlinkable, and what arrives matches the vendor's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.base import Connector, Ignored, ItemError, Parsed, ParseResult
from connectors.segment import SegmentConnector
from connectors.shopify import (
    ShopifyCustomersConnector,
    ShopifyOrdersConnector,
    ShopifyRefundsConnector,
)
from connectors.zendesk import ZendeskTicketsConnector
from schemas import (
    ConsentChange,
    ContactPointStatus,
    Money,
    Order,
    Person,
    Return,
    ServiceCase,
    SiteEvent,
)
from tests.helpers import parse_options

VENDOR = Path(__file__).resolve().parent.parent / "fixtures" / "vendor"
US = parse_options(default_region="US")


def parse(connector: Connector, name: str) -> list[ParseResult]:
    with (VENDOR / name).open("rb") as stream:
        return list(connector.parse(stream, US))


def parsed(results: list[ParseResult]) -> list[object]:
    assert not [r for r in results if isinstance(r, ItemError)], results
    return [r.record for r in results if isinstance(r, Parsed)]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, us, tzinfo=dt.UTC)


class TestShopifyOrders:
    def test_the_reference_order(self) -> None:
        records = parsed(parse(ShopifyOrdersConnector(), "shopify/order_get.json"))
        [order] = [r for r in records if isinstance(r, Order)]
        assert order.external_id == "450789469"
        assert order.total == Money(amount=59894, currency="USD")
        assert [(i.sku, i.quantity, i.unit_price.amount) for i in order.line_items] == [
            ("IPOD2008GREEN", 1, 19900),
            ("IPOD2008RED", 1, 19900),
            ("IPOD2008BLACK", 1, 19900),
        ]
        [refund] = [r for r in records if isinstance(r, Return)]
        assert (refund.external_id, refund.order_external_id) == ("509562969", "450789469")
        assert refund.amount == Money(amount=20900, currency="USD")
        assert [(i.line_id, i.amount) for i in refund.items] == [
            ("703073504", Money(amount=19566, currency="USD")),
            ("466157049", Money(amount=19567, currency="USD")),
        ]
        addresses = [
            r for r in records if isinstance(r, Person) and r.external_id.startswith("order:")
        ]
        assert [(a.line1, a.city, a.postal_code, a.country) for a in addresses[0].addresses] == [
            ("Chestnut Street 92", "Louisville", "40202", "US")
        ]
        consents = {c.channel.value: c for c in records if isinstance(c, ConsentChange)}
        assert (consents["email"].status, consents["email"].occurred_at) == (
            "opted_out",
            utc(2004, 6, 13, 15, 57, 11),
        )
        assert consents["email"].contact_point == "bob.norman@mail.example.com"
        assert (consents["sms"].status, consents["sms"].contact_point) == (
            "opted_out",
            "+16136120707",
        )

    def test_the_cancel_response_is_the_cancelled_order(self) -> None:
        records = parsed(parse(ShopifyOrdersConnector(), "shopify/order_cancel.json"))
        [order] = [r for r in records if isinstance(r, Order)]
        assert order.cancelled_at == utc(2025, 7, 2, 16, 31, 25)

    def test_a_customer_never_asked_has_no_consent(self) -> None:
        records = parsed(parse(ShopifyOrdersConnector(), "shopify/order_create_customer.json"))
        assert not [r for r in records if isinstance(r, ConsentChange)]
        assert [r.total for r in records if isinstance(r, Order)] == [
            Money(amount=19900, currency="USD")
        ]

    def test_a_guest_order_naming_nobody_is_the_only_reject(self) -> None:
        [result] = parse(ShopifyOrdersConnector(), "shopify/order_create_guest.json")
        assert isinstance(result, ItemError)
        assert result.reason == "the order names nobody: no valid e-mail, phone or customer id"


class TestShopifyRefunds:
    def test_created_refund(self) -> None:
        [refund] = parsed(parse(ShopifyRefundsConnector(), "shopify/refund_create.json"))
        assert isinstance(refund, Return)
        assert (refund.external_id, refund.reason) == ("929361472", "wrong size")
        assert refund.amount == Money(amount=4194, currency="USD")

    def test_every_refund_example_reads(self) -> None:
        for name in ("refunds_list.json", "refund_get.json"):
            [refund] = parsed(parse(ShopifyRefundsConnector(), f"shopify/{name}"))
            assert isinstance(refund, Return)
            assert refund.external_id == "509562969"


class TestShopifyCustomers:
    def test_a_customer_list(self) -> None:
        records = parsed(parse(ShopifyCustomersConnector(), "shopify/customers_list.json"))
        people = {p.external_id: p for p in records if isinstance(p, Person)}
        assert set(people) == {"1073339462", "207119551"}
        steve, bob = people["1073339462"], people["207119551"]
        assert (steve.given_name, steve.family_name) == ("Steve", "Lastnameson")
        assert [(a.line1, a.city, a.postal_code, a.country) for a in steve.addresses] == [
            ("123 Oak St", "Ottawa", "123 ABC", "CA")
        ]
        assert [i.key for i in bob.identifiers] == [
            "ext:shopify:207119551",
            "email:bob.norman@mail.example.com",
            "phone:+16136120707",
        ]
        # Bob's consents are timed; Steve was never asked (no consent_updated_at).
        consents = [c for c in records if isinstance(c, ConsentChange)]
        assert sorted((c.external_id, c.status, c.occurred_at) for c in consents) == [
            (
                "207119551:email:marketing:2004-06-13T15:57:11Z",
                "opted_out",
                utc(2004, 6, 13, 15, 57, 11),
            ),
            ("207119551:sms:marketing:2024-01-01T12:00:00Z", "opted_out", utc(2024, 1, 1, 12)),
        ]
        verified = [c.contact_point for c in records if isinstance(c, ContactPointStatus)]
        assert sorted(verified) == ["bob.norman@mail.example.com", "steve.lastnameson@example.com"]

    def test_one_customer_and_its_update(self) -> None:
        [got] = [
            r
            for r in parsed(parse(ShopifyCustomersConnector(), "shopify/customer_get.json"))
            if isinstance(r, Person)
        ]
        records = parsed(parse(ShopifyCustomersConnector(), "shopify/customer_update.json"))
        [updated] = [r for r in records if isinstance(r, Person)]
        assert updated.record_id == got.record_id  # revisions of one person, by updated_at
        assert (got.updated_at, updated.updated_at) == (
            utc(2025, 7, 2, 16, 25, 58),
            utc(2025, 7, 2, 16, 24, 32),
        )
        assert "email:changed@example.com" in [i.key for i in updated.identifiers]
        # The e-mail consent carries no time after the change: only the SMS one is stated.
        assert [c.channel for c in records if isinstance(c, ConsentChange)] == ["sms"]

    def test_a_partial_listing_is_ignored_with_the_reason(self) -> None:
        [result] = parse(ShopifyCustomersConnector(), "shopify/customers_fields.json")
        assert isinstance(result, Ignored)
        assert (
            result.reason == "customer 207119551: nothing c360 reads (no times, no timed consent)"
        )


class TestSegmentSpec:
    def test_identify_with_its_address(self) -> None:
        site, person = parsed(parse(SegmentConnector(), "segment/identify.json"))
        assert isinstance(site, SiteEvent)
        assert isinstance(person, Person)
        assert (person.full_name, person.external_id) == ("Peter Gibbons", "97980cfea0067")
        [address] = person.addresses
        assert (
            address.line1,
            address.city,
            address.region,
            address.postal_code,
            address.country,
        ) == (
            "6th St",
            "San Francisco",
            "CA",
            "94103",
            "US",
        )

    def test_every_call_type_reads(self) -> None:
        for call in ("track", "page", "screen", "alias"):
            records = parsed(parse(SegmentConnector(), f"segment/{call}.json"))
            assert isinstance(records[0], SiteEvent), call
        [group] = parse(SegmentConnector(), "segment/group.json")
        assert isinstance(group, Ignored)

    def test_a_payload_with_its_common_fields_removed_says_what_is_missing(self) -> None:
        # The Spec's basic alias shows the call's own fields only: no timestamp at all.
        [basic] = parse(SegmentConnector(), "segment/alias_basic.json")
        assert isinstance(basic, ItemError)
        assert basic.reason == "no timestamp, originalTimestamp or receivedAt"

    def test_context_time_zone_and_locale_are_kept(self) -> None:
        records = parsed(parse(SegmentConnector(), "segment/common_track.json"))
        [where] = [r for r in records if isinstance(r, Person)]
        assert (where.time_zone, where.language) == ("Europe/Amsterdam", "en-US")

    def test_http_api_batch_without_message_ids(self) -> None:
        records = parsed(parse(SegmentConnector(), "segment/http_api_batch.json"))
        events = [r for r in records if isinstance(r, SiteEvent)]
        assert [e.occurred_at for e in events] == [
            utc(2012, 12, 2, 0, 30, 8, 276000),
            utc(2012, 12, 2, 0, 30, 12, 984000),
            utc(2015, 2, 2, 0, 30, 8, 276000),
            utc(2015, 2, 2, 0, 30, 12, 984000),
        ]
        assert all(e.external_id.startswith("derived:") for e in events)
        assert [p.full_name for p in records if isinstance(p, Person)] == [
            "Jake Peterson",
            "Cindy Gonzalez",
        ]


class TestZendeskExport:
    def test_the_ticket(self) -> None:
        [case] = parsed(parse(ZendeskTicketsConnector(), "zendesk/incremental_tickets_cursor.json"))
        assert isinstance(case, ServiceCase)
        assert (case.status, case.priority, case.satisfaction, case.channel) == (
            "open",
            "high",
            "good",
            "web",
        )
        assert case.subject == "Help, my printer is on fire!"

    def test_side_loads_an_open_ticket_has_no_resolution(self) -> None:
        records = parsed(
            parse(ZendeskTicketsConnector(), "zendesk/incremental_tickets_cursor_sideloaded.json")
        )
        [case] = [r for r in records if isinstance(r, ServiceCase)]
        assert case.solved_at is None
        assert case.first_response_at == utc(2009, 7, 20, 22, 55, 29) + dt.timedelta(minutes=2391)
        [person] = [r for r in records if isinstance(r, Person)]
        assert (person.external_id, person.full_name, person.language) == (
            "20978392",
            "Johnny Agent",
            "en-US",
        )
        # Zendesk's time_zone is a Rails zone name ("Copenhagen"), not an IANA one.
        assert person.time_zone == "Europe/Copenhagen"
