"""Audiences and exports against contactDecision: over random populations (seeded), no profile
is in an audience or export that contactDecision at the same instant refuses, and everyone it
allows is there, with the same contact point. Plus paging, filters and the export formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.spreadsheet import restored
from c360.store import Store
from tests import factories as f
from tests.helpers import gql, live_profiles, parse_options


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Hundreds of decisions from one key in a test: the policy is tested here, not the rate
    limits."""
    unlimited = dict.fromkeys(("admin", "agent", "marketing", "connector"))
    # Pages of 7 members that examine at most 5 profiles, 3 a round trip: most pages end
    # where their scan stopped, and paging on must still find each member once.
    update = {"rate_limits": unlimited, "audience_batch": 3, "audience_page_scan": 5}
    return settings.model_copy(update=update)


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CHANNELS = ("email", "sms", "phone")
PURPOSES = ("marketing", "service")
AUDIENCE = """query($channel: ContactChannel!, $purpose: Purpose!, $at: DateTime, $after: String,
                   $filter: AudienceFilterInput) {
  audience(channel: $channel, purpose: $purpose, at: $at, first: 7, after: $after,
           filter: $filter) {
    at edges { cursor node { profileId contactPoint unsubscribeUrl } }
    pageInfo { hasNextPage endCursor } } }"""
DECISION = """query($id: ID!, $channel: ContactChannel!, $purpose: Purpose!, $at: DateTime) {
  contactDecision(profileId: $id, channel: $channel, purpose: $purpose, at: $at) {
    ... on ContactDecision { allowed contactPoint } } }"""


def decisions(count: int) -> str:
    """``contactDecision`` for ``count`` profiles (``$id0``, ``$id1``, …) in one request,
    aliased ``p0``, ``p1``, …: each field is decided as a request of its own would be."""
    ids = ", ".join(f"$id{n}: ID!" for n in range(count))
    fields = " ".join(
        f"p{n}: contactDecision(profileId: $id{n}, channel: $channel, purpose: $purpose, at: $at)"
        " { ... on ContactDecision { allowed contactPoint } }"
        for n in range(count)
    )
    variables = "$channel: ContactChannel!, $purpose: Purpose!, $at: DateTime"
    return f"query({ids}, {variables}) {{ {fields} }}"


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def population(rng: random.Random, size: int) -> list[f.Record | str]:
    """People with random consent, preferences, contact-point statuses and contacts."""
    records: list[f.Record | str] = []
    for n in range(size):
        email = f"p{n}@example.com"
        phone = f"+3460{n:07d}" if rng.random() < 0.7 else f"+3491{n:07d}"  # mobile or landline
        ids = [f.email(email), f.phone(phone)]
        zone = rng.choice(["Europe/Madrid", "America/New_York", "Asia/Tokyo", None])
        records.append(
            f.person(
                external_id=f"P-{n}",
                identifiers=[f.external("crm", f"P-{n}"), *ids],
                **({"time_zone": zone} if zone else {}),
            )
        )

        def change(kind: str, days_ago: float, **data: Any) -> None:
            data["identifiers"] = ids  # noqa: B023 - called at once, in this iteration
            records.append(_change(kind, f"{kind}-{len(records)}", days_ago, data))

        for _ in range(rng.randint(0, 4)):
            channel = rng.choice(CHANNELS)
            point = rng.choice([email if channel == "email" else phone, None])
            change(
                "consent_change",
                rng.uniform(1, 300),
                channel=channel,
                purpose=rng.choice(["marketing", "service", "all"]),
                status=rng.choice(["opted_in", "opted_in", "opted_out", "pending"]),
                **({"contact_point": point} if point else {}),
            )
        if rng.random() < 0.15:
            change(
                "preference_change",
                rng.uniform(1, 50),
                do_not_contact={"active": True, "reason": "asked on the phone"},
            )
        if rng.random() < 0.3:
            change(
                "preference_change",
                rng.uniform(1, 50),
                quiet_hours={"start": "09:00", "end": "18:00"},
            )
        if rng.random() < 0.2:
            change(
                "contact_point_status",
                rng.uniform(1, 50),
                channel="email",
                contact_point=email,
                status=rng.choice(["bounced", "invalid", "verified"]),
            )
        if rng.random() < 0.3:  # a cap looking further back than any default
            cap = {"channel": "email", "purpose": "marketing", "max_contacts": 1, "per_days": 30}
            change("preference_change", rng.uniform(1, 50), frequency_caps=[cap])
        for _ in range(rng.randint(0, 3)):
            change(
                "outbound_contact",
                rng.uniform(0.1, 25),
                channel=rng.choice(CHANNELS),
                purpose="marketing",
                outcome=rng.choice(["sent", "failed", "opened"]),
            )
    return records


