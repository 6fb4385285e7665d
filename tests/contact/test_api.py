"""Contact preferences and the policy through the store and the HTTP app: the agent's view,
double opt-in, one-click unsubscribe, GPC, the contact log and caps, do-not-contact, connector
consent under the same rules, merges that must not widen consent, and per-role access."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from itsdangerous import URLSafeTimedSerializer

from c360.auth.masking import Masker
from c360.auth.service import Role
from c360.contact.changes import ConfirmationRefused
from c360.contact.links import LinkExpired, LinkSigner, Unsubscribe
from c360.contact.types import Actor
from c360.ingest.files import import_file
from c360.services import Services, signing_secret
from c360.settings import Settings
from schemas import IdentifierType
from schemas.records import ChangeOrigin
from tests import factories as f
from tests.helpers import app_for, asgi_client, gql, imported, parse_options

EMAIL = "ana@example.com"
MOBILE = "+34600123456"


def consent(status: str, occurred_at: str, **fields: Any) -> f.Record:
    return f.consent_change(status, occurred_at, **fields)


async def opted_in(services: Services, at: dt.datetime) -> None:
    """Ana's opt-in to e-mail marketing at ``at``, imported as a shop's export gives it."""
    change = consent("opted_in", at.isoformat(), external_id=f"opt-in-{uuid.uuid4().hex}")
    await imported(services, [change])


ANA: list[f.Record | str] = [
    f.person(
        identifiers=[f.external("crm", "C-1"), f.email(EMAIL), f.phone("+34 600 12 34 56")],
        time_zone="Europe/Madrid",
        country="ES",
    ),
    *[
        f.service_case(
            external_id=f"T-{n}",
            channel="phone",
            occurred_at=f"2026-0{n}-01T09:00:00Z",
            identifiers=[f.email(EMAIL)],
        )
        for n in range(1, 5)
    ],
]
DECISION = """query($id: ID!, $channel: ContactChannel!, $purpose: Purpose!, $at: DateTime) {
  contactDecision(profileId: $id, channel: $channel, purpose: $purpose, at: $at) {
    __typename
    ... on ContactDecision { allowed contactPoint nextAllowedAt timeZones unsubscribeUrl
                             reasons { code message } }
    ... on Error { code message } } }"""
AGENT_VIEW = """query($id: ID!) { profile(id: $id) { ... on Profile {
  lastSeenAt
  preferredChannel { channel basis reason allowedNow contactPoint }
  contactPreferences {
    doNotContact { active reason set { origin actor } }
    preferredChannels { purpose channel set { origin source actor } }
    timeZone effectiveQuietHours { start end }
    frequencyCaps { channel purpose maxContacts perDays setBy }
    contactPoints { channel value status statusReason }
    consents { channel contactPoint purpose status source }
  }
  consentHistory(first: 50) { edges { node { __typename source
    ... on ConsentChangeRecord { status origin actor evidence purpose }
    ... on PreferenceChangeRecord { origin actor }
    ... on ContactPointStatusRecord { pointStatus: status origin reason } } } }
  timeline(first: 50, kinds: [OUTBOUND_CONTACT]) { edges { node { __typename
    ... on OutboundContactRecord { channel purpose campaign outcome } } } }
} } }"""
RECORD_CONSENT = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) {
  __typename
  ... on ConsentRecorded { status confirmationUrl confirmationExpiresAt gpcRecorded
                           profile { id } }
  ... on Error { code message } } }"""
SET_PREFS = """mutation($input: ContactPreferenceInput!) { setContactPreference(input: $input) {
  __typename ... on PreferencesChanged { gpcRecorded } ... on Error { code message } } }"""
DNC = """mutation($id: ID!, $active: Boolean!, $reason: String) {
  setDoNotContact(profileId: $id, active: $active, reason: $reason) {
    __typename ... on Error { code message } } }"""
RECORD_CONTACT = """mutation($input: RecordContactInput!) { recordContact(input: $input) {
  __typename
  ... on ContactRecorded { contact { channel campaign } decision { allowed } }
  ... on Error { code message } } }"""


@pytest.fixture
async def ana(services: Services, tmp_path: Path) -> str:
    path = f.write_jsonl(tmp_path / "ana.jsonl", ANA)
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, EMAIL)
    return str(profile.id)


async def decision(
    client: httpx.AsyncClient, profile_id: str, channel: str = "EMAIL", **more: Any
) -> dict[str, Any]:
    purpose = more.pop("purpose", "marketing")
    data = await gql(client, DECISION, id=profile_id, channel=channel, purpose=purpose, **more)
    result: dict[str, Any] = data["contactDecision"]
    return result


def codes(result: dict[str, Any]) -> list[str]:
    return [r["code"].lower() for r in result["reasons"]]  # GraphQL enum names, upper-case


def path_of(url: str) -> str:
    return urlsplit(url).path


async def view(client: httpx.AsyncClient, profile_id: str) -> dict[str, Any]:
    profile: dict[str, Any] = (await gql(client, AGENT_VIEW, id=profile_id))["profile"]
    return profile


