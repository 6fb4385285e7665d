"""The KPI dashboard (``/console/kpis``) in headless Chromium, over a served app holding a
seeded population: signing in with a key, trends with the period before, the NPS split, bars by
segment, the table of every KPI with its definition; and a key that may not read KPIs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import save_screenshot
from tests.kpis.population import population
from tests.served import Server, serving

SPAN = "?from=2026-09-01&through=2026-11-30&interval=WEEK"


@pytest.fixture(scope="module")
def scorecard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo app with a population of 150 customers over three months, sent as a connector
    would (POST /ingest/canonical)."""
    with serving(tmp_path_factory.mktemp("kpis") / "data") as server:
        made = population(7, customers=150)
        body = "".join(json.dumps(r) + "\n" for r in made.records)
        response = httpx.post(
            f"{server.base}/ingest/canonical",
            content=body.encode(),
            headers={
                "authorization": f"Bearer {server.demo_keys['connector']}",
                "content-type": "application/x-ndjson",
            },
            timeout=120,
        )
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
        # The README's docs/screenshots/kpis.png is this picture.
        picture = save_screenshot(page, "kpis-dashboard")
        page.screenshot(path=str(picture), full_page=True)

    def test_a_connector_key_is_refused_and_asked_again(
        self, page: Page, scorecard: Server
    ) -> None:
        sign_in(page, scorecard, "connector")
        refusal = page.locator("#sign-in-error")
        expect(refusal).to_contain_text("connector keys lack", timeout=15_000)
        expect(page.locator("#sign-in-form")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        expect(page.locator("#kpi-table tbody tr")).to_have_count(0)
