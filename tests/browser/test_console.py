"""The agent console in headless Chromium, as agents use it: an agent's call from the screen pop to
what she asks for, each change read back over GraphQL; the same call with a marketing key;
search; signing in and out, the cookie, CSRF and a session that ends; keyboard use, tablet
width, accessibility (axe-core, vendored in ``tests/browser/vendor``), and errors shown as
messages. Screenshots for the README are saved in ``test-artifacts/browser/``.

Follow-ups (their SLA clocks, acknowledging and resolving one) are worked in the call when the
served schema has them; until it does, the call checks that the slot says so."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect
from pymongo import MongoClient

from tests.browser.helpers import TARGET_PX, save_screenshot, small_targets
from tests.served import HTTP, Server

VENDOR = Path(__file__).resolve().parent / "vendor"
PROFILE_URL = re.compile(r"/console/profile/[0-9a-f]{24}$")
# Ana's number as the demo's CRM has it is +34 600 12 34 56; a phone system sends it another way.
ANA_RINGS = "0034 600 123 456"
ORDERS_ONLY = "On the phone: she wants e-mails about her orders only, nothing else by e-mail."
SERIOUS = ("serious", "critical")
# The follow-up rule a detractor's NPS answer opens a follow-up by, and a configured root cause.
DETRACTOR_RULE = "NPS detractor"
ROOT_CAUSE = "product-defect"
DETRACTOR_COMMENT = "The new pair came apart after two weeks."
FEEDBACK_NOTE = "Called her: a new pair is on its way."


def sign_in(page: Page, key: str) -> None:
    """Fill in the sign-in form the console sent us to; we land where we were going."""
    expect(page.get_by_role("heading", name="c360 console")).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def open_console(page: Page, demo: Server, role: str, path: str = "/console") -> None:
    page.goto(f"{demo.base}{path}")
    sign_in(page, demo.demo_keys[role])


def profile_ready(page: Page) -> None:
    expect(page.locator('main[data-rendered="profile"]')).to_be_attached(timeout=15_000)


@contextlib.contextmanager
def ana_on_a_screen(browser: Browser, demo: Server, width: int, height: int) -> Iterator[Page]:
    """Ana's profile, opened by the agent from her call, on a screen of this size."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        yield page
    finally:
        context.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA and best-practice findings on the page as it is now (its source
    checked against the vendored manifest, then run in the page: evaluated, so the page's
    script policy is untouched)."""
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())["axe-core"]
    source = (VENDOR / "axe-core" / "axe.min.js").read_bytes()
    assert hashlib.sha256(source).hexdigest() == manifest["files"]["axe.min.js"]
    page.evaluate(source.decode("utf-8") + "\n;undefined")
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
          const tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
          const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
          return result.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
          }));
        }"""
    )
    return found


def assert_accessible(page: Page) -> None:
    serious = [v for v in axe_violations(page) if v["impact"] in SERIOUS]
    assert serious == [], json.dumps(serious, indent=2)


def send_detractor_survey(demo: Server) -> None:
    """Ana's answer to this morning's NPS survey, as the survey tool sends it (a 3 of 10)."""
    answered = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    survey = {
        "kind": "survey_response",
        "source": "surveys",
        "external_id": "nps-5701",
        "occurred_at": answered.isoformat(),
        "identifiers": [{"type": "phone", "value": "+34 600 12 34 56"}],
        "survey_type": "nps",
        "score": 3,
        "comment": DETRACTOR_COMMENT,
        "touchpoint": "product",
    }
    send_records(demo, [survey])