class TestAgentView:
    async def test_one_conversation_is_said_as_one(
        self, agent_client: httpx.AsyncClient, services: Services
    ) -> None:
        # Her only conversation was by e-mail: "the last", not "1 of the last 1 … were".
        email = "only.once@example.com"
        await imported(
            services,
            [
                f.person(identifiers=[f.external("crm", "C-77"), f.email(email)], country="ES"),
                f.service_case(
                    external_id="T-77",
                    channel="email",
                    occurred_at="2026-01-05T09:00:00Z",
                    identifiers=[f.email(email)],
                ),
            ],
        )
        profile = await services.profiles.by_identifier(IdentifierType.EMAIL, email)
        preferred = (await view(agent_client, str(profile.id)))["preferredChannel"]
        assert (preferred["channel"], preferred["basis"]) == ("EMAIL", "INFERRED")
        assert preferred["reason"] == "The last conversation was by email."

    async def test_inferred_then_explicit_preferred_channel(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        before = (await view(agent_client, ana))["preferredChannel"]
        assert before["channel"] == "PHONE"
        assert before["basis"] == "INFERRED"
        assert before["reason"] == "4 of the last 4 conversations were by phone."

        changed = await gql(
            agent_client,
            SET_PREFS,
            input={
                "profileId": ana,
                "preferredChannels": [{"purpose": "service", "channel": "EMAIL"}],
                "timeZone": "America/New_York",
                "frequencyCaps": [
                    {"channel": "EMAIL", "purpose": "marketing", "maxContacts": 1, "perDays": 30}
                ],
                "evidence": "asked on the phone, case T-4",
            },
        )
        assert changed["setContactPreference"]["__typename"] == "PreferencesChanged"

        profile = await view(agent_client, ana)
        assert profile["preferredChannel"]["channel"] == "EMAIL"
        assert profile["preferredChannel"]["basis"] == "EXPLICIT"
        assert profile["preferredChannel"]["contactPoint"] == EMAIL
        prefs = profile["contactPreferences"]
        assert prefs["timeZone"] == "America/New_York"
        [chosen] = prefs["preferredChannels"]
        assert chosen["purpose"] == "service"
        assert chosen["set"]["origin"] == "AGENT"
        assert chosen["set"]["source"] == "c360"
        assert "agent for tests" in chosen["set"]["actor"]
        caps = {(c["channel"], c["purpose"]): c for c in prefs["frequencyCaps"]}
        assert caps[("EMAIL", "marketing")]["maxContacts"] == 1
        assert caps[("EMAIL", "marketing")]["setBy"] == "customer"
        assert caps[("SMS", "marketing")]["setBy"] == "default"
        assert {(p["channel"], p["value"]) for p in prefs["contactPoints"]} >= {
            ("EMAIL", EMAIL),
            ("PHONE", MOBILE),
            ("SMS", MOBILE),
        }
        [history] = profile["consentHistory"]["edges"]
        assert history["node"]["__typename"] == "PreferenceChangeRecord"

    async def test_a_stated_channel_that_cannot_be_used_is_named_in_the_reason(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        # She asks for post; there is no postal address for her, so the phone is still offered,
        # and whoever recorded her wish reads why it is not followed.
        changed = await gql(
            agent_client,
            SET_PREFS,
            input={
                "profileId": ana,
                "preferredChannels": [{"purpose": "service", "channel": "POSTAL"}],
                "evidence": "asked for letters on the phone",
            },
        )
        assert changed["setContactPreference"]["__typename"] == "PreferencesChanged"

        preferred = (await view(agent_client, ana))["preferredChannel"]
        assert preferred["channel"] == "PHONE"
        assert preferred["basis"] == "INFERRED"
        assert preferred["reason"].startswith("4 of the last 4 conversations were by phone. ")
        assert "The customer asked for postal for service" in preferred["reason"]
        assert preferred["reason"].endswith("but there is no postal address or number for them.")

    async def test_bad_input_is_refused_and_nothing_stored(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        refusals = [
            {"purpose": "raffle"},
            {"contactPoint": "someone.else@example.com"},
            {"status": "PENDING"},
            {"origin": "GPC"},
            {"origin": "IMPORT"},  # a connector's: it would skip the double opt-in
        ]
        for change in refusals:
            data = await gql(
                agent_client,
                RECORD_CONSENT,
                input={
                    "profileId": ana,
                    "channel": "EMAIL",
                    "purpose": "marketing",
                    "status": "OPTED_OUT",
                    **change,
                },
            )
            assert data["recordConsent"]["__typename"] == "InvalidInputError", change
        bad_window = {"days": ["MONDAY"], "start": "12:00", "end": "09:00"}
        data = await gql(
            agent_client, SET_PREFS, input={"profileId": ana, "contactWindows": [bad_window]}
        )
        assert data["setContactPreference"]["__typename"] == "InvalidInputError"
        assert "ends after it starts" in data["setContactPreference"]["message"]
        cap = {"channel": "EMAIL", "purpose": "newsletter", "maxContacts": 1, "perDays": 7}
        data = await gql(agent_client, SET_PREFS, input={"profileId": ana, "frequencyCaps": [cap]})
        assert "unknown purpose 'newsletter'" in data["setContactPreference"]["message"]
        # A ranking for a purpose the policy does not know is refused, as the decision
        # refuses it; an empty one would read as "no channel allowed".
        ranked = await gql(
            agent_client,
            """query($id: ID!) { bestChannels(profileId: $id, purpose: "spam") {
              __typename ... on Error { message } } }""",
            id=ana,
        )
        assert ranked["bestChannels"]["__typename"] == "InvalidInputError"
        assert "unknown purpose 'spam'" in ranked["bestChannels"]["message"]
        naive = await decision(agent_client, ana, at="2026-06-01T10:00:00")
        assert naive["__typename"] == "InvalidInputError"
        assert "no time zone" in naive["message"]
        assert (await view(agent_client, ana))["consentHistory"]["edges"] == []


RANKING = """query($id: ID!, $purpose: Purpose!) { bestChannels(profileId: $id, purpose: $purpose) {
  ... on ChannelRanking { channels { channel } refused { channel allowed reasons { code } } } } }"""


class TestRanking:
    async def test_every_channel_is_ranked_or_refused_with_why(
        self, agent_client: httpx.AsyncClient, services: Services, settings: Settings, ana: str
    ) -> None:
        async def ranking() -> tuple[list[str], dict[str, list[str]]]:
            found = (await gql(agent_client, RANKING, id=ana, purpose="marketing"))["bestChannels"]
            refused = {d["channel"]: [r["code"] for r in d["reasons"]] for d in found["refused"]}
            assert not any(d["allowed"] for d in found["refused"])
            return [c["channel"] for c in found["channels"]], refused

        ranked, refused = await ranking()
        order = [channel.name for channel in settings.contact_channel_order]
        assert sorted([*ranked, *refused]) == sorted(order)
        assert "EMAIL" not in ranked
        assert refused["EMAIL"] == ["CONSENT_REQUIRED"]  # marketing e-mail in Spain: opt-in
        assert refused["POSTAL"] == ["NO_CONTACT_POINT"]  # no address given

        await opted_in(services, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        ranked, refused = await ranking()
        assert "EMAIL" in ranked
        assert "EMAIL" not in refused


class TestDoubleOptIn:
    async def test_pending_until_confirmed_once(
        self, agent_client: httpx.AsyncClient, client: httpx.AsyncClient, ana: str
    ) -> None:
        data = await gql(
            agent_client,
            RECORD_CONSENT,
            input={
                "profileId": ana,
                "channel": "EMAIL",
                "purpose": "marketing",
                "status": "OPTED_IN",
                "origin": "PREFERENCE_CENTRE",
            },
        )
        receipt = data["recordConsent"]
        assert receipt["status"] == "PENDING"
        assert receipt["confirmationUrl"]
        assert codes(await decision(agent_client, ana)) == ["consent_pending"]

        link = path_of(receipt["confirmationUrl"])
        page = await client.get(link)
        assert page.status_code == 200
        assert "Confirm" in page.text
        assert codes(await decision(agent_client, ana)) == [
            "consent_pending"
        ]  # a GET changes nothing

        confirmed = await client.post(link)
        assert confirmed.status_code == 200
        result = await decision(agent_client, ana)
        assert result["allowed"]
        assert codes(result) == ["opted_in"]
        assert result["contactPoint"] == EMAIL

        again = await client.post(link)
        assert again.status_code == 410
        assert "already used" in again.text
        unknown = await client.post("/consent/confirm/not-a-token")
        assert unknown.status_code == 404

        prefs = (await view(agent_client, ana))["contactPreferences"]
        verified = {"channel": "EMAIL", "value": EMAIL, "status": "VERIFIED"}
        assert {**verified, "statusReason": "double opt-in confirmed"} in prefs["contactPoints"]

    async def test_only_the_customer_confirms_with_the_evidence_of_their_request(
        self,
        app: FastAPI,
        services: Services,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ana: str,
    ) -> None:
        """An API key asks (the pending change names it); no key can confirm — there is no
        mutation for it; the customer's own request to the link does, and its record keeps
        when, from where and with what it came."""
        _, key = await services.keys.create(
            Role.MARKETING, "newsletter tool", dt.datetime.now(dt.UTC)
        )
        async with asgi_client(app, {"authorization": f"Bearer {key}"}) as marketing:
            data = await gql(
                marketing,
                RECORD_CONSENT,
                input={
                    "profileId": ana,
                    "channel": "EMAIL",
                    "purpose": "marketing",
                    "status": "OPTED_IN",
                    "origin": "PREFERENCE_CENTRE",
                },
            )
            token = data["recordConsent"]["confirmationUrl"].rsplit("/", 1)[1]
            itself = await marketing.post(
                "/graphql",
                json={"query": f'mutation {{ confirmConsent(token: "{token}") {{ __typename }} }}'},
            )
        assert itself.status_code == 400
        assert "Cannot query field 'confirmConsent'" in itself.json()["errors"][0]["message"]
        assert codes(await decision(agent_client, ana)) == ["consent_pending"]

        confirmed = await client.post(
            f"/consent/confirm/{token}",
            headers={"user-agent": "Mozilla/5.0 (Rosa's phone)", "x-forwarded-for": "203.0.113.7"},
        )
        assert confirmed.status_code == 200
        history = (await view(agent_client, ana))["consentHistory"]["edges"]
        changes = {
            e["node"]["status"]: e["node"]
            for e in history
            if e["node"]["__typename"] == "ConsentChangeRecord"
        }
        key_id = key.split("_")[1]
        assert changes["PENDING"]["actor"] == f"key:{key_id} (newsletter tool)"
        assert changes["PENDING"]["origin"] == "PREFERENCE_CENTRE"
        done = changes["OPTED_IN"]
        assert done["origin"] == "DOUBLE_OPT_IN"
        assert done["actor"] is None  # the customer, not a key
        evidence = done["evidence"]
        assert evidence.startswith("confirmation link followed at 20")
        assert "from 127.0.0.1 (X-Forwarded-For: 203.0.113.7)" in evidence
        assert "user agent Mozilla/5.0 (Rosa's phone)" in evidence
        assert f"asked by key:{key_id} (newsletter tool)" in evidence

    async def test_an_expired_link_is_refused(self, services: Services, ana: str) -> None:
        now = dt.datetime.now(dt.UTC)
        receipt = await services.contact.record_consent(
            ana, "email", "marketing", "opted_in", EMAIL, _actor(), now
        )
        assert receipt.confirmation_url is not None
        token = receipt.confirmation_url.rsplit("/", 1)[1]
        later = now + dt.timedelta(hours=73)

        with pytest.raises(ConfirmationRefused, match="expired"):
            await services.contact.confirm(token, later, evidence="followed too late")
        decided = await services.contact.decide(ana, "email", "marketing", later)
        assert [r.code for r in decided.reasons] == ["consent_pending"]


def _actor() -> Actor:
    return Actor(ChangeOrigin.PREFERENCE_CENTRE, "tests")


class TestConsentRetries:
    """A caller that timed out sends the same change again with its own id (``externalId``):
    the change is recorded once."""

    HISTORY = """query($id: ID!) { profile(id: $id) { ... on Profile {
      consentHistory(first: 50) { edges { node { id ... on ConsentChangeRecord { status } } } }
    } } }"""

    async def history(self, client: httpx.AsyncClient, profile_id: str) -> list[str]:
        data = await gql(client, self.HISTORY, id=profile_id)
        return [e["node"]["id"] for e in data["profile"]["consentHistory"]["edges"]]

    async def test_an_id_of_c360s_own_confirmations_is_refused(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        # One named as a confirmation would stand for it: the customer's link would then
        # confirm nothing.
        change = {
            "profileId": ana,
            "channel": "SMS",
            "status": "OPTED_OUT",
            "externalId": "confirms-0123456789abcdef",
        }
        refused = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        assert refused["__typename"] == "InvalidInputError"
        assert "ids starting 'confirms-' are c360's own" in refused["message"]
        assert await self.history(agent_client, ana) == []

    @staticmethod
    def checkout_opt_in(profile_id: str, external_id: str) -> dict[str, str]:
        """A checkout's box ticked for e-mail marketing, under the checkout's id."""
        return {
            "profileId": profile_id,
            "channel": "EMAIL",
            "purpose": "marketing",
            "status": "OPTED_IN",
            "origin": "PREFERENCE_CENTRE",
            "externalId": external_id,
        }

    async def test_the_same_change_sent_twice_is_recorded_once(
        self, agent_client: httpx.AsyncClient, client: httpx.AsyncClient, ana: str
    ) -> None:
        before = await self.history(agent_client, ana)
        change = {
            "profileId": ana,
            "channel": "SMS",
            "purpose": "marketing",
            "status": "OPTED_OUT",
            "origin": "PREFERENCE_CENTRE",
            "externalId": "unsubscribe-7001",
        }
        first = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        again = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        assert first == again
        assert first["status"] == "OPTED_OUT"
        after = await self.history(agent_client, ana)
        assert after == ["c360:consent_change:unsubscribe-7001", *before]

    async def test_a_retried_double_opt_in_is_one_request_either_link_confirms(
        self, agent_client: httpx.AsyncClient, client: httpx.AsyncClient, ana: str
    ) -> None:
        change = self.checkout_opt_in(ana, "checkout-1042")
        first = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        again = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        assert first["status"] == again["status"] == "PENDING"
        pending = [i for i in await self.history(agent_client, ana) if "checkout-1042" in i]
        assert pending == ["c360:consent_change:checkout-1042"]
        before = await self.history(agent_client, ana)
        assert (await client.post(path_of(again["confirmationUrl"]))).status_code == 200
        assert (await decision(agent_client, ana))["allowed"]
        confirmed = await self.history(agent_client, ana)
        assert (await client.post(path_of(first["confirmationUrl"]))).status_code == 200
        assert await self.history(agent_client, ana) == confirmed  # confirmed once
        assert len(confirmed) == len(before) + 2  # the opt-in and the address verified

    async def test_a_retry_after_the_confirmation_sends_no_new_link(
        self, agent_client: httpx.AsyncClient, client: httpx.AsyncClient, ana: str
    ) -> None:
        change = self.checkout_opt_in(ana, "checkout-1043")
        first = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        assert (await client.post(path_of(first["confirmationUrl"]))).status_code == 200
        out = {"profileId": ana, "channel": "EMAIL", "purpose": "marketing", "status": "OPTED_OUT"}
        await gql(agent_client, RECORD_CONSENT, input=out)
        # A queue sends the checkout's change again, late: the customer confirmed it and has
        # opted out since. No link that would show them "confirmed" again, changing nothing.
        late = (await gql(agent_client, RECORD_CONSENT, input=change))["recordConsent"]
        assert late["status"] == "OPTED_IN"
        assert late["confirmationUrl"] is None
        assert not (await decision(agent_client, ana))["allowed"]

    async def test_an_id_reused_for_another_change_is_refused(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        change = {"profileId": ana, "channel": "SMS", "purpose": "marketing", "externalId": "x-1"}
        first = {**change, "status": "OPTED_OUT"}
        await gql(agent_client, RECORD_CONSENT, input=first)
        other = {**change, "status": "OPTED_IN"}
        refused = (await gql(agent_client, RECORD_CONSENT, input=other))["recordConsent"]
        assert refused["__typename"] == "InvalidInputError"
        assert "'x-1' names a change recorded before" in refused["message"]
        statuses = [i for i in await self.history(agent_client, ana) if i.endswith(":x-1")]
        assert len(statuses) == 1
        blank = {**first, "externalId": " "}  # an order id that went missing: not no id
        refused = (await gql(agent_client, RECORD_CONSENT, input=blank))["recordConsent"]
        assert refused["__typename"] == "InvalidInputError"
        assert refused["message"].startswith("externalId is empty")


class TestTheSchemaSaysWhatASendingToolNeeds:
    """Read as a newcomer reads it, through introspection: what each value of the enums a
    sending tool switches on means, what an audience page takes, what an instant is."""

    TYPE = """query($name: String!) { __type(name: $name) { description
      enumValues { name description } inputFields { name description } fields { name description
        args { name description } } } }"""

    async def test_every_value_and_argument_is_described(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        async def described(name: str) -> dict[str, Any]:
            found: dict[str, Any] = (await gql(agent_client, self.TYPE, name=name))["__type"]
            return found

        for enum_name in ["ContactChannel", "ConsentStatus", "ChangeOrigin", "ContactPointState"]:
            values = (await described(enum_name))["enumValues"]
            assert all(v["description"] for v in values), (enum_name, values)
        inputs = (await described("RecordConsentInput"))["inputFields"]
        bare = [f["name"] for f in inputs if not f["description"]]
        assert bare == ["channel"]  # its type says it
        for type_name in ["AudienceMember", "PageInfo"]:
            fields = (await described(type_name))["fields"]
            assert all(f["description"] for f in fields), (type_name, fields)
        queries = {f["name"]: f for f in (await described("Query"))["fields"]}
        for name in ["contactDecision", "bestChannels", "audience"]:
            bare = [a["name"] for a in queries[name]["args"] if not a["description"]]
            assert set(bare) <= {"channel", "purpose", "filter"}, (name, bare)
        first = next(a for a in queries["audience"]["args"] if a["name"] == "first")
        assert "1 to 1000" in first["description"]
        instant = (await described("DateTime"))["description"]
        assert "offset" in instant
        assert "InvalidInput" in instant
        profile_fields = {f["name"]: f for f in (await described("Profile"))["fields"]}
        for name, bound in [("timeline", 100), ("consentHistory", 100)]:
            first = next(a for a in profile_fields[name]["args"] if a["name"] == "first")
            assert f"1 to {bound}" in first["description"], name
        for name in ["searchProfiles", "findProfiles"]:
            first = next(a for a in queries[name]["args"] if a["name"] == "first")
            assert "1 to 50" in first["description"], name
        for error_type in ["Error", "NotFoundError", "InvalidInputError"]:
            fields = (await described(error_type))["fields"]
            assert all(f["description"] for f in fields), (error_type, fields)
        send = (await described("RecordContactInput"))["inputFields"]
        retried = next(f["description"] for f in send if f["name"] == "externalId")
        assert "Send occurredAt with it" in retried


class TestUnsubscribe:
    async def _opted_in(self, services: Services, profile_id: str) -> str:
        await opted_in(services, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        return profile_id

    async def test_one_click(
        self,
        services: Services,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ana: str,
    ) -> None:
        await self._opted_in(services, ana)
        result = await decision(agent_client, ana)
        assert result["allowed"]
        assert result["unsubscribeUrl"]
        link = path_of(result["unsubscribeUrl"])

        page = await client.get(link)
        assert page.status_code == 200
        assert "a•••@example.com" in page.text
        assert (await decision(agent_client, ana))["allowed"]  # a GET changes nothing

        refused = await client.post(link, content=b"")
        assert refused.status_code == 400
        done = await client.post(
            link,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200
        assert "no longer receive" in done.text
        assert not done.is_redirect
        assert codes(await decision(agent_client, ana)) == ["purpose_opted_out"]

        twice = await client.post(link, data={"List-Unsubscribe": "One-Click"})
        assert twice.status_code == 200
        history = (await view(agent_client, ana))["consentHistory"]["edges"]
        origins = [e["node"].get("origin") for e in history]
        assert origins.count("UNSUBSCRIBE_LINK") == 1  # following it twice is one change

    @pytest.mark.parametrize(
        ("listening", "public_url", "base"),
        [
            ({"port": 8731}, None, "http://127.0.0.1:8731"),
            ({"host": "0.0.0.0", "port": 8731}, None, "http://127.0.0.1:8731"),
            ({"port": 8731}, "https://c360.example.com", "https://c360.example.com"),
        ],
    )
    async def test_links_point_where_the_api_listens_unless_told_otherwise(
        self,
        settings: Settings,
        services: Services,
        ana: str,
        listening: dict[str, Any],
        public_url: str | None,
        base: str,
    ) -> None:
        await self._opted_in(services, ana)
        app = app_for(settings.model_copy(update={**listening, "public_url": public_url}))
        async with (
            app.router.lifespan_context(app),
            asgi_client(app, await f.api_key(services, Role.AGENT)) as agent,
        ):
            url = (await decision(agent, ana))["unsubscribeUrl"]
        assert url.startswith(f"{base}/unsubscribe/"), url

    async def test_the_link_pages_cannot_be_framed_by_another_site(
        self,
        services: Services,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ana: str,
    ) -> None:
        """A page with one button that acts on a customer's behalf, shown in a frame under
        another site's bait, is clicked without being seen (clickjacking): every link page
        refuses frames, runs no script and sends no referrer (its address is the token)."""
        await self._opted_in(services, ana)
        link = path_of((await decision(agent_client, ana))["unsubscribeUrl"])
        pages = [
            await client.get(link),
            await client.get(link + "x"),
            await client.get("/consent/confirm/not-a-token"),
            await client.post(link, data={"List-Unsubscribe": "One-Click"}),
        ]
        for page in pages:
            policy = page.headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in policy, (page.status_code, page.headers)
            assert "default-src 'none'" in policy
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["x-content-type-options"] == "nosniff"
            assert page.headers["referrer-policy"] == "no-referrer"
            assert page.headers["cache-control"] == "no-store"

    async def test_multipart_one_click(
        self,
        services: Services,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ana: str,
    ) -> None:
        await self._opted_in(services, ana)
        link = path_of((await decision(agent_client, ana))["unsubscribeUrl"])
        body = (
            b"--b0undary\r\n"
            b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n--b0undary--\r\n"
        )
        done = await client.post(
            link, content=body, headers={"content-type": "multipart/form-data; boundary=b0undary"}
        )

        assert done.status_code == 200
        assert codes(await decision(agent_client, ana)) == ["purpose_opted_out"]

    async def test_tampered_and_expired_links(
        self,
        services: Services,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ana: str,
    ) -> None:
        await self._opted_in(services, ana)
        link = path_of((await decision(agent_client, ana))["unsubscribeUrl"])
        token = link.rsplit("/", 1)[1]
        tampered = f"/unsubscribe/{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"

        for method in ("GET", "POST"):
            response = await client.request(
                method, tampered, data={"List-Unsubscribe": "One-Click"}
            )
            assert response.status_code == 403, response.text
        with pytest.raises(LinkExpired):
            await services.contact.unsubscribe(
                token, "test", dt.datetime.now(dt.UTC) + dt.timedelta(days=181)
            )
        assert (await decision(agent_client, ana))["allowed"]


class TestUnsubscribeTokens:
    """Opaque, checked whole: a 4xx with a reason for anything but a link c360 issued."""

    def _signer(self, settings: Settings) -> LinkSigner:
        return LinkSigner(signing_secret(settings), dt.timedelta(days=180), ["marketing"])

    async def _post(self, client: httpx.AsyncClient, token: str) -> httpx.Response:
        return await client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})

    async def test_a_link_reveals_neither_the_person_nor_the_address(
        self, settings: Settings, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        await TestUnsubscribe()._opted_in(services, ana)
        token = path_of((await decision(agent_client, ana))["unsubscribeUrl"]).rsplit("/", 1)[1]
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        for secret in (ana.encode(), EMAIL.encode(), b"marketing", b"email"):
            assert secret not in decoded
        assert self._signer(settings).read(token).contact_point == EMAIL

    async def test_links_signed_before_they_were_encrypted_still_unsubscribe(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        agent_client: httpx.AsyncClient,
        ana: str,
    ) -> None:
        legacy = URLSafeTimedSerializer(signing_secret(settings), salt="c360.unsubscribe")
        token = legacy.dumps([ana, "email", "marketing", EMAIL])
        assert (await self._post(client, token)).status_code == 200
        assert codes(await decision(agent_client, ana)) == ["purpose_opted_out"]

    @pytest.mark.parametrize(
        "payload",
        [["only", "two"], "a string", {"a": 1}, [1, 2, 3, 4], ["p", "email", "marketing", 5], None],
    )
    async def test_a_malformed_payload_signed_with_the_real_secret_is_refused(
        self, settings: Settings, client: httpx.AsyncClient, payload: Any
    ) -> None:
        legacy = URLSafeTimedSerializer(signing_secret(settings), salt="c360.unsubscribe")
        for token in (legacy.dumps(payload), self._encrypted(settings, json.dumps(payload))):
            response = await self._post(client, token)
            assert response.status_code == 403, response.text
            assert "does not say what it is for" in response.text

    def _encrypted(self, settings: Settings, text: str, at: dt.datetime | None = None) -> str:
        signer = self._signer(settings)
        when = int((at or dt.datetime.now(dt.UTC)).timestamp())
        return signer._fernet.encrypt_at_time(text.encode(), when).decode()

    async def test_an_encrypted_payload_that_is_no_json_is_refused(
        self, settings: Settings, client: httpx.AsyncClient
    ) -> None:
        response = await self._post(client, self._encrypted(settings, "{not json"))
        assert response.status_code == 403
        assert "unreadable" in response.text

    async def test_an_unknown_purpose_or_channel_is_refused(
        self, settings: Settings, client: httpx.AsyncClient, ana: str
    ) -> None:
        for what, said in (
            ([ana, "email", "raffle", EMAIL], "no known purpose (&#x27;raffle&#x27;)"),
            ([ana, "fax", "marketing", None], "no known channel (&#x27;fax&#x27;)"),
        ):
            response = await self._post(client, self._encrypted(settings, json.dumps(what)))
            assert response.status_code == 403
            assert said in response.text

    async def test_a_link_issued_in_the_future_is_refused(
        self, settings: Settings, client: httpx.AsyncClient, ana: str
    ) -> None:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        what = Unsubscribe(ana, "email", "marketing", EMAIL)
        for token in (
            self._signer(settings).sign(what, now=later),
            self._encrypted(settings, json.dumps([ana, "email", "marketing", EMAIL]), later),
        ):
            response = await self._post(client, token)
            assert response.status_code == 403
            assert "issued in the future" in response.text


class TestGlobalPrivacyControl:
    async def test_sec_gpc_from_the_preference_centre_opts_out_of_marketing(
        self, app: FastAPI, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        headers = {**(await f.api_key(services, Role.MARKETING)), "Sec-GPC": "1"}
        async with asgi_client(app, headers) as centre:
            data = await gql(
                centre,
                SET_PREFS,
                input={"profileId": ana, "language": "es", "origin": "PREFERENCE_CENTRE"},
            )
        assert data["setContactPreference"]["gpcRecorded"] is True
        for channel in ("EMAIL", "SMS", "PHONE"):
            result = await decision(agent_client, ana, channel=channel)
            assert codes(result)[0] == "purpose_opted_out", channel
        tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
        midday = dt.datetime.combine(tomorrow, dt.time(10), tzinfo=dt.UTC)  # 11:00/12:00 Madrid
        service = await decision(
            agent_client, ana, channel="PHONE", purpose="service", at=midday.isoformat()
        )
        assert service["allowed"]
        assert codes(service) == ["consent_not_required"]
        history = (await view(agent_client, ana))["consentHistory"]["edges"]
        assert {e["node"].get("origin") for e in history} >= {"GPC", "PREFERENCE_CENTRE"}

    async def test_an_opt_in_sent_with_the_signal_stands(
        self, app: FastAPI, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        headers = {**(await f.api_key(services, Role.MARKETING)), "Sec-GPC": "1"}
        sms_opt_in = {
            "profileId": ana,
            "channel": "SMS",
            "purpose": "marketing",
            "status": "OPTED_IN",
            "contactPoint": MOBILE,
            "origin": "PREFERENCE_CENTRE",
        }
        async with asgi_client(app, headers) as centre:
            data = await gql(centre, RECORD_CONSENT, input=sms_opt_in)

        assert data["recordConsent"]["gpcRecorded"] is True
        midday = dt.datetime.combine(
            dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1), dt.time(10), tzinfo=dt.UTC
        )
        sms = await decision(agent_client, ana, channel="SMS", at=midday.isoformat())
        assert codes(sms) == ["opted_in"]  # the explicit opt-in is newer than the signal
        assert codes(await decision(agent_client, ana, channel="EMAIL")) == ["purpose_opted_out"]


class TestContactLogAndCaps:
    async def test_caps_count_logged_contacts_and_they_are_not_activity(
        self, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        await opted_in(services, dt.datetime.now(dt.UTC) - dt.timedelta(days=20))
        seen_before = (await view(agent_client, ana))["lastSeenAt"]
        now = dt.datetime.now(dt.UTC)
        for days, campaign in ((3, "autumn"), (1, "black-friday")):
            at = (now - dt.timedelta(days=days)).isoformat()
            data = await gql(
                agent_client,
                RECORD_CONTACT,
                input={
                    "profileId": ana,
                    "channel": "EMAIL",
                    "purpose": "marketing",
                    "campaign": campaign,
                    "occurredAt": at,
                    "externalId": campaign,
                },
            )
            assert data["recordContact"]["decision"]["allowed"], data

        capped = await decision(agent_client, ana)
        assert codes(capped) == ["frequency_cap"]
        frees = dt.datetime.fromisoformat(capped["nextAllowedAt"])
        assert abs(frees - (now - dt.timedelta(days=3) + dt.timedelta(days=7))) < dt.timedelta(
            seconds=5
        )
        profile = await view(agent_client, ana)
        assert profile["lastSeenAt"] == seen_before
        campaigns = [e["node"]["campaign"] for e in profile["timeline"]["edges"]]
        assert campaigns == ["black-friday", "autumn"]

        again = await gql(
            agent_client,
            RECORD_CONTACT,
            input={
                "profileId": ana,
                "channel": "EMAIL",
                "purpose": "marketing",
                "campaign": "autumn",
                "occurredAt": (now - dt.timedelta(days=3)).isoformat(),
                "externalId": "autumn",
            },
        )
        assert again["recordContact"]["__typename"] == "ContactRecorded"
        assert len((await view(agent_client, ana))["timeline"]["edges"]) == 2  # the same send: one

    async def test_a_moment_before_an_opt_in_was_given_is_not_allowed_by_it(
        self, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        await opted_in(services, now - dt.timedelta(days=2))
        before = (now - dt.timedelta(days=5)).isoformat()

        then = await decision(agent_client, ana, at=before)
        sent_then = await gql(
            agent_client,
            RECORD_CONTACT,
            input={
                "profileId": ana,
                "channel": "EMAIL",
                "purpose": "marketing",
                "campaign": "spring",
                "occurredAt": before,
                "externalId": "spring",
            },
        )
        since = await decision(agent_client, ana, at=(now - dt.timedelta(days=1)).isoformat())

        assert (then["allowed"], codes(then)) == (False, ["consent_required"])
        assert sent_then["recordContact"]["decision"] == {"allowed": False}  # a send to review
        assert since["allowed"] is True

    async def test_an_unknown_purpose_is_refused_not_answered_no(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        refused = await decision(agent_client, ana, purpose="newsleter")

        assert refused["__typename"] == "InvalidInputError"
        assert "unknown purpose 'newsleter'; the configured purposes: " in refused["message"]
        assert "marketing" in refused["message"]

    async def test_an_opt_out_counts_for_any_moment_asked(
        self, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        await opted_in(services, now - dt.timedelta(days=20))
        out = consent("opted_out", (now - dt.timedelta(days=2)).isoformat(), external_id="opt-out")
        await imported(services, [out])

        earlier = await decision(agent_client, ana, at=(now - dt.timedelta(days=5)).isoformat())

        assert earlier["allowed"] is False  # never a yes to someone who has said no


class TestQuietHoursWhereTheCustomerMayBe:
    async def test_the_reason_names_the_zone_where_it_is_quiet(
        self, services: Services, agent_client: httpx.AsyncClient
    ) -> None:
        # A Spanish mobile and no time zone: Madrid or the Canaries (an hour behind). At 20:30
        # UTC in December it is 21:30 in Madrid, quiet, and 20:30 in the Canaries, not.
        await imported(
            services,
            [f.person(external_id="C-9", identifiers=[f.phone("+34 611 22 33 44")], country="ES")],
        )
        profile = await services.profiles.by_identifier(IdentifierType.PHONE, "+34611223344")
        query = """query($id: ID!, $at: DateTime!) {
          contactDecision(profileId: $id, channel: PHONE, purpose: "service", at: $at) {
            ... on ContactDecision { allowed reasons { code message } timeZones nextAllowedAt }
          }
        }"""

        evening = await gql(agent_client, query, id=profile.id, at="2026-12-07T20:30:00Z")
        morning = await gql(agent_client, query, id=profile.id, at="2026-12-07T07:30:00Z")

        late = evening["contactDecision"]
        assert set(late["timeZones"]) == {"Atlantic/Canary", "Europe/Madrid"}
        assert not late["allowed"]
        assert [r["message"] for r in late["reasons"]] == [
            "It is 21:30 in Europe/Madrid: default quiet hours are 21:00-08:00."
        ]
        early = morning["contactDecision"]
        assert [r["message"] for r in early["reasons"]] == [
            "It is 07:30 in Atlantic/Canary: default quiet hours are 21:00-08:00."
        ]
        assert early["nextAllowedAt"] == "2026-12-07T08:00:00+00:00"

    async def test_zones_keeping_one_time_are_named_once(
        self, services: Services, agent_client: httpx.AsyncClient
    ) -> None:
        # A German customer known by country alone: Berlin and Büsingen keep one time.
        email = "jonas@example.de"
        await imported(
            services, [f.person(external_id="C-10", identifiers=[f.email(email)], country="DE")]
        )
        profile = await services.profiles.by_identifier(IdentifierType.EMAIL, email)
        query = """query($id: ID!) {
          contactDecision(profileId: $id, channel: EMAIL, purpose: "service") {
            ... on ContactDecision { timeZones }
          }
        }"""

        answer = await gql(agent_client, query, id=profile.id)

        assert answer["contactDecision"]["timeZones"] == ["Europe/Berlin"]


class TestDoNotContact:
    async def test_stops_everything_until_lifted(
        self, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        stopped = await gql(agent_client, DNC, id=ana, active=True, reason="customer is deceased")
        assert stopped["setDoNotContact"]["__typename"] == "PreferencesChanged"
        result = await decision(agent_client, ana, channel="PHONE", purpose="service")
        assert codes(result)[0] == "do_not_contact"
        assert "deceased" in result["reasons"][0]["message"]
        profile = await view(agent_client, ana)
        assert profile["preferredChannel"] is None
        assert profile["contactPreferences"]["doNotContact"]["active"] is True

        no_reason = await gql(agent_client, DNC, id=ana, active=True)
        assert no_reason["setDoNotContact"]["__typename"] == "InvalidInputError"
        await gql(agent_client, DNC, id=ana, active=False)
        assert (await view(agent_client, ana))["preferredChannel"]["channel"] == "PHONE"


class TestConnectorConsentUnderTheSameRules:
    async def test_older_data_never_overrides_a_newer_opt_out(
        self,
        services: Services,
        agent_client: httpx.AsyncClient,
        client: httpx.AsyncClient,
        ana: str,
        tmp_path: Path,
    ) -> None:
        newer = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        await services.contact.record_consent(
            ana, "email", "marketing", "opted_out", EMAIL, _actor(), newer
        )
        path = f.write_jsonl(
            tmp_path / "old.jsonl",
            [consent("opted_in", "2026-01-01T00:00:00Z", external_id="old-optin")],
        )
        summary = await import_file(
            services.ingest, "canonical", str(path), parse_options(default_region="ES")
        )
        assert summary.inserted == 1
        assert codes(await decision(agent_client, ana)) == ["purpose_opted_out"]


class TestMerges:
    async def test_merging_never_widens_and_unmerging_restores(
        self, services: Services, agent_client: httpx.AsyncClient, ana: str, tmp_path: Path
    ) -> None:
        other = "ana.work@example.com"
        path = f.write_jsonl(
            tmp_path / "work.jsonl",
            [
                f.person(external_id="C-2", identifiers=[f.email(other)], given_name="Ana"),
                {
                    **consent("opted_in", "2026-05-01T00:00:00Z", external_id="w-in", point=other),
                    "identifiers": [f.email(other)],
                },
            ],
        )
        summary = await import_file(services.ingest, "canonical", str(path), parse_options())
        assert summary.rejected == 0, summary.errors
        work = str((await services.profiles.by_identifier(IdentifierType.EMAIL, other)).id)
        now = dt.datetime.now(dt.UTC)
        await services.contact.record_consent(
            ana, "email", None, "opted_out", None, _actor(), now - dt.timedelta(days=1)
        )  # Ana: no e-mail at all, newer than the work address's opt-in
        assert (await decision(agent_client, work))["allowed"]

        entry = await services.merges.merge(ana, work, actor="test", reason="same person", now=now)
        merged = await decision(agent_client, ana)
        assert not merged["allowed"]
        assert codes(merged) == ["channel_opted_out"]

        await services.merges.unmerge(entry.id, now, actor="test", reason="not the same")
        assert (await decision(agent_client, work))["allowed"]
        assert codes(await decision(agent_client, ana)) == ["channel_opted_out"]


class TestMarketingRole:
    async def test_decision_hands_out_the_point_the_profile_masks_it(
        self, services: Services, marketing_client: httpx.AsyncClient, ana: str
    ) -> None:
        await opted_in(services, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        assert (await decision(marketing_client, ana))["contactPoint"] == EMAIL
        prefs = (await view(marketing_client, ana))["contactPreferences"]
        values = {p["value"] for p in prefs["contactPoints"]}
        assert EMAIL not in values
        assert "a•••@example.com" in values

    async def test_export_needs_a_key(self, client: httpx.AsyncClient, ana: str) -> None:
        response = await client.get(
            "/audiences/export", params={"channel": "email", "purpose": "marketing"}
        )
        assert response.status_code == 401


class TestCustomerCapLongerThanTheDefaults:
    async def test_contacts_older_than_any_default_window_are_read(
        self, services: Services, agent_client: httpx.AsyncClient, ana: str
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        await opted_in(services, now - dt.timedelta(days=40))
        cap = {"channel": "EMAIL", "purpose": "marketing", "maxContacts": 1, "perDays": 30}
        await gql(agent_client, SET_PREFS, input={"profileId": ana, "frequencyCaps": [cap]})
        sent = (now - dt.timedelta(days=20)).isoformat()
        await gql(
            agent_client,
            RECORD_CONTACT,
            input={
                "profileId": ana,
                "channel": "EMAIL",
                "purpose": "marketing",
                "occurredAt": sent,
            },
        )

        result = await decision(agent_client, ana)

        assert codes(result) == ["frequency_cap"]
        assert "customer cap is 1" in result["reasons"][0]["message"]
        frees = dt.datetime.fromisoformat(result["nextAllowedAt"])
        assert abs(frees - (now + dt.timedelta(days=10))) < dt.timedelta(seconds=5)


def test_the_signing_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)

    first, again = signing_secret(settings), signing_secret(settings)

    assert first == again
    assert len(first) >= 48
    assert (tmp_path / "signing-secret").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["signing-secret"]  # no drafts left
    configured = Settings(_env_file=None, data_dir=tmp_path, signing_secret="s3cret")
    assert signing_secret(configured) == "s3cret"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("550 5.1.1 <ana.garcia@example.com>: unknown", "550 5.1.1 <a•••@example.com>: unknown"),
        (
            "https://shop.example/?email=ana%40example.com&x=1",
            "https://shop.example/?email=a•••@example.com&x=1",
        ),
        ("call +34 600 12 34 56 or 600123456", "call +34•••••••56 or +34•••••••56"),
        ("order 12345 of 2024-05-01, 2 items", "order 12345 of 2024-05-01, 2 items"),
    ],
)
def test_contact_points_in_free_text_are_masked(text: str, masked: str) -> None:
    assert Masker("ES").within(text) == masked


async def test_marketing_reads_a_bounce_without_the_address(
    services: Services, marketing_client: httpx.AsyncClient, ana: str
) -> None:
    await services.contact.set_point_status(
        ana,
        "email",
        EMAIL,
        "bounced",
        f"550 5.1.1 <{EMAIL}>: mailbox unknown",
        Actor(ChangeOrigin.BOUNCE, "tests"),
        dt.datetime.now(dt.UTC),
    )
    prefs = (await view(marketing_client, ana))["contactPreferences"]
    [point] = [p for p in prefs["contactPoints"] if p["channel"] == "EMAIL"]
    assert point["status"] == "BOUNCED"
    history = (await view(marketing_client, ana))["consentHistory"]["edges"]
    assert [e["node"]["pointStatus"] for e in history] == ["BOUNCED"]
    for reason in (point["statusReason"], history[0]["node"]["reason"]):
        assert reason == "550 5.1.1 <a•••@example.com>: mailbox unknown"
