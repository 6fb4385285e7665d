"""Profile metrics: hand-computed expectations, and always equal to a recomputation."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from c360.auth.service import Role
from c360.identity.types import MergeStatus
from c360.ingest.batch import Batch
from c360.ingest.stages.fold import FoldMetrics
from c360.metrics.aggregate import aggregate, epoch_ms
from c360.metrics.service import MetricsService
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from tests import factories as f
from tests.factories import api_key as key
from tests.helpers import all_merges, gql, profile_of, run, stored_aggregate
from tests.state import assert_aggregates_equal_recomputation

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EMAIL, PHONE = "ana@example.com", "+34 611 22 33 44"


def ago(days: float, hours: float = 0) -> str:
    return (NOW - dt.timedelta(days=days, hours=hours)).isoformat().replace("+00:00", "Z")


def item(sku: str, quantity: int, amount: int, currency: str, category: str) -> f.Record:
    return {
        "sku": sku,
        "title": sku.title(),
        "category": category,
        "quantity": quantity,
        "unit_price": {"amount": amount, "currency": currency},
    }


def order(
    external_id: str,
    days: float,
    items: list[f.Record],
    *,
    identifiers: list[f.Record] | None = None,
    **extra: Any,
) -> f.Record:
    currency = items[0]["unit_price"]["currency"]
    total = sum(i["quantity"] * i["unit_price"]["amount"] for i in items)
    return f.order(
        external_id=external_id,
        occurred_at=ago(days),
        identifiers=identifiers or [f.email(EMAIL)],
        line_items=items,
        total={"amount": total, "currency": currency},
        **extra,
    )


def survey(external_id: str, days: float, survey_type: str, score: int) -> f.Record:
    return f.survey(
        external_id=external_id,
        occurred_at=ago(days),
        identifiers=[f.email(EMAIL)],
        survey_type=survey_type,
        score=score,
    )


def site(external_id: str, days: int, hour: int = 12) -> f.Record:
    """A page view ``days`` ago at ``hour`` UTC (visits count by UTC day)."""
    moment = (NOW - dt.timedelta(days=days)).replace(hour=hour, minute=0, second=0)
    return {
        "kind": "site_event",
        "source": "web",
        "external_id": external_id,
        "occurred_at": moment.isoformat().replace("+00:00", "Z"),
        "identifiers": [f.email(EMAIL)],
        "event_type": "page",
    }


ANA = [
    order("A", 400, [item("boots", 2, 5000, "EUR", "shoes")]),
    order("B", 300, [item("socks", 1, 5000, "EUR", "socks")], channel="in_store"),
    order(
        "C", 250, [item("hat", 1, 3000, "EUR", "hats")], cancelled_at=ago(249)
    ),  # cancelled: not counted
    order("D", 200, [item("belt", 1, 2000, "USD", "belts")]),
    {
        "kind": "return",
        "source": "shop",
        "external_id": "R1",
        "occurred_at": ago(390),
        "order_external_id": "A",
        "items": [{"sku": "boots", "quantity": 1}],
        "amount": {"amount": 2500, "currency": "EUR"},
    },
    f.service_case(
        external_id="solved",
        occurred_at=ago(100),
        identifiers=[f.email(EMAIL)],
        status="solved",
        channel="phone",
        subject="Late delivery",
        first_response_at=ago(100, -1),
        solved_at=ago(99),
        satisfaction="good",
    ),
    f.service_case(
        external_id="open",
        occurred_at=ago(10),
        identifiers=[f.email(EMAIL)],
        status="open",
        channel="email",
        subject="Broken zip",
        complaint=True,
    ),
    survey("nps1", 150, "nps", 9),
    survey("nps2", 20, "nps", 5),
    survey("csat1", 99, "csat", 4),
    survey("csat2", 98, "csat", 5),
    site("w1", 5, 9),
    site("w2", 5, 17),
    site("w3", 3),
]

QUERY = """query($id: ID!) { profile(id: $id) { ... on Profile {
  customerSince lastSeenAt
  metrics { lifetimeValue { amount currency } lifetimeValueReporting { amount currency }
    unconvertedCurrencies orderCount cancelledOrderCount averageOrderValue { amount currency }
    itemsBought returnCount returnRate firstOrderAt lastOrderAt onlineShare inStoreShare
    topCategories { name quantity } topProducts { name quantity } openCases recentCases
    averageFirstResponseSeconds averageResolutionSeconds complaints openComplaints averageCsat
    lastNps npsTrend siteVisits lastVisitAt }
  lifecycleStage { stage reason } valueTier { tier reason } churnRisk { score reasons }
  pastProblems { externalId subject satisfaction } openCases { externalId complaint } } } }"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"exchange_rates": {"USD": Decimal("0.9")}, "metrics_repair_after_s": 0.0}
    )


