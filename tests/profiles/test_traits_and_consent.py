"""Traits and consent across merges: merged with provenance, never widened, restored on unmerge."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.auth.service import Role
from c360.contact.consent import fold_consent
from c360.profiles.traits import fold_traits
from c360.records.types import Record
from c360.services import Services
from c360.store import Store
from schemas import IdentifierType
from schemas.records import RecordKind
from tests import factories as f
from tests.factories import api_key as key
from tests.helpers import gql, profile_of, run

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
EMAIL, PHONE = "ana@example.com", "+34 611 22 33 44"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T00:00:00+00:00")


def change(
    record_id: str,
    day: str,
    status: str,
    contact_point: str | None = EMAIL,
    channel: str = "email",
    purpose: str = "marketing",
) -> Record:
    data: dict[str, Any] = {"channel": channel, "purpose": purpose, "status": status}
    if contact_point is not None:
        data["contact_point"] = contact_point
    return Record(record_id, RecordKind.CONSENT_CHANGE, "crm", record_id, at(day), at(day), data)


def statuses(changes: list[Record]) -> dict[str | None, tuple[str, str | None]]:
    """Contact point → (status, record that decided it), for e-mail marketing."""
    return {
        s.contact_point: (s.status, s.record_id)
        for s in fold_consent(changes)
        if (s.channel, s.purpose) == ("email", "marketing")
    }


class TestConsentFold:
    @pytest.mark.parametrize(
        ("changes", "expected"),
        [
            pytest.param(
                [change("a", "2024-01-01", "opted_out"), change("b", "2024-02-01", "opted_in")],
                {EMAIL: ("opted_in", "b")},
                id="a newer explicit opt-in for the same point wins",
            ),
            pytest.param(
                [change("a", "2024-02-01", "opted_out"), change("b", "2024-01-01", "opted_in")],
                {EMAIL: ("opted_out", "a")},
                id="an older opt-in never overrides an opt-out",
            ),
            pytest.param(
                [
                    change("a", "2024-01-01", "opted_out"),
                    change("b", "2024-02-01", "opted_in", contact_point=None),
                ],
                {EMAIL: ("opted_out", "a"), None: ("opted_in", "b")},
                id="a channel-wide opt-in does not reopen an opted-out address",
            ),
            pytest.param(
                [
                    change("a", "2024-01-01", "opted_in"),
                    change("b", "2024-02-01", "opted_out", contact_point=None),
                ],
                {EMAIL: ("opted_out", "b"), None: ("opted_out", "b")},
                id="a newer channel-wide opt-out covers every address",
            ),
            pytest.param(
                [
                    change("a", "2024-02-01", "opted_in"),
                    change("b", "2024-01-01", "opted_out", contact_point=None),
                ],
                {EMAIL: ("opted_in", "a"), None: ("opted_out", "b")},
                id="an older channel-wide opt-out yields to a newer opt-in for the address",
            ),
            pytest.param(
                [change("a", "2024-01-01", "opted_out"), change("b", "2024-02-01", "pending")],
                {EMAIL: ("opted_out", "a")},
                id="a double opt-in under way is not consent",
            ),
            pytest.param(
                [change("a", "2024-01-01", "pending")],
                {EMAIL: ("pending", "a")},
                id="pending alone is reported as pending",
            ),
            pytest.param(
                [change("b", "2024-01-01", "opted_in"), change("a", "2024-01-01", "opted_out")],
                {EMAIL: ("opted_in", "b")},
                id="same instant: the higher record id decides, whatever the order",
            ),
        ],
    )
    def test_rules(
        self, changes: list[Record], expected: dict[str | None, tuple[str, str | None]]
    ) -> None:
        for order in itertools.permutations(changes):
            assert statuses(list(order)) == expected

    def test_pending_is_kept_beside_the_decision_until_confirmed(self) -> None:
        changes = [change("a", "2024-01-01", "opted_out"), change("b", "2024-02-01", "pending")]
        (state,) = fold_consent(changes)
        assert (state.status, state.pending_since) == ("opted_out", at("2024-02-01"))
        confirmed = fold_consent([*changes, change("c", "2024-02-02", "opted_in")])
        assert [(s.status, s.pending_since) for s in confirmed] == [("opted_in", None)]


def person(record_id: str, day: str, source: str = "crm", **data: Any) -> Record:
    return Record(record_id, RecordKind.PERSON, source, record_id, at(day), at(day), data)


class TestTraitFold:
    def test_most_recent_non_empty_value_per_field_with_its_origin(self) -> None:
        traits = fold_traits(
            [
                person("crm:1", "2024-03-01", given_name="Ana", family_name="García"),
                person("shop:1", "2024-05-01", "shop", given_name="Ana María", family_name=" "),
                person("old:1", "2023-01-01", "old", given_name="A.", language="es"),
            ]
        )
        assert {n: (t.value, t.provenance.record_id) for n, t in traits.fields.items()} == {
            "given_name": ("Ana María", "shop:1"),
            "family_name": ("García", "crm:1"),
            "language": ("es", "old:1"),
        }
        assert traits.display_name == "Ana María García"

    def test_the_name_shown_is_the_one_given_last(self) -> None:
        older_full = [
            person("crm:1", "2024-05-01", full_name="Kenji Sato"),
            person("web:1", "2024-06-01", "web", given_name="健二", family_name="佐藤"),
        ]
        assert fold_traits(older_full).display_name == "佐藤健二"  # family name first
        newer_full = [*older_full, person("desk:1", "2024-07-01", "desk", full_name="Kenji S.")]
        assert fold_traits(newer_full).display_name == "Kenji S."

    def test_names_in_east_asian_scripts_are_shown_family_name_first_without_a_space(
        self,
    ) -> None:
        def shown(given: str, family: str) -> str | None:
            record = person("crm:1", "2024-05-01", given_name=given, family_name=family)
            return fold_traits([record]).display_name

        assert shown("小明", "王") == "王小明"
        assert shown("민수", "김") == "김민수"
        assert shown("ひろし", "やまだ") == "やまだひろし"
        assert shown("Xiaoming", "Wang") == "Xiaoming Wang"  # as written in Latin letters
        assert shown("Ming", "王") == "Ming 王"  # mixed: as given

    def test_every_address_is_kept_once_with_sources_and_when_seen(self) -> None:
        home = {"line1": "Calle Mayor 1", "city": "Madrid", "country": "ES"}
        spelled = {"line1": "calle  mayor 1", "city": "MADRID", "country": "ES"}
        new = {"line1": "Rúa Nova 2", "city": "Vigo", "country": "ES"}
        traits = fold_traits(
            [
                person("crm:1", "2024-01-01", addresses=[home]),
                person("shop:1", "2024-03-01", "shop", addresses=[spelled, new]),
            ]
        )
        assert [(a.address, a.sources, a.first_seen) for a in traits.addresses] == [
            (spelled, ["crm", "shop"], at("2024-01-01")),
            (new, ["shop"], at("2024-03-01")),
        ]


PROFILE = """query($id: ID!) { profile(id: $id) { ... on Profile { id displayName
  traits { name value provenance { source recordId observedAt } }
  addresses { address { line1 city } sources }
  consents { channel contactPoint purpose status source recordId } } } }"""


def consent_record(
    external_id: str, day: str, status: str, identifiers: list[f.Record], **extra: Any
) -> f.Record:
    return {
        "kind": "consent_change",
        "source": "prefs",
        "external_id": external_id,
        "occurred_at": f"{day}T00:00:00Z",
        "identifiers": identifiers,
        "channel": "email",
        "purpose": "marketing",
        "contact_point": EMAIL,
        "status": status,
        **extra,
    }


SIDE_A = [
    f.person(
        external_id="C-1",
        occurred_at="2024-01-01T00:00:00Z",
        identifiers=[f.email(EMAIL)],
        given_name="Ana",
        family_name="García",
        addresses=[{"line1": "Calle Mayor 1", "city": "Madrid", "country": "ES"}],
    ),
    consent_record("out", "2024-03-01", "opted_out", [f.email(EMAIL)]),
]
SIDE_B = [
    f.person(
        external_id="L-1",
        source="loyalty",
        occurred_at="2024-06-01T00:00:00Z",
        identifiers=[f.phone(PHONE)],
        given_name="Ana María",
        family_name=None,
        addresses=[{"line1": "Rúa Nova 2", "city": "Vigo", "country": "ES"}],
    ),
    # An older opt-in for the same address, captured where the phone was known.
    consent_record("in", "2024-02-01", "opted_in", [f.phone(PHONE)]),
    consent_record(
        "sms", "2024-02-01", "opted_in", [f.phone(PHONE)], channel="sms", contact_point=PHONE
    ),
]
BRIDGE = [f.order(external_id="bridge", identifiers=[f.email(EMAIL), f.phone(PHONE)])]


async def profile(client: httpx.AsyncClient, headers: dict[str, str], pid: str) -> Any:
    return (await gql(client, PROFILE, headers, id=pid))["profile"]


def consents(view: Any) -> dict[tuple[str, str | None], tuple[str, str]]:
    return {
        (c["channel"].lower(), c["contactPoint"]): (c["status"].lower(), c["recordId"])
        for c in view["consents"]
    }


class TestAcrossMerges:
    async def test_merge_unions_traits_and_never_widens_consent_unmerge_restores(
        self, client: httpx.AsyncClient, services: Services, store: Store, tmp_path: Path
    ) -> None:
        admin = await key(services, Role.ADMIN)
        await run(services, tmp_path / "apart", [SIDE_A, SIDE_B])
        a = await profile_of(services, IdentifierType.EMAIL, EMAIL)
        b = await profile_of(services, IdentifierType.PHONE, PHONE)
        before = {p: await profile(client, admin, p) for p in (a, b)}
        assert consents(before[b])[("email", EMAIL)] == ("opted_in", "prefs:consent_change:in")

        await run(services, tmp_path / "bridge", [BRIDGE])
        merged = await profile(client, admin, b)  # the absorbed id resolves to the survivor
        assert merged["id"] == a
        assert merged["displayName"] == "Ana María García"
        origins = {t["name"]: (t["value"], t["provenance"]["recordId"]) for t in merged["traits"]}
        assert origins == {
            "given_name": ("Ana María", "loyalty:person:L-1"),
            "family_name": ("García", "crm:person:C-1"),
        }
        assert [(x["address"]["city"], x["sources"]) for x in merged["addresses"]] == [
            ("Vigo", ["loyalty"]),
            ("Madrid", ["crm"]),
        ]
        assert consents(merged) == {
            ("email", EMAIL): ("opted_out", "prefs:consent_change:out"),
            ("sms", "+34611223344"): ("opted_in", "prefs:consent_change:sms"),
        }

        # Only a newer explicit opt-in for that address reopens it.
        later = [consent_record("again", "2024-09-01", "opted_in", [f.phone(PHONE)])]
        await run(services, tmp_path / "later", [later])
        reopened = consents(await profile(client, admin, a))[("email", EMAIL)]
        assert reopened == ("opted_in", "prefs:consent_change:again")

        [entry] = [m for m in await services.merges.history(b) if m.absorbed == b]
        await services.merges.unmerge(entry.id, NOW, actor="admin@test")
        after = {p: await profile(client, admin, p) for p in (a, b)}
        assert after[a] == before[a]
        assert after[b]["traits"] == before[b]["traits"]
        assert after[b]["addresses"] == before[b]["addresses"]
        # The side that was absorbed keeps what came through it after the merge.
        assert consents(after[b])[("email", EMAIL)] == ("opted_in", "prefs:consent_change:again")
