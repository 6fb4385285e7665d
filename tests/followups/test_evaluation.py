"""Follow-ups against the real store: rules evaluated at ingest (idempotent, order-independent,
every way in), the lifecycle over GraphQL with each role, escalation exactly once under two
tickers, merges and unmerges, closing the loop, the backtest, holdout, the timeline, the rules'
API and command line, and the metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from c360.auth.service import Role
from c360.followups.model import EventType, FollowUp, Status, Target
from c360.followups.rules import Priority, RuleDefinition
from c360.followups.states import Action
from c360.services import Services
from c360.settings import Settings, TeamSettings
from c360.store import Store
from schemas.identifiers import IdentifierType
from tests import factories as f
from tests.followups.helpers import SECRET, ingest, later, nps, raw

ANA = "ana@example.com"
TOM = "tom@example.com"


def teams(url: str | None = None) -> dict[str, TeamSettings]:
    care: dict[str, Any] = {
        "members": ["ana.agent", "luis.agent"],
        "escalation_team": "care-leads",
    }
    if url is not None:
        care |= {"webhook_url": url, "webhook_secret": SECRET}
    return {
        "customer-care": TeamSettings.model_validate(care),
        "care-leads": TeamSettings(members=["marta.lead"]),
        "vip-care": TeamSettings(members=["vera.vip"]),
    }


def with_teams(settings: Settings, url: str | None = "http://127.0.0.1:9/nobody") -> Settings:
    return settings.model_copy(update={"followup_teams": teams(url)})


@pytest.fixture
def care(store: Store, settings: Settings) -> Services:
    """Services whose customer-care team has members and a webhook (never reached here)."""
    return Services.build(store.db, with_teams(settings))


@pytest.fixture
async def care_app(store: Store, settings: Settings) -> AsyncIterator[FastAPI]:
    from c360.api.app import create_app

    app = create_app(with_teams(settings).model_copy(update={"alerts_tick_s": 0}))
    async with app.router.lifespan_context(app):
        yield app


async def client_for(app: FastAPI, role: Role) -> httpx.AsyncClient:
    headers = await f.api_key(app.state.services, role)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://c360.test", headers=headers
    )


async def of(services: Services, email: str = ANA) -> tuple[str, list[FollowUp]]:
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, email)
    [found] = await services.followups.service.of_profiles([profile.id])
    return profile.id, found


def shown(found: list[FollowUp], rule: str = "nps-detractor") -> list[FollowUp]:
    return [
        fu
        for fu in found
        if fu.rule_id == rule and fu.status not in (Status.WITHDRAWN, Status.MERGED)
    ]


# --- Evaluation at ingest -----------------------------------------------------------------------


class TestEvaluationAtIngest:
    async def test_a_detractor_opens_one_follow_up_with_team_owner_sla_and_notification(
        self, care: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest(care, tmp_path / "a.jsonl", [nps("S-1", ANA, 3, "2024-05-03T12:00:00Z")])

        _, found = await of(care)
        [fu] = shown(found)
        assert fu.status is Status.OPEN
        assert fu.team == "customer-care"
        assert fu.owner in ("ana.agent", "luis.agent")
        assert fu.priority is Priority.NORMAL
        assert fu.rule_version == 1
        assert fu.reason == "latest NPS answer 3 ≤ 6"
        assert [t.record_id for t in fu.triggers] == ["surveys:survey_response:S-1"]
        assert fu.due[Target.FIRST_RESPONSE] - fu.opened_at == dt.timedelta(hours=48)
        assert [e.type for e in fu.events] == [EventType.OPENED]
        [entry] = await raw(store, "outbox")
        assert entry["type"] == "follow_up.opened"
        assert entry["follow_up_id"] == fu.id
        assert entry["status"] == "pending"

    async def test_importing_again_changes_nothing(
        self, care: Services, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        records = [
            nps("S-1", ANA, 3, "2024-05-03T12:00:00Z"),
            nps("S-2", TOM, 10, "2024-05-04T12:00:00Z", comment="Great", contact_requested=True),
            f.service_case(
                external_id="T-9", identifiers=[f.email(TOM)], tags=["complaint"], complaint=True
            ),
        ]
        await ingest(care, tmp_path / "a.jsonl", records)
        before = {name: await raw(store, name) for name in ("follow_ups", "outbox")}
        assert len(before["follow_ups"]) == 2  # Ana's detractor, Tom's request to be called

        await ingest(Services.build(store.db, with_teams(settings)), tmp_path / "b.jsonl", records)

        assert {name: await raw(store, name) for name in ("follow_ups", "outbox")} == before

    async def test_a_late_earlier_answer_opens_no_second_one(
        self, care: Services, tmp_path: Path
    ) -> None:
        await ingest(care, tmp_path / "a.jsonl", [nps("S-2", ANA, 4, "2024-05-10T12:00:00Z")])
        await ingest(care, tmp_path / "b.jsonl", [nps("S-1", ANA, 2, "2024-05-01T12:00:00Z")])

        _, found = await of(care)
        [fu] = shown(found)
        assert [t.record_id for t in fu.triggers] == ["surveys:survey_response:S-2"]
        assert len(found) == 1

    async def test_a_newer_answer_above_the_threshold_withdraws_it_if_nobody_acted(
        self, care: Services, store: Store, tmp_path: Path
    ) -> None:
        await ingest(care, tmp_path / "a.jsonl", [nps("S-1", ANA, 3, "2024-05-01T12:00:00Z")])
        await ingest(care, tmp_path / "b.jsonl", [nps("S-2", ANA, 9, "2024-05-10T12:00:00Z")])

        _, found = await of(care)
        assert shown(found) == []
        [fu] = found
        assert fu.status is Status.WITHDRAWN
        # Nobody was told of it yet: its notification is cancelled, none is sent about it.
        assert [e["status"] for e in await raw(store, "outbox")] == ["cancelled"]

        # A newer detractor answer: the same episode opens again, not a second one.
        await ingest(care, tmp_path / "c.jsonl", [nps("S-3", ANA, 1, "2024-05-20T12:00:00Z")])
        _, found = await of(care)
        [again] = shown(found)
        assert again.id == fu.id
        assert again.status is Status.OPEN
        assert [t.record_id for t in again.triggers] == ["surveys:survey_response:S-3"]

    async def test_once_someone_acted_it_stays(self, care: Services, tmp_path: Path) -> None:
        await ingest(care, tmp_path / "a.jsonl", [nps("S-1", ANA, 3, "2024-05-01T12:00:00Z")])
        _, [fu] = await of(care)
        from c360.followups.states import Action

        await care.followups.service.act(fu.id, Action.ACKNOWLEDGE, "key:x (agent)", later(0))
        await ingest(care, tmp_path / "b.jsonl", [nps("S-2", ANA, 9, "2024-05-10T12:00:00Z")])
        _, [kept] = await of(care)
        assert kept.status is Status.ACKNOWLEDGED

    async def test_a_complaint_from_a_top_customer_goes_to_vip_care_urgently(
        self, care: Services, tmp_path: Path
    ) -> None:
        orders = [
            f.order(
                external_id=f"o{i}", identifiers=[f.email(f"c{i}@example.com")], amount=1000 + i
            )
            for i in range(6)
        ]
        big = f.order(external_id="big", identifiers=[f.email(TOM)], amount=900_000)
        await ingest(care, tmp_path / "a.jsonl", [*orders, big])
        complaint = f.service_case(
            external_id="T-1", identifiers=[f.email(TOM)], tags=["complaint"], complaint=True
        )
        small = f.service_case(
            external_id="T-2",
            identifiers=[f.email("c1@example.com")],
            tags=["complaint"],
            complaint=True,
        )
        await ingest(care, tmp_path / "b.jsonl", [complaint, small])

        _, found = await of(care, TOM)
        [fu] = shown(found, "complaint-high-value")
        assert fu.team == "vip-care"
        assert fu.owner == "vera.vip"
        assert fu.priority is Priority.URGENT
        assert fu.due[Target.FIRST_RESPONSE] - fu.opened_at == dt.timedelta(hours=4)
        _, found = await of(care, "c1@example.com")
        assert shown(found, "complaint-high-value") == []

    async def test_the_account_owner_gets_the_customers_follow_ups(
        self, care: Services, tmp_path: Path
    ) -> None:
        person = f.person(identifiers=[f.email(ANA)], account_owner="marta.lead")
        await ingest(care, tmp_path / "a.jsonl", [person])
        await ingest(care, tmp_path / "b.jsonl", [nps("S-1", ANA, 0, "2024-05-01T12:00:00Z")])
        _, found = await of(care)
        assert shown(found)[0].owner == "marta.lead"

    async def test_each_import_gives_the_next_to_the_member_holding_fewest(
        self, care: Services, tmp_path: Path
    ) -> None:
        owners = []
        for n, email in enumerate(["a@example.com", "b@example.com", "c@example.com"]):
            await ingest(
                care, tmp_path / f"{n}.jsonl", [nps(f"S-{n}", email, 2, "2024-05-01T12:00:00Z")]
            )
            _, found = await of(care, email)
            owners += [fu.owner for fu in shown(found)]
        # Ana first (in the team's order), Luis holding none, then Ana, assigned less recently.
        assert owners == ["ana.agent", "luis.agent", "ana.agent"]

    async def test_the_gauges_count_by_status_team_and_rule(
        self, care: Services, tmp_path: Path
    ) -> None:
        records = [
            nps("S-1", ANA, 3, "2024-05-03T12:00:00Z"),
            nps("S-2", TOM, 1, "2024-05-04T12:00:00Z", contact_requested=True),
        ]
        await ingest(care, tmp_path / "a.jsonl", records)
        _, found = await of(care, TOM)
        [tom_nps] = shown(found)
        await care.followups.service.act(tom_nps.id, Action.ACKNOWLEDGE, "luis.agent", later(0))

        stats = await care.followups.service.stats(later(0))
        assert stats.by_status == {
            ("open", "customer-care", "nps-detractor"): 1,
            ("open", "customer-care", "contact-requested"): 1,
            ("acknowledged", "customer-care", "nps-detractor"): 1,
        }

    async def test_a_disabled_rule_opens_nothing(self, care: Services, tmp_path: Path) -> None:
        await care.followups.rules.set_enabled("nps-detractor", False, "test", later(0))
        await ingest(care, tmp_path / "a.jsonl", [nps("S-1", ANA, 3, "2024-05-01T12:00:00Z")])
        _, found = await of(care)
        assert found == []

    async def test_holdout_records_and_does_not_action(
        self, care: Services, store: Store, tmp_path: Path
    ) -> None:
        half = RuleDefinition.model_validate(
            {
                "id": "nps-detractor",
                "name": "NPS detractor",
                "team": "customer-care",
                "holdout": 0.5,
                "conditions": [{"kind": "survey_score_at_most", "survey_type": "nps", "score": 6}],
            }
        )
        await care.followups.rules.apply([half], "test", later(0))
        answers = [nps(f"S-{i}", f"p{i}@example.com", 2, "2024-05-01T12:00:00Z") for i in range(40)]
        await ingest(care, tmp_path / "a.jsonl", answers)

        docs = await raw(store, "follow_ups")
        held = [d for d in docs if d["held_out"]]
        assert len(docs) == 40
        assert 5 < len(held) < 35
        assert all(d["status"] == "held_out" and "owner" not in d and not d["due"] for d in held)
        assert {d["rule_version"] for d in docs} == {2}  # the version that opened them
        notified = {e["follow_up_id"] for e in await raw(store, "outbox")}
        assert notified == {d["_id"] for d in docs if not d["held_out"]}


# --- Every way in ----------------------------------------------------------------------------


async def test_a_pushed_survey_csv_asking_to_be_contacted_opens_a_follow_up(
    care_app: FastAPI,
) -> None:
    body = (
        "response_id,responded_at,email,type,score,comment,contact_requested\n"
        "R-1,2024-05-01T10:00:00Z,eva@example.com,csat,4,Fine but call me,yes\n"
    )
    async with await client_for(care_app, Role.CONNECTOR) as pusher:
        answer = await pusher.post(
            "/ingest/surveys-csv", content=body, headers={"content-type": "text/csv"}
        )
    assert answer.status_code == 200, answer.text
    services: Services = care_app.state.services
    _, found = await of(services, "eva@example.com")
    [fu] = shown(found, "contact-requested")
    assert fu.priority is Priority.HIGH
    assert fu.due[Target.FIRST_RESPONSE] - fu.opened_at == dt.timedelta(hours=24)
