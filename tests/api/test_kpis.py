"""KPIs through their doors: ``Query.kpis`` (roles, bad input as InvalidInputError),
``GET /kpis/export`` (CSV and JSON, streamed; 401, 403, 422) and ``c360 kpis``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import httpx
import pytest

from c360.auth.service import Role
from c360.ingest.files import import_file
from c360.services import Services
from tests import factories as f
from tests.helpers import gql, parse_options
from tests.kpis.population import population, write
from tests.served import run_c360

SPAN = {"from": "2026-09-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
QUERY = """
query Kpis($from: DateTime!, $to: DateTime!, $groupBy: [KpiDimension!], $only: [KpiId!]) {
  kpis(from: $from, to: $to, interval: MONTH, compareToPrevious: true, groupBy: $groupBy,
       only: $only) {
    __typename
    ... on KpiReport {
      timeZone minGroupSize groupBy leftOut
      values {
        kpi periodStart value numerator denominator sampleSize currency definition suppressed
        group { dimension value }
        parts { name count total }
        previous { periodStart value }
      }
      definitions { kpi name numerator denominator }
    }
    ... on Error { code message }
  }
}
"""


@pytest.fixture
async def populated(services: Services, tmp_path: Path) -> None:
    made = population(13, customers=60)
    path = write(tmp_path / "population.jsonl", made.records)
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors


@pytest.mark.usefixtures("populated")
class TestGraphQL:
    async def test_agents_read_every_kpi_by_month_with_the_month_before(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        report = (await gql(agent_client, QUERY, **SPAN))["kpis"]
        assert report["__typename"] == "KpiReport"
        assert report["timeZone"] == "UTC"
        months = sorted({v["periodStart"] for v in report["values"]})
        assert months == [
            "2026-09-01T00:00:00+00:00",
            "2026-10-01T00:00:00+00:00",
            "2026-11-01T00:00:00+00:00",
        ]
        kpis = {v["kpi"] for v in report["values"]}
        assert {"REVENUE", "NPS", "REPURCHASE_RATE", "CSAT", "FIRST_RESPONSE_TIME"} <= kpis
        nps = [v for v in report["values"] if v["kpi"] == "NPS"]
        for value in nps:
            assert value["definition"].startswith("Per cent promoters")
            assert value["previous"] is not None
            if value["value"] is not None:
                assert [p["name"] for p in value["parts"]] == [
                    "promoters",
                    "passives",
                    "detractors",
                ]
        revenue = [v for v in report["values"] if v["kpi"] == "REVENUE"]
        assert {v["currency"] for v in revenue} >= {"EUR"}

    async def test_marketing_splits_by_segment_and_small_groups_are_suppressed(
        self, marketing_client: httpx.AsyncClient
    ) -> None:
        report = (
            await gql(
                marketing_client,
                QUERY,
                **SPAN,
                groupBy=["COUNTRY", "SURVEY_TOUCHPOINT"],
                only=["NPS", "AVERAGE_ORDER_VALUE"],
            )
        )["kpis"]
        assert report["leftOut"] == ["AVERAGE_ORDER_VALUE"]  # orders have no touchpoint
        values = report["values"]
        assert {tuple(g["dimension"] for g in v["group"]) for v in values} == {
            ("COUNTRY", "SURVEY_TOUCHPOINT")
        }
        suppressed = [v for v in values if v["suppressed"]]
        assert suppressed  # a handful of answers per country and touchpoint in a month
        for value in suppressed:
            assert (value["value"], value["numerator"], value["sampleSize"]) == (None, None, 0)
            assert value["parts"] == []


@pytest.mark.usefixtures("populated")
class TestExport:
    async def test_csv_has_a_row_per_kpi_and_period_with_its_definition(
        self, agent_client: httpx.AsyncClient
    ) -> None:
        response = await agent_client.get(
            "/kpis/export",
            params={**SPAN, "interval": "month", "group_by": "order_channel", "format": "csv"},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "kpis-20260901-20261201.csv" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert {"kpi", "period_start", "order_channel", "value", "definition"} <= set(rows[0])
        revenue = [r for r in rows if r["kpi"] == "revenue" and r["currency"] == "EUR"]
        assert {r["order_channel"] for r in revenue} == {"online", "in_store"}
        assert all(r["definition"] for r in rows)

    async def test_json_equals_the_graphql_figures(self, agent_client: httpx.AsyncClient) -> None:
        response = await agent_client.get(
            "/kpis/export",
            params={**SPAN, "interval": "month", "format": "json", "kpi": ["nps", "csat"]},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        exported = {
            (r["kpi"].upper(), dt.datetime.fromisoformat(r["period_start"])): r["value"]
            for r in response.json()
        }
        report = (await gql(agent_client, QUERY, **SPAN, only=["NPS", "CSAT"]))["kpis"]
        shown = {
            (v["kpi"], dt.datetime.fromisoformat(v["periodStart"])): v["value"]
            for v in report["values"]
        }
        assert exported == shown
        assert len(shown) == 6


class TestRefusals:
    """Nothing to compute: refused before any record is read."""

    async def test_a_connector_key_is_refused(self, connector_client: httpx.AsyncClient) -> None:
        response = await connector_client.post("/graphql", json={"query": QUERY, "variables": SPAN})
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "Forbidden"
        assert "connector keys lack" in error["message"]

    @pytest.mark.parametrize(
        ("span", "says"),
        [
            ({"from": "2026-12-01T00:00:00Z", "to": "2026-09-01T00:00:00Z"}, "earlier than"),
            ({"from": "2026-09-01T00:00:00", "to": "2026-12-01T00:00:00Z"}, "time zone"),
            (  # within one quarter hour, by which visits are kept
                {"from": "2026-09-01T10:05:00Z", "to": "2026-09-01T10:10:00Z"},
                "at least 15 minutes apart",
            ),
            # The calendar's ends: the month after, the week before, are past what dates hold.
            (
                {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"},
                "not in the years 1900 to 8999",
            ),
            (
                {"from": "0001-01-01T00:00:00Z", "to": "2024-01-01T00:00:00Z"},
                "not in the years 1900 to 8999",
            ),
        ],
    )
    async def test_a_bad_span_is_invalid_input(
        self, agent_client: httpx.AsyncClient, span: dict[str, str], says: str
    ) -> None:
        report = (await gql(agent_client, QUERY, **span))["kpis"]
        assert report["code"] == "InvalidInput"
        assert says in report["message"]

    async def test_without_a_key_401_with_a_connector_key_403(
        self, client: httpx.AsyncClient, connector_client: httpx.AsyncClient
    ) -> None:
        assert (await client.get("/kpis/export", params=SPAN)).status_code == 401
        assert (await connector_client.get("/kpis/export", params=SPAN)).status_code == 403

    @pytest.mark.parametrize(
        "params",
        [
            {"from": "2026-12-01T00:00:00Z", "to": "2026-09-01T00:00:00Z"},
            {**SPAN, "interval": "fortnight"},
            {**SPAN, "group_by": "shoe_size"},
            {**SPAN, "format": "xlsx"},
            {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "interval": "day"},
            {"to": "2026-12-01T00:00:00Z"},
            {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T23:59:59Z", "interval": "month"},
            {"from": "0001-01-01T00:00:00Z", "to": "0001-02-01T00:00:00Z", "interval": "week"},
        ],
    )
    async def test_bad_parameters_are_422_with_a_reason(
        self, agent_client: httpx.AsyncClient, params: dict[str, str]
    ) -> None:
        response = await agent_client.get("/kpis/export", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["detail"]


class TestCommand:
    async def test_c360_kpis_prints_a_table_csv_and_json(
        self,
        env: dict[str, str],
        services: Services,
        tmp_path: Path,
        populated: None,
    ) -> None:
        await f.api_key(services, Role.ADMIN)  # the store is set up as a served one would be
        span = ("--from", "2026-09-01", "--to", "2026-12-01")
        table = run_c360("kpis", *span, "--interval", "month", "--kpi", "nps", env=env)
        assert table.returncode == 0, table.stderr
        assert "Net Promoter Score" in table.stdout
        assert "2026-10-01" in table.stdout
        as_csv = run_c360("kpis", *span, "--group-by", "order_channel", "--format", "csv", env=env)
        assert as_csv.returncode == 0, as_csv.stderr
        rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
        assert {r["order_channel"] for r in rows if r["kpi"] == "revenue"} >= {"online"}
        as_json = run_c360("kpis", *span, "--kpi", "return_count", "--format", "json", env=env)
        assert as_json.returncode == 0, as_json.stderr
        (line,) = as_json.stdout.splitlines()
        assert json.loads(line)["kpi"] == "return_count"
        refused = run_c360("kpis", "--from", "2026-12-01", "--to", "2026-09-01", env=env)
        assert refused.returncode == 2
        assert "earlier than" in refused.stderr
        far = run_c360(
            "kpis", "--from", "9999-12-01", "--to", "9999-12-31", "--kpi", "nps", env=env
        )
        assert far.returncode == 2, far.stderr
        last = far.stderr.strip().splitlines()[-1]
        assert last == "error: 9999-12-01T00:00:00+00:00 is not in the years 1900 to 8999"
