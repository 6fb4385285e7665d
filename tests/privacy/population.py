"""A small population with one person to erase (Xavier) spread over every kind of record and
every collection that derives from them: anonymous browsing identified later (a merge), a
return that names nobody, a case and a survey with free text, consent, the contact log, and a
rejected item naming him. Built with or without him, to compare a store after his erasure
with one that never knew him; and what the privacy tests read of a store to say whether
anything of him is left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pymongo import MongoClient

from c360.ingest.files import import_file
from c360.ingest.service import IngestSummary
from c360.profiles.service import ProfileNotFound
from c360.services import Services
from c360.settings import Settings
from c360.store import Document
from schemas import IdentifierType
from tests import factories as f
from tests.helpers import parse_options
from tests.state import full_state

X_EMAIL, X_PHONE, X_ANON, X_CRM = (
    "xavier.erasmo@example.net",
    "+34 622 71 95 38",
    "anon-5f1c9e2a7b",
    "CRM-X-771",
)
X_TEXTS = ("Xavier", "Erasmo", "blender arrived broken", "household loves the toaster")
"""His names and free texts: none may remain anywhere after the erasure."""
X_STRINGS = (
    X_EMAIL,
    "+34622719538",
    "622719538",
    "622 71 95 38",
    X_ANON,
    X_CRM,
    *X_TEXTS,
)
Y_EMAIL, Y_PHONE = "yolanda.ibarra@example.org", "+34 633 40 12 87"
Z_EMAIL = "zoe.quintana@example.com"


def _consent(external_id: str, who: list[f.Record], contact_point: str) -> f.Record:
    return {
        "kind": "consent_change",
        "source": "esp",
        "external_id": external_id,
        "occurred_at": "2024-04-01T09:00:00Z",
        "identifiers": who,
        "channel": "email",
        "purpose": "marketing",
        "status": "opted_in",
        "contact_point": contact_point,
    }


def _xavier() -> list[list[f.Record | str]]:
    email, phone = f.email(X_EMAIL), f.phone(X_PHONE)
    anon = {"type": "anonymous", "value": X_ANON}
    return [
        [f.site_event(external_id="E-X1", identifiers=[anon])],
        [
            f.person(
                external_id=X_CRM,
                identifiers=[f.external("crm", X_CRM), email, phone],
                given_name="Xavier",
                family_name="Erasmo",
            )
        ],
        [
            f.site_event(
                external_id="E-X2",
                identifiers=[anon, email],
                event_type="identify",
                name=None,
                properties={},
            ),
            f.order(external_id="X-1", identifiers=[email], amount=4990),
            f.order(
                external_id="X-2",
                occurred_at="2024-06-01T10:00:00Z",
                identifiers=[email],
                amount=1200,
            ),
            {
                "kind": "return",
                "source": "shop",
                "external_id": "R-X1",
                "occurred_at": "2024-05-09T10:00:00Z",
                "order_external_id": "X-1",
                "amount": {"amount": 4990, "currency": "EUR"},
            },
            f.service_case(
                external_id="T-X1",
                identifiers=[phone],
                subject="Xavier's blender arrived broken",
            ),
            f.survey(
                external_id="S-X1",
                identifiers=[email],
                score=10,
                comment="The Erasmo household loves the toaster",
            ),
            _consent("C-X1", [email], X_EMAIL),
            {
                "kind": "outbound_contact",
                "source": "esp",
                "external_id": "O-X1",
                "occurred_at": "2024-06-02T10:00:00Z",
                "identifiers": [email],
                "channel": "email",
                "purpose": "marketing",
                "contact_point": X_EMAIL,
            },
            # Rejected (no such currency): a dead letter whose raw input names him.
            f.order(external_id="X-BAD", identifiers=[email], currency="ZZZ"),
        ],
    ]


def _others() -> list[list[f.Record | str]]:
    y, z = [f.email(Y_EMAIL), f.phone(Y_PHONE)], [f.email(Z_EMAIL)]
    return [
        [
            f.person(
                external_id="CRM-Y-1",
                identifiers=[f.external("crm", "CRM-Y-1"), *y],
                given_name="Yolanda",
                family_name="Ibarra",
            ),
            f.person(
                external_id="CRM-Z-1",
                identifiers=[f.external("crm", "CRM-Z-1"), *z],
                given_name="Zoe",
                family_name="Quintana",
            ),
        ],
        [
            f.order(external_id="Y-1", identifiers=y[:1], amount=3000),
            f.order(external_id="Z-1", identifiers=z, amount=700),
            f.service_case(external_id="T-Y1", identifiers=y[1:], subject="Late delivery"),
            f.survey(external_id="S-Z1", identifiers=z, score=3, comment="Too slow"),
            _consent("C-Y1", y[:1], Y_EMAIL),
            f.order(external_id="Y-BAD", identifiers=y[:1], currency="ZZZ"),
        ],
    ]


def files(tmp_path: Path, *, with_xavier: bool = True) -> list[Path]:
    """The import files, in order; without him, the same files less his lines (his come
    last in each, so everyone else's items keep their positions)."""
    steps: list[list[f.Record | str]] = []
    for own, theirs in zip(_xavier(), [*_others(), []], strict=True):
        steps.append([*theirs, *(own if with_xavier else [])])
    return [
        f.write_jsonl(tmp_path / f"step{n}.jsonl", records)
        for n, records in enumerate(steps)
        if records
    ]


async def load(services: Services, paths: list[Path]) -> list[IngestSummary]:
    options = parse_options(default_region="ES")
    return [await import_file(services.ingest, "canonical", str(path), options) for path in paths]


def strings(value: Any) -> list[str]:
    """Every string in a document, keys too, at any depth."""
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *strings(v)]]
    if isinstance(value, list | tuple):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


