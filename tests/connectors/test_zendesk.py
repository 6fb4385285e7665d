"""``zendesk-tickets``: incremental ticket export pages → service cases and persons."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ItemError, Parsed, ParseOptions, ParseResult
from connectors.zendesk import ZendeskTicketsConnector
from schemas import Identifier, IdentifierType, Person, RecordKind, ServiceCase
from tests.helpers import parse_options

FIXTURES = Path(__file__).parent.parent / "fixtures" / "zendesk"
CONNECTOR = ZendeskTicketsConnector()
OPTIONS = parse_options()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def load(name: str) -> dict[str, Any]:
    page: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return page


def parse_file(name: str, options: ParseOptions = OPTIONS) -> list[ParseResult]:
    with (FIXTURES / name).open("rb") as stream:
        return list(CONNECTOR.parse(stream, options))


def parse_bytes(data: bytes, options: ParseOptions = OPTIONS) -> list[ParseResult]:
    return list(CONNECTOR.parse(io.BytesIO(data), options))


def page_results(page: dict[str, Any], options: ParseOptions = OPTIONS) -> list[ParseResult]:
    results, _, _ = CONNECTOR.parse_page(page, options)
    return results


def at(results: list[ParseResult], position: str) -> ParseResult:
    found = [result for result in results if result.position == position]
    assert len(found) == 1, f"{len(found)} results at {position!r}"
    return found[0]


def case_at(results: list[ParseResult], position: str) -> ServiceCase:
    result = at(results, position)
    assert isinstance(result, Parsed), result
    assert isinstance(result.record, ServiceCase)
    return result.record


def person_at(results: list[ParseResult], position: str) -> Person:
    result = at(results, position)
    assert isinstance(result, Parsed), result
    assert isinstance(result.record, Person)
    return result.record


def error_at(results: list[ParseResult], position: str) -> ItemError:
    result = at(results, position)
    assert isinstance(result, ItemError), result
    return result


def positions(results: list[ParseResult]) -> list[str]:
    return [result.position for result in results]


def keys(identifiers: list[Identifier]) -> list[str]:
    return [identifier.key for identifier in identifiers]


def ticket(**fields: Any) -> dict[str, Any]:
    """A minimal valid export ticket, fields overridden (``None`` values are kept)."""
    base: dict[str, Any] = {
        "id": 1,
        "via": {"channel": "email"},
        "created_at": "2024-03-01T09:00:00Z",
        "updated_at": "2024-03-01T10:00:00Z",
        "type": None,
        "subject": "Help",
        "description": "Please help.",
        "priority": "normal",
        "status": "open",
        "requester_id": 100,
        "tags": [],
        "satisfaction_rating": None,
    }
    base.update(fields)
    return base


def user(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 100,
        "name": "Kim Lee",
        "email": "kim.lee@example.com",
        "phone": None,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-02-01T00:00:00Z",
        "locale": "en-US",
        "iana_time_zone": "America/Chicago",
        "role": "end-user",
        "external_id": None,
    }
    base.update(fields)
    return base


def page(*tickets: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tickets": list(tickets),
        "users": [],
        "after_cursor": "Y3Vyc29y",
        "end_of_stream": False,
    }
    base.update(fields)
    return base


def one_case(item: dict[str, Any], options: ParseOptions = OPTIONS, **fields: Any) -> ServiceCase:
    return case_at(page_results(page(item, **fields), options), "page 1 ticket 1")


class TestConnectorDeclaration:
    def test_name_and_kinds(self) -> None:
        assert ZendeskTicketsConnector.name == "zendesk-tickets"
        assert ZendeskTicketsConnector.kinds == (RecordKind.SERVICE_CASE, RecordKind.PERSON)


class TestCursor:
    def test_first_page_returns_its_cursor_and_more_to_come(self) -> None:
        _, cursor, end = CONNECTOR.parse_page(load("page1.json"), OPTIONS)
        assert cursor == "MTcwOTMxNjMwMC4wfHwzNTQzOXw="
        assert end is False

    def test_last_page_ends_the_stream(self) -> None:
        _, cursor, end = CONNECTOR.parse_page(load("page2.json"), OPTIONS)
        assert cursor == "MTcwOTM3NDMyMC4wfHwzNTQzNnw="
        assert end is True

    def test_empty_page_still_has_cursor(self) -> None:
        results, cursor, end = CONNECTOR.parse_page(
            page(after_cursor="ZW5k", end_of_stream=True), OPTIONS
        )
        assert results == []
        assert (cursor, end) == ("ZW5k", True)

    def test_missing_cursor_is_none(self) -> None:
        _, cursor, end = CONNECTOR.parse_page({"tickets": []}, OPTIONS)
        assert (cursor, end) == (None, False)


class TestPageWithoutTickets:
    def test_missing_tickets_is_one_error_and_keeps_the_cursor(self) -> None:
        body = {"error": "InvalidCursor", "after_cursor": "abc", "end_of_stream": False}
        results, cursor, end = CONNECTOR.parse_page(body, OPTIONS, "page 4")
        assert results == [
            ItemError(
                position="page 4",
                raw='{"error":"InvalidCursor","after_cursor":"abc","end_of_stream":false}',
                reason="no list of tickets in the page",
            )
        ]
        assert (cursor, end) == ("abc", False)

    def test_tickets_not_a_list(self) -> None:
        results, cursor, end = CONNECTOR.parse_page(
            {"tickets": {"id": 1}, "end_of_stream": True}, OPTIONS
        )
        assert [(r.position, r.reason) for r in results if isinstance(r, ItemError)] == [
            ("page 1", "tickets is a object, not a list")
        ]
        assert (cursor, end) == (None, True)


class TestPositions:
    def test_parse_page_default_position(self) -> None:
        results = page_results(load("page1.json"))
        assert positions(results) == [
            "page 1 ticket 1",
            "page 1 ticket 2",
            "page 1 ticket 3",
            "page 1 ticket 4",
            "page 1 user 2",  # user 1 is the agent
            "page 1 user 3",
            "page 1 user 4",
        ]

    def test_parse_page_given_position(self) -> None:
        results, _, _ = CONNECTOR.parse_page(load("page2.json"), OPTIONS, "page 7")
        assert positions(results) == [
            "page 7 ticket 1",
            "page 7 ticket 2",
            "page 7 user 1",
            "page 7 user 3",  # user 2 is the agent
        ]

    def test_pretty_printed_page_is_document_1(self) -> None:
        results = parse_file("page1.json")
        assert positions(results)[:2] == ["document 1 ticket 1", "document 1 ticket 2"]
        assert all(isinstance(result, Parsed) for result in results)

    def test_json_lines_one_page_per_line(self) -> None:
        results = parse_file("pages.jsonl")
        assert positions(results) == [
            "line 1 ticket 1",
            "line 1 ticket 2",
            "line 1 ticket 3",
            "line 1 ticket 4",
            "line 1 user 2",
            "line 1 user 3",
            "line 1 user 4",
            "line 2 ticket 1",
            "line 2 ticket 2",
            "line 2 user 1",
            "line 2 user 3",
        ]
        assert all(isinstance(result, Parsed) for result in results)

    def test_file_and_page_give_the_same_records(self) -> None:
        from_file = [r.record for r in parse_file("page1.json") if isinstance(r, Parsed)]
        from_page = [r.record for r in page_results(load("page1.json")) if isinstance(r, Parsed)]
        assert from_file == from_page


class TestBrokenLines:
    def test_invalid_json_line_is_an_error_and_the_next_line_goes_on(self) -> None:
        good = json.dumps(page(ticket())).encode()
        results = parse_bytes(good + b'\n{"tickets": [\n' + good + b"\n")
        assert positions(results) == ["line 1 ticket 1", "line 2", "line 3 ticket 1"]
        error = error_at(results, "line 2")
        assert error.reason.startswith("invalid JSON: ")
        assert error.raw.strip() == '{"tickets": ['
        assert case_at(results, "line 3 ticket 1").external_id == "1"

    def test_line_that_is_not_an_object(self) -> None:
        results = parse_bytes(b"[1, 2]\n")
        assert [(r.position, r.reason) for r in results if isinstance(r, ItemError)] == [
            ("item 1", "not an incremental export page: expected a JSON object with tickets"),
            ("item 2", "not an incremental export page: expected a JSON object with tickets"),
        ]

    def test_blank_lines_are_skipped(self) -> None:
        line = json.dumps(page(ticket())).encode()
        results = parse_bytes(b"\n" + line + b"\n\n")
        assert positions(results) == ["line 2 ticket 1"]


class TestTicketToCase:
    def test_email_ticket_every_field(self) -> None:
        case = case_at(page_results(load("page1.json")), "page 1 ticket 1")
        assert case == ServiceCase(
            source="zendesk",
            external_id="35436",
            occurred_at=utc("2024-03-01T09:15:00Z"),
            updated_at=utc("2024-03-01T11:02:41Z"),
            identifiers=[
                Identifier(type=IdentifierType.EXTERNAL, source="zendesk", value="9001"),
                Identifier(type=IdentifierType.EMAIL, value="ana.garcia@example.com"),
                Identifier(type=IdentifierType.PHONE, value="+34600123456"),
            ],
            channel="email",
            status="open",
            priority="high",
            subject="Order #1042 arrived damaged",
            description=(
                "Hello, the blender I ordered (order #1042) arrived with a cracked jug. "
                "Can you send a replacement?"
            ),
            first_response_at=utc("2024-03-01T10:50:00Z"),
            solved_at=None,
            satisfaction=None,
            tags=["complaint", "damaged_item", "order_1042"],
            complaint=True,
            agent_replies=1,  # metric_set.replies: what first-contact resolution counts
        )
        assert case.record_id == "zendesk:service_case:35436"

    def test_voice_ticket(self) -> None:
        case = case_at(page_results(load("page1.json")), "page 1 ticket 2")
        assert (case.external_id, case.channel, case.status, case.priority) == (
            "35437",
            "phone",
            "solved",
            "normal",
        )
        assert case.subject == "Call from: +1 (415) 555-0132"
        assert case.satisfaction == "good"
        assert case.tags == ["refund_status", "voice"]
        assert case.complaint is False

    def test_messaging_ticket_with_null_priority(self) -> None:
        case = case_at(page_results(load("page1.json")), "page 1 ticket 3")
        assert (case.channel, case.status, case.priority) == ("chat", "pending", "normal")
        assert case.satisfaction is None

    def test_source_setting(self) -> None:
        options = parse_options(settings={"source": "zendesk-eu"})
        case = one_case(ticket(), options)
        assert case.source == "zendesk-eu"
        assert keys(case.identifiers) == ["ext:zendesk-eu:100"]

    def test_string_ids_are_kept(self) -> None:
        case = one_case(ticket(id="77", requester_id="100"))
        assert case.external_id == "77"
        assert keys(case.identifiers) == ["ext:zendesk:100"]

    def test_long_description_is_cut_not_rejected(self) -> None:
        case = one_case(ticket(description="x" * 25_000, subject="s" * 1200))
        assert case.description == "x" * 20_000
        assert case.subject == "s" * 1000

    def test_blank_subject_is_none(self) -> None:
        assert one_case(ticket(subject="  ", description=None)).subject is None


class TestStatus:
    @pytest.mark.parametrize(
        ("zendesk", "canonical"),
        [
            ("new", "new"),
            ("open", "open"),
            ("pending", "pending"),
            ("hold", "on_hold"),
            ("solved", "solved"),
            ("closed", "closed"),
            ("deleted", "closed"),
            ("Open", "open"),
        ],
    )
    def test_mapping(self, zendesk: str, canonical: str) -> None:
        assert one_case(ticket(status=zendesk)).status == canonical

    def test_deleted_ticket_from_the_export_is_a_closed_case(self) -> None:
        case = case_at(page_results(load("page2.json")), "page 1 ticket 2")
        assert (case.external_id, case.status, case.channel, case.priority) == (
            "35440",
            "closed",
            "other",
            "low",
        )

    def test_unknown_status_is_an_error(self) -> None:
        results = page_results(page(ticket(status="escalated")))
        assert error_at(results, "page 1 ticket 1").reason == (
            "status: unknown Zendesk ticket status 'escalated'"
        )

    def test_missing_status_is_an_error(self) -> None:
        results = page_results(page(ticket(status=None)))
        assert error_at(results, "page 1 ticket 1").reason == "status: missing"


class TestPriority:
    @pytest.mark.parametrize(
        ("zendesk", "canonical"),
        [("low", "low"), ("normal", "normal"), ("high", "high"), ("urgent", "urgent")],
    )
    def test_mapping(self, zendesk: str, canonical: str) -> None:
        assert one_case(ticket(priority=zendesk)).priority == canonical

    def test_null_is_normal(self) -> None:
        assert one_case(ticket(priority=None)).priority == "normal"

    def test_unknown_is_an_error(self) -> None:
        results = page_results(page(ticket(priority="critical")))
        assert error_at(results, "page 1 ticket 1").reason == (
            "priority: unknown Zendesk ticket priority 'critical'"
        )


class TestChannel:
    @pytest.mark.parametrize(
        ("via", "channel"),
        [
            ("email", "email"),
            ("web", "web"),
            ("voice", "phone"),
            ("chat", "chat"),
            ("native_messaging", "chat"),
            ("chat_transcript", "chat"),
            ("sms", "sms"),
            ("whatsapp", "whatsapp"),
            ("facebook", "social"),
            ("twitter", "social"),
            ("instagram_dm", "social"),
            ("any_channel", "social"),
            ("api", "other"),
            ("mobile_sdk", "other"),
            ("mobile", "other"),
            ("sample_ticket", "other"),
            ("other", "other"),
            ("carrier_pigeon", "other"),
        ],
    )
    def test_mapping(self, via: str, channel: str) -> None:
        assert one_case(ticket(via={"channel": via, "source": {}})).channel == channel

    @pytest.mark.parametrize("via", [None, {}, {"channel": None}, {"channel": 4}, "email"])
    def test_missing_or_odd_via_is_other(self, via: Any) -> None:
        assert one_case(ticket(via=via)).channel == "other"

    def test_unknown_channel_in_the_messy_page(self) -> None:
        case = case_at(parse_file("messy.json"), "document 1 ticket 3")
        assert (case.external_id, case.channel, case.status) == ("50003", "other", "new")


class TestSatisfaction:
    @pytest.mark.parametrize(
        ("rating", "satisfaction"),
        [
            ({"id": 1, "score": "good", "comment": "Great"}, "good"),
            ({"id": 2, "score": "bad", "comment": "Slow"}, "bad"),
            ({"score": "offered"}, None),
            ({"score": "unoffered"}, None),
            (None, None),
            ({}, None),
        ],
    )
    def test_score(self, rating: Any, satisfaction: str | None) -> None:
        assert one_case(ticket(satisfaction_rating=rating)).satisfaction == satisfaction


class TestComplaint:
    def test_by_default_tag(self) -> None:
        results = page_results(load("page1.json"))
        complaints = {
            r.record.external_id: r.record.complaint
            for r in results
            if isinstance(r, Parsed) and isinstance(r.record, ServiceCase)
        }
        assert complaints == {"35436": True, "35437": False, "35438": False, "35439": False}

    def test_by_type_with_custom_complaint_tags(self) -> None:
        options = parse_options(complaint_tags=frozenset({"incident", "warranty_claim"}))
        results = page_results(load("page1.json"), options)
        # 35436 is of type "incident"; its "complaint" tag is no longer a complaint tag.
        assert case_at(results, "page 1 ticket 1").complaint is True
        assert case_at(results, "page 1 ticket 4").complaint is False  # type "problem"

    def test_by_custom_tag(self) -> None:
        options = parse_options(complaint_tags=frozenset({"warranty"}))
        results = page_results(load("page1.json"), options)
        assert case_at(results, "page 1 ticket 4").complaint is True
        assert case_at(results, "page 1 ticket 1").complaint is False

    def test_case_insensitive(self) -> None:
        options = parse_options(complaint_tags=frozenset({"Escalation", "INCIDENT"}))
        assert one_case(ticket(tags=["escalation"]), options).complaint is True
        assert one_case(ticket(type="incident"), options).complaint is True
        assert one_case(ticket(type="question", tags=["vip"]), options).complaint is False


class TestMetricSets:
    def test_first_response_from_calendar_reply_minutes(self) -> None:
        results = page_results(load("page1.json"))
        assert case_at(results, "page 1 ticket 1").first_response_at == utc("2024-03-01T10:50:00Z")
        # reply_time 0: answered on creation (a call)
        assert case_at(results, "page 1 ticket 2").first_response_at == utc("2024-03-01T14:03:12Z")

    def test_solved_at(self) -> None:
        results = page_results(load("page1.json"))
        assert case_at(results, "page 1 ticket 2").solved_at == utc("2024-03-01T14:38:50Z")
        assert case_at(results, "page 1 ticket 1").solved_at is None

    def test_no_reply_yet(self) -> None:
        case = case_at(page_results(load("page1.json")), "page 1 ticket 4")
        assert (case.first_response_at, case.solved_at) == (None, None)

    def test_ticket_without_metric_set(self) -> None:
        case = case_at(page_results(load("page1.json")), "page 1 ticket 3")
        assert (case.first_response_at, case.solved_at) == (None, None)

    def test_page_without_metric_sets(self) -> None:
        body = load("page1.json")
        del body["metric_sets"]
        case = case_at(page_results(body), "page 1 ticket 2")
        assert (case.first_response_at, case.solved_at) == (None, None)

    def test_bad_metric_timestamp_is_an_error(self) -> None:
        metrics = [{"ticket_id": 1, "solved_at": "soon", "reply_time_in_minutes": {}}]
        results = page_results(page(ticket(), metric_sets=metrics))
        assert error_at(results, "page 1 ticket 1").reason == (
            "metric_set.solved_at: timestamp 'soon' is not ISO 8601"
        )

    def test_solved_before_opened_is_an_error(self) -> None:
        metrics = [{"ticket_id": 1, "solved_at": "2024-02-01T00:00:00Z"}]
        results = page_results(page(ticket(status="solved"), metric_sets=metrics))
        assert error_at(results, "page 1 ticket 1").reason == (
            "solved_at is earlier than when the case was opened"
        )

    @pytest.mark.parametrize("status", ["new", "open", "pending", "hold"])
    def test_a_case_not_solved_has_no_resolution(self, status: str) -> None:
        # A reopened ticket's metric set keeps its last solve.
        metrics = [{"ticket_id": 1, "solved_at": "2030-01-01T00:00:00Z"}]
        case = case_at(
            page_results(page(ticket(status=status), metric_sets=metrics)), "page 1 ticket 1"
        )
        assert case.solved_at is None

    @pytest.mark.parametrize("status", ["solved", "closed"])
    def test_a_solved_case_keeps_its_resolution(self, status: str) -> None:
        metrics = [{"ticket_id": 1, "solved_at": "2024-06-01T00:00:00Z"}]
        case = case_at(
            page_results(page(ticket(status=status), metric_sets=metrics)), "page 1 ticket 1"
        )
        assert case.solved_at == dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


class TestRequesterWithoutCreatedAt:
    """Webhook bodies often side-load users without ``created_at``: the ticket gives the time."""

    def test_dated_by_their_earliest_ticket_on_the_page(self) -> None:
        tickets = [
            ticket(id=1, created_at="2024-03-05T09:00:00Z"),
            ticket(id=2, created_at="2024-03-01T08:00:00Z", updated_at="2024-03-02T08:00:00Z"),
        ]
        kim = user(created_at=None, updated_at=None)
        person = person_at(page_results(page(*tickets, users=[kim])), "page 1 user 1")
        assert person.occurred_at == dt.datetime(2024, 3, 1, 8, tzinfo=dt.UTC)
        assert person.external_id == "100"

    def test_an_earlier_revision_dates_them_instead(self) -> None:
        kim = user(created_at=None, updated_at="2024-02-01T00:00:00Z")
        person = person_at(page_results(page(ticket(), users=[kim])), "page 1 user 1")
        assert (person.occurred_at, person.updated_at) == (
            dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
            dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
        )


class TestRevisions:
    def test_later_page_carries_a_newer_revision_of_the_same_case(self) -> None:
        results = parse_file("pages.jsonl")
        first = case_at(results, "line 1 ticket 1")
        second = case_at(results, "line 2 ticket 1")
        assert first.record_id == second.record_id == "zendesk:service_case:35436"
        assert second.revision > first.revision
        assert second.updated_at == utc("2024-03-02T10:12:00Z")
        assert (second.status, second.satisfaction, second.solved_at) == (
            "solved",
            "bad",
            utc("2024-03-02T10:11:37Z"),
        )
        assert second.occurred_at == first.occurred_at
        assert second.first_response_at == first.first_response_at

    def test_updated_before_created_is_an_error(self) -> None:
        results = page_results(page(ticket(updated_at="2024-02-01T00:00:00Z")))
        assert error_at(results, "page 1 ticket 1").reason == (
            "updated_at is earlier than occurred_at"
        )

    def test_missing_updated_at_is_allowed(self) -> None:
        assert one_case(ticket(updated_at=None)).updated_at is None


class TestCaseIdentifiers:
    def test_requester_contact_points_normalised(self) -> None:
        case = case_at(page_results(load("page1.json")), "page 1 ticket 2")
        assert keys(case.identifiers) == [
            "ext:zendesk:9002",
            "email:john.smith@example.org",
            "phone:+14155550132",
        ]

    def test_phone_read_in_default_region(self) -> None:
        options = parse_options(default_region="ES")
        case = one_case(ticket(), options, users=[user(phone="600 123 456")])
        assert keys(case.identifiers) == [
            "ext:zendesk:100",
            "email:kim.lee@example.com",
            "phone:+34600123456",
        ]

    def test_user_external_id_only_with_its_source_setting(self) -> None:
        without = case_at(page_results(load("page1.json")), "page 1 ticket 1")
        assert "ext:crm:CRM-0042" not in keys(without.identifiers)
        options = parse_options(settings={"user_external_id_source": "crm"})
        with_source = case_at(page_results(load("page1.json"), options), "page 1 ticket 1")
        assert keys(with_source.identifiers) == [
            "ext:zendesk:9001",
            "email:ana.garcia@example.com",
            "phone:+34600123456",
            "ext:crm:CRM-0042",
        ]

    def test_requester_not_side_loaded(self) -> None:
        case = case_at(parse_file("messy.json"), "document 1 ticket 4")
        assert keys(case.identifiers) == ["ext:zendesk:9999"]
        assert case.channel == "whatsapp"

    def test_invalid_phone_is_dropped_not_fatal(self) -> None:
        options = parse_options(settings={"user_external_id_source": "crm"})
        case = case_at(parse_file("messy.json", options), "document 1 ticket 3")
        assert keys(case.identifiers) == [
            "ext:zendesk:9100",
            "email:pat.doe@example.com",
            "ext:crm:CRM-0077",
        ]

    def test_invalid_email_is_dropped(self) -> None:
        case = one_case(ticket(), users=[user(email="not-an-address")])
        assert keys(case.identifiers) == ["ext:zendesk:100"]

    def test_missing_requester_is_an_error(self) -> None:
        results = page_results(page(ticket(requester_id=None)))
        assert error_at(results, "page 1 ticket 1").reason == "requester_id: missing"


class TestPersons:
    def test_requester_becomes_a_person(self) -> None:
        person = person_at(page_results(load("page1.json")), "page 1 user 2")
        assert person == Person(
            source="zendesk",
            external_id="9001",
            occurred_at=utc("2023-11-02T10:00:00Z"),
            updated_at=utc("2024-03-01T09:15:02Z"),
            identifiers=[
                Identifier(type=IdentifierType.EXTERNAL, source="zendesk", value="9001"),
                Identifier(type=IdentifierType.EMAIL, value="ana.garcia@example.com"),
                Identifier(type=IdentifierType.PHONE, value="+34600123456"),
            ],
            full_name="Ana García",
            language="es",
            time_zone="Europe/Madrid",
        )
        assert person.given_name is None
        assert person.family_name is None

    def test_language_from_locale(self) -> None:
        results = page_results(load("page1.json"))
        assert person_at(results, "page 1 user 3").language == "en-US"
        assert person_at(results, "page 1 user 4").language == "zh-TW"

    def test_user_without_contact_points(self) -> None:
        person = person_at(page_results(load("page1.json")), "page 1 user 4")
        assert keys(person.identifiers) == ["ext:zendesk:9003"]
        assert (person.full_name, person.time_zone) == ("Mei Chen", "Asia/Taipei")

    def test_user_external_id_with_setting(self) -> None:
        options = parse_options(settings={"user_external_id_source": "crm"})
        person = person_at(page_results(load("page1.json"), options), "page 1 user 2")
        assert keys(person.identifiers)[-1] == "ext:crm:CRM-0042"

    def test_agent_is_not_a_person(self) -> None:
        results = page_results(load("page1.json"))
        people = [r.record.external_id for r in results if isinstance(r, Parsed)]
        assert "8001" not in people

    @pytest.mark.parametrize("role", ["agent", "admin", "Admin"])
    def test_agent_requester_is_not_a_person_but_the_case_stands(self, role: str) -> None:
        results = page_results(page(ticket(), users=[user(role=role)]))
        assert positions(results) == ["page 1 ticket 1"]
        assert keys(case_at(results, "page 1 ticket 1").identifiers)[0] == "ext:zendesk:100"

    def test_only_requesters_become_persons(self) -> None:
        # user 3 (9200) is only copied on a ticket
        results = parse_file("messy.json")
        assert [p for p in positions(results) if " user " in p] == [
            "document 1 user 1",
            "document 1 user 2",
        ]

    @pytest.mark.parametrize(
        ("written", "zone"),
        [
            ({"iana_time_zone": "Asia/Tokyo", "time_zone": "Osaka"}, "Asia/Tokyo"),
            ({"time_zone": "Tokyo"}, "Asia/Tokyo"),
            ({"time_zone": "Buenos Aires"}, "America/Argentina/Buenos_Aires"),
            ({"time_zone": "Europe/Madrid"}, "Europe/Madrid"),
            ({"time_zone": "Eastern Time (US & Canada)"}, "America/New_York"),
            ({"time_zone": "Samoa"}, "Pacific/Apia"),  # not Pacific/Samoa, a day apart
            ({"time_zone": "Eastern"}, None),  # Canada/Eastern or US/Eastern: old names only
            ({"time_zone": "Nowhere Standard Time"}, None),
        ],
    )
    def test_a_rails_zone_name_is_read_as_the_zone_of_its_place(
        self, written: dict[str, str], zone: str | None
    ) -> None:
        results = page_results(page(ticket(), users=[user(iana_time_zone=None) | written]))
        assert person_at(results, "page 1 user 1").time_zone == zone

    def test_invalid_phone_time_zone_and_locale_are_dropped(self) -> None:
        person = person_at(parse_file("messy.json"), "document 1 user 1")
        assert keys(person.identifiers) == ["ext:zendesk:9100", "email:pat.doe@example.com"]
        assert (person.full_name, person.time_zone, person.language) == ("Pat Doe", None, None)

    def test_bad_user_timestamp_is_an_error_with_the_raw_user(self) -> None:
        error = error_at(parse_file("messy.json"), "document 1 user 2")
        assert error.reason == "created_at: timestamp '2024-02-30T10:00:00Z' is not ISO 8601"
        assert json.loads(error.raw)["id"] == 9101
        assert error.names == ("ext:zendesk:9101",)  # whom it is about, for an erasure

    def test_a_rejected_ticket_names_its_requester(self) -> None:
        results = page_results(page(ticket(created_at=None), users=[user()]))
        assert error_at(results, "page 1 ticket 1").names == ("ext:zendesk:100",)

    def test_user_requesting_two_tickets_is_one_person(self) -> None:
        results = page_results(page(ticket(id=1), ticket(id=2), users=[user(), user()]))
        assert positions(results) == ["page 1 ticket 1", "page 1 ticket 2", "page 1 user 1"]

    def test_requester_of_a_rejected_ticket_is_still_a_person(self) -> None:
        results = page_results(page(ticket(created_at=None), users=[user()]))
        assert isinstance(at(results, "page 1 ticket 1"), ItemError)
        assert person_at(results, "page 1 user 1").external_id == "100"

    def test_source_setting_scopes_persons(self) -> None:
        options = parse_options(settings={"source": "zendesk-eu"})
        person = person_at(page_results(page(ticket(), users=[user()]), options), "page 1 user 1")
        assert person.record_id == "zendesk-eu:person:100"
        assert keys(person.identifiers)[0] == "ext:zendesk-eu:100"


class TestInvalidTickets:
    def test_messy_page_errors_and_survivors(self) -> None:
        results = parse_file("messy.json")
        summary = [
            (r.position, r.record.external_id if isinstance(r, Parsed) else r.reason)
            for r in results
        ]
        assert summary == [
            ("document 1 ticket 1", "created_at: missing"),
            ("document 1 ticket 2", "updated_at: timestamp 'yesterday afternoon' is not ISO 8601"),
            ("document 1 ticket 3", "50003"),
            ("document 1 ticket 4", "50004"),
            (
                "document 1 ticket 5",
                "id: missing; status: unknown Zendesk ticket status 'escalated'",
            ),
            ("document 1 user 1", "9100"),
            ("document 1 user 2", "created_at: timestamp '2024-02-30T10:00:00Z' is not ISO 8601"),
        ]

    def test_error_keeps_the_raw_ticket(self) -> None:
        error = error_at(parse_file("messy.json"), "document 1 ticket 1")
        raw = json.loads(error.raw)
        assert raw["id"] == 50001
        assert raw["subject"] == "Where is my parcel?"
        assert "created_at" not in raw

    def test_cursor_of_a_page_with_errors(self) -> None:
        _, cursor, end = CONNECTOR.parse_page(load("messy.json"), OPTIONS)
        assert (cursor, end) == ("MTcwOTY0MDAwMC4wfHw1MDAwNHw=", True)

    def test_timestamp_without_zone(self) -> None:
        results = page_results(page(ticket(created_at="2024-03-01 09:00:00")))
        assert error_at(results, "page 1 ticket 1").reason == (
            "created_at: timestamp '2024-03-01 09:00:00' has no time zone"
        )

    def test_future_timestamp(self) -> None:
        results = page_results(page(ticket(created_at="2999-01-01T00:00:00Z", updated_at=None)))
        assert error_at(results, "page 1 ticket 1").reason == (
            "occurred_at: timestamp 2999-01-01T00:00:00+00:00 is in the future"
        )

    @pytest.mark.parametrize(
        ("item", "reason"),
        [
            ("35436", "not a ticket object"),
            ([1, 2], "not a ticket object"),
            (None, "not a ticket object"),
            (ticket(id=True), "id: not an id: true"),
            (ticket(id=1.5), "id: not an id: 1.5"),
            (ticket(requester_id={"id": 1}), 'requester_id: not an id: {"id":1}'),
            (ticket(created_at=1709284500), "created_at: timestamp '1709284500' is not ISO 8601"),
            (
                ticket(tags=["a"] * 201),
                "tags: List should have at most 200 items after validation, not 201",
            ),
        ],
    )
    def test_never_raises(self, item: Any, reason: str) -> None:
        results = page_results(page(item, ticket(id=2)))
        assert error_at(results, "page 1 ticket 1").reason == reason
        assert case_at(results, "page 1 ticket 2").external_id == "2"

    @pytest.mark.parametrize("users", ["nope", 3, [None, "x", {"id": None}], {"id": 100}])
    def test_odd_side_loads_are_ignored(self, users: Any) -> None:
        results = page_results(page(ticket(), users=users, metric_sets="nope"))
        assert positions(results) == ["page 1 ticket 1"]
        assert keys(case_at(results, "page 1 ticket 1").identifiers) == ["ext:zendesk:100"]
