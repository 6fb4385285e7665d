"""``service-csv``: call-centre and chat logs, one row per case."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from connectors.csv._base import RowConnector, choice
from connectors.csv._rows import CsvSpec, Row
from connectors.csv._values import IDENTIFIER_FIELDS, Values
from schemas import RecordKind, ServiceCase
from schemas.records import CasePriority, CaseStatus, ServiceChannel

_CHANNEL_SYNONYMS = {
    "call": "phone",
    "voice": "phone",
    "telephone": "phone",
    "phone_call": "phone",
    "livechat": "chat",
    "live_chat": "chat",
    "mail": "email",
    "e_mail": "email",
    "text": "sms",
    "webform": "web",
    "web_form": "web",
    "form": "web",
    "store": "in_person",
    "in_store": "in_person",
}
_STATUS_SYNONYMS = {
    "resolved": "solved",
    "in_progress": "open",
    "hold": "on_hold",
    "waiting": "pending",
}
_PRIORITY_SYNONYMS = {"medium": "normal", "critical": "urgent"}
_TAG_SEPARATORS = re.compile(r"[;|]")


class ServiceCsvConnector(RowConnector):
    """Call-centre and chat logs, one row per case.

    Columns: ``case_id, opened_at, channel, status, priority, subject, description,
    first_response_at, solved_at, satisfaction, tags, complaint, replies, email, phone,
    customer_id, loyalty_id`` (``replies``: the agents' replies on the case, a whole number;
    first-contact resolution is known only where it is given). Channels accept synonyms
    (call/voice/telephone → phone, livechat → chat, mail → email); status defaults to
    ``solved`` when ``solved_at`` is set, else ``open``; tags are separated by ``;`` or ``|``;
    ``complaint`` is true/false, yes/no or 1/0, and a tag among ``complaint_tags`` marks a
    complaint too.
    """

    name: ClassVar[str] = "service-csv"
    kinds: ClassVar[tuple[RecordKind, ...]] = (RecordKind.SERVICE_CASE,)
    default_source: ClassVar[str] = "callcentre"
    spec: ClassVar[CsvSpec] = CsvSpec(
        fields=(
            "case_id",
            "opened_at",
            "channel",
            "status",
            "priority",
            "subject",
            "description",
            "first_response_at",
            "solved_at",
            "satisfaction",
            "tags",
            "complaint",
            "replies",
            *IDENTIFIER_FIELDS,
        ),
        required=("case_id", "opened_at", "channel"),
        any_of=(IDENTIFIER_FIELDS,),
    )

    model: ClassVar[type[ServiceCase]] = ServiceCase

    def row_data(self, values: Values, row: Row) -> dict[str, Any]:
        complaint_tags = {tag.strip().lower() for tag in values.options.complaint_tags}
        solved_at = values.timestamp("solved_at")
        status_default = CaseStatus.SOLVED if "solved_at" in row.values else CaseStatus.OPEN
        tags = list(
            dict.fromkeys(
                tag.strip()
                for tag in _TAG_SEPARATORS.split(values.text("tags") or "")
                if tag.strip()
            )
        )
        complaint = values.flag("complaint") or any(tag.lower() in complaint_tags for tag in tags)
        satisfaction = values.text("satisfaction")
        data = {
            "source": values.source,
            "external_id": values.text("case_id", required=True),
            "occurred_at": values.timestamp("opened_at", required=True),
            "identifiers": values.identifiers(),
            "channel": choice(values, "channel", ServiceChannel, _CHANNEL_SYNONYMS, required=True),
            "status": choice(values, "status", CaseStatus, _STATUS_SYNONYMS, status_default.value),
            "priority": choice(
                values, "priority", CasePriority, _PRIORITY_SYNONYMS, CasePriority.NORMAL.value
            ),
            "subject": values.text("subject"),
            "description": values.text("description"),
            "first_response_at": values.timestamp("first_response_at"),
            "solved_at": solved_at,
            "satisfaction": satisfaction.lower() if satisfaction else None,
            "tags": tags,
            "complaint": complaint,
            "agent_replies": values.whole("replies"),
        }
        return data
