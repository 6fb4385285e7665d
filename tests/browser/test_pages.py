"""The pages as a person uses them, in headless Chromium: GraphiQL with a key and the README's
query, the API documentation, and the links customers follow from an e-mail."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import (
    contrast,
    replace_editor_text,
    save_screenshot,
    small_targets,
)
from tests.readme import examples
from tests.served import Server

README_QUERY = next(e for e in examples() if e.language == "graphql").text
LI_WEI = (
    '{ profileByIdentifier(type: EMAIL, value: "li.wei@example.net") { ... on Profile { id } } }'
)


def _profile_id(demo: Server, query: str) -> str:
    profile_id: str = demo.graphql(query)["profileByIdentifier"]["id"]
    return profile_id


def _run_in_graphiql(page: Page, query: str) -> Locator:
    """Write ``query`` into GraphiQL's editor, run it, and return the response pane."""
    replace_editor_text(page, ".graphiql-query-editor", query)
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
    return page.locator(".graphiql-response")


def _colours(page: Page, selectors: list[str], within: str) -> list[tuple[str, str, str]]:
    """Each element's text colour and the colour under it (its boxes' backgrounds, some
    translucent, laid over each other on the white page), by selector."""
    found: list[tuple[str, str, str]] = page.evaluate(
        """([selectors, within]) => {
          const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
          const under = (e) => {
            const layers = [];
            for (let p = e; p; p = p.parentElement) {
              layers.push(rgba(getComputedStyle(p).backgroundColor));
            }
            let painted = [255, 255, 255];
            for (const [r, g, b, a = 1] of layers.reverse()) {
              if (r === undefined) continue;
              painted = [r, g, b].map((v, i) => a * v + (1 - a) * painted[i]);
            }
            return `rgb(${painted.join(", ")})`;
          };
          return selectors.flatMap((selector) =>
            [...document.querySelectorAll(`${within} ${selector}`)].map((e) =>
              [selector, getComputedStyle(e).color, under(e)]));
        }""",
        [selectors, within],
    )
    return found