def _change(kind: str, external_id: str, days_ago: float, data: dict[str, Any]) -> f.Record:
    return {
        "kind": kind,
        "source": "prefs",
        "external_id": external_id,
        "occurred_at": _iso(NOW - dt.timedelta(days=days_ago)),
        **data,
    }


async def _load(services: Services, tmp_path: Path, seed: int) -> None:
    path = f.write_jsonl(tmp_path / f"people-{seed}.jsonl", population(random.Random(seed), 24))
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors


async def audience(
    client: httpx.AsyncClient, channel: str, purpose: str, at: str, **more: Any
) -> dict[str, str]:
    """Every member, page by page: profile id → contact point. No page examines more profiles
    than the scan allows (5 here): it holds at most that many members."""
    members: dict[str, str] = {}
    after = None
    while True:
        page = (
            await gql(
                client,
                AUDIENCE,
                channel=channel.upper(),
                purpose=purpose,
                at=at,
                after=after,
                **more,
            )
        )["audience"]
        assert len(page["edges"]) <= 5
        for edge in page["edges"]:
            assert edge["node"]["profileId"] not in members  # pages never repeat anyone
            members[edge["node"]["profileId"]] = edge["node"]["contactPoint"]
        if not page["pageInfo"]["hasNextPage"]:
            return members
        after = page["pageInfo"]["endCursor"]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_audience_and_export_agree_with_every_decision(
    services: Services, store: Store, agent_client: httpx.AsyncClient, tmp_path: Path, seed: int
) -> None:
    """Every purpose: an agent's key (marketing is handed out only its own purposes)."""
    await _load(services, tmp_path, seed)
    profile_ids = await live_profiles(store)
    moments = [NOW, NOW - dt.timedelta(hours=7), NOW + dt.timedelta(hours=13)]
    checked = allowed_somewhere = 0
    for channel in CHANNELS:
        for purpose in PURPOSES:
            for moment in moments:
                at = _iso(moment)
                members = await audience(agent_client, channel, purpose, at)
                answer = await gql(
                    agent_client,
                    decisions(len(profile_ids)),
                    channel=channel.upper(),
                    purpose=purpose,
                    at=at,
                    **{f"id{n}": profile_id for n, profile_id in enumerate(profile_ids)},
                )
                expected = {}
                for n, profile_id in enumerate(profile_ids):
                    decision = answer[f"p{n}"]
                    if decision["allowed"]:
                        expected[profile_id] = decision["contactPoint"]
                    checked += 1
                assert members == expected, (channel, purpose, at)
                allowed_somewhere += len(expected)

                for fmt in ("ndjson", "csv"):
                    response = await agent_client.get(
                        "/audiences/export",
                        params={"channel": channel, "purpose": purpose, "format": fmt, "at": at},
                    )
                    assert response.status_code == 200
                    assert dict(_rows(response.text, fmt)) == expected, (fmt, channel, purpose)
    assert checked == len(profile_ids) * len(CHANNELS) * len(PURPOSES) * len(moments)
    assert 0 < allowed_somewhere < checked  # the population exercises both answers


def _rows(text: str, fmt: str) -> list[tuple[str, str]]:
    if fmt == "ndjson":
        rows = [json.loads(line) for line in text.splitlines() if line]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        rows = [{k: restored(v) for k, v in row.items()} for row in rows]
    return [(row["profile_id"], row["contact_point"]) for row in rows]