class TestAgainstHandComputed:
    async def test_the_360_of_one_customer(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, [ANA])
        pid = await profile_of(services, IdentifierType.EMAIL, EMAIL)
        view = (await gql(client, QUERY, await key(services, Role.ADMIN), id=pid))["profile"]
        m = view["metrics"]
        assert m["lifetimeValue"] == [
            {"amount": 12500, "currency": "EUR"},  # 100 + 50 - 25 refunded; C cancelled
            {"amount": 2000, "currency": "USD"},
        ]
        assert m["lifetimeValueReporting"] == {"amount": 14300, "currency": "EUR"}  # + 20 * 0.9
        assert m["unconvertedCurrencies"] == []
        assert (m["orderCount"], m["cancelledOrderCount"], m["itemsBought"]) == (3, 1, 4)
        assert m["averageOrderValue"] == [
            {"amount": 7500, "currency": "EUR"},
            {"amount": 2000, "currency": "USD"},
        ]
        assert (m["returnCount"], m["returnRate"]) == (1, pytest.approx(1 / 3))
        assert m["firstOrderAt"] == ago(400).replace("Z", "+00:00")
        assert m["lastOrderAt"] == ago(200).replace("Z", "+00:00")
        assert (m["onlineShare"], m["inStoreShare"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
        assert m["topCategories"][0] == {"name": "shoes", "quantity": 2}
        assert {c["name"] for c in m["topCategories"]} == {"shoes", "socks", "belts"}
        assert (m["openCases"], m["recentCases"]) == (1, 1)  # the solved one is 100 days old
        assert m["averageFirstResponseSeconds"] == 3600
        assert m["averageResolutionSeconds"] == 86400
        assert (m["complaints"], m["openComplaints"]) == (1, 1)
        assert m["averageCsat"] == 4.5
        assert (m["lastNps"], m["npsTrend"]) == (5, -4)
        assert m["siteVisits"] == 2  # three events on two days
        assert view["customerSince"] == m["firstOrderAt"]
        assert view["lifecycleStage"]["stage"] == "AT_RISK"
        assert view["lifecycleStage"]["reason"] == "no order for 200 days (at risk after 180)"
        assert view["valueTier"]["tier"] == "TOP"  # the only buyer is at every percentile
        assert "an open complaint" in view["churnRisk"]["reasons"]
        assert view["pastProblems"] == [
            {"externalId": "solved", "subject": "Late delivery", "satisfaction": "good"}
        ]
        assert view["openCases"] == [{"externalId": "open", "complaint": True}]

    async def test_value_tiers_follow_percentiles_among_buyers(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        buyers = [
            order(
                f"v{n}", 5, [item("a", 1, n * 100, "EUR", "x")], identifiers=[f.email(f"v{n}@x.es")]
            )
            for n in range(1, 21)
        ]
        await run(services, tmp_path, [buyers])
        headers = await key(services, Role.ADMIN)
        tiers = {}
        for n in (5, 11, 17, 20):
            pid = await profile_of(services, IdentifierType.EMAIL, f"v{n}@x.es")
            tiers[n] = (await gql(client, QUERY, headers, id=pid))["profile"]["valueTier"]
        # 20 buyers: the 50th, 80th and 95th percentiles are the 11th, 17th and 20th values.
        assert {n: t["tier"] for n, t in tiers.items()} == {
            5: "LOW",
            11: "MEDIUM",
            17: "HIGH",
            20: "TOP",
        }
        assert tiers[17]["reason"] == (
            "lifetime value 17.00 EUR at or above the 80% percentile of buyers (17.00)"
        )

    async def test_lifecycle_follows_the_rules_in_order(
        self, client: httpx.AsyncClient, services: Services, tmp_path: Path
    ) -> None:
        headers = await key(services, Role.ADMIN)

        async def stage(records: list[f.Record], name: str) -> str:
            await run(services, tmp_path / name, [records])
            pid = await profile_of(services, IdentifierType.EMAIL, EMAIL)
            view = (await gql(client, QUERY, headers, id=pid))["profile"]
            return str(view["lifecycleStage"]["stage"])

        assert await stage([site("s", 1)], "prospect") == "PROSPECT"
        recent = [item("boots", 1, 1000, "EUR", "shoes")]
        assert await stage([order("o1", 30, recent)], "first") == "FIRST_TIME"
        assert await stage([order("o2", 20, recent)], "repeat") == "REPEAT"
        more = [order(f"o{n}", 10 - n, recent) for n in range(3, 6)]
        assert await stage(more, "loyal") == "LOYAL"
        assert await stage([survey("n", 1, "nps", 10)], "advocate") == "ADVOCATE"
        assert await stage([survey("n2", 0.5, "nps", 3)], "detractor") == "AT_RISK"


def random_history(seed: int, people: int = 12, records: int = 150) -> list[f.Record]:
    """Orders, amendments, cancellations, returns, cases and surveys of a few people, some
    naming two people's identifiers (merges)."""
    rng = random.Random(seed)
    out: list[f.Record] = []

    def ids(person: int) -> list[f.Record]:
        return [rng.choice([f.email(f"p{person}@example.com"), f.phone(f"+3461100{person:04d}")])]

    for n in range(records):
        person = rng.randrange(people)
        roll = rng.random()
        days = rng.uniform(2, 700)
        if roll < 0.4:
            currency = rng.choice(["EUR", "USD", "JPY"])
            extra = {"cancelled_at": ago(days - 0.5)} if rng.random() < 0.1 else {}
            out.append(
                order(
                    f"o{rng.randrange(records // 2)}",  # repeats: amendments of an order
                    days,
                    [item(rng.choice("abc"), rng.randint(1, 3), 1000, currency, "cat")],
                    identifiers=ids(person),
                    updated_at=ago(days - rng.random()),
                    **extra,
                )
            )
        elif roll < 0.5:
            out.append(
                {
                    "kind": "return",
                    "source": "shop",
                    "external_id": f"r{n}",
                    "occurred_at": ago(days),
                    "order_external_id": f"o{rng.randrange(records // 2)}",
                    "amount": {"amount": 500, "currency": "EUR"},
                }
            )
        elif roll < 0.7:
            status = rng.choice(["open", "solved", "closed", "pending"])
            out.append(
                f.service_case(
                    external_id=f"c{rng.randrange(records // 3)}",
                    occurred_at=ago(days),
                    updated_at=ago(days - rng.random()),
                    identifiers=ids(person),
                    status=status,
                    complaint=rng.random() < 0.3,
                )
            )
        elif roll < 0.85:
            out.append(
                survey(f"s{n}", days, "nps", rng.randint(0, 10)) | {"identifiers": ids(person)}
            )
        else:
            both = [f.email(f"p{person}@example.com"), f.phone(f"+3461100{people - person:04d}")]
            out.append(site(f"w{n}", int(days)) | {"identifiers": both})
    return out


class TestIncrementalEqualsRecomputation:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    async def test_concurrent_workers_with_merges_amendments_and_late_returns(
        self, seed: int, services: Services, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        history = random_history(seed)
        small = settings.model_copy(update={"ingest_batch_size": 7})
        workers = [Services.build(store.db, small) for _ in range(3)]
        await asyncio.gather(
            *(run(worker, tmp_path / f"w{n}", [history[n::3]]) for n, worker in enumerate(workers))
        )
        merges = await all_merges(services, store)
        assert [m for m in merges if m.status is MergeStatus.DONE]
        assert await assert_aggregates_equal_recomputation(services, store) > 0

    async def test_ingest_folds_new_records_in_without_recomputing(
        self,
        services: Services,
        store: Store,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        euros = [item("boots", 1, 1000, "EUR", "shoes")]
        await run(services, tmp_path / "first", [[order("1", 10, euros)]])
        recomputed: list[str] = []
        recompute = MetricsService.recompute

        async def noted(self: MetricsService, profile_ids: Iterable[str]) -> None:
            wanted = list(profile_ids)
            recomputed.extend(wanted)
            await recompute(self, wanted)

        monkeypatch.setattr(MetricsService, "recompute", noted)
        await run(services, tmp_path / "second", [[order("2", 9, euros)]])
        pid = await profile_of(services, IdentifierType.EMAIL, EMAIL)
        assert pid not in recomputed
        assert (await stored_aggregate(services, pid)).counts["orders"] == 2

    async def test_merge_and_unmerge_recompute_both_sides(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        euros = [item("boots", 1, 1000, "EUR", "shoes")]
        await run(
            services,
            tmp_path,
            [
                [order("1", 10, euros), order("2", 9, euros, identifiers=[f.phone(PHONE)])],
                [order("3", 8, euros, identifiers=[f.email(EMAIL), f.phone(PHONE)])],
            ],
        )
        survivor = await profile_of(services, IdentifierType.EMAIL, EMAIL)
        assert (await stored_aggregate(services, survivor)).counts["orders"] == 3
        await assert_aggregates_equal_recomputation(services, store)

        [entry] = await all_merges(services, store)
        await services.merges.unmerge(entry.id, NOW, actor="admin@test")
        counts = {}
        for pid in (entry.survivor, entry.absorbed):
            counts[pid] = (await stored_aggregate(services, pid)).counts["orders"]
        assert counts == {entry.survivor: 2, entry.absorbed: 1}
        await assert_aggregates_equal_recomputation(services, store)

    async def test_a_batch_that_died_before_folding_is_repaired_by_the_next_run(
        self,
        services: Services,
        store: Store,
        settings: Settings,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        euros = [item("boots", 1, 1000, "EUR", "shoes")]
        await run(services, tmp_path / "first", [[order("1", 10, euros)]])

        class Killed(Exception):
            pass

        async def killed(self: FoldMetrics, batch: Batch) -> None:
            raise Killed  # the worker dies between writing its records and folding them in

        with monkeypatch.context() as patched:
            patched.setattr(FoldMetrics, "run", killed)
            with pytest.raises(Killed):
                await run(services, tmp_path / "second", [[order("2", 9, euros)]])
        pid = await profile_of(services, IdentifierType.EMAIL, EMAIL)
        assert (await services.metrics.aggregates([pid]))[0].counts["orders"] == 1

        # Nobody imports that input again: any later run, once the batch is old enough.
        later = settings.model_copy(update={"metrics_repair_after_s": 0})
        fresh = Services.build(store.db, later)
        await run(fresh, tmp_path / "next", [[f.survey(identifiers=[f.phone(PHONE)])]])
        assert (await services.metrics.aggregates([pid]))[0].counts["orders"] == 2
        await assert_aggregates_equal_recomputation(services, store)


def test_epoch_ms_is_exact_for_milliseconds() -> None:
    moment = dt.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=dt.UTC)
    assert epoch_ms(moment) == 1714557600123


class TestRepair:
    async def test_recompute_all_repairs_damaged_aggregates(
        self, services: Services, store: Store, tmp_path: Path
    ) -> None:
        await run(services, tmp_path, [ANA])
        pid = await profile_of(services, IdentifierType.EMAIL, EMAIL)
        await store.db.profile_metrics.update_one(
            {"_id": pid}, {"$set": {"agg": {"counts": {"orders": 99}}}}
        )
        await store.db.profile_metrics.insert_one({"_id": "gone", "version": 1, "agg": {}})
        assert await services.profiles.recompute_all() == 1
        await assert_aggregates_equal_recomputation(services, store)
        assert "gone" not in await services.metrics.stored_ids()


class TestResolutionOnlyOfResolvedCases:
    """A case that is not solved or closed has no resolution time, whatever its source says
    (Zendesk keeps a reopened ticket's last solve in its metric set)."""

    @staticmethod
    def case(status: str) -> dict[str, Any]:
        opened = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
        return {
            "_id": f"zendesk:service_case:{status}",
            "kind": "service_case",
            "source": "zendesk",
            "occurred_at": opened,
            "data": {
                "status": status,
                "channel": "email",
                "solved_at": opened + dt.timedelta(hours=2),
            },
        }

    @pytest.mark.parametrize("status", ["new", "open", "pending", "on_hold"])
    def test_open_case_counts_no_resolution(self, status: str) -> None:
        counts = aggregate([self.case(status)]).counts
        assert (counts["resolutions"], counts["resolution_ms_sum"]) == (0, 0)

    @pytest.mark.parametrize("status", ["solved", "closed"])
    def test_resolved_case_counts_its_resolution(self, status: str) -> None:
        counts = aggregate([self.case(status)]).counts
        assert (counts["resolutions"], counts["resolution_ms_sum"]) == (1, 2 * 3_600_000)
