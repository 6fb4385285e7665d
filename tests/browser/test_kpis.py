"""The KPI dashboard (``/console/kpis``) in headless Chromium, over a served app holding a
seeded population: signing in with a key, trends with the period before, the NPS split, bars by
segment, the holdout's difference with its interval, the table of every KPI with its
definition; and a key that may not read KPIs."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.helpers import contrast, save_screenshot, small_targets
from tests.kpis.population import population
from tests.served import HTTP, Server, push_lines, serving

# The population's three months up to today, and today: follow-ups open when their trigger is
# ingested.
THROUGH = dt.datetime.now(dt.UTC).date()
FROM = THROUGH - dt.timedelta(days=90)
SPAN = f"?from={FROM}&through={THROUGH}&interval=WEEK"
HOLDOUT_RULE = {
    "id": "nps-detractor",
    "name": "NPS detractor",
    "team": "customer-care",
    "conditions": [{"kind": "SURVEY_SCORE_AT_MOST", "surveyType": "NPS", "score": 6}],
    "holdout": 0.5,
}


def graphql(server: Server, role: str, query: str, **variables: Any) -> Any:
    response = HTTP.post(
        f"{server.base}/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {server.demo_keys[role]}"},
        timeout=60,
    )
    body = response.json()
    assert body.get("errors") is None, body
    return body["data"]


@pytest.fixture(scope="module")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo app with a population of 150 customers over the last three months, sent as a
    connector would (POST /ingest/canonical), after an admin held out half of the NPS detractors'
    follow-ups (the holdout the difference is measured against)."""
    with serving(tmp_path_factory.mktemp("kpis") / "data") as server:
        applied = graphql(
            server,
            "admin",
            "mutation($rule: AlertRuleInput!) { applyAlertRule(rule: $rule) { __typename } }",
            rule=HOLDOUT_RULE,
        )
        assert applied["applyAlertRule"]["__typename"] == "AlertRule"
        start = dt.datetime.combine(FROM, dt.time(), dt.UTC)
        made = population(7, customers=150, start=start, days=90)
        body = "".join(json.dumps(r) + "\n" for r in made.records)
        response = push_lines(server.base, "canonical", body, server.demo_keys["connector"])
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0
        yield server


def sign_in(page: Page, server: Server, role: str, query: str = SPAN) -> None:
    page.goto(f"{server.base}/console/kpis{query}")
    form = page.locator("#sign-in-form")
    expect(form).to_be_visible(timeout=15_000)
    form.get_by_label("API key").fill(server.demo_keys[role])
    form.get_by_role("button", name="Sign in").click()


