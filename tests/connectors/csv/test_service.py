"""``service-csv``: call-centre and chat logs."""

from __future__ import annotations

import pytest

from connectors.csv import ServiceCsvConnector
from schemas import ServiceCase
from schemas.records import CasePriority, CaseStatus, ServiceChannel
from tests.connectors.csv.helpers import (
    csv_bytes,
    email,
    errors,
    external,
    keys,
    phone,
    records,
    run,
    utc,
)
from tests.helpers import parse_options


class TestServiceCsv:
    OPTIONS = parse_options(default_region="ES", settings={"time_zone": "Europe/Madrid"})

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

        case = records(run(ServiceCsvConnector(), data, parse_options()))["line 2"]

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
        options = parse_options(complaint_tags=frozenset({"queja"}))

        found = records(run(ServiceCsvConnector(), data, options))

        assert [(c.tags, c.complaint) for c in found.values() if isinstance(c, ServiceCase)] == [
            (["billing", "Queja"], True),
            (["complaint"], False),
            ([], True),
        ]