def send_records(demo: Server, records: list[dict[str, Any]]) -> None:
    """Canonical records pushed as a source does (``POST /ingest/canonical``, a connector key)."""
    response = HTTP.post(
        f"{demo.base}/ingest/canonical",
        json=records,
        headers={"authorization": f"Bearer {demo.demo_keys['connector']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == len(records), response.text


def schema_has_follow_ups(demo: Server) -> bool:
    return demo.graphql('{ __type(name: "FollowUp") { name } }')["__type"] is not None


def profile_id(page: Page) -> str:
    return page.url.rsplit("/", 1)[-1]


@pytest.fixture
def store(demo: Server) -> Iterator[Any]:
    """The served demo's own database (its embedded store), to end sessions as time would."""
    port = json.loads((demo.data_dir / "server.json").read_text())["port"]
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true"
    )
    try:
        yield client["c360"]
    finally:
        client.close()


class TestAgentsCall:
    """The issue's call: the phone rings, the agent reads how to reach her, logs the call and
    records what she asks for; every change is there over GraphQL afterwards."""

    def test_the_call(self, page: Page, demo: Server) -> None:
        follow_ups = schema_has_follow_ups(demo)
        assert follow_ups, "the console's call works the follow-up her survey opened"
        if follow_ups:
            # This morning she answered an NPS survey with a 3: the follow-up it opened is
            # waiting when she calls.
            send_detractor_survey(demo)
        # The phone rings: the telephony system opens the screen pop with her number as it
        # has it; the agent signs in once and lands on her profile.
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        expect(page).to_have_url(PROFILE_URL)
        profile_ready(page)
        ana = profile_id(page)
        expect(page.get_by_role("heading", level=1)).to_have_text("Ana García")
        expect(page.locator(".via")).to_contain_text(f"phone number {ANA_RINGS}")

        # Before anything else: how she wants to be contacted, and why.
        reach = page.locator("#reach")
        expect(reach.locator(".preferred-channel strong")).to_have_text("Phone")
        expect(reach).to_contain_text("asked for by the customer")
        # The demo's times move on to the week before it was loaded (c360.demo): a date.
        expect(reach).to_contain_text(
            re.compile(
                r"The customer asked to be contacted by phone for service "
                r"\(since \d{4}-\d\d-\d\d, agent\)\."
            )
        )
        expect(reach).to_contain_text("Local time")
        expect(reach).to_contain_text("Europe/Madrid")
        expect(reach).to_contain_text("Spanish (es)")
        expect(reach.locator(".allowed")).to_have_text(re.compile(r"^(Allowed now\.|Not now.*)"))

        # Who she is and what happened, in the order an agent reads them.
        headings = page.locator(".sections > section > h2").all_inner_texts()
        assert headings == [
            "How to reach them",
            "What needs attention",
            "Who they are",
            "What happened",
            "Consent",
        ]
        expect(page.locator("#who")).to_contain_text("ana.garcia@example.com")
        expect(page.locator("#history")).to_contain_text("Shoes too small, want to exchange")
        expect(page.locator("#history")).to_contain_text("Quick exchange by phone, thanks!")
        expect(page.locator("#history")).to_contain_text("#1042")
        assert_accessible(page)

        # What needs attention: the follow-up of her survey, with its SLA clocks. The agent
        # acknowledges it before anything else.
        slot = page.locator('[data-slot="follow-ups"]')
        if follow_ups:
            expect(slot).to_have_attribute("data-state", "loaded")
            item = slot.locator(".follow-up", has_text=DETRACTOR_RULE)
            expect(item).to_have_attribute("data-status", "OPEN")
            clocks = item.get_by_role("list", name="SLA clocks")
            expect(clocks).to_contain_text("First response: due")
            expect(clocks).to_contain_text("Resolution: due")
            # By keyboard: the button goes with the list drawn again, and the focus stays
            # here, on what was done, not back at the page's start.
            item.get_by_role("button", name="Acknowledge").focus()
            page.keyboard.press("Enter")
            said = page.locator(".follow-up-status").get_by_text(f"Acknowledged: {DETRACTOR_RULE}.")
            expect(said).to_be_focused()
            item = slot.locator(".follow-up", has_text=DETRACTOR_RULE)
            expect(item).to_have_attribute("data-status", "ACKNOWLEDGED")
        else:
            expect(slot).to_have_attribute("data-state", "unavailable")

        # The agent logs the call.
        log = page.get_by_role("form", name="Log the contact made")
        log.get_by_label("Channel").select_option("PHONE")
        log.get_by_label("Purpose").select_option("service")
        log.get_by_label("Outcome").select_option("ANSWERED")
        log.get_by_role("button", name="Log contact").click()
        expect(log.get_by_role("status")).to_contain_text("Logged: Phone for service, answered")

        # She wants e-mails about her orders only: no other e-mail…
        consent = page.get_by_role("form", name="Record a consent change")
        consent.get_by_label("Channel").select_option("EMAIL")
        for purpose in ("Marketing", "Surveys", "Service"):
            consent.get_by_role("group", name=purpose, exact=True).get_by_label(
                "Does not want it"
            ).check()
        note = consent.get_by_label("Note (required, kept as evidence)")
        consent.get_by_role("button", name="Record consent").click()
        # …and the note is required: it is the evidence. The form is not sent without one.
        assert note.evaluate("note => note.validity.valueMissing") is True
        expect(consent.get_by_role("status")).to_be_empty()
        note.fill(ORDERS_ONLY)
        consent.get_by_role("button", name="Record consent").click()
        for purpose in ("marketing", "surveys", "service"):
            expect(consent.get_by_role("status")).to_contain_text(
                f"E-mail, {purpose}: opted out, recorded."
            )
        # …and order updates by e-mail.
        preference = page.get_by_role("form", name="Record a preferred channel")
        preference.get_by_label("For").select_option("transactional")
        preference.get_by_label("Contact by").select_option("EMAIL")
        preference.get_by_label("Note (required, kept as evidence)").fill(ORDERS_ONLY)
        preference.get_by_role("button", name="Record preference").click()
        expect(preference.get_by_role("status")).to_contain_text(
            "Recorded: Transactional by E-mail."
        )

        # The page shows what changed without a reload.
        expect(page.locator("#consent table")).to_contain_text(ORDERS_ONLY)
        expect(page.locator("#reach")).to_contain_text("Transactional: E-mail")
        timeline = page.locator("#history .timeline")
        expect(timeline).to_contain_text("Phone to the customer for service: Answered")
        page.locator("#reach").scroll_into_view_if_needed()
        save_screenshot(page, "console-profile")

        # The call settled what went wrong: the agent resolves the follow-up with its cause.
        if follow_ups:
            # A form opened by mistake and cancelled gives the focus back to its button.
            reassign = item.get_by_role("button", name="Reassign…")
            reassign.focus()
            page.keyboard.press("Enter")
            form = page.get_by_role("form", name=f"Reassign the follow-up {DETRACTOR_RULE}")
            # The teams it may go to are choices, its own chosen: nothing to guess.
            teams = [t["id"] for t in demo.graphql("{ teams { id } }")["teams"]]
            team = form.get_by_label("Team")
            expect(team.locator("option")).to_have_count(len(teams))
            assert sorted(team.locator("option").all_inner_texts()) == sorted(teams)
            mine = demo.graphql(FOLLOW_UPS, variables={"id": ana})["profile"]["followUps"]
            [current] = [f["team"] for f in mine if f["rule"]["name"] == DETRACTOR_RULE]
            expect(team).to_have_value(current)
            form.get_by_role("button", name="Cancel").press("Enter")
            expect(reassign).to_be_focused()
            # A note alone, the outcome not known yet: the follow-up stays where it is.
            item.get_by_role("button", name="Add a note…").click()
            form = page.get_by_role("form", name=f"A note on the follow-up {DETRACTOR_RULE}")
            form.get_by_label("Note").fill("Asked her for a photo of the sole.")
            form.get_by_role("button", name="Add a note").click()
            expect(page.locator(".follow-up-status")).to_contain_text(
                f"Note added: {DETRACTOR_RULE}."
            )
            expect(item).to_contain_text("“Asked her for a photo of the sole.”")
            item.get_by_role("button", name="Resolve…").click()
            form = page.get_by_role("form", name=f"Resolve the follow-up {DETRACTOR_RULE}")
            form.get_by_label("Outcome").select_option("CONTACTED_RESOLVED")
            # The configured root causes are choices, before any guess.
            causes = demo.graphql("{ followUpRootCauses }")["followUpRootCauses"]
            cause = form.get_by_label("Root cause")
            expect(cause.locator("option")).to_have_count(len(causes) + 1)
            assert cause.locator("option").all_inner_texts() == ["Choose…", *causes]
            cause.select_option(ROOT_CAUSE)
            form.get_by_label("Note (optional)").fill("New pair sent; sizing explained.")
            scroll_to_top_of(page, slot)
            save_screenshot(page, "console-follow-up-resolving")
            form.get_by_role("button", name="Resolve").click()
            expect(page.locator(".follow-up-status")).to_contain_text(
                f"Resolved: {DETRACTOR_RULE}."
            )
            closed = slot.locator(".closed-follow-ups")
            closed.locator(":scope > summary").click()
            expect(closed.locator(".follow-up", has_text=DETRACTOR_RULE)).to_have_attribute(
                "data-status", "RESOLVED"
            )
            expect(timeline).to_contain_text(f"{DETRACTOR_RULE}: resolved")
            # Its chip names the kind as its filter does: a follow-up.
            event = timeline.locator("li", has_text=f"{DETRACTOR_RULE}: resolved").first
            expect(event.locator(".kind")).to_have_text("Follow-up")
            scroll_to_top_of(page, slot)
            save_screenshot(page, "console-follow-up-resolved")

            # And her answer to the survey is marked as answered, on the phone.
            answer = page.locator("#history li", has_text=DETRACTOR_COMMENT).filter(
                has=page.get_by_role("button", name="Acknowledge feedback")
            )
            answer.get_by_role("button", name="Acknowledge feedback").click()
            form = answer.get_by_role("form", name="Acknowledge this feedback")
            form.get_by_label("Answered by").select_option("PHONE")
            form.get_by_label("Note (optional)").fill(FEEDBACK_NOTE)
            form.get_by_role("button", name="Acknowledge").click()
            expect(
                answer.get_by_role("status").get_by_text("Feedback acknowledged by Phone.")
            ).to_be_focused()

        # Each change, read back over GraphQL with the API key.
        after = demo.graphql(CALL_RECORDED, variables={"id": ana})["profile"]
        key_id = demo.demo_keys["agent"].split("_")[1]
        actor = f"key:{key_id} (demo:agent)"
        calls = [e["node"] for e in after["calls"]["edges"]]
        logged = {"channel": "PHONE", "purpose": "service", "outcome": "ANSWERED", "actor": actor}
        assert logged in calls
        opted_out = {
            (c["purpose"], c["evidence"])
            for c in after["consents"]
            if c["channel"] == "EMAIL" and c["status"] == "OPTED_OUT" and c["contactPoint"] is None
        }
        assert opted_out == {(p, ORDERS_ONLY) for p in ("marketing", "surveys", "service")}
        assert after["orders"] == {"channel": "EMAIL", "basis": "EXPLICIT"}
        assert after["service"]["channel"] == "PHONE"  # what she asked before still stands
        changes = [e["node"] for e in after["consentHistory"]["edges"]]
        recorded_here = [c for c in changes if c.get("actor") == actor]
        assert len(recorded_here) == 4  # three consent changes and one preference
        assert {(c["origin"], c["evidence"]) for c in recorded_here} == {("AGENT", ORDERS_ONLY)}
        if follow_ups:
            worked = demo.graphql(FOLLOW_UPS, variables={"id": ana})["profile"]["followUps"]
            [resolved] = [f for f in worked if f["rule"]["name"] == DETRACTOR_RULE]
            assert resolved["status"] == "RESOLVED"
            assert (resolved["outcome"], resolved["rootCause"]) == (
                "CONTACTED_RESOLVED",
                ROOT_CAUSE,
            )
            assert resolved["firstResponseAt"] is not None
            by_agent = [(e["type"], e["actor"]) for e in resolved["events"][1:]]
            assert by_agent == [("ACKNOWLEDGED", actor), ("NOTED", actor), ("RESOLVED", actor)]
            feedback = demo.graphql(FEEDBACK, variables={"id": ana})["profile"]["feedback"]
            [answered] = [f for f in feedback if f["record"].get("comment") == DETRACTOR_COMMENT]
            assert answered["acknowledgement"]["channel"] == "PHONE"
            assert answered["acknowledgement"]["note"] == FEEDBACK_NOTE


FOLLOW_UPS = """query($id: ID!) {
  profile(id: $id) {
    ... on Profile {
      followUps {
        rule { name } status team outcome rootCause firstResponseAt events { type actor }
      }
    }
  }
}"""
FEEDBACK = """query($id: ID!) {
  profile(id: $id) {
    ... on Profile {
      feedback(acknowledged: true) {
        record { ... on SurveyResponseRecord { comment } }
        acknowledgement { channel note }
      }
    }
  }
}"""
CALL_RECORDED = """query($id: ID!) {
  profile(id: $id) {
    ... on Profile {
      calls: timeline(first: 5, kinds: [OUTBOUND_CONTACT]) {
        edges { node { ... on OutboundContactRecord { channel purpose outcome actor } } }
      }
      consents { channel purpose status contactPoint evidence }
      orders: preferredChannel(purpose: "transactional") { channel basis }
      service: preferredChannel { channel basis }
      consentHistory(first: 20) {
        edges {
          node {
            __typename
            ... on ConsentChangeRecord { actor origin evidence }
            ... on PreferenceChangeRecord { actor origin evidence }
          }
        }
      }
    }
  }
}"""


class TestMarketingKey:
    def test_the_same_call_shows_masked_contact_points_and_no_case_text(
        self, page: Page, demo: Server
    ) -> None:
        open_console(page, demo, "marketing", f"/console/lookup?phone={quote(ANA_RINGS)}")
        expect(page).to_have_url(PROFILE_URL)
        profile_ready(page)
        main = page.locator("main")
        expect(page.locator(".preferred-channel strong")).to_have_text("Phone")
        expect(page.locator("#who")).to_contain_text("a•••@example.com")
        expect(page.locator("#who")).to_contain_text("+34•••••••56")
        expect(page.locator("#history")).to_contain_text("Subject hidden for your role")
        expect(page.locator("#history")).to_contain_text("Comment hidden for your role")
        text = main.inner_text()
        for unmasked in ("ana.garcia@example.com", "+34600123456", "Calle Mayor"):
            assert unmasked not in text, unmasked
        for case_text in ("Shoes too small", "Quick exchange by phone"):
            assert case_text not in text, case_text
        assert_accessible(page)
        page.locator("#history").scroll_into_view_if_needed()
        save_screenshot(page, "console-profile-marketing")

    def test_no_merges_for_a_role_without_them(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "marketing", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        expect(page.locator("#actions")).not_to_contain_text("Identity")


class TestAdmin:
    def test_match_suggestions_merged_or_kept_apart(self, page: Page, demo: Server) -> None:
        """The CRM and the loyalty scheme know one man by two names (Robert Smith, Bob Smyth),
        and each a John Miller, two men of one name: the matcher suggests both pairs; an admin
        merges the first, keeps the second apart, and the ledger says so over GraphQL."""
        send_records(
            demo,
            [
                person("C-9001", "Robert", "Smith"),
                person("L-9002", "Bob", "Smyth", source="loyalty"),
                person("C-9011", "John", "Miller"),
                person("L-9012", "John", "Miller", source="loyalty"),
            ],
        )
        robert, john = profile_of(demo, "C-9001"), profile_of(demo, "C-9011")
        open_console(page, demo, "admin", f"/console/profile/{robert}")
        profile_ready(page)
        identity = page.locator(".identity")
        bob = identity.locator("li", has_text="Bob Smyth")
        expect(bob).to_contain_text("family name agrees")
        assert_accessible(page)
        assert small_targets(page) == []
        bob.get_by_role("button", name="Merge").click()
        expect(page.locator("#notices")).to_contain_text("Merged with Bob Smyth")
        expect(identity).to_contain_text("No open suggestions.")
        expect(identity.locator("li", has_text="Absorbed")).to_have_count(1)

        page.goto(f"{demo.base}/console/profile/{john}")
        profile_ready(page)
        other = identity.locator("li", has_text="John Miller")
        other.get_by_role("button", name="Not the same person").click()
        expect(page.locator("#notices")).to_contain_text("Marked as not the same person")
        expect(identity).to_contain_text("No open suggestions.")

        merged = demo.graphql(IDENTITY, role="admin", variables={"id": robert})["profile"]
        [entry] = merged["merges"]
        assert (entry["survivorId"], entry["status"]) == (robert, "done")
        assert profile_of(demo, "L-9002", "loyalty") == robert
        apart = demo.graphql(IDENTITY, role="admin", variables={"id": john})["profile"]
        assert apart["merges"] == []
        assert profile_of(demo, "L-9012", "loyalty") != john

    def test_an_agent_sees_suggestions_but_an_admin_decides(self, page: Page, demo: Server) -> None:
        jane_twice = [person("C-9021", "Jane", "Doe"), person("L-9022", "Jane", "Doe", "loyalty")]
        send_records(demo, jane_twice)
        open_console(page, demo, "agent", f"/console/profile/{profile_of(demo, 'C-9021')}")
        profile_ready(page)
        jane = page.locator(".identity li", has_text="Jane Doe")
        expect(jane).to_contain_text("An admin decides whether to merge.")
        expect(jane.get_by_role("button")).to_have_count(0)


IDENTITY = """query($id: ID!) {
  profile(id: $id) {
    ... on Profile { merges { survivorId absorbedId status } matchSuggestions { id } }
  }
}"""


def person(
    external_id: str, given_name: str, family_name: str, source: str = "crm"
) -> dict[str, Any]:
    """A customer as a CRM (or another source) exports them: an id and a name, nothing else."""
    return {
        "kind": "person",
        "source": source,
        "external_id": external_id,
        "occurred_at": "2024-02-01T10:00:00Z",
        "identifiers": [{"type": "external", "source": source, "value": external_id}],
        "given_name": given_name,
        "family_name": family_name,
    }


def profile_of(demo: Server, external_id: str, source: str = "crm") -> str:
    found = demo.graphql(
        "query($v: String!, $s: String) { profileByIdentifier(type: EXTERNAL, value: $v,"
        " source: $s) { ... on Profile { id } } }",
        variables={"v": external_id, "s": source},
    )
    profile_id: str = found["profileByIdentifier"]["id"]
    return profile_id


WEI = "li.wei@example.net"


class TestNoActionTwice:
    def test_a_double_click_sends_one_change(self, page: Page, demo: Server) -> None:
        """Wei's answer to a survey opens a follow-up; the agent double-clicks Acknowledge, then
        the feedback's Acknowledge: each change is sent once."""
        answered = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        survey = {
            "kind": "survey_response",
            "source": "surveys",
            "external_id": "nps-5801",
            "occurred_at": answered.isoformat(),
            "identifiers": [{"type": "email", "value": WEI}],
            "survey_type": "nps",
            "score": 2,
            "comment": "The parcel never came.",
            "touchpoint": "delivery",
        }
        send_records(demo, [survey])
        sent: list[str] = []

        def note_mutation(request: Request) -> None:
            if not request.url.endswith("/console/graphql") or not request.post_data:
                return
            document = json.loads(request.post_data)["query"].strip()
            if document.startswith("mutation"):
                sent.append(document.split()[1].split("(")[0])

        page.on("request", note_mutation)
        open_console(page, demo, "agent", f"/console/lookup?email={quote(WEI)}")
        profile_ready(page)
        slot = page.locator('[data-slot="follow-ups"]')
        item = slot.locator(".follow-up", has_text=DETRACTOR_RULE)
        expect(item).to_have_attribute("data-status", "OPEN")
        item.get_by_role("button", name="Acknowledge").dblclick()
        expect(page.locator(".follow-up-status")).to_contain_text(
            f"Acknowledged: {DETRACTOR_RULE}."
        )
        expect(slot.locator(".follow-up", has_text=DETRACTOR_RULE)).to_have_attribute(
            "data-status", "ACKNOWLEDGED"
        )
        answer = page.locator("#history li", has_text="The parcel never came.").filter(
            has=page.get_by_role("button", name="Acknowledge feedback")
        )
        answer.get_by_role("button", name="Acknowledge feedback").click()
        answer.get_by_role("form", name="Acknowledge this feedback").get_by_role(
            "button", name="Acknowledge"
        ).dblclick()
        expect(answer.get_by_role("status")).to_contain_text("Feedback acknowledged")
        expect(page.locator(".notice.error")).to_have_count(0)
        assert sent == ["ConsoleAcknowledgeFollowUp", "ConsoleAcknowledgeFeedback"]


class TestFeedback:
    def test_only_feedback_waiting_for_an_answer_offers_to_acknowledge(
        self, page: Page, demo: Server
    ) -> None:
        """Noor answered three surveys: a promoter's 10 (nothing to answer), a CSAT 1 answered
        by e-mail before the page opened, and an NPS 2 with a comment that the agent answers
        here, which also acknowledges the follow-up it opened."""
        email = "noor.haddad@example.com"
        now = dt.datetime.now(dt.UTC)

        def survey(external_id: str, kind: str, score: int, hours: int, **more: Any) -> Any:
            return {
                "kind": "survey_response",
                "source": "surveys",
                "external_id": external_id,
                "occurred_at": (now - dt.timedelta(hours=hours)).isoformat(),
                "identifiers": [{"type": "email", "value": email}],
                "survey_type": kind,
                "score": score,
                **more,
            }

        send_records(
            demo,
            [
                survey("nps-6101", "nps", 10, 30, touchpoint="online"),
                survey("csat-6102", "csat", 1, 20, touchpoint="support"),
                survey("nps-6103", "nps", 2, 2, comment="Still waiting for my refund."),
            ],
        )
        open_console(page, demo, "agent", f"/console/lookup?email={quote(email)}")
        profile_ready(page)
        done = demo.graphql(
            "mutation($p: ID!, $r: ID!) { acknowledgeFeedback(profileId: $p, recordId: $r)"
            " { __typename } }",
            variables={"p": profile_id(page), "r": "surveys:survey_response:csat-6102"},
        )
        assert done["acknowledgeFeedback"]["__typename"] == "Feedback"
        page.reload()
        profile_ready(page)
        answers = page.locator("#history li:has(> .feedback-action)")  # the survey answers
        waiting = answers.filter(has_text="Still waiting for my refund.")
        expect(waiting.get_by_role("button", name="Acknowledge feedback")).to_be_visible()
        answered = answers.filter(has_text="CSAT 1")
        expect(answered.locator(".feedback-answered")).to_contain_text("Answered by E-mail")
        expect(answered.get_by_role("button", name="Acknowledge feedback")).to_have_count(0)
        promoter = answers.filter(has_text="NPS 10")
        expect(promoter).to_be_visible()
        expect(promoter.get_by_role("button", name="Acknowledge feedback")).to_have_count(0)

        slot = page.locator('[data-slot="follow-ups"]')
        item = slot.locator(".follow-up", has_text=DETRACTOR_RULE)
        expect(item).to_have_attribute("data-status", "OPEN")
        waiting.get_by_role("button", name="Acknowledge feedback").click()
        form = waiting.get_by_role("form", name="Acknowledge this feedback")
        # The one channel the contact policy offers: never one she did not allow.
        expect(form.get_by_label("Answered by").locator("option")).to_have_text(["E-mail"])
        form.get_by_role("button", name="Acknowledge").click()
        expect(waiting.get_by_role("status")).to_contain_text("Feedback acknowledged by E-mail.")
        expect(waiting.get_by_role("button", name="Acknowledge feedback")).to_be_disabled()
        expect(item).to_have_attribute("data-status", "ACKNOWLEDGED")
        timeline = page.get_by_role("list", name="Timeline, newest first")
        expect(timeline).to_contain_text(f"{DETRACTOR_RULE}: acknowledged")

    def test_a_customer_who_accepts_no_contact_is_acknowledged_without_contact(
        self, page: Page, demo: Server
    ) -> None:
        """Omar asked never to be contacted, then left a comment with a low score: the
        console offers no channel, only closing the loop without contact."""
        email = "omar.said@example.com"
        answered = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
        survey = {
            "kind": "survey_response",
            "source": "surveys",
            "external_id": "nps-6201",
            "occurred_at": answered.isoformat(),
            "identifiers": [{"type": "email", "value": email}],
            "survey_type": "nps",
            "score": 1,
            "comment": "Never again.",
        }
        send_records(demo, [survey])
        found = demo.graphql(
            "query($e: String!) { profileByIdentifier(type: EMAIL, value: $e) { ... on Profile "
            "{ id } } }",
            variables={"e": email},
        )
        omar = found["profileByIdentifier"]["id"]
        demo.graphql(
            'mutation($p: ID!) { setDoNotContact(profileId: $p, active: true, reason: "asked") '
            "{ __typename } }",
            variables={"p": omar},
        )

        open_console(page, demo, "agent", f"/console/profile/{omar}")
        profile_ready(page)
        answer = page.locator("#history li:has(> .feedback-action)").filter(has_text="Never again.")
        expect(answer.get_by_role("button", name="Acknowledge without contact")).to_be_visible()
        expect(answer.get_by_role("button", name="Acknowledge feedback")).to_have_count(0)
        answer.get_by_role("button", name="Acknowledge without contact").click()
        form = answer.get_by_role("form", name="Acknowledge this feedback without contact")
        expect(form).to_contain_text("allows no channel for service")
        expect(form.locator("select")).to_have_count(0)  # no channel to choose
        form.get_by_label("Note (optional)").fill("Do-not-contact on file.")
        form.get_by_role("button", name="Acknowledge without contact").click()
        expect(answer.get_by_role("status")).to_contain_text(
            "Feedback acknowledged without contact."
        )

        page.reload()
        profile_ready(page)
        answer = page.locator("#history li:has(> .feedback-action)").filter(has_text="Never again.")
        expect(answer.locator(".feedback-answered")).to_contain_text("Acknowledged without contact")
        done = demo.graphql(
            "query($id: ID!) { profile(id: $id) { ... on Profile { feedback { "
            "acknowledgement { channel note withoutContact } } } } }",
            variables={"id": omar},
        )
        [ack] = [f["acknowledgement"] for f in done["profile"]["feedback"]]
        assert ack["channel"] is None
        assert ack["note"] == "Do-not-contact on file."
        assert "do_not_contact" in ack["withoutContact"]


class TestDueSoon:
    def test_the_start_page_lists_follow_ups_due_soon_and_the_profile_marks_them(
        self, page: Page, demo: Server, store: Any
    ) -> None:
        """Lea's detractor answer opened a follow-up 40 of its 48 hours ago (its stored times
        moved back, as time would have): due soon, on the start page and on her profile."""
        email = "lea.martin@example.com"
        answered = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        send_records(
            demo,
            [
                {
                    "kind": "survey_response",
                    "source": "surveys",
                    "external_id": "nps-6301",
                    "occurred_at": answered.isoformat(),
                    "identifiers": [{"type": "email", "value": email}],
                    "survey_type": "nps",
                    "score": 2,
                }
            ],
        )
        found = demo.graphql(
            "query($e: String!) { profileByIdentifier(type: EMAIL, value: $e) { ... on Profile "
            "{ id } } }",
            variables={"e": email},
        )
        lea = found["profileByIdentifier"]["id"]
        shift = 40 * 3_600_000
        for doc in store.follow_ups.find({"profile_id": lea}):
            moved = {
                "opened_ms": doc["opened_ms"] - shift,
                "due": {t: v - shift for t, v in doc["due"].items()},
                "due_soon": {t: v - shift for t, v in doc["due_soon"].items()},
                "next_due_ms": doc["next_due_ms"] - shift,
                "due_soon_ms": doc["due_soon_ms"] - shift,
                "alarm_ms": doc["alarm_ms"] - shift,
            }
            store.follow_ups.update_one({"_id": doc["_id"]}, {"$set": moved})

        open_console(page, demo, "agent")
        listed = page.get_by_role("list", name="Follow-ups due soon")
        item = listed.get_by_role("listitem").filter(
            has=page.locator(f'a[href="/console/profile/{lea}"]')
        )
        expect(item).to_contain_text("At risk: due soon")
        expect(item).to_contain_text("First response due in")
        # Which customer, and why: each item of a list of one rule's follow-ups says whom.
        expect(item.get_by_role("link")).to_have_text(email)
        expect(item).to_contain_text("latest NPS answer 2 ≤ 6")
        assert_accessible(page)
        item.get_by_role("link").click()
        profile_ready(page)
        expect(page).to_have_url(re.compile(f"/console/profile/{lea}$"))
        slot = page.locator('[data-slot="follow-ups"]')
        follow_up = slot.locator(".follow-up", has_text=DETRACTOR_RULE)
        expect(follow_up.locator(".chips")).to_contain_text("At risk: due soon")
        expect(follow_up.get_by_role("list", name="SLA clocks")).to_contain_text("Due soon")


class TestSearch:
    def test_several_matches_with_what_tells_them_apart(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "agent")
        expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()
        page.get_by_label("Find a customer").fill("ana")
        page.keyboard.press("Enter")
        matches = page.locator(".match")
        expect(matches).to_have_count(2)
        garcia = matches.filter(has_text="Ana García")
        gomez = matches.filter(has_text="Ana Gómez")
        expect(garcia).to_contain_text("ana.garcia@example.com")
        expect(garcia).to_contain_text("Madrid")
        expect(gomez).to_contain_text("ana.gomez@example.com")
        expect(gomez).to_contain_text("Barcelona")
        expect(garcia).to_contain_text("found by name")
        assert_accessible(page)
        save_screenshot(page, "console-search")
        gomez.get_by_role("link", name="Ana Gómez").click()
        expect(page).to_have_url(PROFILE_URL)
        expect(page.get_by_role("heading", level=1)).to_have_text("Ana Gómez")
        page.go_back()
        expect(page.locator(".match")).to_have_count(2)

    def test_an_answer_that_comes_after_the_agent_moved_on_is_not_drawn_over_the_page(
        self, page: Page, demo: Server
    ) -> None:
        # A slow network: the search's answer is held until the agent has gone back to the
        # start page. Drawn when it comes, it would cover the page the agent is on (over a
        # customer opened meanwhile, another customer's matches).
        open_console(page, demo, "agent")
        held: list[Route] = []

        def hold_searches(route: Route, request: Request) -> None:
            if "findProfiles" in (request.post_data or ""):
                held.append(route)
            else:
                route.continue_()

        page.route("**/console/graphql", hold_searches)
        page.get_by_label("Find a customer").fill("ana")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Customers matching “ana”")).to_be_visible()
        expect(page.get_by_role("status")).to_have_text("Searching…")
        page.get_by_role("link", name="c360 console").click()
        expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()
        assert len(held) == 1

        with page.expect_response(lambda r: r.url.endswith("/console/graphql")):
            held[0].continue_()

        # What the answer would draw, it draws in the tasks after it is read: given the time.
        page.evaluate("() => new Promise((done) => setTimeout(done, 300))")
        expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()
        expect(page.locator(".match")).to_have_count(0)
        expect(page).to_have_url(f"{demo.base}/console")

    @pytest.mark.parametrize(
        ("text", "who", "line"),
        [
            ("#1042", "Ana García", "Order #1042 from shopify"),
            ("5003", "Ana Gómez", "Order #1044 from shopify"),
            ("88200", "Tom Becker", "Ticket 88200 from zendesk"),
            ("+49 151 23456789", "Tom Becker", None),
            ("li.wei@example.net", "Wei Li", None),
        ],
    )
    def test_one_box_for_numbers_addresses_orders_and_tickets(
        self, page: Page, demo: Server, text: str, who: str, line: str | None
    ) -> None:
        open_console(page, demo, "agent", f"/console?q={quote(text)}")
        match = page.locator(".match")
        expect(match).to_have_count(1)
        expect(match).to_contain_text(who)
        if line:
            expect(match.locator(".found-record")).to_contain_text(line)

    @pytest.mark.parametrize(
        ("pop", "who"),
        [
            ("ticket=88123", "Ana García"),
            ("order=%231043", "Tom Becker"),
            ("email=li.wei%40example.net", "Wei Li"),
        ],
    )
    def test_every_screen_pop_opens_the_profile(
        self, page: Page, demo: Server, pop: str, who: str
    ) -> None:
        open_console(page, demo, "agent", f"/console/lookup?{pop}")
        expect(page).to_have_url(PROFILE_URL)
        expect(page.get_by_role("heading", level=1)).to_have_text(who)

    def test_a_screen_pop_that_finds_nobody_says_so(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "agent", "/console/lookup?phone=%2B34699000111")
        expect(page.get_by_role("alert")).to_have_text(re.compile(r"^No profile with phone"))
        expect(page.get_by_label("Find a customer")).to_have_value("+34699000111")

    def test_a_customer_without_purchases_has_no_value_tier(self, page: Page, demo: Server) -> None:
        # Wei Li has answered a survey and browsed, and never bought.
        open_console(page, demo, "agent", "/console/lookup?email=li.wei%40example.net")
        profile_ready(page)
        chips = page.locator("main p.chips").first
        expect(chips).to_contain_text("no net purchases")
        expect(chips).not_to_contain_text("None value")


class TestSession:
    def test_sign_in_the_cookie_and_sign_out(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/console")
        expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole$"))
        assert_accessible(page)
        key = page.get_by_label("API key")
        expect(key).to_be_focused()  # typing starts at once
        expect(key).not_to_have_attribute("aria-invalid", "true")
        sign_in(page, "c360_000000000000_not-a-key")
        said = page.get_by_role("alert")
        expect(said).to_have_text(re.compile(r"^Unknown API key"))
        # The refusal is the field's: focused again, marked invalid and described by it.
        expect(key).to_be_focused()
        expect(key).to_have_attribute("aria-invalid", "true")
        described = (key.get_attribute("aria-describedby") or "").split()
        assert said.get_attribute("id") in described
        assert_accessible(page)
        sign_in(page, "not-a-key")
        expect(said).to_have_text(re.compile(r"^This is not a c360 API key"))
        expect(said).not_to_contain_text("Authorization")
        sign_in(page, demo.demo_keys["agent"])
        expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()

        [session] = [c for c in page.context.cookies() if c["name"] == "c360_console"]
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Strict"
        assert session["secure"] is False  # plain HTTP on this machine; Secure over HTTPS
        assert session["path"] == "/"
        assert session["value"] not in page.evaluate("document.cookie")
        assert demo.demo_keys["agent"] not in page.content()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("alert")).to_contain_text("You are signed out")
        assert not [c for c in page.context.cookies() if c["name"] == "c360_console"]
        page.goto(f"{demo.base}/console/profile/abc")
        expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))

    def test_without_the_pages_token_nothing_runs(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "agent")
        expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()
        answer = page.evaluate(
            """async () => {
              const response = await fetch("/console/graphql", {
                method: "POST", headers: { "Content-Type": "application/json" },
                body: JSON.stringify({ query: "{ __typename }" }),
              });
              return { status: response.status, body: await response.json() };
            }"""
        )
        assert answer["status"] == 403
        assert answer["body"]["errors"][0]["extensions"]["code"] == "CsrfRefused"

    def test_a_session_that_ended_sends_to_sign_in_and_back(
        self, page: Page, demo: Server, store: Any
    ) -> None:
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        # What the page loads after its first render is in: the timeline, the follow-ups.
        expect(page.locator("#history .timeline-wrapper [role=status]")).to_contain_text(
            re.compile(r"That is everything|records shown")
        )
        expect(page.locator('[data-slot="follow-ups"]')).to_have_attribute(
            "data-state", re.compile(".")
        )
        where = page.url
        # The shift is over: every session's end has passed.
        store["console_sessions"].update_many({}, {"$set": {"expires_ms": 0}})
        page.get_by_role("form", name="Log the contact made").get_by_role(
            "button", name="Log contact"
        ).click()
        expect(page.get_by_role("alert")).to_contain_text("Your session ended")
        sign_in(page, demo.demo_keys["agent"])
        expect(page).to_have_url(where)
        profile_ready(page)

    def test_a_form_filled_in_when_the_session_ended_comes_back_unsent(
        self, page: Page, demo: Server, store: Any
    ) -> None:
        note = "Asked on the phone: no more SMS, please."
        open_console(page, demo, "agent", f"/console/lookup?email={quote(WEI)}")
        profile_ready(page)
        wei = profile_id(page)
        consent = page.get_by_role("form", name="Record a consent change")
        consent.get_by_label("Channel").select_option("SMS")
        consent.get_by_role("group", name="Marketing", exact=True).get_by_label(
            "Does not want it"
        ).check()
        consent.get_by_label("Note (required, kept as evidence)").fill(note)
        store["console_sessions"].update_many({}, {"$set": {"expires_ms": 0}})
        consent.get_by_role("button", name="Record consent").click()
        expect(page.get_by_role("alert")).to_contain_text("Your session ended")
        sign_in(page, demo.demo_keys["agent"])
        profile_ready(page)

        # Back as it was, and said to be unsent; nothing was recorded.
        consent = page.get_by_role("form", name="Record a consent change")
        expect(consent.get_by_label("Note (required, kept as evidence)")).to_have_value(note)
        expect(consent.get_by_label("Channel")).to_have_value("SMS")
        marketing = consent.get_by_role("group", name="Marketing", exact=True)
        expect(marketing.get_by_label("Does not want it")).to_be_checked()
        restored = consent.locator(".draft-restored")
        expect(restored).to_contain_text("NOT sent")
        assert evidence_of(demo, wei) == []
        kept = page.evaluate("JSON.stringify(sessionStorage)")
        assert demo.demo_keys["agent"] not in kept
        assert_accessible(page)

        # Sent now: recorded once, and the draft is gone.
        consent.get_by_role("button", name="Record consent").click()
        expect(consent.get_by_role("status")).to_contain_text(
            "SMS, marketing: opted out, recorded."
        )
        expect(restored).to_have_count(0)
        assert evidence_of(demo, wei) == [note]
        page.reload()
        profile_ready(page)
        consent = page.get_by_role("form", name="Record a consent change")
        expect(consent.get_by_label("Note (required, kept as evidence)")).to_have_value("")
        expect(consent.locator(".draft-restored")).to_have_count(0)

        # A draft discarded goes too.
        preference = page.get_by_role("form", name="Record a preferred channel")
        preference.get_by_label("Note (required, kept as evidence)").fill("Maybe by post.")
        page.reload()
        profile_ready(page)
        preference = page.get_by_role("form", name="Record a preferred channel")
        expect(preference.get_by_label("Note (required, kept as evidence)")).to_have_value(
            "Maybe by post."
        )
        preference.get_by_role("button", name="Discard it").click()
        expect(preference.get_by_label("Note (required, kept as evidence)")).to_have_value("")
        expect(preference.locator(".draft-restored")).to_have_count(0)
        page.reload()
        profile_ready(page)
        preference = page.get_by_role("form", name="Record a preferred channel")
        expect(preference.get_by_label("Note (required, kept as evidence)")).to_have_value("")

    def test_a_draft_is_the_key_s_and_signing_out_forgets_it(
        self, page: Page, demo: Server
    ) -> None:
        typed = "Her new mobile is +34 611 22 33 44, call after six."
        open_console(page, demo, "agent", f"/console/lookup?email={quote(WEI)}")
        profile_ready(page)
        wei = profile_id(page)
        log = page.get_by_role("form", name="Record a preferred channel")
        log.get_by_label("Note (required, kept as evidence)").fill(typed)

        # Another key on the same tab (a marketing one sees contact points masked).
        page.goto(f"{demo.base}/console/profile/{wei}")
        page.context.clear_cookies()
        page.goto(f"{demo.base}/console/profile/{wei}")
        sign_in(page, demo.demo_keys["marketing"])
        profile_ready(page)
        assert typed not in page.content()
        assert page.locator(".draft-restored").count() == 0

        # The agent's draft is still in the tab; signing out forgets every one.
        assert "c360.console.draft" in page.evaluate("JSON.stringify(sessionStorage)")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("API key")).to_be_visible()
        assert "c360.console.draft" not in page.evaluate("JSON.stringify(sessionStorage)")


