"""Canonical record dicts for tests: valid by default, any field overridable by keyword.
And API keys."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from c360.auth.service import Role
from c360.services import Services

Record = dict[str, Any]


def email(value: str) -> Record:
    return {"type": "email", "value": value}


def phone(value: str) -> Record:
    return {"type": "phone", "value": value}


def external(source: str, value: str) -> Record:
    return {"type": "external", "source": source, "value": value}


def order(
    *,
    external_id: str = "1001",
    source: str = "shop",
    occurred_at: str = "2024-05-01T10:00:00Z",
    identifiers: list[Record] | None = None,
    amount: int = 2500,
    currency: str = "EUR",
    quantity: int = 1,
    **overrides: Any,
) -> Record:
    return {
        "kind": "order",
        "source": source,
        "external_id": external_id,
        "occurred_at": occurred_at,
        "identifiers": identifiers if identifiers is not None else [email("ana@example.com")],
        "channel": "online",
        "line_items": [
            {
                "sku": "SKU-1",
                "quantity": quantity,
                "unit_price": {"amount": amount, "currency": currency},
            }
        ],
        "total": {"amount": amount * max(quantity, 0), "currency": currency},
        **overrides,
    }


def service_case(
    *,
    external_id: str = "T-1",
    occurred_at: str = "2024-05-02T09:00:00Z",
    identifiers: list[Record] | None = None,
    **overrides: Any,
) -> Record:
    return {
        "kind": "service_case",
        "source": "helpdesk",
        "external_id": external_id,
        "occurred_at": occurred_at,
        "identifiers": identifiers if identifiers is not None else [phone("+34 600 12 34 56")],
        "channel": "phone",
        "status": "open",
        "subject": "Where is my parcel?",
        **overrides,
    }


def survey(
    *,
    external_id: str = "S-1",
    survey_type: str = "nps",
    score: int = 9,
    identifiers: list[Record] | None = None,
    **overrides: Any,
) -> Record:
    return {
        "kind": "survey_response",
        "source": "surveys",
        "external_id": external_id,
        "occurred_at": "2024-05-03T12:00:00Z",
        "identifiers": identifiers if identifiers is not None else [email("ana@example.com")],
        "survey_type": survey_type,
        "score": score,
        **overrides,
    }


def site_event(
    *,
    external_id: str = "E-1",
    properties: Any = None,
    identifiers: list[Record] | None = None,
    **overrides: Any,
) -> Record:
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": external_id,
        "occurred_at": "2024-05-01T10:00:00Z",
        "identifiers": identifiers if identifiers is not None else [email("ana@example.com")],
        "event_type": "track",
        "name": "Product Viewed",
        "properties": properties if properties is not None else {"sku": "SKU-1", "price": 12.5},
        **overrides,
    }


def person(
    *,
    external_id: str = "C-1",
    identifiers: list[Record] | None = None,
    **overrides: Any,
) -> Record:
    return {
        "kind": "person",
        "source": "crm",
        "external_id": external_id,
        "occurred_at": "2024-01-01T00:00:00Z",
        "identifiers": identifiers
        if identifiers is not None
        else [external("crm", external_id), email("ana@example.com")],
        "given_name": "Ana",
        "family_name": "García",
        **overrides,
    }


def consent_change(
    status: str,
    occurred_at: str,
    *,
    external_id: str,
    email_address: str = "ana@example.com",
    channel: str = "email",
    purpose: str = "marketing",
    point: str | None = "",
) -> Record:
    """A consent change as a source exports it (``point``: the contact point, by default the
    e-mail address; None for the whole channel)."""
    record: Record = {
        "kind": "consent_change",
        "source": "shop",
        "external_id": external_id,
        "occurred_at": occurred_at,
        "identifiers": [email(email_address)],
        "channel": channel,
        "purpose": purpose,
        "status": status,
    }
    if point is not None:
        record["contact_point"] = point or email_address
    return record


def write_jsonl(path: Path, items: list[Record | str]) -> Path:
    """One line per item: dicts as JSON, strings verbatim (for broken lines)."""
    lines = [item if isinstance(item, str) else json.dumps(item) for item in items]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def api_key(services: Services, role: Role) -> dict[str, str]:
    """Headers carrying a new API key of ``role``."""
    _, secret = await services.keys.create(role, f"{role.value} for tests", dt.datetime.now(dt.UTC))
    return {"authorization": f"Bearer {secret}"}
