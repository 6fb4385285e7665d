"""The ``segment`` connector: Segment Spec events (identify, track, page, screen, alias) in."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, Ignored, ItemError, Parsed, ParseResult
from connectors.segment import SegmentConnector
from schemas import CanonicalRecord, RecordKind
from tests.helpers import parse_options

Record = dict[str, Any]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "segment"

WEB_ANON = "3f9c2b7e-5d41-4a8e-9b2c-7e1f0a6d4c85"
APP_ANON = "B7E2A9D4-1C3F-4E8A-9D2B-5F6A7C8E9D01"
MESSY_ANON = "c81d4e2f-6a7b-4c3d-9e8f-0a1b2c3d4e5f"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15"
)
HOME_URL = "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale"
PRODUCT_TITLE = "Trail Runner 2 \N{EN DASH} Example Shop"
WHEN = "2024-05-06T09:15:02.114Z"
WHEN_DUMPED = "2024-05-06T09:15:02.114000Z"


# --- Helpers --------------------------------------------------------------------------------


# A message without a messageId is named by its content (pinned: a change of the digest would
# make every re-sent message a new record).
DERIVED_M1 = "derived:f7065fd60361e0e8775ccd7f77705416"  # event("messageId")
DERIVED_LINE_3 = "derived:bea5d816fcdda5cb229ac51f530c42ae"  # messy.jsonl line 3
IGNORED_GROUP = "a group call ties a user to an account; accounts are not modelled"


def parse(data: bytes, *, region: str = "ES", **settings: str) -> list[ParseResult]:
    options = parse_options(default_region=region, settings=settings)
    return list(SegmentConnector().parse(io.BytesIO(data), options))


def parse_fixture(name: str) -> list[ParseResult]:
    with (FIXTURES / name).open("rb") as stream:
        return list(SegmentConnector().parse(stream, parse_options(default_region="ES")))


def jsonl(*events: Any) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def event(*omit: str, **fields: Any) -> Record:
    """A valid anonymous ``track`` event; ``omit`` names fields to leave out."""
    data: Record = {
        "type": "track",
        "messageId": "m-1",
        "anonymousId": WEB_ANON,
        "event": "Signed Up",
        "timestamp": WHEN,
        **fields,
    }
    return {key: value for key, value in data.items() if key not in omit}


def dumped(results: list[ParseResult]) -> list[tuple[str, Record]]:
    """Every result as ``(position, record as JSON)``; fails on any item error."""
    out = []
    for result in results:
        assert isinstance(result, Parsed), result
        out.append((result.position, result.record.model_dump(mode="json")))
    return out


def canonical(results: list[ParseResult]) -> list[CanonicalRecord]:
    """The records of the results; fails on any item error."""
    out = []
    for result in results:
        assert isinstance(result, Parsed), result
        out.append(result.record)
    return out


def records_of(*events: Any, region: str = "ES", **settings: str) -> list[Record]:
    return [record for _, record in dumped(parse(jsonl(*events), region=region, **settings))]


def record_of(data: Record, *, region: str = "ES", **settings: str) -> Record:
    """The one record an event yields."""
    records = records_of(data, region=region, **settings)
    assert len(records) == 1, records
    return records[0]


def error_of(data: Any, *, region: str = "ES", **settings: str) -> ItemError:
    """The one item error an event yields."""
    results = parse(jsonl(data), region=region, **settings)
    assert len(results) == 1, results
    assert isinstance(results[0], ItemError), results[0]
    return results[0]


def reason_of(data: Any, **settings: str) -> str:
    return error_of(data, **settings).reason


def anon(value: str) -> Record:
    return {"type": "anonymous", "value": value, "source": None}


def ext(value: str, source: str = "segment") -> Record:
    return {"type": "external", "value": value, "source": source}


def email(value: str) -> Record:
    return {"type": "email", "value": value, "source": None}


def phone(value: str) -> Record:
    return {"type": "phone", "value": value, "source": None}


def site_event(**fields: Any) -> Record:
    """A dumped site event as :func:`event` yields it, with ``fields`` changed."""
    return {
        "source": "segment",
        "external_id": "m-1",
        "occurred_at": WHEN_DUMPED,
        "updated_at": None,
        "identifiers": [anon(WEB_ANON)],
        "kind": "site_event",
        "event_type": "track",
        "name": "Signed Up",
        "channel": "web",
        "url": None,
        "referrer": None,
        "user_agent": None,
        "properties": {},
        **fields,
    }


def person(**fields: Any) -> Record:
    """A dumped person as an ``identify`` of :data:`WEB_ANON` at :data:`WHEN` yields it."""
    return {
        "source": "segment",
        "external_id": WEB_ANON,
        "occurred_at": WHEN_DUMPED,
        "updated_at": WHEN_DUMPED,
        "identifiers": [anon(WEB_ANON)],
        "kind": "person",
        "given_name": None,
        "family_name": None,
        "full_name": None,
        "addresses": [],
        "birth_date": None,
        "language": None,
        "country": None,
        "time_zone": None,
        "account_owner": None,
        **fields,
    }


def identify(*omit: str, **fields: Any) -> Record:
    return event("event", *omit, type="identify", **fields)


class TestRejectedEvents:
    def test_name_whom_they_are_about_by_their_ids(self) -> None:
        # An erasure finds its dead letter by them: the text holds no address or number.
        bad = {"type": "track", "event": "Viewed", "timestamp": "2024-13-45T10:00:00Z"}
        error = error_of({**bad, "anonymousId": "a-1", "userId": "u-7"})
        assert error.names == ("anon:a-1", "ext:segment:u-7")
        assert error_of({**bad, "anonymousId": {"not": "an id"}, "userId": True}).names == ()


# --- The records of a realistic session -----------------------------------------------------

SESSION: list[Record] = [
    {
        "source": "segment",
        "external_id": "ajs-next-5b0e1c9a7d3f4e2a8c6b1d0f9e8a7b6c",
        "occurred_at": "2024-05-06T09:15:02.114000Z",
        "updated_at": None,
        "identifiers": [anon(WEB_ANON)],
        "kind": "site_event",
        "event_type": "page",
        "name": "Home",
        "channel": "web",
        "url": HOME_URL,
        "referrer": "https://www.google.com/",
        "user_agent": SAFARI,
        "properties": {
            "path": "/",
            "referrer": "https://www.google.com/",
            "search": "?utm_source=google&utm_medium=cpc&utm_campaign=spring_sale",
            "title": "Example Shop",
            "url": HOME_URL,
        },
    },
    {
        "source": "segment",
        "external_id": "ajs-next-9d2f7a61c4e84b0b9f3a2e5d6c7b8a90",
        "occurred_at": "2024-05-06T09:16:40.871000Z",
        "updated_at": None,
        "identifiers": [anon(WEB_ANON)],
        "kind": "site_event",
        "event_type": "page",
        "name": PRODUCT_TITLE,  # no page name: the title
        "channel": "web",
        "url": "https://shop.example.com/p/trail-runner-2",
        "referrer": "https://shop.example.com/",
        "user_agent": SAFARI,
        "properties": {
            "path": "/p/trail-runner-2",
            "referrer": "https://shop.example.com/",
            "search": "",
            "title": PRODUCT_TITLE,
            "url": "https://shop.example.com/p/trail-runner-2",
        },
    },
    {
        "source": "segment",
        "external_id": "ajs-next-0c4e8b2a6f1d4c9e8a7b5d3f2e1c0b9a",
        "occurred_at": "2024-05-06T09:18:12.045000Z",
        "updated_at": None,
        "identifiers": [anon(WEB_ANON)],
        "kind": "site_event",
        "event_type": "track",
        "name": "Product Added",
        "channel": "web",
        "url": "https://shop.example.com/p/trail-runner-2",  # from context.page
        "referrer": "https://shop.example.com/",
        "user_agent": SAFARI,
        "properties": {
            "brand": "Example",
            "cart_id": "c-7f41d2",
            "category": "Running Shoes",
            "currency": "EUR",
            "name": "Trail Runner 2",
            "price": 89.95,
            "product_id": "TR2-4410",
            "quantity": 1,
            "sku": "TR2-4410-42",
            "variant": "42 / Graphite",
        },
    },
    {
        "source": "segment",
        "external_id": "ajs-next-7e3a9c1b5d2f4a6e8b0c2d4f6a8b0c1e",
        "occurred_at": "2024-05-06T09:20:41.337000Z",
        "updated_at": None,
        "identifiers": [
            anon(WEB_ANON),
            ext("cust_48213"),
            email("ana.garcia@example.com"),
            phone("+34612345678"),
        ],
        "kind": "site_event",
        "event_type": "identify",
        "name": None,
        "channel": "web",
        "url": "https://shop.example.com/checkout/account",
        "referrer": "https://shop.example.com/cart",
        "user_agent": SAFARI,
        "properties": {
            "address": {
                "city": "Madrid",
                "country": "ES",
                "postalCode": "28014",
                "state": "Madrid",
                "street": "Calle de Alcalá 42",
            },
            "birthday": "1988-03-14T00:00:00.000Z",
            "createdAt": "2024-05-06T09:20:39.000Z",
            "firstName": "Ana",
            "lastName": "García",
            "name": "Ana García",
            "plan": "free",
        },
    },
    {
        "source": "segment",
        "external_id": "cust_48213",
        "occurred_at": "2024-05-06T09:20:41.337000Z",
        "updated_at": "2024-05-06T09:20:41.337000Z",
        "identifiers": [
            anon(WEB_ANON),
            ext("cust_48213"),
            email("ana.garcia@example.com"),
            phone("+34612345678"),
        ],
        "kind": "person",
        "given_name": "Ana",
        "family_name": "García",
        "full_name": "Ana García",
        "addresses": [
            {
                "line1": "Calle de Alcalá 42",
                "line2": None,
                "city": "Madrid",
                "region": "Madrid",
                "postal_code": "28014",
                "country": "ES",
            }
        ],
        "birth_date": "1988-03-14",
        "language": "es-ES",  # context.locale
        "country": None,
        "time_zone": None,
        "account_owner": None,
    },
    {
        "source": "segment",
        "external_id": "node-next-1714987443518-2e6f0b7c-9a41-4d3e-8c5b-1f2a3b4c5d6e",
        "occurred_at": "2024-05-06T09:24:03.518000Z",
        "updated_at": None,
        "identifiers": [ext("cust_48213")],
        "kind": "site_event",
        "event_type": "track",
        "name": "Order Completed",
        "channel": "server",
        "url": None,
        "referrer": None,
        "user_agent": None,
        "properties": {
            "checkout_id": "chk_91b2e0",
            "coupon": "SPRING10",
            "currency": "EUR",
            "discount": 9,
            "order_id": "1058",
            "products": [
                {
                    "name": "Trail Runner 2",
                    "price": 89.95,
                    "product_id": "TR2-4410",
                    "quantity": 1,
                    "sku": "TR2-4410-42",
                },
                {
                    "name": "Merino Running Socks",
                    "price": 12.5,
                    "product_id": "MRS-0031",
                    "quantity": 2,
                    "sku": "MRS-0031-M",
                },
            ],
            "revenue": 105.95,
            "shipping": 4.95,
            "tax": 0,
            "total": 110.9,
        },
    },
    {
        "source": "segment",
        "external_id": "A1C3E5F7-2B4D-4F6A-8C0E-1D3F5A7B9C2E",
        "occurred_at": "2024-05-08T18:42:10.512000Z",
        "updated_at": None,
        "identifiers": [anon(APP_ANON), ext("cust_48213"), email("ana.garcia@example.com")],
        "kind": "site_event",
        "event_type": "screen",
        "name": "Order Details",
        "channel": "app",
        "url": None,
        "referrer": None,
        "user_agent": None,
        "properties": {"order_id": "1058", "status": "shipped"},
    },
    {  # the app's context.timezone and locale: where the device says the customer is
        "source": "segment",
        "external_id": "cust_48213:context",
        "occurred_at": "2024-05-08T18:42:10.512000Z",
        "updated_at": "2024-05-08T18:42:10.512000Z",
        "identifiers": [anon(APP_ANON), ext("cust_48213"), email("ana.garcia@example.com")],
        "kind": "person",
        "given_name": None,
        "family_name": None,
        "full_name": None,
        "addresses": [],
        "birth_date": None,
        "language": "es-ES",
        "country": None,
        "time_zone": "Europe/Madrid",
        "account_owner": None,
    },
    {
        "source": "segment",
        "external_id": "node-next-1715193731204-5a8d1e3f-7b2c-4e9a-b6d0-8f1e2a3b4c5d",
        "occurred_at": "2024-05-08T18:42:11.204000Z",
        "updated_at": None,
        "identifiers": [ext("cust_48213"), anon(APP_ANON)],
        "kind": "site_event",
        "event_type": "alias",
        "name": None,
        "channel": "server",
        "url": None,
        "referrer": None,
        "user_agent": None,
        "properties": {"previousId": APP_ANON},
    },
]
SESSION_LINES = [1, 2, 3, 4, 4, 5, 6, 6, 7]  # line 4's identify: its person; line 6: its zone


class TestConnectorDeclaration:
    def test_name_and_kinds(self) -> None:
        connector: Connector = SegmentConnector()
        assert connector.name == "segment"
        assert connector.kinds == (
            RecordKind.SITE_EVENT,
            RecordKind.PERSON,
            RecordKind.CONTACT_POINT_STATUS,
        )


class TestSessionFile:
    """``events.jsonl``: an anonymous visit, the identify that names it, an order, the app."""

    def test_every_record_exactly(self) -> None:
        assert dumped(parse_fixture("events.jsonl")) == [
            (f"line {line}", record) for line, record in zip(SESSION_LINES, SESSION, strict=True)
        ]

    def test_the_identify_ties_the_anonymous_visit_to_the_customer(self) -> None:
        records = canonical(parse_fixture("events.jsonl"))
        keys_before = {i.key for i in records[0].identifiers}
        identify_keys = {i.key for i in records[3].identifiers}
        assert keys_before == {f"anon:{WEB_ANON}"}
        assert keys_before < identify_keys
        assert identify_keys == {
            f"anon:{WEB_ANON}",
            "ext:segment:cust_48213",
            "email:ana.garcia@example.com",
            "phone:+34612345678",
        }
        assert records[4].record_id == "segment:person:cust_48213"


class TestInputShapes:
    """JSON lines, a JSON array and a ``{"batch": [...]}`` payload give the same records."""

    def lines(self) -> list[bytes]:
        return (FIXTURES / "events.jsonl").read_bytes().splitlines()

    def test_json_array(self) -> None:
        array = b"[\n" + b",\n".join(self.lines()) + b"\n]\n"
        assert dumped(parse(array)) == [
            (f"item {item}", record) for item, record in zip(SESSION_LINES, SESSION, strict=True)
        ]

    def test_pretty_printed_batch_payload(self) -> None:
        assert dumped(parse_fixture("batch.json")) == [
            (f"item {item}", record) for item, record in zip(SESSION_LINES, SESSION, strict=True)
        ]

    def test_batch_payloads_as_json_lines(self) -> None:
        events = [json.loads(line) for line in self.lines()]
        data = jsonl({"batch": events[:3], "sentAt": WHEN}, {"batch": events[3:]})
        positions = [f"line 1 item {n}" for n in (1, 2, 3)]
        positions += [f"line 2 item {n}" for n in (1, 1, 2, 3, 3, 4)]  # identify; a zone
        assert dumped(parse(data)) == list(zip(positions, SESSION, strict=True))

    def test_a_single_event_on_one_line(self) -> None:
        assert dumped(parse(json.dumps(event()).encode())) == [("line 1", site_event())]

    def test_a_pretty_printed_single_event_is_one_event(self) -> None:
        pretty = parse(json.dumps(event(), indent=2).encode())
        compact = parse(json.dumps(event()).encode())
        assert [r.record for r in pretty if isinstance(r, Parsed)] == [
            r.record for r in compact if isinstance(r, Parsed)
        ]
        assert len(pretty) == len(compact) >= 1

    def test_empty_input(self) -> None:
        assert parse(b"") == []
        assert parse(b"[]") == []
        assert parse(b'{"batch": []}') == []


class TestMessyFile:
    """``messy.jsonl``: every broken line is one item error; the good lines still parse."""

    def test_results_in_order(self) -> None:
        summary = [
            (r.position, r.record.kind, r.record.external_id)
            if isinstance(r, Parsed)
            else (r.position, "error" if isinstance(r, ItemError) else "ignored", r.reason)
            for r in parse_fixture("messy.jsonl")
        ]
        assert summary == [
            ("line 1", "site_event", "ajs-next-1a2b3c4d5e6f40718293a4b5c6d7e8f9"),
            ("line 2", "error", "invalid JSON: Expecting value at column 197"),
            ("line 3", "site_event", DERIVED_LINE_3),
            ("line 4", "ignored", IGNORED_GROUP),
            ("line 5", "error", "timestamp: timestamp '2024-13-45T10:00:00Z' is not ISO 8601"),
            ("line 6", "site_event", "ajs-next-4d5e6f7a8b9c4d0e1f2a3b4c5d6e7f80"),
            ("line 6", "person", MESSY_ANON),
            ("line 7", "error", "expected a JSON object, got an array"),
            # line 8 is blank
            ("line 9", "error", "no anonymousId, userId, e-mail or phone"),
            (
                "line 10",
                "error",
                "no anonymousId, userId, e-mail or phone; "
                "traits.email: invalid e-mail address 'not-an-email': "
                "An email address must have an @-sign.; "
                "traits.phone: invalid phone number '12' (read in region ES)",
            ),
            ("line 11", "error", "properties is not a JSON object but a string"),
            (
                "line 12",
                "error",
                "occurred_at: timestamp 2099-01-01T00:00:00+00:00 is in the future",
            ),
            ("line 13", "site_event", "ajs-next-8b9c0d1e2f3a4b4c5d6e7f8091021324"),
        ]

    def test_errors_keep_the_raw_line(self) -> None:
        errors = {
            r.position: r.raw.rstrip("\n")
            for r in parse_fixture("messy.jsonl")
            if isinstance(r, ItemError)
        }
        lines = (FIXTURES / "messy.jsonl").read_text(encoding="utf-8").splitlines()
        assert errors == {f"line {n}": lines[n - 1] for n in (2, 5, 7, 9, 10, 11, 12)}
        assert errors["line 7"] == '["track","Order Completed",{"order_id":"2210"}]'

    def test_an_invalid_email_is_dropped_and_the_event_kept(self) -> None:
        line_6 = [
            r.record.model_dump(mode="json")
            for r in parse_fixture("messy.jsonl")
            if isinstance(r, Parsed) and r.position == "line 6"
        ]
        when = "2024-06-03T14:08:12.004000Z"
        assert line_6 == [
            site_event(
                external_id="ajs-next-4d5e6f7a8b9c4d0e1f2a3b4c5d6e7f80",
                occurred_at=when,
                identifiers=[anon(MESSY_ANON)],
                event_type="identify",
                name=None,
                properties={"firstName": "Luis", "lastName": "Ortega"},
            ),
            person(
                external_id=MESSY_ANON,
                occurred_at=when,
                updated_at=when,
                identifiers=[anon(MESSY_ANON)],
                given_name="Luis",
                family_name="Ortega",
            ),
        ]

    def test_errors_in_a_batch_are_numbered_by_item(self) -> None:
        data = json.dumps(
            {"batch": [event(), event("messageId"), "oops", event(messageId="m-2")]}, indent=2
        ).encode()
        summary = [
            (r.position, r.record.external_id if isinstance(r, Parsed) else r.reason)
            for r in parse(data)
        ]
        assert summary == [
            ("item 1", "m-1"),
            ("item 2", DERIVED_M1),
            ("item 3", "expected a JSON object, got a string"),
            ("item 4", "m-2"),
        ]
        raw = [r.raw for r in parse(data) if isinstance(r, ItemError)]
        assert raw == ['"oops"']

    def test_a_truncated_batch_ends_with_one_error(self) -> None:
        data = json.dumps({"batch": [event(), event(messageId="m-2")]}, indent=2).encode()
        results = parse(data[:-40])
        assert [r.position for r in results] == ["item 1", "after item 1"]
        assert isinstance(results[1], ItemError)
        assert results[1].reason.startswith("invalid JSON: ")


class TestEventTypes:
    @pytest.mark.parametrize("kind", ["Track", "screenview", 7])
    def test_unknown_type_is_named(self, kind: Any) -> None:
        assert reason_of(event(type=kind)) == (
            f"unknown event type {kind!r} (expected identify, track, page, screen, group or alias)"
        )

    def test_group_is_read_and_ignored_with_its_reason(self) -> None:
        data = json.dumps(event(type="group", groupId="acme")).encode()
        assert parse(data) == [Ignored(position="line 1", reason=IGNORED_GROUP)]

    def test_missing_type(self) -> None:
        assert reason_of(event("type")) == "no event type"

    @pytest.mark.parametrize(
        ("value", "described"),
        [
            ("track", "a string"),
            (42, "a number"),
            (None, "null"),
            (True, "a boolean"),
            ([{"type": "track"}], "an array"),
        ],
    )
    def test_not_an_object(self, value: Any, described: str) -> None:
        results = parse(jsonl(event(), value))  # a first line "[" would make it a JSON array
        assert [(r.position, r.reason) for r in results if isinstance(r, ItemError)] == [
            ("line 2", f"expected a JSON object, got {described}")
        ]


class TestMessageId:
    def test_is_the_external_id(self) -> None:
        assert record_of(event(messageId="ajs-next-42"))["external_id"] == "ajs-next-42"

    @pytest.mark.parametrize("omit", [True, False])
    def test_missing_or_blank_is_derived_from_the_content(self, omit: bool) -> None:
        data = event("messageId") if omit else event(messageId="  ")
        assert record_of(data)["external_id"] == DERIVED_M1

    def test_a_resent_message_keeps_its_derived_id(self) -> None:
        first = event("messageId", sentAt="2024-05-06T09:15:03Z", receivedAt="2024-05-06T09:15:04Z")
        again = {**first, "sentAt": "2024-05-06T10:00:00Z", "receivedAt": "2024-05-06T10:00:01Z"}
        assert record_of(first)["external_id"] == record_of(again)["external_id"]

    def test_a_different_message_gets_another_derived_id(self) -> None:
        other = event("messageId", event="Checkout Started")
        assert record_of(other)["external_id"] != DERIVED_M1

    def test_a_number_is_written_out(self) -> None:
        assert record_of(event(messageId=90210))["external_id"] == "90210"

    def test_too_long(self) -> None:
        assert reason_of(event(messageId="m" * 257)) == (
            "external_id: String should have at most 256 characters"
        )


class TestTimestamps:
    def test_offset_is_converted_to_utc(self) -> None:
        data = event(timestamp="2024-05-06T11:15:02.114+02:00")
        assert record_of(data)["occurred_at"] == WHEN_DUMPED

    @pytest.mark.parametrize("fallback", ["originalTimestamp", "receivedAt"])
    def test_fallbacks(self, fallback: str) -> None:
        assert record_of(event("timestamp", **{fallback: WHEN}))["occurred_at"] == WHEN_DUMPED

    def test_timestamp_wins_over_the_others(self) -> None:
        data = event(originalTimestamp="2024-05-06T09:14:00Z", receivedAt="2024-05-06T09:16:00Z")
        assert record_of(data)["occurred_at"] == WHEN_DUMPED

    def test_original_timestamp_wins_over_received_at(self) -> None:
        data = event("timestamp", originalTimestamp=WHEN, receivedAt="2024-05-06T09:16:00Z")
        assert record_of(data)["occurred_at"] == WHEN_DUMPED

    def test_null_falls_back(self) -> None:
        assert record_of(event(timestamp=None, receivedAt=WHEN))["occurred_at"] == WHEN_DUMPED

    def test_missing(self) -> None:
        assert reason_of(event("timestamp")) == "no timestamp, originalTimestamp or receivedAt"

    def test_invalid_does_not_fall_back(self) -> None:
        data = event(timestamp="yesterday", receivedAt=WHEN)
        assert reason_of(data) == "timestamp: timestamp 'yesterday' is not ISO 8601"

    def test_invalid_fallback_is_named(self) -> None:
        data = event("timestamp", originalTimestamp=1714986902114)
        assert reason_of(data) == ("originalTimestamp: timestamp '1714986902114' is not ISO 8601")

    def test_without_a_time_zone(self) -> None:
        assert reason_of(event(timestamp="2024-05-06T09:15:02")) == (
            "timestamp: timestamp '2024-05-06T09:15:02' has no time zone"
        )

    def test_in_the_future(self) -> None:
        assert reason_of(event(timestamp="2099-05-06T09:15:02Z")) == (
            "occurred_at: timestamp 2099-05-06T09:15:02+00:00 is in the future"
        )


class TestSource:
    def test_default(self) -> None:
        record = record_of(event(userId="u-1"))
        assert record["source"] == "segment"
        assert record["identifiers"] == [anon(WEB_ANON), ext("u-1")]

    def test_from_settings(self) -> None:
        record = record_of(event(userId="u-1"), source="segment-eu")
        assert record["source"] == "segment-eu"
        assert record["identifiers"] == [anon(WEB_ANON), ext("u-1", "segment-eu")]

    def test_person_and_alias_use_it_too(self) -> None:
        records = records_of(
            identify(userId="u-1"),
            event(type="alias", userId="u-1", previousId="legacy-7"),
            source="app-events",
        )
        assert {r["source"] for r in records} == {"app-events"}
        assert records[1]["identifiers"] == [anon(WEB_ANON), ext("u-1", "app-events")]
        assert records[2]["identifiers"] == [
            anon(WEB_ANON),
            ext("u-1", "app-events"),
            ext("legacy-7", "app-events"),
        ]

    def test_invalid_source_rejects_each_event(self) -> None:
        results = parse(jsonl(event(), event(messageId="m-2")), source="Segment EU")
        pattern = "String should match pattern '^[a-z0-9][a-z0-9_.-]{0,63}$'"
        assert [(r.position, r.reason) for r in results if isinstance(r, ItemError)] == [
            ("line 1", f"source: {pattern}"),
            ("line 2", f"source: {pattern}"),
        ]


class TestIdentifiers:
    def test_anonymous_and_user_id(self) -> None:
        assert record_of(event(userId="cust_1"))["identifiers"] == [
            anon(WEB_ANON),
            ext("cust_1"),
        ]

    def test_user_id_only(self) -> None:
        assert record_of(event("anonymousId", userId="cust_1"))["identifiers"] == [ext("cust_1")]

    def test_numeric_user_id_is_written_out(self) -> None:
        assert record_of(event(userId=48213))["identifiers"] == [anon(WEB_ANON), ext("48213")]

    def test_blank_and_null_ids_are_absent(self) -> None:
        assert record_of(event(userId="", anonymousId=WEB_ANON))["identifiers"] == [anon(WEB_ANON)]
        assert record_of(event(userId="cust_1", anonymousId=None))["identifiers"] == [ext("cust_1")]

    def test_email_and_phone_from_context_traits(self) -> None:
        data = event(context={"traits": {"email": " Ana@Example.COM ", "phone": "612345678"}})
        assert record_of(data)["identifiers"] == [
            anon(WEB_ANON),
            email("ana@example.com"),
            phone("+34612345678"),
        ]

    def test_traits_win_over_context_traits(self) -> None:
        data = identify(
            traits={"email": "ana@example.com"},
            context={"traits": {"email": "old@example.com", "phone": "+34 612 34 56 78"}},
        )
        assert records_of(data)[0]["identifiers"] == [
            anon(WEB_ANON),
            email("ana@example.com"),
            phone("+34612345678"),
        ]

    def test_phone_is_read_in_the_default_region(self) -> None:
        data = event(context={"traits": {"phone": "(415) 555-2671"}})
        assert record_of(data, region="US")["identifiers"] == [
            anon(WEB_ANON),
            phone("+14155552671"),
        ]
        assert record_of(data, region="ES")["identifiers"] == [anon(WEB_ANON)]  # dropped

    def test_numeric_phone(self) -> None:
        data = event(context={"traits": {"phone": 612345678}})
        assert record_of(data)["identifiers"] == [anon(WEB_ANON), phone("+34612345678")]

    @pytest.mark.parametrize(
        "traits",
        [{"email": "ana@"}, {"email": 42}, {"phone": "12"}, {"phone": "not a phone"}],
    )
    def test_an_invalid_email_or_phone_is_dropped(self, traits: Record) -> None:
        assert record_of(event(context={"traits": traits}))["identifiers"] == [anon(WEB_ANON)]

    def test_nothing_to_identify(self) -> None:
        data = event("anonymousId", userId=None)
        assert reason_of(data) == "no anonymousId, userId, e-mail or phone"

    def test_only_unusable_contacts(self) -> None:
        data = event("anonymousId", context={"traits": {"email": 42}})
        assert reason_of(data) == (
            "no anonymousId, userId, e-mail or phone; "
            "context.traits.email: Input should be a valid string"
        )

    def test_an_email_alone_is_enough(self) -> None:
        data = event("anonymousId", context={"traits": {"email": "ana@example.com"}})
        assert record_of(data)["identifiers"] == [email("ana@example.com")]

    def test_a_user_id_that_is_not_text(self) -> None:
        assert reason_of(event(userId={"id": 1})) == (
            "identifiers.1.value: Input should be a valid string"
        )


class TestNames:
    def test_track_is_named_by_its_event(self) -> None:
        assert record_of(event(event="Order Completed"))["name"] == "Order Completed"

    @pytest.mark.parametrize("name", [None, "", "  "])
    def test_track_needs_an_event_name(self, name: str | None) -> None:
        assert reason_of(event(event=name)) == "track has no event name"

    def test_page_name(self) -> None:
        data = event("event", type="page", name="Pricing", properties={"title": "Pricing | Shop"})
        assert record_of(data)["name"] == "Pricing"

    @pytest.mark.parametrize(
        ("name", "properties", "expected"),
        [
            (None, {"title": "Pricing | Shop", "name": "pricing"}, "Pricing | Shop"),
            ("", {"name": "pricing"}, "pricing"),
            (None, {}, None),
        ],
    )
    def test_page_name_fallbacks(
        self, name: str | None, properties: Record, expected: str | None
    ) -> None:
        data = event("event", type="page", name=name, properties=properties)
        assert record_of(data)["name"] == expected

    def test_screen_name(self) -> None:
        data = event("event", type="screen", name="Cart", properties={"name": "cart"})
        assert record_of(data)["name"] == "Cart"

    def test_screen_name_fallback(self) -> None:
        assert record_of(event("event", type="screen", properties={"name": "Cart"}))["name"] == (
            "Cart"
        )

    def test_identify_and_alias_have_no_name(self) -> None:
        records = records_of(
            identify(name="ignored"),
            event("event", type="alias", userId="u-1", previousId="u-0", name="ignored"),
        )
        assert [r["name"] for r in records if r["kind"] == "site_event"] == [None, None]

    def test_a_name_that_is_not_text(self) -> None:
        assert reason_of(event(event=["Signed", "Up"])) == "name: Input should be a valid string"


class TestChannel:
    @pytest.mark.parametrize(
        ("kind", "context", "channel"),
        [
            ("page", {}, "web"),
            ("track", {"library": {"name": "analytics.js", "version": "next-1.64.0"}}, "web"),
            ("screen", {}, "app"),
            ("track", {"app": {"name": "Example Shop", "version": "5.2.1"}}, "app"),
            ("track", {"device": {"type": "ios"}}, "app"),
            ("track", {"device": {"type": "Android"}}, "app"),
            ("track", {"device": {"type": "web"}}, "web"),
            ("track", {"app": {}}, "web"),
            ("track", {"library": {"name": "analytics-node"}}, "server"),
            ("track", {"library": {"name": "@segment/analytics-node"}}, "server"),
            ("track", {"library": {"name": "analytics-python"}}, "server"),
            ("track", {"library": {"name": "analytics-ruby"}}, "server"),
            ("track", {"library": {"name": "analytics-go"}}, "server"),
            ("track", {"library": {"name": "analytics-java"}}, "server"),
            ("identify", {"library": {"name": "analytics-python"}}, "server"),
            (
                "track",
                {"library": {"name": "analytics-java"}, "device": {"type": "android"}},
                "app",
            ),
            ("track", {"library": "analytics-node", "device": "ios", "app": "shop"}, "web"),
        ],
    )
    def test_channel(self, kind: str, context: Record, channel: str) -> None:
        data = event(type=kind, name="Home", context=context)
        assert records_of(data)[0]["channel"] == channel


class TestPageContext:
    def test_properties_win(self) -> None:
        data = event(
            properties={"url": "https://a.example/x", "referrer": "https://b.example/"},
            context={
                "page": {"url": "https://a.example/", "referrer": "https://c.example/"},
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Firefox/126.0",
            },
        )
        record = record_of(data)
        assert (record["url"], record["referrer"], record["user_agent"]) == (
            "https://a.example/x",
            "https://b.example/",
            "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Firefox/126.0",
        )

    def test_context_page_fills_in(self) -> None:
        data = event(context={"page": {"url": "https://a.example/", "referrer": ""}})
        record = record_of(data)
        assert (record["url"], record["referrer"], record["user_agent"]) == (
            "https://a.example/",
            None,
            None,
        )

    def test_a_context_that_is_not_an_object_is_ignored(self) -> None:
        assert record_of(event(context="analytics.js")) == site_event()

    def test_too_long_a_url(self) -> None:
        data = event(properties={"url": "https://a.example/" + "x" * 4000})
        assert reason_of(data) == "url: String should have at most 4000 characters"


class TestProperties:
    def test_numbers_become_ints_and_floats(self) -> None:
        data = b"".join(
            [
                b'{"type":"track","messageId":"m-1","anonymousId":"a-1","event":"Paid",',
                b'"timestamp":"2024-05-06T09:15:02.114Z","properties":',
                b'{"price":19.99,"whole":20.0,"exp":1e2,"count":3,"small":1.5e-3,',
                b'"nested":{"list":[0.1,2,{"x":-7.25}]},"big":123456789012345678901234567890,',
                b'"bigdec":1.5e300,"none":null,"flag":true,"text":"9.99"}}\n',
            ]
        )
        [(_, record)] = dumped(parse(data))
        properties = record["properties"]
        assert properties == {
            "price": 19.99,
            "whole": 20,
            "exp": 100,
            "count": 3,
            "small": 0.0015,
            "nested": {"list": [0.1, 2, {"x": -7.25}]},
            "big": 1.2345678901234568e29,
            "bigdec": 1.5e300,
            "none": None,
            "flag": True,
            "text": "9.99",
        }
        assert [type(properties[k]) for k in ("price", "whole", "exp", "count", "big")] == [
            float,
            int,
            int,
            int,
            float,
        ]
        json.dumps(properties, allow_nan=False)

    def test_not_a_number_becomes_null(self) -> None:
        data = (
            b'{"type":"track","messageId":"m-1","anonymousId":"a-1","event":"Paid",'
            b'"timestamp":"2024-05-06T09:15:02.114Z","properties":{"a":NaN,"b":-Infinity,'
            b'"c":1e999}}\n'
        )
        [(_, record)] = dumped(parse(data))
        assert record["properties"] == {"a": None, "b": None, "c": None}

    def test_the_same_numbers_from_a_streamed_array(self) -> None:
        line = jsonl(event(properties={"price": 19.99, "whole": 20.0, "n": [1, 2.5]}))
        [(_, from_lines)] = dumped(parse(line))
        [(_, from_array)] = dumped(parse(b"[" + line + b"]"))
        assert (
            from_lines["properties"]
            == from_array["properties"]
            == {
                "price": 19.99,
                "whole": 20,
                "n": [1, 2.5],
            }
        )

    def test_missing_properties_are_empty(self) -> None:
        assert record_of(event(properties=None))["properties"] == {}

    def test_identify_keeps_its_traits_but_the_contacts(self) -> None:
        data = identify(
            traits={"email": "ana@example.com", "phone": "+34612345678", "plan": "gold", "age": 36}
        )
        assert records_of(data)[0]["properties"] == {"plan": "gold", "age": 36}

    def test_alias_records_the_previous_id(self) -> None:
        data = event("event", type="alias", userId="u-1", previousId=" legacy-7 ")
        assert record_of(data)["properties"] == {"previousId": "legacy-7"}

    def test_identify_and_alias_ignore_given_properties(self) -> None:
        records = records_of(
            identify(properties="x", traits={"plan": "gold"}),
            event(
                "event", type="alias", previousId="u-0", properties={"url": "https://a.example/"}
            ),
        )
        assert [(r["url"], r["properties"]) for r in records if r["kind"] == "site_event"] == [
            (None, {"plan": "gold"}),
            (None, {"previousId": "u-0"}),
        ]

    @pytest.mark.parametrize(("field", "kind"), [("properties", "track"), ("traits", "identify")])
    def test_not_an_object(self, field: str, kind: str) -> None:
        assert reason_of(event(type=kind, **{field: ["a", "b"]})) == (
            f"{field} is not a JSON object but an array"
        )


class TestIdentifyPerson:
    def test_keyed_by_user_id(self) -> None:
        site, person_record = records_of(identify(userId="cust_1", traits={"name": "Ana García"}))
        identifiers = [anon(WEB_ANON), ext("cust_1")]
        assert site == site_event(
            event_type="identify",
            name=None,
            identifiers=identifiers,
            properties={"name": "Ana García"},
        )
        assert person_record == person(
            external_id="cust_1", identifiers=identifiers, full_name="Ana García"
        )

    def test_keyed_by_anonymous_id_without_a_user_id(self) -> None:
        _, person_record = records_of(identify(traits={"firstName": "Ana"}))
        assert person_record == person(given_name="Ana")

    def test_a_later_identify_is_a_newer_revision(self) -> None:
        results = parse(
            jsonl(
                identify(userId="cust_1", traits={"email": "ana@example.com"}),
                identify(
                    messageId="m-2",
                    userId="cust_1",
                    timestamp="2024-06-01T08:00:00Z",
                    traits={"email": "ana.garcia@example.com"},
                ),
            )
        )
        people = [r.record for r in results if isinstance(r, Parsed) and r.record.kind == "person"]
        assert [p.record_id for p in people] == ["segment:person:cust_1"] * 2
        assert people[1].revision > people[0].revision

    def test_no_person_without_user_or_anonymous_id(self) -> None:
        data = identify("anonymousId", traits={"email": "ana@example.com", "firstName": "Ana"})
        assert records_of(data) == [
            site_event(
                event_type="identify",
                name=None,
                identifiers=[email("ana@example.com")],
                properties={"firstName": "Ana"},
            )
        ]

    def test_snake_case_names(self) -> None:
        data = identify(traits={"first_name": "Ana", "last_name": "García"})
        assert records_of(data)[1] == person(given_name="Ana", family_name="García")

    def test_camel_case_names_win(self) -> None:
        data = identify(traits={"firstName": "Ana", "first_name": "Anita", "lastName": "García"})
        assert records_of(data)[1] == person(given_name="Ana", family_name="García")

    def test_address(self) -> None:
        address = {
            "street": "1600 Amphitheatre Pkwy",
            "city": "Mountain View",
            "state": "CA",
            "postalCode": 94043,
            "country": "us",
        }
        assert records_of(identify(traits={"address": address}))[1]["addresses"] == [
            {
                "line1": "1600 Amphitheatre Pkwy",
                "line2": None,
                "city": "Mountain View",
                "region": "CA",
                "postal_code": "94043",
                "country": "US",
            }
        ]

    @pytest.mark.parametrize(
        "address",
        [
            {"street": "Calle de Alcalá 42", "city": "Madrid", "country": "XX"},
            {"street": "Calle de Alcalá 42", "city": "Madrid"},
            {"city": "Madrid", "country": "ES"},
            {"street": "  ", "country": "ES"},
            "Calle de Alcalá 42, Madrid",
        ],
    )
    def test_address_skipped(self, address: Any) -> None:
        site, person_record = records_of(identify(traits={"address": address}))
        assert person_record["addresses"] == []
        assert site["properties"] == {"address": address}

    @pytest.mark.parametrize(
        "birthday", ["1988-03-14", "1988-03-14T00:00:00.000Z", "1988-03-14 00:00:00"]
    )
    def test_birthday_date_part(self, birthday: str) -> None:
        assert records_of(identify(traits={"birthday": birthday}))[1]["birth_date"] == (
            "1988-03-14"
        )

    def test_blank_birthday(self) -> None:
        assert records_of(identify(traits={"birthday": ""}))[1]["birth_date"] is None

    @pytest.mark.parametrize(
        ("birthday", "reason"),
        [
            ("1850-01-01", "birth_date: implausible birth date 1850-01-01"),
            (
                "14/03/1988",
                "birth_date: Input should be a valid date or datetime, invalid character in year",
            ),
        ],
    )
    def test_invalid_birthday_rejects_the_event(self, birthday: str, reason: str) -> None:
        assert reason_of(identify(traits={"birthday": birthday})) == reason

    def test_person_problems_reject_the_whole_event(self) -> None:
        assert reason_of(identify(traits={"firstName": "A" * 201})) == (
            "given_name: String should have at most 200 characters"
        )


class TestAlias:
    def alias(self, *omit: str, **fields: Any) -> Record:
        return event("event", *omit, type="alias", **fields)

    def test_previous_id_is_the_anonymous_id(self) -> None:
        data = self.alias(userId="cust_1", previousId=WEB_ANON)
        assert record_of(data)["identifiers"] == [anon(WEB_ANON), ext("cust_1")]

    def test_previous_id_looks_anonymous(self) -> None:
        data = self.alias("anonymousId", userId="cust_1", previousId=APP_ANON)
        assert record_of(data)["identifiers"] == [ext("cust_1"), anon(APP_ANON)]

    def test_previous_id_is_an_earlier_user_id(self) -> None:
        data = self.alias(userId="cust_1", previousId="legacy-99120")
        assert record_of(data)["identifiers"] == [
            anon(WEB_ANON),
            ext("cust_1"),
            ext("legacy-99120"),
        ]

    def test_previous_id_equal_to_the_user_id(self) -> None:
        data = self.alias("anonymousId", userId=APP_ANON, previousId=APP_ANON)
        assert record_of(data)["identifiers"] == [ext(APP_ANON)]

    def test_previous_id_without_a_user_id(self) -> None:
        data = self.alias(previousId="legacy-99120")
        assert record_of(data)["identifiers"] == [anon(WEB_ANON), ext("legacy-99120")]

    @pytest.mark.parametrize("previous", [None, ""])
    def test_needs_a_previous_id(self, previous: str | None) -> None:
        assert reason_of(self.alias(userId="cust_1", previousId=previous)) == (
            "alias has no previousId"
        )

    def test_record(self) -> None:
        data = self.alias("anonymousId", userId="cust_1", previousId=WEB_ANON)
        assert record_of(data) == site_event(
            event_type="alias",
            name=None,
            identifiers=[ext("cust_1"), anon(WEB_ANON)],
            properties={"previousId": WEB_ANON},
        )


APNS_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"
APNS_TOKEN_ID = "push:dba9766edbe7944b609abdcf70ad5ae9"


def push_status(**fields: Any) -> Record:
    """A dumped push-token status as a ``track`` of :func:`event` carrying APNS_TOKEN yields."""
    return {
        "source": "segment",
        "external_id": APNS_TOKEN_ID,
        "occurred_at": WHEN_DUMPED,
        "updated_at": WHEN_DUMPED,
        "identifiers": [anon(WEB_ANON)],
        "kind": "contact_point_status",
        "origin": "import",
        "actor": None,
        "evidence": "segment track messageId=m-1 context.device.token",
        "channel": "push",
        "contact_point": APNS_TOKEN,
        "status": "verified",
        "reason": None,
        **fields,
    }


def on_device(token: Any = APNS_TOKEN, **fields: Any) -> Record:
    """A ``track`` of :func:`event` from an iPhone app with ``token`` as its push token."""
    device = {"manufacturer": "Apple", "type": "ios", "token": token}
    return event(context={"device": device, "app": {"name": "Example Shop"}}, **fields)


class TestPushToken:
    def test_a_track_with_a_device_token_states_the_token(self) -> None:
        assert records_of(on_device()) == [site_event(channel="app"), push_status()]

    def test_an_identify_links_the_token_to_the_person(self) -> None:
        data = on_device(
            "  " + APNS_TOKEN + " ",
            type="identify",
            userId="cust_1",
            traits={"email": "Ana@Example.com", "phone": "612 34 56 78"},
        )
        site, person, status = records_of(data)
        assert (site["kind"], person["kind"]) == ("site_event", "person")
        # The event's identifiers, normalised: the phone in E.164 in the default region.
        assert status == push_status(
            identifiers=[
                anon(WEB_ANON),
                ext("cust_1"),
                email("ana@example.com"),
                phone("+34612345678"),
            ],
            evidence="segment identify messageId=m-1 context.device.token",
        )

    def test_a_screen_states_it_too(self) -> None:
        data = on_device("event", type="screen", name="Home")
        assert [r["kind"] for r in records_of(data)] == ["site_event", "contact_point_status"]

    @pytest.mark.parametrize("kind", ["page", "alias"])
    def test_pages_and_aliases_do_not(self, kind: str) -> None:
        data = on_device("event", type=kind, previousId="cust_0")
        assert [r["kind"] for r in records_of(data)] == ["site_event"]

    @pytest.mark.parametrize("token", [None, "", "   ", 1234, {"id": "x"}, ["x"], "x" * 4097])
    def test_an_unusable_token_is_left_out_and_the_event_kept(self, token: Any) -> None:
        assert records_of(on_device(token)) == [site_event(channel="app")]

    def test_later_events_are_revisions_of_one_record(self) -> None:
        later = on_device(messageId="m-2", timestamp="2024-05-07T10:00:00Z", userId="cust_1")
        first, second = (
            r for r in canonical(parse(jsonl(on_device(), later))) if r.kind != "site_event"
        )
        assert (
            first.record_id == second.record_id == f"segment:contact_point_status:{APNS_TOKEN_ID}"
        )
        assert first.revision < second.revision
        assert [i.key for i in second.identifiers] == [f"anon:{WEB_ANON}", "ext:segment:cust_1"]

    def test_the_same_input_twice_gives_the_same_records(self) -> None:
        data = jsonl(on_device(), on_device(messageId="m-2"))
        assert canonical(parse(data)) == canonical(parse(data))

    def test_another_token_is_another_record(self) -> None:
        statuses = [
            r
            for r in canonical(parse(jsonl(on_device(), on_device("a" * 64, messageId="m-2"))))
            if r.kind == "contact_point_status"
        ]
        assert len({s.record_id for s in statuses}) == 2


class _EndlessEvents(io.RawIOBase):
    """A stream that never ends: ``head``, then ``event`` over and over; counts bytes read."""

    def __init__(self, head: bytes, event: bytes) -> None:
        self._pending = head
        self._event = event
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        while len(self._pending) < size:
            self._pending += self._event * 64
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.bytes_read += size
        return size


class TestLaziness:
    @pytest.mark.parametrize(
        ("head", "separator", "positions"),
        [
            (b"", b"\n", ["line 1", "line 2", "line 3"]),
            (b"[\n", b",\n", ["item 1", "item 2", "item 3"]),
            (b'{\n  "batch": [\n', b",\n", ["item 1", "item 2", "item 3"]),
        ],
    )
    def test_results_come_before_the_end(
        self, head: bytes, separator: bytes, positions: list[str]
    ) -> None:
        raw = _EndlessEvents(head, json.dumps(event()).encode() + separator)
        results = SegmentConnector().parse(io.BufferedReader(raw), parse_options())
        first = list(itertools.islice(results, 3))
        assert [r.position for r in first] == positions
        assert all(isinstance(r, Parsed) for r in first)
        assert raw.bytes_read < 1_000_000