def evidence_of(demo: Server, profile: str) -> list[str]:
    """The evidence of the customer's SMS consent changes, read over GraphQL."""
    found = demo.graphql(
        "query($id: ID!) { profile(id: $id) { ... on Profile { consents { channel evidence } } } }",
        variables={"id": profile},
    )["profile"]["consents"]
    return [c["evidence"] for c in found if c["channel"] == "SMS" and c["evidence"]]


class TestQualityBar:
    def test_keyboard_alone(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "agent")
        expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()
        page.keyboard.press("Tab")  # the skip link comes first
        expect(page.get_by_role("link", name="Skip to the main content")).to_be_focused()
        focus_by_tab(page, lambda: page.get_by_label("Find a customer"))
        page.keyboard.type("becker")
        page.keyboard.press("Enter")
        expect(page.locator(".match")).to_have_count(1)
        focus_by_tab(page, lambda: page.get_by_role("link", name="Tom Becker"))
        page.keyboard.press("Enter")
        profile_ready(page)
        expect(page.get_by_role("heading", level=1)).to_be_focused()
        button = page.get_by_role("button", name="Log contact")
        focus_by_tab(page, lambda: button, presses=400)
        page.keyboard.press("Enter")
        expect(
            page.get_by_role("form", name="Log the contact made").get_by_role("status")
        ).to_contain_text("Logged:")

    def test_the_page_title_names_the_customer(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        expect(page).to_have_title("Ana García — c360 console")
        page.goto(f"{demo.base}/console/profile/{'0' * 24}")
        expect(page.get_by_role("heading", name="Customer not found")).to_be_visible()
        expect(page).to_have_title("Customer not found — c360 console")

    def test_a_section_link_goes_to_its_section_and_keeps_the_page(
        self, page: Page, demo: Server
    ) -> None:
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        page.get_by_label("Note (required, kept as evidence)").first.fill("half typed")
        name = page.get_by_role("heading", level=1)
        name.evaluate("element => { element.dataset.drawn = 'before'; }")
        jump = page.get_by_role("navigation", name="Sections of this customer")
        focus_by_tab(page, lambda: jump.get_by_role("link", name="Consent"))
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"#consent$"))
        heading = page.get_by_role("heading", name="Consent", level=2)
        expect(heading).to_be_in_viewport()
        page.keyboard.press("Tab")  # on from the section, not from the top of a page drawn again
        assert page.evaluate(
            "document.getElementById('consent').contains(document.activeElement)"
        ), page.evaluate("document.activeElement.outerHTML")
        expect(page.get_by_label("Note (required, kept as evidence)").first).to_have_value(
            "half typed"
        )
        expect(name).to_have_attribute("data-drawn", "before")  # not drawn again

    def test_escape_closes_a_form_opened_in_place(self, page: Page, demo: Server) -> None:
        email = "eva.lind@example.com"
        eva = {
            **person("C-9301", "Eva", "Lind"),
            "identifiers": [
                {"type": "external", "source": "crm", "value": "C-9301"},
                {"type": "email", "value": email},
            ],
        }
        survey = {
            "kind": "survey_response",
            "source": "surveys",
            "external_id": "nps-9301",
            "occurred_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(),
            "identifiers": [{"type": "email", "value": email}],
            "survey_type": "nps",
            "score": 1,
            "comment": "Nobody called back.",
            "touchpoint": "service",
        }
        send_records(demo, [eva, survey])
        open_console(page, demo, "agent", f"/console/lookup?email={quote(email)}")
        profile_ready(page)
        item = page.locator('[data-slot="follow-ups"] .follow-up', has_text=DETRACTOR_RULE)
        answer = page.locator("#history li", has_text="Nobody called back.").filter(
            has=page.get_by_role("button", name="Acknowledge feedback")
        )
        for opener, form in (
            (
                item.get_by_role("button", name="Resolve…"),
                page.get_by_role("form", name=f"Resolve the follow-up {DETRACTOR_RULE}"),
            ),
            (
                item.get_by_role("button", name="Reassign…"),
                page.get_by_role("form", name=f"Reassign the follow-up {DETRACTOR_RULE}"),
            ),
            (
                answer.get_by_role("button", name="Acknowledge feedback"),
                page.get_by_role("form", name="Acknowledge this feedback"),
            ),
        ):
            opener.focus()
            page.keyboard.press("Enter")
            expect(form).to_be_visible()
            assert form.evaluate("form => form.contains(document.activeElement)")
            page.keyboard.press("Escape")
            expect(form).to_have_count(0)
            expect(opener).to_be_focused()

    def test_on_a_phone_the_consent_table_scrolls_sideways_by_keyboard(
        self, browser: Browser, demo: Server
    ) -> None:
        with ana_on_a_screen(browser, demo, 320, 640) as page:
            scroller = page.get_by_role("region", name="Consent per channel, address and purpose")
            assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
            jump = page.get_by_role("navigation", name="Sections of this customer")
            jump.get_by_role("link", name="Consent").click()
            page.keyboard.press("Tab")
            expect(scroller).to_be_focused()
            page.keyboard.press("ArrowRight")
            expect(scroller).not_to_have_js_property("scrollLeft", 0)

    @pytest.mark.parametrize(("width", "height"), [(1280, 900), (320, 640)])
    def test_the_top_bar_hides_neither_a_section_nor_a_third_of_a_small_screen(
        self, browser: Browser, demo: Server, width: int, height: int
    ) -> None:
        with ana_on_a_screen(browser, demo, width, height) as page:
            jump = page.get_by_role("navigation", name="Sections of this customer")
            jump.get_by_role("link", name="Consent").click()
            heading = page.get_by_role("heading", name="Consent", level=2)
            expect(heading).to_be_in_viewport()
            bar = page.get_by_role("banner").bounding_box()
            top = heading.bounding_box()
            assert bar is not None
            assert top is not None
            assert top["y"] >= bar["y"] + bar["height"], (top, bar)
            if width < 1024:  # 1280 px at 400 %, or a phone: the bar scrolls away with the page
                assert bar["y"] + bar["height"] <= 0, bar

    @pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
    def test_every_target_is_big_enough_to_hit_on_a_desktop_and_a_phone(
        self, browser: Browser, demo: Server, width: int, height: int
    ) -> None:
        """WCAG 2.2 SC 2.5.8: whatever an agent clicks or taps, but a link in a sentence, is at
        least 24 by 24 CSS px: on the sign-in form, the search, a profile with its forms and
        filters, and the page that says a thing is not found."""
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.goto(f"{demo.base}/console")
            expect(page.get_by_role("heading", name="c360 console")).to_be_visible()
            seen = {"sign-in": small_targets(page)}
            sign_in(page, demo.demo_keys["agent"])
            expect(page.get_by_role("heading", name="Find a customer")).to_be_visible()
            page.goto(f"{demo.base}/console?q=ana")
            expect(page.locator(".match").first).to_be_visible(timeout=15_000)
            seen["search"] = small_targets(page)
            page.goto(f"{demo.base}/console/lookup?phone={quote(ANA_RINGS)}")
            profile_ready(page)
            expect(page.locator(".filters input[type=checkbox]").first).to_be_visible()
            expect(page.locator(".wish input[type=radio]").first).to_be_visible()
            seen["profile"] = small_targets(page)
            page.goto(f"{demo.base}/console/no-such-page")
            expect(page.get_by_role("link", name="Back to the console")).to_be_visible()
            seen["not found"] = small_targets(page)
        finally:
            context.close()
        small = {where: found for where, found in seen.items() if found}
        assert small == {}, f"under {TARGET_PX} px: {json.dumps(small, indent=1)}"

    @pytest.mark.parametrize(("width", "height"), [(1280, 900), (768, 1024)])
    def test_usable_at_desktop_and_tablet_width(
        self, browser: Browser, demo: Server, width: int, height: int
    ) -> None:
        with ana_on_a_screen(browser, demo, width, height) as page:
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{overflow} px wider than a {width} px screen"
            for section in ("#reach", "#attention", "#who", "#history", "#consent", "#actions"):
                box = page.locator(section).bounding_box()
                assert box is not None, section
                assert box["x"] >= 0, section
                assert box["x"] + box["width"] <= width, section
            if width < 1024:
                save_screenshot(page, "console-profile-tablet")

    def test_the_timeline_loads_as_it_scrolls_and_filters_by_kind(
        self, page: Page, demo: Server
    ) -> None:
        tom = demo.graphql(
            '{ profileByIdentifier(type: EMAIL, value: "tom.becker@example.org") '
            "{ ... on Profile { id } } }"
        )["profileByIdentifier"]["id"]
        contacts = " ".join(
            f'c{i}: recordContact(input: {{profileId: "{tom}", channel: POSTAL, purpose: "service",'
            f' outcome: DELIVERED, externalId: "letter-{i}"}}) {{ __typename }}'
            for i in range(25)
        )
        demo.graphql(f"mutation {{ {contacts} }}")
        logged = demo.graphql(
            f'{{ profile(id: "{tom}") {{ ... on Profile {{ timeline(first: 100, '
            "kinds: [OUTBOUND_CONTACT]) { edges { cursor } } } } }"
        )["profile"]["timeline"]["edges"]
        assert len(logged) > 20  # more than one page
        pages: list[str] = []

        def count_pages(request: Request) -> None:
            if request.url.endswith("/console/graphql") and "ConsoleTimeline" in (
                request.post_data or ""
            ):
                pages.append(request.post_data or "")

        page.on("request", count_pages)
        open_console(page, demo, "agent", f"/console/profile/{tom}")
        profile_ready(page)
        timeline = page.locator("#history .timeline > li")
        expect(timeline).to_have_count(20)
        page.locator("#history").get_by_label("Contact made").check()
        expect(timeline.first).to_contain_text("to the customer for service")
        page.locator("#history .sentinel").scroll_into_view_if_needed()
        expect(page.locator("#history")).to_contain_text(
            f"That is everything: {len(logged)} records."
        )
        expect(timeline).to_have_count(len(logged))
        for item in timeline.all_inner_texts():
            assert "Contact made" in item
        assert len(pages) >= 3  # the first page, the filtered first page, the next one

    def test_errors_are_messages_never_a_blank_page(self, page: Page, demo: Server) -> None:
        open_console(page, demo, "agent", "/console/profile/0123456789abcdef01234567")
        expect(page.get_by_role("heading", name="Customer not found")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text(re.compile(r"^No profile with id"))

        def unreachable(route: Route) -> None:
            route.abort()

        page.route("**/console/graphql", unreachable)
        page.goto(f"{demo.base}/console?q=ana")
        expect(page.get_by_role("alert")).to_contain_text("The server cannot be reached")
        page.unroute("**/console/graphql")

        def store_down(route: Route) -> None:
            body = {"errors": [{"message": "down", "extensions": {"code": "StoreUnavailable"}}]}
            route.fulfill(status=503, body=json.dumps(body), content_type="application/json")

        page.route("**/console/graphql", store_down)
        page.goto(f"{demo.base}/console/profile/0123456789abcdef01234567")
        expect(page.get_by_role("alert")).to_contain_text("The data store is not answering")
        page.unroute("**/console/graphql")
        response = page.goto(f"{demo.base}/console/nowhere")
        assert response is not None
        assert response.status == 404
        expect(page.get_by_role("alert")).to_contain_text("There is no such page")

    def test_a_refusal_from_the_api_reads_as_a_sentence(self, page: Page, demo: Server) -> None:
        """Her answer is acknowledged elsewhere while the agent has the page open: the API's
        Conflict ("acknowledged at …") is shown from a capital letter."""
        email = "kai.berg@example.com"
        answered = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        survey = {
            "kind": "survey_response",
            "source": "surveys",
            "external_id": "nps-5901",
            "occurred_at": answered.isoformat(),
            "identifiers": [{"type": "email", "value": email}],
            "survey_type": "nps",
            "score": 4,
            "comment": "Nobody called back.",
            "touchpoint": "service",
        }
        send_records(demo, [survey])
        open_console(page, demo, "agent", f"/console/lookup?email={quote(email)}")
        profile_ready(page)
        answer = page.locator("#history li", has_text="Nobody called back.").filter(
            has=page.get_by_role("button", name="Acknowledge feedback")
        )
        answer.get_by_role("button", name="Acknowledge feedback").click()
        done = demo.graphql(
            "mutation($p: ID!, $r: ID!) { acknowledgeFeedback(profileId: $p, recordId: $r)"
            " { __typename } }",
            variables={"p": profile_id(page), "r": "surveys:survey_response:nps-5901"},
        )
        assert done["acknowledgeFeedback"]["__typename"] == "Feedback"
        answer.get_by_role("form", name="Acknowledge this feedback").get_by_role(
            "button", name="Acknowledge"
        ).click()
        expect(answer.locator(".notice.error")).to_have_text(re.compile(r"^Acknowledged at \d"))


class TestConsent:
    def test_what_is_missing_is_said_with_the_field_it_is_about(
        self, page: Page, demo: Server
    ) -> None:
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        consent = page.get_by_role("form", name="Record a consent change")
        note = consent.get_by_label("Note (required, kept as evidence)")
        note.fill("Asked on the phone.")
        consent.get_by_role("button", name="Record consent").click()
        wishes = consent.get_by_role("group", name="What the customer wants")
        expect(wishes).to_have_accessible_description(
            "Choose what the customer wants for at least one purpose."
        )
        expect(wishes.get_by_role("radio").first).to_be_focused()

        consent.get_by_role("group", name="Surveys", exact=True).get_by_label("Wants it").check()
        note.fill("   ")  # a note of spaces only: the browser's own check lets it through
        consent.get_by_role("button", name="Record consent").click()
        expect(note).to_be_focused()
        expect(note).to_have_attribute("aria-invalid", "true")
        expect(note).to_have_accessible_description("Write a note: it is kept as the evidence.")
        note.fill("Asked on the phone for survey e-mails.")
        expect(note).not_to_have_attribute("aria-invalid", "true")
        expect(note).to_have_accessible_description("")

        preference = page.get_by_role("form", name="Record a preferred channel")
        pnote = preference.get_by_label("Note (required, kept as evidence)")
        pnote.fill(" ")
        preference.get_by_role("button", name="Record preference").click()
        expect(pnote).to_be_focused()
        expect(pnote).to_have_attribute("aria-invalid", "true")
        expect(pnote).to_have_accessible_description("Write a note: it is kept as the evidence.")

    def test_a_consent_recorded_here_names_the_agent_who_recorded_it(
        self, page: Page, demo: Server
    ) -> None:
        note = "On the phone: no more marketing e-mails."
        email = "mia.holm@example.com"
        mia = {
            **person("C-9101", "Mia", "Holm"),
            "identifiers": [
                {"type": "external", "source": "crm", "value": "C-9101"},
                {"type": "email", "value": email},
            ],
        }
        send_records(demo, [mia])
        open_console(page, demo, "agent", f"/console/lookup?email={quote(email)}")
        profile_ready(page)
        consent = page.get_by_role("form", name="Record a consent change")
        consent.get_by_label("Channel").select_option("EMAIL")
        consent.get_by_role("group", name="Marketing", exact=True).get_by_label(
            "Does not want it"
        ).check()
        consent.get_by_label("Note (required, kept as evidence)").fill(note)
        consent.get_by_role("button", name="Record consent").click()
        expect(consent.get_by_role("status")).to_contain_text("E-mail, marketing: opted out")

        actor = f"key:{demo.demo_keys['agent'].split('_')[1]} (demo:agent)"
        row = page.locator("#consent table tr", has_text=note)
        expect(row.locator("td").last).to_have_text(f"Agent, by {actor}: “{note}”")
        found = demo.graphql(
            "query($id: ID!) { profile(id: $id) { ... on Profile {"
            " consents { channel purpose origin actor source } } } }",
            variables={"id": profile_id(page)},
        )["profile"]["consents"]
        assert {
            "channel": "EMAIL",
            "purpose": "marketing",
            "origin": "AGENT",
            "actor": actor,
            "source": "c360",
        } in found


class TestHistory:
    def test_a_return_names_its_order_as_the_customer_knows_it(
        self, page: Page, demo: Server
    ) -> None:
        # Ana returned the trail runners of Shopify's order 5001, her order #1042.
        open_console(page, demo, "agent", f"/console/lookup?phone={quote(ANA_RINGS)}")
        profile_ready(page)
        returned = page.locator("#history .items li", has=page.locator(".kind-return")).first
        expect(returned.locator(".item-title")).to_have_text(
            re.compile(r"^Return of order #1042, .*: Too small$")
        )
        # A return of an order c360 never received names the id it has.
        email = "ola.nord@example.com"
        unknown_order = {
            "kind": "return",
            "source": "shopify",
            "external_id": "r-399",
            "occurred_at": "2024-05-07T10:00:00Z",
            "identifiers": [{"type": "email", "value": email}],
            "order_external_id": "4999",
            "items": [{"sku": "SK-01", "quantity": 1}],
            "amount": {"amount": 995, "currency": "EUR"},
        }
        send_records(demo, [unknown_order])
        page.goto(f"{demo.base}/console/lookup?email={quote(email)}")
        profile_ready(page)
        returned = page.locator("#history .items li", has=page.locator(".kind-return")).first
        expect(returned.locator(".item-title")).to_have_text(re.compile(r"^Return of order 4999, "))


class TestReach:
    def test_a_call_back_not_allowed_says_why(self, page: Page, demo: Server) -> None:
        # Wei Li gave an e-mail address and never a number.
        open_console(page, demo, "agent", "/console/lookup?email=li.wei%40example.net")
        profile_ready(page)
        expect(call_back(page)).to_have_text("not allowed: no phone number")

    def test_do_not_contact_says_its_reason_to_those_who_may_read_it(
        self, browser: Browser, demo: Server
    ) -> None:
        # Tom Becker asked to be left alone after a complaint: an agent's note, case text. It
        # refuses every channel, a call back and the channel for service alike.
        reason = "asked to be left alone after a complaint (case 88200)"
        for role, said in [
            ("agent", f"do not contact: {reason}"),
            ("marketing", "do not contact (reason hidden for your role)"),
        ]:
            context = browser.new_context()
            try:
                page = context.new_page()
                open_console(page, demo, role, "/console/lookup?email=tom.becker%40example.org")
                profile_ready(page)
                expect(call_back(page)).to_have_text(f"not allowed: {said}")
                warning = page.locator("#reach .no-channel")
                expect(warning).to_contain_text("No channel may be used for service now.")
                expect(warning.locator(".refusals li")).to_have_text(
                    [re.compile(r"^(E-mail|SMS|Phone|WhatsApp)(, .+)?: " + re.escape(said) + "$")]
                )
            finally:
                context.close()

    def test_quiet_hours_say_until_when_in_their_time(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/console")
        said = page.evaluate(
            """async () => {
              const { whyNot } = await import("/static/console/profile.js");
              const prefs = { effectiveQuietHours: { start: "21:00:00", end: "08:00:00" } };
              const call = (code) => ({ channel: "PHONE", purpose: "service",
                                        reasons: [{ code, message: "…" }] });
              return [whyNot(call("QUIET_HOURS"), prefs), whyNot(call("PURPOSE_OPTED_OUT"), prefs)];
            }"""
        )
        assert said == ["quiet hours until 08:00 their time", "opted out of service by phone"]


def call_back(page: Page) -> Any:
    """What "How to reach them" says of calling the customer back."""
    return page.locator("#reach dl div", has=page.get_by_text("Call back", exact=True)).locator(
        "dd"
    )


class TestWording:
    def test_times_past_are_whole_units_and_east_asian_names_family_name_first(
        self, page: Page, demo: Server
    ) -> None:
        page.goto(f"{demo.base}/console")
        said = page.evaluate(
            """async () => {
              const f = await import("/static/console/format.js");
              const now = Date.parse("2026-12-07T12:00:00Z");
              return [
                f.relative("2024-06-02T12:00:00Z", now),
                f.relative("2026-12-05T00:00:00Z", now),
                f.personName("小明", "王"),
                f.personName("민수", "김"),
                f.personName("Ana", "García"),
                f.personName("Ming", "王"),
                f.personName(null, "García"),
              ];
            }"""
        )
        assert said == [
            "2 years ago",  # two and a half: never more than has passed
            "2 days ago",
            "王小明",
            "김민수",
            "Ana García",
            "Ming 王",
            "García",
        ]


def scroll_to_top_of(page: Page, element: Any) -> None:
    """Scroll so that ``element`` starts just below the console's sticky top bar."""
    element.evaluate("e => e.closest('.follow-ups, section').scrollIntoView()")
    page.evaluate("window.scrollBy(0, -document.querySelector('.topbar').offsetHeight - 8)")


def focus_by_tab(page: Page, target: Callable[[], Any], presses: int = 60) -> None:
    """Press Tab until ``target`` has the focus (it must be reachable from the keyboard)."""
    for _ in range(presses):
        if target().evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"not reached with {presses} presses of Tab")
