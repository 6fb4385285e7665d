"""Follow-ups over GraphQL with each role: the queue, the lifecycle with its appended events, the
agents' errors as union members, closing the loop on the customer's channel, the timeline,
admins' rules (the shipped ones, a new version, a preview that writes nothing) and teams, and
merges folding follow-ups and unmerges handing them back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from c360.auth.service import Role
from c360.followups.rules import RuleDefinition
from c360.services import Services
from c360.settings import Settings, TeamSettings
from c360.store import Store
from tests import factories as f
from tests.followups.helpers import SECRET, ingest, nps, raw
from tests.helpers import UNMERGE, app_for, asgi_client, gql
from tests.state import counted_graphql

ANA, TOM = "ana@example.com", "tom@example.com"
FOLLOW_UP = """fragment F on FollowUp {
  id status priority team owner heldOut reason rootCause outcome
  rule { id name version }
  sla { target due state }
  events { n type actor status note recordIds }
  trigger { id kind }
}"""
QUEUE = (
    FOLLOW_UP
    + """
query($filter: FollowUpFilter) {
  followUps(filter: $filter, first: 10) { totalCount edges { node { ...F } } }
}"""
)
ACT = (
    FOLLOW_UP
    + """
mutation($id: ID!) {
  acknowledge: acknowledgeFollowUp(id: $id, note: "seen") { __typename ... on FollowUp { ...F } }
}"""
)
START = """mutation($id: ID!) { startFollowUp(id: $id) {
  __typename ... on FollowUp { status } ... on Error { code message } } }"""
RESOLVE = """mutation($id: ID!, $cause: String!) {
  resolveFollowUp(id: $id, outcome: CONTACTED_RESOLVED, rootCause: $cause, note: "called") {
    __typename ... on FollowUp { status rootCause outcome events { type actor } }
    ... on Error { code message } } }"""
REOPEN = """mutation($id: ID!) { reopenFollowUp(id: $id) {
  __typename ... on FollowUp { status } ... on Error { code message } } }"""
NOTE = """mutation($id: ID!, $note: String!) { addFollowUpNote(id: $id, note: $note) {
  __typename ... on FollowUp { status firstResponseAt sla { target state doneAt }
    events { type actor status note } }
  ... on Error { code message } } }"""
ASSIGN = """mutation($id: ID!, $owner: String, $team: String) {
  assignFollowUp(id: $id, owner: $owner, team: $team) {
    __typename ... on FollowUp { team owner } ... on Error { message } } }"""


def teams() -> dict[str, TeamSettings]:
    return {
        "customer-care": TeamSettings.model_validate(
            {
                "members": ["ana.agent", "luis.agent"],
                "escalation_team": "care-leads",
                "webhook_url": "http://127.0.0.1:9/care",
                "webhook_secret": SECRET,
            }
        ),
        "care-leads": TeamSettings(members=["marta.lead"]),
        "vip-care": TeamSettings(members=["vera.vip"]),
    }


@pytest.fixture
async def app(store: Store, settings: Settings) -> AsyncIterator[FastAPI]:
    app = app_for(settings.model_copy(update={"followup_teams": teams(), "alerts_tick_s": 0}))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def agent(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, await f.api_key(app.state.services, Role.AGENT)) as client:
        yield client


async def headers(app: FastAPI, role: Role) -> dict[str, str]:
    return await f.api_key(app.state.services, role)


async def detractor(app: FastAPI, tmp_path: Path, email: str = ANA, **more: Any) -> None:
    await ingest(
        app.state.services,
        tmp_path / f"{email}.jsonl",
        [nps("S-1", email, 3, "2024-05-03T12:00:00Z", **more)],
    )


async def queue(client: httpx.AsyncClient, **filter: Any) -> dict[str, Any]:
    found: dict[str, Any] = (await gql(client, QUEUE, filter=filter or None))["followUps"]
    return found


class TestQueue:
    async def test_an_agent_sees_the_queue_with_rule_sla_and_trigger(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)

        found = await queue(agent, team=["customer-care"])

        assert found["totalCount"] == 1
        [edge] = found["edges"]
        node = edge["node"]
        assert node["rule"] == {"id": "nps-detractor", "name": "NPS detractor", "version": 1}
        assert node["status"] == "OPEN"
        assert node["owner"] in ("ana.agent", "luis.agent")
        assert [s["target"] for s in node["sla"]] == ["FIRST_RESPONSE", "RESOLUTION"]
        assert {s["state"] for s in node["sla"]} <= {"ON_TRACK", "DUE_SOON", "OVERDUE"}
        assert node["trigger"] == [{"id": "surveys:survey_response:S-1", "kind": "SURVEY_RESPONSE"}]
        assert [(e["n"], e["type"], e["actor"]) for e in node["events"]] == [(1, "OPENED", "c360")]

    async def test_a_page_reads_every_follow_ups_trigger_in_the_same_round_trips_as_one(
        self, app: FastAPI, settings: Settings, mongo_uri: str, tmp_path: Path
    ) -> None:
        people = [f"p{n}@example.com" for n in range(6)]
        answers = [
            nps(f"S-{n}", email, 3, "2024-05-03T12:00:00Z") for n, email in enumerate(people)
        ]
        await ingest(app.state.services, tmp_path / "answers.jsonl", answers)
        page = (
            FOLLOW_UP
            + "query($first: Int!) { followUps(first: $first) { edges { node { ...F } } } }"
        )

        async def commands(first: int) -> tuple[list[str], list[Any]]:
            sent, data = await counted_graphql(
                mongo_uri, app.state.settings, page, Role.AGENT, {"first": first}
            )
            return sent, data["followUps"]["edges"]

        one, _ = await commands(1)
        many, edges = await commands(len(people))

        assert sorted(t["id"] for e in edges for t in e["node"]["trigger"]) == [
            f"surveys:survey_response:S-{n}" for n in range(len(people))
        ]
        assert many == one

    @pytest.mark.parametrize(
        ("filter", "count"),
        [
            ({"rule": ["nps-detractor"]}, 1),
            ({"rule": ["contact-requested"]}, 1),
            ({"team": ["vip-care"]}, 0),
            ({"priority": ["HIGH"]}, 1),
            ({"status": ["RESOLVED"]}, 0),
            ({"overdue": True}, 0),
            ({"owner": ["nobody.here"]}, 0),
        ],
    )
    async def test_filters(
        self,
        app: FastAPI,
        agent: httpx.AsyncClient,
        tmp_path: Path,
        filter: dict[str, Any],
        count: int,
    ) -> None:
        await detractor(app, tmp_path, contact_requested=True)

        found = await queue(agent, **filter)

        assert found["totalCount"] == count
        assert len(found["edges"]) == count

    @pytest.mark.parametrize("role", [Role.MARKETING, Role.CONNECTOR])
    async def test_marketing_and_connectors_see_none(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path, role: Role
    ) -> None:
        await detractor(app, tmp_path)
        payload = {"query": "{ followUps { totalCount } }"}

        answer = await agent.post("/graphql", json=payload, headers=await headers(app, role))

        body = answer.json()
        assert body["errors"][0]["extensions"]["code"] == "Forbidden"
        if role is Role.CONNECTOR:  # a connector key reads nothing over GraphQL at all
            assert answer.status_code == 403
        else:
            assert body["data"] == {"followUps": None}


def _due_soon_early(settings: Settings) -> Settings:
    """The teams, no background worker, and a target due soon once 1 % of it is gone."""
    update = {"followup_teams": teams(), "alerts_tick_s": 0, "followup_due_soon_fraction": 0.99}
    return settings.model_copy(update=update)


def _nps_rule(rule_id: str, *, first_response_hours: float, name: str = "") -> RuleDefinition:
    """An NPS detractor rule for customer care whose first response is due this soon."""
    return RuleDefinition.model_validate(
        {
            "id": rule_id,
            "name": name or rule_id,
            "team": "customer-care",
            "conditions": [{"kind": "survey_score_at_most", "survey_type": "nps", "score": 6}],
            "sla": {"first_response_hours": first_response_hours, "resolution_hours": 1},
        }
    )


class TestDueSoon:
    DUE = """query($filter: FollowUpFilter) { followUps(filter: $filter, first: 10) {
      totalCount edges { node { rule { id } sla { target state dueSoonAt warnedAt }
        events { type target owner note } } } } }"""

    async def test_the_queue_keeps_those_at_risk_and_their_history_shows_the_warning(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """A rule whose first response is due in 36 s, turning due soon once 1 % of it is gone
        (C360_FOLLOWUP_DUE_SOON_FRACTION 0.99), beside the shipped 48 h one."""
        app = app_for(_due_soon_early(settings))
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            fast = _nps_rule("nps-fast", first_response_hours=0.01, name="NPS detractor, fast")
            await services.followups.rules.apply([fast], "test", dt.datetime.now(dt.UTC))
            await detractor(app, tmp_path)
            await asyncio.sleep(0.5)  # past 1 % of 36 s
            async with asgi_client(app, await f.api_key(services, Role.AGENT)) as agent:
                every = (await gql(agent, self.DUE))["followUps"]
                soon = (await gql(agent, self.DUE, filter={"dueSoon": True}))["followUps"]
                both = await agent.post(
                    "/graphql",
                    json={
                        "query": self.DUE,
                        "variables": {"filter": {"dueSoon": True, "overdue": True}},
                    },
                )
                await services.followups.worker.tick(lease=False)
                await services.followups.worker.tick(lease=False)
                warned = (await gql(agent, self.DUE, filter={"dueSoon": True}))["followUps"]

        assert every["totalCount"] == 2
        assert soon["totalCount"] == 1
        [node] = [e["node"] for e in soon["edges"]]
        assert node["rule"]["id"] == "nps-fast"
        first = node["sla"][0]
        assert (first["target"], first["state"], first["warnedAt"]) == (
            "FIRST_RESPONSE",
            "DUE_SOON",
            None,
        )
        assert first["dueSoonAt"] is not None
        assert "dueSoon: true and overdue: true ask for none" in both.json()["errors"][0]["message"]
        [node] = [e["node"] for e in warned["edges"]]
        assert node["sla"][0]["warnedAt"] is not None
        [warning] = [e for e in node["events"] if e["type"] == "DUE_SOON"]  # once, two rounds
        assert warning["target"] == "FIRST_RESPONSE"
        assert warning["owner"] in ("ana.agent", "luis.agent")
        assert warning["note"].startswith("first response due soon")

    async def test_false_keeps_the_others(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """`dueSoon: false` and `overdue: false` are the rest of the queue, as `unassigned:
        false` is: not everything."""
        app = app_for(_due_soon_early(settings))
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            rules = [
                _nps_rule(rule_id, first_response_hours=hours)
                for rule_id, hours in (("nps-soon", 0.01), ("nps-late", 0.0001))
            ]
            await services.followups.rules.apply(rules, "test", dt.datetime.now(dt.UTC))
            await detractor(app, tmp_path)
            await asyncio.sleep(0.5)  # nps-soon due soon (36 s), nps-late overdue (0.36 s)
            async with asgi_client(app, await f.api_key(services, Role.AGENT)) as agent:
                found = {}
                for name, value in (
                    ("dueSoon", True),
                    ("dueSoon", False),
                    ("overdue", True),
                    ("overdue", False),
                ):
                    queue = (await gql(agent, self.DUE, filter={name: value}))["followUps"]
                    label = f"{name}: {str(value).lower()}"
                    found[label] = {e["node"]["rule"]["id"] for e in queue["edges"]}

        assert found == {
            "dueSoon: true": {"nps-soon"},
            "dueSoon: false": {"nps-detractor", "nps-late"},
            "overdue: true": {"nps-late"},
            "overdue: false": {"nps-detractor", "nps-soon"},
        }


class TestOneOwnerPerCustomer:
    OWNERS = """query($email: String!) { profileByIdentifier(type: EMAIL, value: $email) {
      ... on Profile { followUps { rule { id } team owner } } } }"""

    async def test_one_answer_that_fires_two_rules_goes_to_one_agent(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        """A detractor who asks to be called opens two follow-ups in one team: one agent calls
        her about both, not two agents each about one."""
        await detractor(app, tmp_path, contact_requested=True)

        profile = (await gql(agent, self.OWNERS, email=ANA))["profileByIdentifier"]

        rules = {fu["rule"]["id"]: fu for fu in profile["followUps"]}
        assert set(rules) == {"nps-detractor", "contact-requested"}
        assert {fu["team"] for fu in rules.values()} == {"customer-care"}
        assert len({fu["owner"] for fu in rules.values()}) == 1

    async def test_a_later_follow_up_goes_to_the_agent_who_has_her_open_one(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [first] = (await gql(agent, self.OWNERS, email=ANA))["profileByIdentifier"]["followUps"]
        await ingest(
            app.state.services,
            tmp_path / "later.jsonl",
            [nps("S-2", ANA, 4, "2024-05-04T12:00:00Z", contact_requested=True)],
        )

        profile = (await gql(agent, self.OWNERS, email=ANA))["profileByIdentifier"]

        [asked] = [fu for fu in profile["followUps"] if fu["rule"]["id"] == "contact-requested"]
        assert asked["owner"] == first["owner"]  # not the other member, for being less busy


class TestUnassigned:
    async def test_a_lead_lists_the_follow_ups_nobody_owns(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        """One follow-up moved to a team nobody is in waits unassigned: the lead finds it by
        asking for those without an owner, and the assigned one by asking for the others."""
        billing = {  # a team only this rule names: nobody is in it
            "id": "billing-complaints",
            "name": "Billing complaints",
            "team": "billing",
            "conditions": [{"kind": "COMPLAINT_OPENED"}],
        }
        apply = "mutation($rule: AlertRuleInput!) { applyAlertRule(rule: $rule) { __typename } }"
        await gql(agent, apply, await headers(app, Role.ADMIN), rule=billing)
        await detractor(app, tmp_path)
        await detractor(app, tmp_path, TOM)
        [moved, kept] = (await queue(agent))["edges"]
        await gql(agent, ASSIGN, id=moved["node"]["id"], team="billing")

        nobodys = await queue(agent, unassigned=True)
        someones = await queue(agent, unassigned=False)

        assert [e["node"]["id"] for e in nobodys["edges"]] == [moved["node"]["id"]]
        assert nobodys["totalCount"] == 1
        assert [e["node"]["id"] for e in someones["edges"]] == [kept["node"]["id"]]
        assert someones["totalCount"] == 1


class TestAccountOwner:
    async def test_a_follow_up_can_be_given_back_to_the_account_owner(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        """Her follow-up goes to her account manager, who is in no team; an agent hands it to
        a colleague while he is away, then back to him."""
        owned = f.person(identifiers=[f.email(ANA)], account_owner="pedro.manager")
        await ingest(app.state.services, tmp_path / "crm.jsonl", [owned])
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        assert edge["node"]["owner"] == "pedro.manager"

        away = await gql(agent, ASSIGN, id=edge["node"]["id"], owner="luis.agent")
        back = await gql(agent, ASSIGN, id=edge["node"]["id"], owner="pedro.manager")
        stranger = await gql(agent, ASSIGN, id=edge["node"]["id"], owner="someone.else")

        assert away["assignFollowUp"]["owner"] == "luis.agent"
        assert back["assignFollowUp"] == {
            "__typename": "FollowUp",
            "team": "customer-care",
            "owner": "pedro.manager",
        }
        assert stranger["assignFollowUp"]["message"] == (
            "'someone.else' is not a member of team customer-care (ana.agent, luis.agent) "
            "nor the customer's account owner"
        )


class TestLifecycle:
    async def test_acknowledge_start_resolve_reopen_each_an_event_with_its_actor(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        fu_id = edge["node"]["id"]

        acknowledged = (await gql(agent, ACT, id=fu_id))["acknowledge"]
        started = (await gql(agent, START, id=fu_id))["startFollowUp"]
        refused = (await gql(agent, RESOLVE, id=fu_id, cause="bad-weather"))["resolveFollowUp"]
        resolved = (await gql(agent, RESOLVE, id=fu_id, cause="delivery"))["resolveFollowUp"]
        again = (await gql(agent, REOPEN, id=fu_id))["reopenFollowUp"]

        assert acknowledged["status"] == "ACKNOWLEDGED"
        assert acknowledged["events"][-1]["note"] == "seen"
        assert acknowledged["events"][-1]["actor"].startswith("key:")
        assert started == {"__typename": "FollowUp", "status": "IN_PROGRESS"}
        assert refused["__typename"] == "InvalidInputError"
        assert "bad-weather" in refused["message"]
        assert resolved["status"] == "RESOLVED"
        assert (resolved["rootCause"], resolved["outcome"]) == ("delivery", "CONTACTED_RESOLVED")
        assert [e["type"] for e in resolved["events"]] == [
            "OPENED",
            "ACKNOWLEDGED",
            "STARTED",
            "RESOLVED",
        ]
        assert again == {"__typename": "FollowUp", "status": "OPEN"}

    async def test_a_change_answers_its_times_as_they_read_back(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        # The store keeps milliseconds: the answer must not carry microseconds it loses.
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        times = "resolvedAt firstResponseAt sla { target doneAt } events { at }"
        resolve = f"""mutation($id: ID!) {{ resolveFollowUp(id: $id, outcome: CONTACTED_RESOLVED,
          rootCause: "product-defect", note: "called") {{ __typename ... on FollowUp {{ {times} }}
          ... on Error {{ message }} }} }}"""
        read = f"""query($id: ID!) {{ followUp(id: $id) {{ ... on FollowUp {{ {times} }} }} }}"""

        answered = (await gql(agent, resolve, id=edge["node"]["id"]))["resolveFollowUp"]
        stored = (await gql(agent, read, id=edge["node"]["id"]))["followUp"]

        assert answered.pop("__typename") == "FollowUp", answered
        assert answered["resolvedAt"] is not None
        assert answered == stored

    async def test_a_transition_from_the_wrong_state_is_a_conflict(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]

        answer = (await gql(agent, REOPEN, id=edge["node"]["id"]))["reopenFollowUp"]

        assert answer["__typename"] == "ConflictError"

    async def test_a_note_alone_keeps_the_status_and_the_clocks_open_and_closed(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        fu_id = edge["node"]["id"]

        noted = await gql(agent, NOTE, id=fu_id, note="Left a voicemail; calling at 5")
        empty = (await gql(agent, NOTE, id=fu_id, note="  "))["addFollowUpNote"]
        await gql(agent, RESOLVE, id=fu_id, cause="delivery")
        after = await gql(agent, NOTE, id=fu_id, note="She wrote back: thanks")

        noted, after = noted["addFollowUpNote"], after["addFollowUpNote"]
        assert noted["status"] == "OPEN"
        assert noted["firstResponseAt"] is None  # a note is no answer to the customer
        assert {c["state"] for c in noted["sla"]} == {"ON_TRACK"}
        assert noted["events"][-1]["type"] == "NOTED"
        assert noted["events"][-1]["note"] == "Left a voicemail; calling at 5"
        assert noted["events"][-1]["actor"].startswith("key:")
        assert (empty["__typename"], empty["message"]) == (
            "InvalidInputError",
            "a note needs its text",
        )
        assert after["status"] == "RESOLVED"
        assert [e["type"] for e in after["events"]][-2:] == ["RESOLVED", "NOTED"]

    async def test_an_unknown_follow_up_is_not_found(self, agent: httpx.AsyncClient) -> None:
        answer = (await gql(agent, START, id="fu_nothing"))["startFollowUp"]
        assert answer["__typename"] == "NotFoundError"

    async def test_assign_to_a_member_and_to_another_team(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]

        member = await gql(agent, ASSIGN, id=edge["node"]["id"], owner="luis.agent")
        moved = await gql(agent, ASSIGN, id=edge["node"]["id"], team="vip-care")

        assert member["assignFollowUp"] == {
            "__typename": "FollowUp",
            "team": "customer-care",
            "owner": "luis.agent",
        }
        assert moved["assignFollowUp"] == {
            "__typename": "FollowUp",
            "team": "vip-care",
            "owner": "vera.vip",
        }

    @pytest.mark.parametrize(
        ("owner", "says"),
        [
            ("x" * 10_000, "an owner is at most 200 characters, not 10,000"),
            ("luis\nagent", "an owner is one line of text, without control characters (U+000A)"),
        ],
    )
    async def test_an_owner_that_is_no_name_is_refused(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path, owner: str, says: str
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        before = edge["node"]

        refused = (await gql(agent, ASSIGN, id=before["id"], owner=owner))["assignFollowUp"]

        assert refused["__typename"] == "InvalidInputError"
        assert refused["message"].startswith(says)
        [after] = (await queue(agent))["edges"]
        assert after["node"] == before

    async def test_assign_to_a_team_that_does_not_exist_is_refused(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        before = edge["node"]

        answer = await gql(agent, ASSIGN, id=before["id"], team="no-such-team")

        refused = answer["assignFollowUp"]
        assert refused["__typename"] == "InvalidInputError"
        assert refused["message"] == (
            "no team 'no-such-team'; the teams: care-leads, customer-care, vip-care"
        )
        [after] = (await queue(agent))["edges"]
        assert after["node"] == before  # not moved, no event

    async def test_a_team_a_rule_routes_to_or_an_admin_set_is_known(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        [edge] = (await queue(agent))["edges"]
        admin = await headers(app, Role.ADMIN)
        rule = {
            "id": "billing-complaints",
            "name": "Billing complaints",
            "team": "billing",
            "conditions": [{"kind": "COMPLAINT_OPENED"}],
            "firstResponseHours": 24,
        }
        apply = """mutation($rule: AlertRuleInput!) { applyAlertRule(rule: $rule) {
          __typename } }"""
        team = """mutation { setTeam(id: "returns-desk", members: ["rita.returns"]) {
          __typename } }"""
        assert (await gql(agent, apply, admin, rule=rule))["applyAlertRule"] == {
            "__typename": "AlertRule"
        }
        assert (await gql(agent, team, admin))["setTeam"] == {"__typename": "Team"}

        to_billing = await gql(agent, ASSIGN, id=edge["node"]["id"], team="billing")
        to_returns = await gql(agent, ASSIGN, id=edge["node"]["id"], team="returns-desk")

        assert to_billing["assignFollowUp"] == {
            "__typename": "FollowUp",
            "team": "billing",
            "owner": None,  # nobody configured: it waits unassigned
        }
        assert to_returns["assignFollowUp"] == {
            "__typename": "FollowUp",
            "team": "returns-desk",
            "owner": "rita.returns",
        }

    async def test_the_profile_and_its_timeline_show_them(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path)
        query = """query($email: String!) {
          profileByIdentifier(type: EMAIL, value: $email) { ... on Profile {
          followUps { rule { id } status }
          timeline(first: 10) { edges { node { kind ... on FollowUpEventItem {
            event { type } followUp { id } } } } } } } }"""

        profile = (await gql(agent, query, email=ANA))["profileByIdentifier"]

        assert profile["followUps"] == [{"rule": {"id": "nps-detractor"}, "status": "OPEN"}]
        kinds = [e["node"]["kind"] for e in profile["timeline"]["edges"]]
        assert kinds == ["FOLLOW_UP", "SURVEY_RESPONSE"]  # opened when imported: newest


class TestWithdrawn:
    async def test_a_withdrawn_follow_up_has_no_sla_clocks(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        """Her next answer is a 9 before anyone acted: the follow-up is withdrawn, and nothing
        is due on it, on track or overdue, as nobody is to act on it any more."""
        await detractor(app, tmp_path)
        await ingest(
            app.state.services,
            tmp_path / "better.jsonl",
            [nps("S-2", ANA, 9, "2024-05-04T12:00:00Z")],
        )

        found = await queue(agent, status=["WITHDRAWN"])

        [edge] = found["edges"]
        assert edge["node"]["status"] == "WITHDRAWN"
        assert edge["node"]["sla"] == []
        noted = (await gql(agent, NOTE, id=edge["node"]["id"], note="too late"))["addFollowUpNote"]
        assert noted["__typename"] == "ConflictError"  # nobody is to act on it any more


class TestClosingTheLoop:
    async def test_feedback_is_acknowledged_once_on_the_channel_offered(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path, comment="Late again")
        query = """query($email: String!) {
          profileByIdentifier(type: EMAIL, value: $email) { ... on Profile {
          id feedback { why acknowledgement { channel } record { id }
            channelOffered { channel } } } } }"""
        ack = """mutation($p: ID!, $r: ID!) { acknowledgeFeedback(profileId: $p, recordId: $r,
          note: "wrote back") { __typename ... on Feedback { acknowledgement { channel note } }
          ... on Error { code } } }"""

        profile = (await gql(agent, query, email=ANA))["profileByIdentifier"]
        [item] = profile["feedback"]
        assert item["acknowledgement"] is None
        assert item["channelOffered"] == {"channel": "EMAIL"}  # the only way to reach her
        record = item["record"]["id"]

        first = (await gql(agent, ack, p=profile["id"], r=record))["acknowledgeFeedback"]
        second = (await gql(agent, ack, p=profile["id"], r=record))["acknowledgeFeedback"]

        assert first == {
            "__typename": "Feedback",
            "acknowledgement": {"channel": "EMAIL", "note": "wrote back"},
        }
        assert second["__typename"] == "ConflictError"
        after = (await gql(agent, query, email=ANA))["profileByIdentifier"]
        assert after["feedback"][0]["acknowledgement"] == {"channel": "EMAIL"}

    async def test_answering_the_feedback_is_the_first_response_of_its_follow_up(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path, comment="Late again")
        query = """query($email: String!) {
          profileByIdentifier(type: EMAIL, value: $email) { ... on Profile {
          id feedback { record { id } }
          followUps { status firstResponseAt sla { target state }
            events { type actor note } } } } }"""
        ack = """mutation($p: ID!, $r: ID!) { acknowledgeFeedback(profileId: $p, recordId: $r) {
          __typename ... on Feedback { acknowledgement { at } } } }"""
        profile = (await gql(agent, query, email=ANA))["profileByIdentifier"]
        [item] = profile["feedback"]

        done = await gql(agent, ack, p=profile["id"], r=item["record"]["id"])
        answered_at = done["acknowledgeFeedback"]["acknowledgement"]["at"]

        [fu] = (await gql(agent, query, email=ANA))["profileByIdentifier"]["followUps"]
        assert fu["status"] == "ACKNOWLEDGED"
        assert fu["firstResponseAt"] == answered_at
        assert fu["sla"][0] == {"target": "FIRST_RESPONSE", "state": "MET"}
        assert fu["events"][-1]["type"] == "ACKNOWLEDGED"
        assert fu["events"][-1]["actor"].startswith("key:")  # the agent who answered
        assert fu["events"][-1]["note"] == "the customer's feedback was answered by email"

    async def test_an_answer_cut_short_before_its_follow_up_settles_it_when_tried_again(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path, comment="Late again")
        query = """query($email: String!) {
          profileByIdentifier(type: EMAIL, value: $email) { ... on Profile {
          id feedback { record { id } acknowledgement { at } }
          followUps { status firstResponseAt } } } }"""
        ack = """mutation($p: ID!, $r: ID!) { acknowledgeFeedback(profileId: $p, recordId: $r) {
          __typename } }"""
        profile = (await gql(agent, query, email=ANA))["profileByIdentifier"]
        record = profile["feedback"][0]["record"]["id"]
        feedback = app.state.services.followups.feedback
        answered = feedback._answered

        async def crash(*args: object) -> None:  # the process stops once the answer is stored
            raise RuntimeError("stopped")

        feedback._answered = crash
        variables = {"p": profile["id"], "r": record}
        cut = (await agent.post("/graphql", json={"query": ack, "variables": variables})).json()
        assert cut["errors"], cut
        feedback._answered = answered
        again = (await gql(agent, ack, p=profile["id"], r=record))["acknowledgeFeedback"]

        assert again["__typename"] == "ConflictError"  # answered already, as it says
        after = (await gql(agent, query, email=ANA))["profileByIdentifier"]
        [fu] = after["followUps"]
        assert fu["status"] == "ACKNOWLEDGED"
        assert fu["firstResponseAt"] == after["feedback"][0]["acknowledgement"]["at"]

    WITHOUT_CONTACT = """mutation($p: ID!, $r: ID!) {
      acknowledgeFeedbackWithoutContact(profileId: $p, recordId: $r, note: "DNC since March") {
        __typename ... on Feedback { acknowledgement { at channel withoutContact by note } }
        ... on Error { code message } } }"""
    OWED = """query($email: String!) {
      profileByIdentifier(type: EMAIL, value: $email) { ... on Profile {
      id feedback { record { id } acknowledgement { channel withoutContact }
        channelOffered { channel } }
      followUps { status firstResponseAt events { type note } }
      timeline(kinds: [OUTBOUND_CONTACT]) { edges { node { id } } } } } }"""

    async def test_a_customer_who_accepts_no_contact_is_acknowledged_without_contact(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path, comment="Late again")
        profile = (await gql(agent, self.OWED, email=ANA))["profileByIdentifier"]
        stop = """mutation($p: ID!) { setDoNotContact(profileId: $p, active: true,
          reason: "asked on the phone") { __typename } }"""
        assert (await gql(agent, stop, p=profile["id"]))["setDoNotContact"]["__typename"] == (
            "PreferencesChanged"
        )
        sent = """mutation($p: ID!, $r: ID!) { acknowledgeFeedback(profileId: $p, recordId: $r,
          channel: EMAIL) { __typename ... on Error { message } } }"""
        owed = (await gql(agent, self.OWED, email=ANA))["profileByIdentifier"]
        [item] = owed["feedback"]
        record = item["record"]["id"]

        refused = (await gql(agent, sent, p=profile["id"], r=record))["acknowledgeFeedback"]
        done = await gql(agent, self.WITHOUT_CONTACT, p=profile["id"], r=record)
        again = await gql(agent, self.WITHOUT_CONTACT, p=profile["id"], r=record)

        assert item["channelOffered"] is None  # no channel to offer
        assert refused["__typename"] == "InvalidInputError"  # nothing sent through a refusal
        ack = done["acknowledgeFeedbackWithoutContact"]
        assert ack["__typename"] == "Feedback"
        assert ack["acknowledgement"]["channel"] is None
        assert ack["acknowledgement"]["by"].startswith("key:")
        assert ack["acknowledgement"]["note"] == "DNC since March"
        assert ack["acknowledgement"]["withoutContact"].startswith(
            "the contact policy allows no channel for purpose service: email (do_not_contact)"
        )
        assert "asked on the phone" not in ack["acknowledgement"]["withoutContact"]
        assert again["acknowledgeFeedbackWithoutContact"]["__typename"] == "ConflictError"
        after = (await gql(agent, self.OWED, email=ANA))["profileByIdentifier"]
        assert after["feedback"][0]["acknowledgement"]["channel"] is None
        assert after["timeline"]["edges"] == owed["timeline"]["edges"]  # no contact logged
        [fu] = after["followUps"]
        assert fu["status"] == "ACKNOWLEDGED"  # its first response, as an answer would be
        assert fu["firstResponseAt"] == ack["acknowledgement"]["at"]
        assert fu["events"][-1]["note"] == (
            "the customer's feedback was acknowledged without contact (the contact policy "
            "allows no channel for service)"
        )

    async def test_without_contact_is_refused_while_a_channel_is_allowed(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await detractor(app, tmp_path, comment="Late again")
        profile = (await gql(agent, self.OWED, email=ANA))["profileByIdentifier"]
        record = profile["feedback"][0]["record"]["id"]

        done = await gql(agent, self.WITHOUT_CONTACT, p=profile["id"], r=record)

        refused = done["acknowledgeFeedbackWithoutContact"]
        assert refused["__typename"] == "InvalidInputError"
        assert refused["message"].startswith("the customer accepts contact for service by email")
        after = (await gql(agent, self.OWED, email=ANA))["profileByIdentifier"]
        assert after["feedback"][0]["acknowledgement"] is None
        assert after["followUps"][0]["status"] == "OPEN"


class TestRules:
    async def test_the_shipped_rules_are_enabled_with_their_ids(
        self, agent: httpx.AsyncClient
    ) -> None:
        query = "{ alertRules { id enabled team priority sla { firstResponseHours } } }"

        rules = {r["id"]: r for r in (await gql(agent, query))["alertRules"]}

        assert set(rules) >= {
            "nps-detractor",
            "complaint-high-value",
            "csat-bad",
            "contact-requested",
        }
        assert all(r["enabled"] for r in rules.values())
        assert rules["nps-detractor"]["team"] == "customer-care"
        assert rules["nps-detractor"]["sla"]["firstResponseHours"] == 48
        assert rules["complaint-high-value"]["team"] == "vip-care"
        assert rules["complaint-high-value"]["priority"] == "URGENT"
        assert rules["complaint-high-value"]["sla"]["firstResponseHours"] == 4
        assert rules["contact-requested"]["sla"]["firstResponseHours"] == 24

    async def test_an_admin_applies_and_previews_an_agent_may_not(
        self, app: FastAPI, agent: httpx.AsyncClient, store: Store, tmp_path: Path
    ) -> None:
        answers = [
            nps(f"S-{i}", f"p{i}@example.com", score, f"2024-05-0{1 + i % 3}T12:00:00Z")
            for i, score in enumerate([2, 5, 7, 8, 9, 3])
        ]
        await ingest(app.state.services, tmp_path / "a.jsonl", answers)
        before = await raw(store, "follow_ups")
        rule = {
            "id": "nps-passive",
            "name": "NPS passive",
            "team": "customer-care",
            "conditions": [{"kind": "SURVEY_SCORE_AT_MOST", "surveyType": "NPS", "score": 8}],
            "firstResponseHours": 72,
        }
        preview = """query($rule: AlertRuleInput!) {
          alertRulePreview(rule: $rule, from: "2024-04-01T00:00:00Z", to: "2024-06-01T00:00:00Z") {
            __typename ... on AlertRulePreview { wouldOpen customers byWeek { team count }
              sample { profileId } } } }"""
        apply = """mutation($rule: AlertRuleInput!) { applyAlertRule(rule: $rule) {
          __typename ... on AlertRule { id version enabled } } }"""
        admin = await headers(app, Role.ADMIN)

        previewed = (await gql(agent, preview, admin, rule=rule))["alertRulePreview"]
        refused = (await gql(agent, apply, rule=rule))["applyAlertRule"]
        applied = (await gql(agent, apply, admin, rule=rule))["applyAlertRule"]
        again = await gql(agent, apply, admin, rule=rule | {"name": "NPS passives"})

        assert previewed["wouldOpen"] == 5  # 2, 5, 7, 8, 3: at most 8
        assert previewed["customers"] == 5
        assert sum(b["count"] for b in previewed["byWeek"]) == 5
        assert len(previewed["sample"]) == 5
        assert await raw(store, "follow_ups") == before  # the preview wrote nothing
        assert refused == {"__typename": "ForbiddenError"}
        assert applied == {
            "__typename": "AlertRule",
            "id": "nps-passive",
            "version": 1,
            "enabled": True,
        }
        assert again["applyAlertRule"]["version"] == 2

    async def test_a_preview_window_without_a_time_zone_is_refused_by_name(
        self, app: FastAPI, agent: httpx.AsyncClient
    ) -> None:
        rule = {
            "id": "nps-passive",
            "name": "NPS passive",
            "team": "customer-care",
            "conditions": [{"kind": "SURVEY_SCORE_AT_MOST", "surveyType": "NPS", "score": 8}],
        }
        preview = """query($rule: AlertRuleInput!, $from: DateTime!, $to: DateTime!) {
          alertRulePreview(rule: $rule, from: $from, to: $to) {
            __typename ... on Error { code message } } }"""
        admin = await headers(app, Role.ADMIN)
        for window in [
            {"from": "2024-04-01T00:00:00", "to": "2024-06-01T00:00:00Z"},
            {"from": "2024-04-01T00:00:00", "to": "2024-06-01T00:00:00"},
        ]:
            data = await gql(agent, preview, admin, rule=rule, **window)
            assert data["alertRulePreview"] == {
                "__typename": "InvalidInputError",
                "code": "InvalidInput",
                "message": "2024-04-01T00:00:00 has no time zone; e.g. 2026-11-22T10:00:00Z",
            }

    async def test_a_rules_versions_oldest_first_and_none_for_an_unknown_rule(
        self, app: FastAPI, agent: httpx.AsyncClient
    ) -> None:
        apply = """mutation($rule: AlertRuleInput!) { applyAlertRule(rule: $rule) {
          __typename ... on AlertRule { version } } }"""
        versions = """query($id: String!) { alertRuleVersions(id: $id) { version name } }"""
        rule = {
            "id": "csat-middling",
            "name": "CSAT 3",
            "team": "customer-care",
            "conditions": [{"kind": "SURVEY_SCORE_AT_MOST", "surveyType": "CSAT", "score": 3}],
            "firstResponseHours": 72,
        }
        admin = await headers(app, Role.ADMIN)
        await gql(agent, apply, admin, rule=rule)
        await gql(agent, apply, admin, rule=rule | {"name": "CSAT at most 3"})

        listed = (await gql(agent, versions, id="csat-middling"))["alertRuleVersions"]
        unknown = (await gql(agent, versions, id="no-such-rule"))["alertRuleVersions"]

        assert listed == [
            {"version": 1, "name": "CSAT 3"},
            {"version": 2, "name": "CSAT at most 3"},
        ]
        assert unknown == []

    async def test_teams_changed_by_an_admin(self, app: FastAPI, agent: httpx.AsyncClient) -> None:
        change = """mutation { setTeam(id: "customer-care", members: ["zoe.agent"]) {
          __typename ... on Team { id members notifies changedBy } } }"""

        changed = (await gql(agent, change, await headers(app, Role.ADMIN)))["setTeam"]
        listed = (await gql(agent, "{ teams { id members } }"))["teams"]

        assert changed["members"] == ["zoe.agent"]
        assert changed["notifies"] is True  # the webhook stays the settings'
        assert {"id": "customer-care", "members": ["zoe.agent"]} in listed

    async def test_teams_lists_a_team_only_a_rule_or_an_escalation_names(
        self, app: FastAPI, agent: httpx.AsyncClient
    ) -> None:
        apply = """mutation($rule: AlertRuleInput!) { applyAlertRule(rule: $rule) {
          __typename } }"""
        rule = {
            "id": "returns",
            "name": "Any return",
            "team": "returns-desk",
            "conditions": [{"kind": "SURVEY_SCORE_AT_MOST", "surveyType": "CSAT", "score": 1}],
        }
        admin = await headers(app, Role.ADMIN)
        await gql(agent, apply, admin, rule=rule)
        escalate = """mutation { setTeam(id: "vip-care", members: ["vera.vip"],
          escalationTeam: "night-shift") { __typename } }"""
        await gql(agent, escalate, admin)

        listed = (await gql(agent, "{ teams { id members notifies } }"))["teams"]

        # Configured nowhere: no members (its follow-ups wait unassigned), nobody notified.
        assert {"id": "returns-desk", "members": [], "notifies": False} in listed
        assert {"id": "night-shift", "members": [], "notifies": False} in listed
        assert [t["id"] for t in listed] == sorted(t["id"] for t in listed)
        assert {"customer-care", "care-leads", "vip-care"} <= {t["id"] for t in listed}

    async def test_the_root_causes_to_resolve_with_are_read_before_resolving(
        self, app: FastAPI, agent: httpx.AsyncClient, settings: Settings
    ) -> None:
        causes = (await gql(agent, "{ followUpRootCauses }"))["followUpRootCauses"]
        assert causes == settings.followup_root_causes
        payload = {"query": "{ followUpRootCauses }"}
        marketing = await headers(app, Role.MARKETING)
        body = (await agent.post("/graphql", json=payload, headers=marketing)).json()
        assert body["data"] == {"followUpRootCauses": None}
        assert body["errors"][0]["extensions"]["code"] == "Forbidden"


class TestMerges:
    async def test_a_merge_folds_open_follow_ups_of_a_rule_and_an_unmerge_hands_them_back(
        self, app: FastAPI, agent: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        services: Services = app.state.services
        phone = "+34 611 22 33 44"
        await ingest(
            services,
            tmp_path / "two.jsonl",
            [
                nps("S-1", ANA, 3, "2024-05-03T12:00:00Z"),
                f.survey(
                    external_id="S-2",
                    identifiers=[f.phone(phone)],
                    score=4,
                    occurred_at="2024-05-04T12:00:00Z",
                ),
            ],
        )
        assert (await queue(agent, rule=["nps-detractor"]))["totalCount"] == 2

        bridge = f.order(external_id="B-1", identifiers=[f.email(ANA), f.phone(phone)])
        await ingest(services, tmp_path / "bridge.jsonl", [bridge])

        merged = await queue(agent, rule=["nps-detractor"])
        assert merged["totalCount"] == 1
        [edge] = merged["edges"]
        # The one kept lists the other's records in its ABSORBED event (and may have joined
        # the newer answer as its trigger, evaluated again for the merged customer).
        triggers = {t["id"] for t in edge["node"]["trigger"]}
        [absorbed] = [e for e in edge["node"]["events"] if e["type"] == "ABSORBED"]
        assert triggers | set(absorbed["recordIds"]) == {
            "surveys:survey_response:S-1",
            "surveys:survey_response:S-2",
        }
        [merge_id] = [m["_id"] for m in await raw(services_store(app), "merges")]

        await gql(agent, UNMERGE, await headers(app, Role.ADMIN), id=merge_id)

        apart = await queue(agent, rule=["nps-detractor"])
        assert apart["totalCount"] == 2


def services_store(app: FastAPI) -> Store:
    store: Store = app.state.store
    return store