class TestDashboard:
    def test_marketing_reads_the_scorecard_split_by_lifecycle_stage(
        self, page: Page, scorecard: Server
    ) -> None:
        sign_in(page, scorecard, "marketing", SPAN + "&groupBy=LIFECYCLE_STAGE")
        root = page.locator("#kpis[data-loaded=true]")
        expect(root).to_be_attached(timeout=20_000)
        # Trends: a chart per trend KPI, each with the period before drawn beside it.
        charts = page.locator("#trends svg")
        expect(charts.first).to_be_visible()
        assert charts.count() >= 3
        # NPS with its promoters, passives and detractors.
        nps = page.locator("#nps")
        for band in ("promoters", "passives", "detractors"):
            expect(nps).to_contain_text(band)
        # Bars by segment: the lifecycle stages of the people who answered.
        expect(page.locator("#segments svg, #segments table").first).to_be_visible()
        # Every KPI with its definition.
        table = page.locator("#kpi-table tbody")
        expect(table).to_contain_text("Net Promoter Score")
        expect(table).to_contain_text("Repurchase rate")
        expect(table).to_contain_text("promoters")
        assert table.locator("tr").count() >= 20
        expect(page.locator("#zone")).to_contain_text("UTC")
        self.check_the_holdout(page, scorecard)
        # The README's docs/screenshots/kpis.png is this picture.
        picture = save_screenshot(page, "kpis-dashboard")
        page.screenshot(path=str(picture), full_page=True)

    @staticmethod
    def check_the_holdout(page: Page, server: Server) -> None:
        """The holdout's difference and its interval on the page are the API's (the same span),
        with the two groups it compares."""
        figure = graphql(
            server,
            "marketing",
            """query($from: DateTime!, $to: DateTime!) {
              kpis(from: $from, to: $to, only: [HOLDOUT_CHURN_DIFFERENCE]) {
                ... on KpiReport { values { value intervalLow intervalHigh sampleSize
                  parts { name count total } } } } }""",
            **{"from": f"{FROM}T00:00:00Z", "to": f"{THROUGH + dt.timedelta(days=1)}T00:00:00Z"},
        )["kpis"]["values"][0]
        low, high = figure["intervalLow"], figure["intervalHigh"]
        assert low is not None, figure
        assert high is not None, figure
        assert low <= figure["value"] <= high
        box = page.locator("#holdout")
        expect(box.locator("[data-holdout=difference]")).to_have_text(points(figure["value"]))
        stated = box.locator("[data-holdout=interval]")
        expect(stated).to_have_text(f"95 % interval: {points(low)} to {points(high)}")
        assert float(stated.get_attribute("data-low") or "nan") == low
        assert float(stated.get_attribute("data-high") or "nan") == high
        expect(box.locator("[data-holdout=interval-bar]")).to_be_attached()
        groups = {p["name"].split(": ")[0]: p["total"] for p in figure["parts"]}
        assert set(groups) == {"followed up", "held out"}, figure
        assert all(groups.values()), figure
        for group, customers in groups.items():
            row = box.locator(f"tr[data-group='{group}'] td").first
            expect(row).to_have_text(str(customers))
        # The table of every KPI gives the interval too.
        holdout_row = page.locator("#kpi-table tr[data-kpi=HOLDOUT_CHURN_DIFFERENCE]")
        expect(holdout_row).to_contain_text(re.compile(re.escape(f"95 % {points(low)} to")))

    def test_suppressed_periods_are_said_and_a_failed_span_leaves_no_figures_behind(
        self, page: Page, scorecard: Server
    ) -> None:
        # By day, many of the population's days rest on fewer than five people.
        start = THROUGH - dt.timedelta(days=20)
        sign_in(page, scorecard, "agent", f"?from={start}&through={THROUGH}&interval=DAY")
        expect(page.locator("#kpis[data-loaded=true]")).to_be_attached(timeout=20_000)
        revenue = graphql(
            scorecard,
            "agent",
            """query($from: DateTime!, $to: DateTime!) {
              kpis(from: $from, to: $to, interval: DAY, only: [REVENUE]) {
                ... on KpiReport { values { suppressed converted currency } } } }""",
            **{"from": f"{start}T00:00:00Z", "to": f"{THROUGH + dt.timedelta(days=1)}T00:00:00Z"},
        )["kpis"]["values"]
        # The chart's line: the reporting currency's, else the first currency's.
        days = [v for v in revenue if v["converted"]] or [
            v for v in revenue if v["currency"] == revenue[0]["currency"]
        ]
        hidden = sum(v["suppressed"] for v in days)
        assert 0 < hidden < len(days), days  # days suppressed, and days with nobody buying
        chart = page.locator("#trends figure[data-kpi=REVENUE]")
        expect(chart.locator("[data-suppressed=true]")).to_have_count(hidden)
        expect(chart).to_contain_text(
            f"{hidden} of {len(days)} periods suppressed (\u00d7), left out of the line"
        )

        # The segment picker is labelled apart from its heading, which is the heading alone.
        expect(page.get_by_role("heading", name="By segment", exact=True)).to_be_visible()
        expect(page.get_by_label("KPI", exact=True)).to_be_visible()

        # A span the page cannot show: what the last one drew goes with it.
        controls = page.locator("#controls")
        controls.get_by_label("From").fill(str(THROUGH))
        controls.get_by_label("Through").fill(str(start))
        controls.get_by_role("button", name="Show").click()
        expect(page.locator("#status")).to_have_text("Choose a start and an end on or after it.")
        expect(page.locator("#kpi-table tbody tr")).to_have_count(0)
        expect(page.locator("#trends figure")).to_have_count(0)
        # And one the server refuses (more days than a report holds).
        controls.get_by_label("From").fill(str(THROUGH - dt.timedelta(days=3000)))
        controls.get_by_label("Through").fill(str(THROUGH))
        controls.get_by_role("button", name="Show").click()
        expect(page.locator("#status")).to_contain_text("Could not load the KPIs: more than")
        expect(page.locator("#kpi-table tbody tr")).to_have_count(0)
        expect(page.locator("#kpis[data-loaded=true]")).to_have_count(0)

    @pytest.mark.parametrize("width", [768, 400])
    def test_a_tablet_or_a_phone_reads_it_without_scrolling_sideways(
        self, page: Page, scorecard: Server, width: int
    ) -> None:
        page.set_viewport_size({"width": width, "height": 900})
        sign_in(page, scorecard, "marketing", SPAN + "&groupBy=LIFECYCLE_STAGE")
        expect(page.locator("#kpis[data-loaded=true]")).to_be_attached(timeout=20_000)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow} px wider than a {width} px screen"
        # Each chart is drawn at a size that can be read: no narrower than half the screen.
        chart = page.locator("#trends figure[data-kpi=REVENUE] svg").bounding_box()
        assert chart is not None
        assert chart["width"] >= width / 2 - 60, chart
        # The table of every KPI, too wide for a phone, scrolls in its own box.
        table = page.locator("#kpi-table")
        expect(table).to_contain_text("Net Promoter Score")

    @pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
    def test_every_target_is_big_enough_to_hit_on_a_desktop_and_a_phone(
        self, page: Page, scorecard: Server, width: int, height: int
    ) -> None:
        """WCAG 2.2 SC 2.5.8: the sign-in form's and the dashboard's controls, at least 24 by 24
        CSS px."""
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{scorecard.base}/console/kpis{SPAN}&groupBy=LIFECYCLE_STAGE")
        form = page.locator("#sign-in-form")
        expect(form).to_be_visible(timeout=15_000)
        assert small_targets(page) == []
        form.get_by_label("API key").fill(scorecard.demo_keys["marketing"])
        form.get_by_role("button", name="Sign in").click()
        expect(page.locator("#kpis[data-loaded=true]")).to_be_attached(timeout=20_000)
        assert small_targets(page) == []

    def test_on_a_phone_the_table_scrolls_sideways_by_keyboard(
        self, page: Page, scorecard: Server
    ) -> None:
        page.set_viewport_size({"width": 320, "height": 700})
        sign_in(page, scorecard, "marketing")
        expect(page.locator("#kpis[data-loaded=true]")).to_be_attached(timeout=20_000)
        scroller = page.get_by_role("region", name="Every KPI")
        assert scroller.evaluate("e => e.scrollWidth > e.clientWidth")
        page.get_by_role("button", name="Show").focus()
        for _ in range(20):
            if scroller.evaluate("e => e === document.activeElement"):
                break
            page.keyboard.press("Tab")
        expect(scroller).to_be_focused()
        page.keyboard.press("ArrowRight")
        expect(scroller).not_to_have_js_property("scrollLeft", 0)

    def test_a_connector_key_is_refused_and_asked_again(
        self, page: Page, scorecard: Server
    ) -> None:
        sign_in(page, scorecard, "connector")
        refusal = page.locator("#sign-in-error")
        expect(refusal).to_contain_text("Connector keys lack", timeout=15_000)
        expect(page.locator("#sign-in-form")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        expect(page.locator("#kpi-table tbody tr")).to_have_count(0)


class TestSigningIn:
    def test_nothing_is_asked_of_the_api_before_a_key_is_given(
        self, page: Page, scorecard: Server
    ) -> None:
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/graphql" in r.url else None)
        page.goto(f"{scorecard.base}/console/kpis{SPAN}")
        expect(page.locator("#sign-in-form")).to_be_visible()
        expect(page.locator("#sign-in-error")).to_be_empty()
        page.wait_for_load_state("networkidle")
        assert asked == []

    def test_the_key_is_asked_in_the_main_landmark_and_a_refusal_is_tied_to_it(
        self, page: Page, scorecard: Server
    ) -> None:
        page.goto(f"{scorecard.base}/console/kpis{SPAN}")
        main = page.get_by_role("main")
        expect(main).to_have_count(1)
        key = main.get_by_label("API key")
        expect(key).to_be_focused()
        expect(key).not_to_have_attribute("aria-invalid", "true")
        key.fill("c360_000000000000_not-a-key")
        main.get_by_role("button", name="Sign in").click()
        expect(key).to_have_attribute("aria-invalid", "true")
        expect(key).to_have_accessible_description(re.compile(r"^Unknown API key"))
        expect(key).to_be_focused()
        text, paper = page.locator("#sign-in-error").evaluate(
            """e => [getComputedStyle(e).color,
                     getComputedStyle(e.closest("form")).backgroundColor]"""
        )
        assert contrast(text, paper) >= 4.5, (text, paper)

    @pytest.mark.parametrize(
        ("typed", "said"),
        [
            ("not-a-key", "This is not a c360 API key"),
            ("c360_000000000000_not-a-key", "Unknown API key"),
        ],
    )
    def test_a_wrong_key_is_said_in_words_about_the_key(
        self, page: Page, scorecard: Server, typed: str, said: str
    ) -> None:
        page.goto(f"{scorecard.base}/console/kpis{SPAN}")
        form = page.locator("#sign-in-form")
        form.get_by_label("API key").fill(typed)
        form.get_by_role("button", name="Sign in").click()
        refusal = page.locator("#sign-in-error")
        expect(refusal).to_contain_text(said)
        expect(refusal).not_to_contain_text("Authorization")
        expect(form.get_by_label("API key")).to_be_focused()
        # The refused key is not kept: opening the page again asks nothing of the API.
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/graphql" in r.url else None)
        page.reload()
        expect(form).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert asked == []


# What each chart is read by, and which of its colours paints it.
GRAPHICS = {
    "#trends .line.current": "stroke",
    "#trends .line.previous": "stroke",
    "#trends .dot": "fill",
    "#nps .band": "fill",
    "#segments .bar.current": "fill",
    "#segments .bar.previous": "fill",
    "#holdout [data-holdout=interval-bar]": "stroke",
}


def painted(page: Page) -> list[tuple[str, str, str]]:
    """Each graphic's colour as the browser paints it (its opacity folded in) and the colour of
    the box it is drawn on, by selector; the NPS legend's keys too."""
    found: list[tuple[str, str, str]] = page.evaluate(
        """(graphics) => {
          const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
          const under = (e) => {
            for (let p = e.parentElement; p; p = p.parentElement) {
              const [r, g, b, a = 1] = rgba(getComputedStyle(p).backgroundColor);
              if (a > 0) return `rgb(${r}, ${g}, ${b})`;
            }
            return "rgb(255, 255, 255)";
          };
          const seen = (style, colour) => {
            const [r, g, b, a = 1] = rgba(colour);
            return `rgba(${r}, ${g}, ${b}, ${a * Number(style.opacity)})`;
          };
          const found = [];
          for (const [selector, property] of Object.entries(graphics)) {
            for (const e of document.querySelectorAll(selector)) {
              const style = getComputedStyle(e);
              found.push([selector, seen(style, style[property]), under(e)]);
            }
          }
          for (const e of document.querySelectorAll("#nps .legend li")) {
            const key = getComputedStyle(e, "::before");
            found.push([`legend ${e.className}`, seen(key, key.backgroundColor), under(e)]);
          }
          return found;
        }""",
        GRAPHICS,
    )
    return found


class TestCharts:
    def test_what_a_chart_is_read_by_stands_out_from_its_background(
        self, page: Page, scorecard: Server
    ) -> None:
        """WCAG 1.4.11: the lines, bars, bands and keys at least 3:1 against what they are drawn
        on; the period before told from the period by its dashes, not its colour alone."""
        # The last six weeks: the six before them are in the population too, so every chart
        # draws the period before.
        start = THROUGH - dt.timedelta(days=41)
        span = f"?from={start}&through={THROUGH}&interval=WEEK&groupBy=LIFECYCLE_STAGE"
        sign_in(page, scorecard, "marketing", span)
        expect(page.locator("#kpis[data-loaded=true]")).to_be_attached(timeout=20_000)
        expect(page.locator("#segments .bar.previous").first).to_be_attached()
        found = painted(page)
        drawn = {selector for selector, _, _ in found}
        expected = set(GRAPHICS) | {f"legend {b}" for b in ("promoters", "passives", "detractors")}
        assert drawn == expected, found
        faint = sorted(
            {(s, c, b, round(contrast(c, b), 2)) for s, c, b in found if contrast(c, b) < 3}
        )
        assert faint == [], faint
        dashes = page.locator("#trends figure[data-kpi=REVENUE] path.line")
        series = dashes.evaluate_all(
            "ps => ps.map(p => [p.dataset.series, getComputedStyle(p).strokeDasharray])"
        )
        assert dict(series)["current"] == "none", series
        assert dict(series)["previous"] != "none", series
        # The NPS bands are parted by the white they are drawn on: no two colours touch.
        bands = page.locator("#nps .band").evaluate_all(
            "bs => bs.map(b => getComputedStyle(b)).map(s => [s.stroke, parseFloat(s.strokeWidth)])"
        )
        assert all(stroke == "rgb(255, 255, 255)" and width >= 1 for stroke, width in bands), bands

    def test_a_span_with_no_revenue_has_an_axis_of_a_whole_unit(
        self, page: Page, scorecard: Server
    ) -> None:
        def no_revenue(route: Route) -> None:
            answer = route.fetch()
            body = answer.json()
            if not (body.get("data") or {}).get("trend"):
                route.fulfill(response=answer)
                return
            for row in body["data"]["trend"]["values"]:
                if row["kpi"] == "REVENUE":
                    row.update(value=0, suppressed=False)
                    if row.get("previous"):
                        row["previous"].update(value=0, suppressed=False)
            route.fulfill(response=answer, json=body)

        page.route("**/graphql", no_revenue)
        sign_in(page, scorecard, "agent")
        expect(page.locator("#kpis[data-loaded=true]")).to_be_attached(timeout=20_000)
        ticks = page.locator("#trends figure[data-kpi=REVENUE] text.tick")
        high, low = ticks.nth(0), ticks.nth(1)
        expect(low).to_have_text(re.compile(r"^\D*0\.00$"))
        expect(high).to_have_text(re.compile(r"^\D*1\.00$"))


def points(value: float) -> str:
    """A difference of two shares as the page writes it: signed percentage points."""
    # As JavaScript's toFixed rounds: the exact value, a tie away from zero.
    size = Decimal(abs(value * 100)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    sign = "\u2212" if value < 0 else "+"
    return f"{sign}{size} pp"