class TestGraphiQL:
    def test_runs_the_readme_query_with_a_key(self, graphiql: Callable[[str], Page]) -> None:
        page = graphiql("agent")
        response = _run_in_graphiql(page, README_QUERY)
        expect(response).to_contain_text("ana.garcia@example.com", timeout=15_000)
        expect(response).to_contain_text('"__typename": "Profile"')
        save_screenshot(page, "graphiql-readme-query")

    def test_without_a_key_says_what_is_missing(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/graphql")
        page.locator(".graphiql-query-editor .CodeMirror").first.wait_for()
        expect(page.locator(".graphiql-editor-tool")).to_contain_text("PASTE-AN-API-KEY-HERE")
        page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
        response = page.locator(".graphiql-response")
        expect(response).to_contain_text("Unauthenticated", timeout=15_000)
        expect(response).to_contain_text("No API key yet: paste one into the Headers tab below")

    def test_each_editor_has_a_name(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/graphql")
        page.locator(".graphiql-query-editor .CodeMirror").first.wait_for()
        for name in ("Query", "Headers", "Response"):
            expect(page.get_by_role("textbox", name=name, exact=True)).to_have_count(1)
        headers = page.get_by_role("button", name="Headers", exact=True)
        variables = page.get_by_role("button", name="Variables", exact=True)
        expect(headers).to_have_attribute("aria-pressed", "true")
        expect(variables).to_have_attribute("aria-pressed", "false")
        variables.click()
        expect(variables).to_have_attribute("aria-pressed", "true")
        expect(headers).to_have_attribute("aria-pressed", "false")
        expect(page.get_by_role("textbox", name="Variables", exact=True)).to_be_visible()

    def test_its_text_is_readable_on_its_panes(self, page: Page, demo: Server) -> None:
        page.emulate_media(color_scheme="light")
        page.goto(f"{demo.base}/graphql")
        page.locator(".graphiql-query-editor .cm-property").first.wait_for()
        found = _colours(
            page,
            [".cm-property", ".cm-attribute", ".cm-string", ".cm-def", ".CodeMirror-linenumber"],
            within=".graphiql-container",
        )
        assert {token for token, _, _ in found} >= {".cm-property", ".cm-string"}, found
        low = [f for f in found if contrast(f[1], f[2]) < 4.5]
        assert low == [], low

    def test_marketing_sees_masked_contact_points(self, graphiql: Callable[[str], Page]) -> None:
        response = _run_in_graphiql(graphiql("marketing"), README_QUERY)
        expect(response).to_contain_text("a•••@example.com", timeout=15_000)
        expect(response).not_to_contain_text("ana.garcia@example.com")


class TestApiDocs:
    def test_swagger_ui_lists_the_operations(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/docs")
        operations = page.locator(".opblock-summary-path")
        expect(operations.first).to_be_visible(timeout=15_000)
        paths = operations.all_inner_texts()
        for path in ("/health", "/ingest/{connector}", "/audiences/export"):
            assert any(path in shown for shown in paths), (path, paths)

    def test_swagger_ui_text_is_readable(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/docs")
        expect(page.locator(".opblock-summary-method").first).to_be_visible(timeout=15_000)
        found = _colours(
            page,
            [".opblock-summary-method", ".info .title small pre", ".info a", ".btn.authorize"],
            within=".swagger-ui",
        )
        methods = {f[2] for f in found if f[0] == ".opblock-summary-method"}
        assert len(methods) >= 2, found  # GET and POST at least
        low = [f for f in found if contrast(f[1], f[2]) < 4.5]
        assert low == [], low

    def test_redoc_renders_the_reference(self, page: Page, demo: Server) -> None:
        page.goto(f"{demo.base}/redoc")
        expect(page.get_by_role("heading", name="c360").first).to_be_visible(timeout=15_000)
        expect(page.locator("body")).to_contain_text("/ingest/{connector}")

    def test_redoc_names_its_choices_and_its_text_is_readable(
        self, page: Page, demo: Server
    ) -> None:
        page.goto(f"{demo.base}/redoc")
        expect(page.locator("#redoc h5").first).to_be_visible(timeout=15_000)
        expect(page.get_by_role("combobox", name="Media type").first).to_be_attached()
        expect(page.get_by_role("combobox", name="Schema").first).to_be_attached()
        assert page.locator("#redoc select:not([aria-label])").count() == 0
        found = _colours(page, ["p code", "h5"], within=".api-content")
        assert {selector for selector, _, _ in found} == {"p code", "h5"}, found
        low = [f for f in found if contrast(f[1], f[2]) < 4.5]
        assert low == [], low


class TestLandmarks:
    def test_what_each_page_draws_is_its_main_content(self, page: Page, demo: Server) -> None:
        for path, drawn in (
            ("/graphql", ".graphiql-query-editor"),
            ("/docs", ".opblock-summary-path"),
            ("/redoc", ".api-content"),
        ):
            page.goto(f"{demo.base}{path}")
            main = page.get_by_role("main")
            expect(main).to_have_count(1)
            expect(main.locator(drawn).first).to_be_visible(timeout=15_000)


class TestCustomerLinks:
    @pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
    def test_each_page_s_button_is_big_enough_to_tap(
        self, page: Page, demo: Server, width: int, height: int
    ) -> None:
        """WCAG 2.2 SC 2.5.8: the one button a customer presses, at least 24 by 24 CSS px on a
        desktop and on a phone (the browser's own button is 21 px tall); the page's style is
        applied, not refused by its Content-Security-Policy (the fixture fails on a refusal)."""
        page.set_viewport_size({"width": width, "height": height})
        li = _profile_id(demo, LI_WEI)
        link = demo.graphql(
            f'{{ contactDecision(profileId: "{li}", channel: EMAIL, purpose: "marketing") '
            "{ ... on ContactDecision { unsubscribeUrl } } }",
            role="marketing",
        )["contactDecision"]["unsubscribeUrl"]
        page.goto(link)
        expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
        assert small_targets(page) == []
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow} px wider than a {width} px screen"

    def test_unsubscribe_page_unsubscribes(self, page: Page, demo: Server) -> None:
        li = _profile_id(demo, LI_WEI)
        decision = demo.graphql(
            f'{{ contactDecision(profileId: "{li}", channel: EMAIL, purpose: "marketing") '
            "{ ... on ContactDecision { allowed unsubscribeUrl } } }",
            role="marketing",
        )["contactDecision"]
        assert decision["allowed"] is True

        page.goto(decision["unsubscribeUrl"])
        expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()

        after = demo.graphql(
            f'{{ contactDecision(profileId: "{li}", channel: EMAIL, purpose: "marketing") '
            "{ ... on ContactDecision { allowed reasons { code } } } }",
            role="marketing",
        )["contactDecision"]
        assert after["allowed"] is False

    def test_double_opt_in_is_confirmed_by_the_customer(self, page: Page, demo: Server) -> None:
        ana = _profile_id(
            demo,
            '{ profileByIdentifier(type: PHONE, value: "+34600123456") { ... on Profile { id } } }',
        )
        recorded = demo.graphql(
            "mutation($input: RecordConsentInput!) { recordConsent(input: $input) "
            "{ __typename ... on ConsentRecorded { status confirmationUrl } } }",
            role="agent",
            variables={
                "input": {
                    "profileId": ana,
                    "channel": "EMAIL",
                    "purpose": "surveys",
                    "status": "OPTED_IN",
                    "contactPoint": "ana.garcia@example.com",
                    "evidence": "asked on the phone",
                }
            },
        )["recordConsent"]
        assert recorded["status"] == "PENDING", recorded

        page.goto(recorded["confirmationUrl"])
        expect(page.get_by_role("heading", name="Confirm your subscription")).to_be_visible()
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()

        consents = demo.graphql(
            "query($id: ID!) { profile(id: $id) { ... on Profile "
            "{ consents { channel purpose status } } } }",
            variables={"id": ana},
        )["profile"]["consents"]
        assert {"channel": "EMAIL", "purpose": "surveys", "status": "OPTED_IN"} in consents, (
            json.dumps(consents)
        )