async def test_export_rows_carry_what_a_sender_needs(
    services: Services, marketing_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _load(services, tmp_path, seed=4)
    response = await marketing_client.get(
        "/audiences/export", params={"channel": "email", "purpose": "marketing", "format": "csv"}
    )

    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows
    for row in rows:
        assert row["channel"] == "email"
        assert row["contact_point"].endswith("@example.com")
        assert row["unsubscribe_url"].startswith("http://127.0.0.1:8000/unsubscribe/")


async def test_filters_and_bad_requests(
    services: Services, agent_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _load(services, tmp_path, seed=5)
    at = _iso(NOW)
    everyone = await audience(agent_client, "email", "service", at)
    by_stage = {
        stage: await audience(
            agent_client, "email", "service", at, filter={"lifecycleStages": [stage]}
        )
        for stage in ("PROSPECT", "FIRST_TIME", "REPEAT", "LOYAL", "ADVOCATE", "AT_RISK", "CHURNED")
    }
    assert sum(len(m) for m in by_stage.values()) == len(everyone)  # each in one stage
    assert {p: c for m in by_stage.values() for p, c in m.items()} == everyone
    assert by_stage["PROSPECT"]  # nobody here has bought: prospects, or churned ones
    assert by_stage["FIRST_TIME"] == by_stage["REPEAT"] == {}
    in_spain = await audience(agent_client, "email", "service", at, filter={"countries": ["es"]})
    assert in_spain == everyone

    response = await agent_client.post(
        "/graphql",
        json={"query": '{ audience(channel: EMAIL, purpose: "raffle") { at } }'},
    )
    assert "unknown purpose" in response.json()["errors"][0]["message"]
    response = await agent_client.get(
        "/audiences/export", params={"channel": "fax", "purpose": "marketing"}
    )
    assert response.status_code == 422


class TestCountries:
    """A country filter names ISO 3166-1 alpha-2 codes (any case), or a region phone numbers
    have that has none (XK); another code would match nobody, silently: it is refused, named."""

    @pytest.mark.parametrize(
        ("codes", "reason"),
        [
            (["ES", "ZZZ"], "unknown country code 'ZZZ'"),
            (["zz"], "unknown country code 'ZZ'"),
            (["ESP"], "'ESP' is an alpha-3 code: write ES"),
        ],
    )
    async def test_an_unknown_code_is_refused_naming_it(
        self, agent_client: httpx.AsyncClient, codes: list[str], reason: str
    ) -> None:
        query = AUDIENCE.replace("first: 7, ", "")
        variables = {"channel": "EMAIL", "purpose": "service", "filter": {"countries": codes}}
        response = await agent_client.post(
            "/graphql", json={"query": query, "variables": variables}
        )
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "InvalidInput"
        assert error["message"].startswith(reason)
        assert "ISO 3166-1 alpha-2 codes" in error["message"]

        params = {"channel": "email", "purpose": "service", "country": codes}
        exported = await agent_client.get("/audiences/export", params=params)
        assert exported.status_code == 422
        assert exported.json()["error"] == "InvalidInput"
        assert exported.json()["detail"] == error["message"]

    async def test_many_unknown_codes_are_named_a_few(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        codes = [f"Q{letter}{letter}" for letter in "ABCDEFGHIJ"]
        params = {"channel": "email", "purpose": "service", "country": codes}
        response = await agent_client.get("/audiences/export", params=params)
        assert response.status_code == 422
        assert response.json()["detail"].startswith(
            "unknown country code 'QAA'; unknown country code 'QBB'; "
            "unknown country code 'QCC'; and 7 more: "
        )

    async def test_every_country_a_decision_can_name_is_taken(
        self, services: Services, agent_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await _load(services, tmp_path, seed=6)
        at = _iso(NOW)
        everyone = await audience(agent_client, "email", "service", at)
        known = ["es", "FR", "XK", "ac"]  # XK, AC: phone regions without an ISO 3166 code
        chosen = await audience(agent_client, "email", "service", at, filter={"countries": known})
        response = await agent_client.get(
            "/audiences/export",
            params={"channel": "email", "purpose": "service", "at": at, "country": known},
        )
        assert chosen == everyone  # all of them in Spain
        assert response.status_code == 200
        assert dict(_rows(response.text, "ndjson")) == everyone


class TestWhoIsHandedWhichPurpose:
    """Marketing is handed contact points for the purposes it sends for
    (C360_CONTACT_MARKETING_PURPOSES), never the addresses given for service."""

    async def test_marketing_may_not_list_service_addresses(
        self, services: Services, marketing_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await _load(services, tmp_path, seed=6)
        response = await marketing_client.post(
            "/graphql",
            json={"query": '{ audience(channel: EMAIL, purpose: "service") { at } }'},
        )
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "Forbidden"
        assert "C360_CONTACT_MARKETING_PURPOSES" in error["message"]
        for fmt in ("ndjson", "csv"):
            export = await marketing_client.get(
                "/audiences/export",
                params={"channel": "email", "purpose": "service", "format": fmt},
            )
            assert export.status_code == 403
            assert export.json()["error"] == "Forbidden"

    async def test_marketing_reads_a_service_decision_with_the_address_masked(
        self,
        services: Services,
        store: Store,
        marketing_client: httpx.AsyncClient,
        agent_client: httpx.AsyncClient,
        tmp_path: Path,
    ) -> None:
        await _load(services, tmp_path, seed=7)
        at = _iso(NOW)
        allowed = await audience(agent_client, "email", "service", at)
        profile_id, address = next(iter(allowed.items()))
        query: dict[str, Any] = {"id": profile_id, "channel": "EMAIL", "at": at}
        service = await gql(marketing_client, DECISION, **query, purpose="service")
        assert service["contactDecision"] == {
            "allowed": True,
            "contactPoint": f"{address[0]}•••@example.com",
        }
        agent = await gql(agent_client, DECISION, **query, purpose="service")
        assert agent["contactDecision"]["contactPoint"] == address


class TestCsvCellsAreNeverFormulas:
    """OWASP's CSV injection guidance: a cell beginning with = + - @ tab or CR gets a leading
    quote; NDJSON keeps every value as it is."""

    FORMULA = "=cmd|'/Ccalc'!A0@example.com"

    async def _exported(
        self, services: Services, client: httpx.AsyncClient, tmp_path: Path, channel: str
    ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        consent = {
            "identifiers": [f.email(self.FORMULA)],
            "channel": channel,
            "purpose": "marketing",
            "status": "opted_in",
        }
        people: list[f.Record | str] = [
            f.person(external_id="F", identifiers=[f.email(self.FORMULA), f.phone("+34611000001")]),
            _change("consent_change", f"c-{channel}", 1, consent),
        ]
        path = f.write_jsonl(tmp_path / "formula.jsonl", people)
        summary = await import_file(
            services.ingest, "canonical", str(path), parse_options(default_region="ES")
        )
        assert summary.rejected == 0, summary.errors
        # Mid-morning in Spain: an SMS is not held back by quiet hours.
        morning = dt.datetime.combine(NOW.date(), dt.time(10), tzinfo=dt.UTC)
        params = {"channel": channel, "purpose": "marketing", "at": _iso(morning)}
        csv_text = (await client.get("/audiences/export", params={**params, "format": "csv"})).text
        ndjson = (await client.get("/audiences/export", params={**params, "format": "ndjson"})).text
        return (
            list(csv.DictReader(io.StringIO(csv_text))),
            [json.loads(line) for line in ndjson.splitlines()],
        )

    async def test_an_address_that_is_a_formula_is_text(
        self, services: Services, marketing_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        [row], [line] = await self._exported(services, marketing_client, tmp_path, "email")
        assert row["contact_point"] == "'" + self.FORMULA.lower()
        assert line["contact_point"] == self.FORMULA.lower()  # NDJSON: the value itself

    async def test_a_phone_number_keeps_its_plus_and_reads_back_the_same(
        self, services: Services, marketing_client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        """What a user expects: the spreadsheet shows +34611000001 as text (the quote is a
        marker it hides), and a program that removes the marker reads the NDJSON values."""
        [row], [line] = await self._exported(services, marketing_client, tmp_path, "sms")
        assert row["contact_point"] == "'+34611000001"
        assert line["contact_point"] == "+34611000001"
        # Every value but the link (each link is encrypted with a fresh IV) reads back the same.
        assert {k: restored(v) for k, v in row.items() if k != "unsubscribe_url"} == {
            k: "" if v is None else v for k, v in line.items() if k != "unsubscribe_url"
        }


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+34600", "-2", "@SUM(A1)", "\tx", "\rx", "\0x", "'=x", "'quoted", "plain", "", "a=b"],
)
def test_a_neutralised_cell_restores_to_its_value(value: str) -> None:
    from c360.spreadsheet import TRIGGERS, neutralised

    cell = neutralised(value)
    assert cell is not None
    assert not cell.startswith(TRIGGERS)
    assert restored(cell) == value