ADMIN = "key:test (privacy officer)"
PRIVACY = frozenset({"privacy_requests", "privacy_receipts", "suppressions", "contact_tombstones"})
"""What an erasure leaves on purpose (hashes, counts, the request), beside the audit."""


def everything(uri: str, database: str) -> dict[str, list[Document]]:
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        db = client[database]
        return {name: list(db[name].find()) for name in db.list_collection_names()}
    finally:
        client.close()


def others_state(uri: str, database: str) -> dict[str, list[Any]]:
    """The store as it concerns everyone: what an erasure keeps on purpose left out (and
    collections left empty, as good as absent)."""
    return {
        name: docs
        for name, docs in full_state(uri, database).items()
        if name not in PRIVACY | {"audit_log"} and docs
    }


def kept_state(uri: str, database: str) -> dict[str, Any]:
    """Everything, with what differs between two erasures of the same person (its request
    id, the times, the random ids of the profiles it suppressed) reduced to what they must
    share."""
    state: dict[str, Any] = others_state(uri, database)
    raw = everything(uri, database)
    suppressions = raw.get("suppressions", [])
    state["suppressions"] = sorted(
        (d["_id"], d["kind"]) for d in suppressions if d["kind"] != "profile"
    )
    state["suppressed_profiles"] = sum(d["kind"] == "profile" for d in suppressions)
    state["contact_tombstones"] = sorted(d["_id"] for d in raw.get("contact_tombstones", []))
    state["receipts"] = [
        (d["body"]["collections"], d["body"]["steps"]) for d in raw.get("privacy_receipts", [])
    ]
    state["audit_log"] = sorted(
        (d.get("profile_id", "-") != "-", d.get("detail"), d.get("erased", False))
        for d in raw.get("audit_log", [])
    )
    return state


def his_strings(uri: str, database: str, also: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Every string of every document of every collection that names him: (collection, text)."""
    return [
        (name, text)
        for name, docs in everything(uri, database).items()
        for text in strings(docs)
        if any(x.lower() in text.lower() for x in (*X_STRINGS, *also))
    ]


async def assert_none_of_his_identifiers_is_found(services: Services) -> None:
    for kind, value, source in (
        (IdentifierType.EMAIL, X_EMAIL, None),
        (IdentifierType.PHONE, X_PHONE, None),
        (IdentifierType.ANONYMOUS, X_ANON, None),
        (IdentifierType.EXTERNAL, X_CRM, "crm"),
    ):
        with pytest.raises(ProfileNotFound):
            await services.profiles.by_identifier(kind, value, source)


def with_fixed_secrets(settings: Settings) -> Settings:
    """The same secrets in every test (their hashes and links alike), so that one
    uninterrupted erasure a run serves each crashed one as its reference."""
    return settings.model_copy(
        update={
            "privacy_secret": SecretStr("erasure-tests-privacy-secret"),
            "signing_secret": SecretStr("erasure-tests-signing-secret"),
        }
    )


KENJI_PAGE: dict[str, Any] = {
    "users": [
        {
            "id": 501,
            "name": "Kenji Sato",
            "email": "kenji.sato@example.jp",
            "role": "end-user",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-02T00:00:00Z",
        }
    ],
    "tickets": [
        {
            "id": 9001,
            "requester_id": 501,
            "subject": "Where is my order?",
            "status": "open",
            "created_at": "2024-03-01T09:00:00Z",
            "updated_at": "2024-03-01T10:00:00Z",
        },
        {  # updated before it was created: rejected
            "id": 9002,
            "requester_id": 501,
            "subject": "Where is my refund? 返金の詳細",
            "status": "open",
            "created_at": "2024-03-05T09:00:00Z",
            "updated_at": "2024-03-04T09:00:00Z",
        },
    ],
    "after_cursor": None,
    "end_of_stream": True,
}
"""A Zendesk export page: Kenji, a ticket of his, and one updated before it was created."""
