"""KPIs: equal to a from-scratch recomputation over the stored records (after concurrent imports,
merges, unmerges, amended orders and late refunds, on several seeds), equal to a population's
ground truth, and hand-computed fixtures for the edges (empty groups, zero denominators, the
reporting time zone's period bounds, suppression)."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from c360.contact.service import Actor
from c360.identity.types import MergeStatus
from c360.ingest.files import import_file
from c360.kpis.compute import KpiConfig, Row
from c360.kpis.definitions import Dimension, KpiId
from c360.kpis.followups import difference_interval
from c360.kpis.periods import Interval, earlier
from c360.kpis.service import KpiAnswer, KpiQuery
from c360.services import Services, kpi_settings, metrics_config
from c360.settings import Settings
from c360.store import Store
from schemas import IdentifierType
from schemas.records import ChangeOrigin
from tests import factories as f
from tests.helpers import all_merges, parse_options
from tests.kpis.population import Population, population, write
from tests.kpis.reference import Reference, Window, compare

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
RATES = {"USD": Decimal("0.9")}
HOUR_MS = 3_600_000


def configured(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


async def ingest(services: Services, tmp_path: Path, name: str, records: list[f.Record]) -> None:
    path = write(tmp_path / f"{name}.jsonl", records)
    summary = await import_file(
        services.ingest, "canonical", str(path), parse_options(default_region="ES")
    )
    assert summary.rejected == 0, summary.errors


async def ingest_concurrently(
    services: Services, tmp_path: Path, records: list[f.Record], parts: int, name: str
) -> None:
    """Import the records as ``parts`` files at once. A record's versions (an amended order, a
    refund sent twice) go in the same file, in order; a customer's records are spread over all.
    (Two imports writing the same record at the same instant is the journal's concern,
    tested with the ingest.)"""
    split: list[list[f.Record]] = [[] for _ in range(parts)]
    for record in records:
        key = f"{record['kind']}:{record['source']}:{record['external_id']}"
        split[zlib.crc32(key.encode()) % parts].append(record)
    await asyncio.gather(
        *(ingest(services, tmp_path, f"{name}{n}", part) for n, part in enumerate(split))
    )


def reference(settings: Settings, now: dt.datetime) -> Reference:
    kpis = settings_config(settings)
    return Reference(
        str(settings.mongodb_uri),
        settings.database,
        now,
        config=kpis,
        thresholds=metrics_config(settings).thresholds,
        percentiles=tuple(settings.value_tier_percentiles),
        churned_days=settings.lifecycle_churned_days,
    )


def settings_config(settings: Settings) -> KpiConfig:
    return kpi_settings(settings).figures


def windows_of(answer: KpiAnswer, interval: Interval | None, settings: Settings) -> Any:
    zone = ZoneInfo(settings.reporting_time_zone)

    def of(row: Row) -> tuple[Window, Window, Window | None, Window | None]:
        period = row.period
        before = earlier(period.start, period.end, interval, zone)
        previous_before = earlier(*period.previous, interval, zone)
        return (period.start, period.end), before, period.previous, previous_before

    return of


def one(answer: KpiAnswer, kpi: KpiId, currency: str | None = None) -> Row:
    found = [r for r in answer.rows if r.kpi is kpi and r.currency == currency and not r.group]
    assert len(found) == 1, found
    return found[0]


async def seed_follow_ups(store: Store, seed: int, made: Population) -> None:
    """Follow-ups and acknowledgements as the follow-ups domain stores them: a follow-up for
    some customers (some held out, withdrawn or merged away; targets met, missed, overdue or
    still running at NOW), and acknowledgements of some survey answers and complaints."""
    rng = random.Random(seed)
    profiles = [p["_id"] async for p in store.db.profiles.find({}, {"_id": 1})]
    start_ms = int(made.start.timestamp() * 1000)
    span_ms = int((NOW - made.start).total_seconds() * 1000)
    follow_ups = []
    for n, profile in enumerate(rng.sample(profiles, k=len(profiles) // 2)):
        opened = start_ms + rng.randrange(span_ms)
        held_out = rng.random() < 0.3
        doc: dict[str, Any] = {
            "_id": f"fu{n}",
            "profile_id": profile,
            "opened_ms": opened,
            "status": rng.choice(["open", "resolved", "resolved", "withdrawn", "merged"]),
            "held_out": held_out,
            "team": rng.choice(["care", "retention"]),
        }
        if rng.random() < 0.5:
            doc["root_cause"] = rng.choice(["delivery", "product", "billing"])
        if not held_out:
            doc["due"] = {
                "first_response": opened + 4 * HOUR_MS,
                "resolution": opened + 48 * HOUR_MS,
            }
            if rng.random() < 0.8:
                doc["first_response_ms"] = opened + rng.randrange(8 * HOUR_MS)
            if rng.random() < 0.6:
                doc["resolved_ms"] = opened + rng.randrange(96 * HOUR_MS)
        follow_ups.append(doc)
    await store.db.follow_ups.insert_many(follow_ups)
    feedback = [
        r
        async for r in store.db.records.find(
            {"kind": {"$in": ["survey_response", "service_case"]}}, {"occurred_at": 1}
        )
    ]
    acks = [
        {
            "_id": r["_id"],
            "at_ms": int(r["occurred_at"].timestamp() * 1000) + rng.randrange(96 * HOUR_MS),
        }
        for r in feedback
        if rng.random() < 0.5
    ]
    if acks:
        await store.db.feedback_acks.insert_many(acks)


QUERIES = [
    (None, ()),
    (Interval.WEEK, (Dimension.LIFECYCLE_STAGE,)),
    (Interval.MONTH, (Dimension.VALUE_TIER, Dimension.ORDER_CHANNEL)),
    (Interval.MONTH, (Dimension.COUNTRY, Dimension.SERVICE_CHANNEL)),
    (Interval.MONTH, (Dimension.SURVEY_TOUCHPOINT,)),
    (Interval.DAY, (Dimension.STORE,)),
    (Interval.MONTH, (Dimension.TEAM, Dimension.LIFECYCLE_STAGE)),
    (Interval.WEEK, (Dimension.ROOT_CAUSE,)),
]


class TestEqualToARecomputation:
    @pytest.mark.parametrize("seed", [3, 11, 29])
    async def test_every_kpi_after_concurrent_imports_merges_unmerges_amendments_and_late_refunds(
        self, seed: int, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        settings = configured(
            settings,
            exchange_rates=RATES,
            kpi_min_group_size=3,
            reporting_time_zone="Europe/Madrid",
        )
        services = Services.build(store.db, settings)
        made = population(seed, customers=50, messy=True)

        # Visits that name two customers' addresses merge them: imported on their own, after
        # the concurrent imports (concurrent imports while merges run are the ingest's concern).
        def bridging(record: f.Record) -> bool:
            return record["kind"] == "site_event" and len(record["identifiers"]) > 1

        bridges = [r for r in made.records if bridging(r)]
        records = [r for r in made.records if not bridging(r)]
        # Half at once in three concurrent imports, the rest (late refunds, amendments) after.
        half = len(records) // 2
        await ingest_concurrently(services, tmp_path, records[:half], 3, "first")
        await ingest_concurrently(services, tmp_path, records[half:], 2, "later")
        await ingest(services, tmp_path, "bridges", bridges)
        # Undo one of the merges the shared visits made.
        done = [m for m in await all_merges(services, store) if m.status is MergeStatus.DONE]
        if done:
            await services.merges.unmerge(done[0].id, NOW, actor="test", reason="two people")

        await seed_follow_ups(store, seed, made)

        truth = reference(settings, NOW)
        checked = 0
        for interval, group_by in QUERIES:
            query = KpiQuery(
                start=made.start,
                end=made.end,
                interval=interval,
                compare=True,
                group_by=group_by,
            )
            answer = await services.kpis.kpis(query, NOW)
            assert answer.rows
            checked += compare(
                answer.rows, truth, group_by, {}, windows_of(answer, interval, settings)
            )
        # A filter leaves out the facts of other segments.
        chosen = {Dimension.ORDER_CHANNEL: frozenset({"in_store"})}
        query = KpiQuery(made.start, made.end, Interval.MONTH, filter=chosen)
        answer = await services.kpis.kpis(query, NOW)
        checked += compare(
            answer.rows, truth, (), chosen, windows_of(answer, Interval.MONTH, settings)
        )
        assert checked > 1000


class TestGroundTruth:
    @pytest.mark.parametrize("seed", [5, 17])
    async def test_whole_period_figures_equal_the_population_truth(
        self, seed: int, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        made: Population = population(seed, customers=80)
        await ingest_concurrently(services, tmp_path, made.records, 2, "all")
        answer = await services.kpis.kpis(KpiQuery(made.start, made.end), NOW)
        truth = made.truth

        nps = one(answer, KpiId.NPS).current
        assert nps.value == truth.nps
        assert (nps.numerator, nps.denominator) == (
            truth.promoters - truth.detractors,
            truth.nps_answers,
        )
        repurchased, buyers = truth.repurchase
        repurchase = one(answer, KpiId.REPURCHASE_RATE).current
        assert (repurchase.numerator, repurchase.denominator) == (repurchased, buyers)
        assert repurchase.value == repurchased / buyers
        for currency in ("EUR", "USD"):
            aov = one(answer, KpiId.AVERAGE_ORDER_VALUE, currency).current
            assert aov.value == truth.aov(currency)
        returns = one(answer, KpiId.RETURN_COUNT).current
        assert returns.value == truth.returns
        csat = one(answer, KpiId.CSAT).current
        assert csat.value == truth.csat
        assert csat.sample_size == truth.rated


# --- hand-computed fixtures -----------------------------------------------------------------


def person(n: int, country: str = "ES") -> f.Record:
    return f.person(
        external_id=f"P{n}",
        occurred_at="2025-01-01T00:00:00Z",
        identifiers=[f.email(f"p{n}@example.com")],
        country=country,
    )


def bought(n: int, external_id: str, when: str, amount: int, **extra: Any) -> f.Record:
    return f.order(
        external_id=external_id,
        occurred_at=when,
        identifiers=[f.email(f"p{n}@example.com")],
        line_items=[
            {
                "sku": "S",
                "title": "Shoe",
                "quantity": 2,
                "unit_price": {"amount": amount // 2, "currency": "EUR"},
            }
        ],
        total={"amount": amount, "currency": "EUR"},
        **extra,
    )


def answered(n: int, external_id: str, when: str, survey_type: str, score: int) -> f.Record:
    return f.survey(
        external_id=external_id,
        occurred_at=when,
        identifiers=[f.email(f"p{n}@example.com")],
        survey_type=survey_type,
        score=score,
        touchpoint="delivery",
    )


class TestHandComputed:
    async def test_nps_bands_and_their_split(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        scores = [10, 9, 9, 8, 7, 6, 3, 0]  # 3 promoters, 2 passives, 3 detractors
        records = [person(n) for n in range(len(scores))]
        records += [
            answered(n, f"s{n}", "2026-11-10T10:00:00Z", "nps", s) for n, s in enumerate(scores)
        ]
        await ingest(services, tmp_path, "nps", records)
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(
            KpiQuery(start, start + dt.timedelta(days=30), kpis=(KpiId.NPS,)), NOW
        )
        nps = one(answer, KpiId.NPS).current
        assert (nps.value, nps.numerator, nps.denominator, nps.sample_size) == (0.0, 0.0, 8.0, 8)
        assert [(p.name, p.count, p.total) for p in nps.parts] == [
            ("promoters", 3, 8),
            ("passives", 2, 8),
            ("detractors", 3, 8),
        ]

    async def test_a_zero_denominator_is_no_value_and_an_empty_group_a_zero_count(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        await ingest(
            services,
            tmp_path,
            "orders",
            [person(1), bought(1, "o1", "2026-11-03T10:00:00Z", 5000)],
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        end = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(KpiQuery(start, end, Interval.WEEK), NOW)
        weeks = sorted({r.period.start for r in answer.rows})
        assert len(weeks) == 3  # Sat 1st to Sun 2nd, the week of the 3rd, the week of the 10th
        for row in answer.rows:
            if row.kpi in (KpiId.NPS, KpiId.CSAT, KpiId.CES, KpiId.COMPLAINT_RATE):
                assert row.current.value is None  # nothing answered or opened
                assert row.current.sample_size == 0
        revenue = {r.period.start: r.current for r in answer.rows if r.kpi is KpiId.REVENUE}
        assert [revenue[w].value for w in weeks] == [0.0, 5000.0, 0.0]
        aov = {r.period.start: r.current for r in answer.rows if r.kpi is KpiId.AVERAGE_ORDER_VALUE}
        assert aov[weeks[1]].value == 5000.0
        assert aov[weeks[0]].value is None
        assert aov[weeks[0]].denominator == 0.0
        assert aov[weeks[0]].note is not None
        items = {r.period.start: r.current for r in answer.rows if r.kpi is KpiId.ITEMS_PER_ORDER}
        assert items[weeks[1]].value == 2.0

    async def test_periods_begin_at_midnight_in_the_reporting_time_zone(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(
            store.db,
            configured(settings, kpi_min_group_size=1, reporting_time_zone="Europe/Madrid"),
        )
        # 23:30 in Madrid on 31 October (UTC+1 after the 26th) is 22:30 UTC: October's;
        # 00:30 in Madrid on 1 November is 23:30 UTC on 31 October: November's.
        await ingest(
            services,
            tmp_path,
            "edges",
            [
                person(1),
                person(2),
                bought(1, "late", "2026-10-31T22:30:00Z", 1000),
                bought(2, "early", "2026-10-31T23:30:00Z", 3000),
            ],
        )
        start = dt.datetime.fromisoformat("2026-10-01T00:00:00+02:00")
        end = dt.datetime.fromisoformat("2026-12-01T00:00:00+01:00")
        answer = await services.kpis.kpis(
            KpiQuery(start, end, Interval.MONTH, kpis=(KpiId.REVENUE,)), NOW
        )
        by_month = {r.period.start: r.current.value for r in answer.rows}
        assert by_month == {
            dt.datetime(2026, 9, 30, 22, tzinfo=dt.UTC): 1000.0,
            dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC): 3000.0,
        }

    async def test_repurchase_retention_new_and_returning(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        await ingest(
            services,
            tmp_path,
            "loyalty",
            [
                person(1),
                person(2),
                person(3),
                bought(1, "a", "2026-10-05T10:00:00Z", 1000),  # October, again in November
                bought(1, "b", "2026-11-05T10:00:00Z", 1000),
                bought(2, "c", "2026-11-06T10:00:00Z", 1000),  # new in November, twice
                bought(2, "d", "2026-11-20T10:00:00Z", 1000),
                bought(3, "e", "2026-10-07T10:00:00Z", 1000),  # October only
            ],
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        end = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(KpiQuery(start, end, Interval.MONTH), NOW)
        repurchase = one(answer, KpiId.REPURCHASE_RATE).current
        assert (repurchase.numerator, repurchase.denominator) == (2.0, 2.0)
        retention = one(answer, KpiId.RETENTION_RATE).current  # October's buyers: 1 and 3
        assert (retention.numerator, retention.denominator, retention.value) == (1.0, 2.0, 0.5)
        assert one(answer, KpiId.NEW_CUSTOMERS).current.value == 1.0
        assert one(answer, KpiId.RETURNING_CUSTOMERS).current.value == 1.0

    async def test_service_figures_and_a_resolution_that_cannot_be_known(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))

        def case(n: int, minutes: int, replies: int | None, **extra: Any) -> f.Record:
            opened = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)
            done = opened + dt.timedelta(minutes=minutes)
            fields: dict[str, Any] = {
                "external_id": f"t{n}",
                "occurred_at": opened.isoformat(),
                "identifiers": [f.email(f"p{n}@example.com")],
                "channel": "email",
                "status": "solved",
                "first_response_at": done.isoformat(),
                "solved_at": done.isoformat(),
                **extra,
            }
            if replies is not None:
                fields["agent_replies"] = replies
            return f.service_case(**fields)

        await ingest(
            services,
            tmp_path,
            "cases",
            [
                person(1),
                person(2),
                person(3),
                person(4),
                case(1, 10, 1, complaint=True),
                case(2, 20, 2),
                case(3, 30, 0, satisfaction="good"),
                case(4, 40, None, satisfaction="bad"),
            ],
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(KpiQuery(start, start + dt.timedelta(days=30)), NOW)
        fcr = one(answer, KpiId.FIRST_CONTACT_RESOLUTION).current
        assert (fcr.numerator, fcr.denominator) == (2.0, 3.0)  # the fourth cannot be known
        assert fcr.note is not None
        assert "1 solved" in fcr.note
        response = one(answer, KpiId.FIRST_RESPONSE_TIME).current
        assert response.value == 25 * 60  # median of 10, 20, 30, 40 minutes
        assert response.p90 is not None
        assert math.isclose(response.p90, 37 * 60)
        assert one(answer, KpiId.COMPLAINT_RATE).current.value == 0.25
        csat = one(answer, KpiId.CSAT).current
        assert (csat.numerator, csat.denominator) == (1.0, 2.0)

    async def test_groups_of_fewer_people_than_the_minimum_are_suppressed(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=3))
        records = [person(n, "FR" if n < 2 else "ES") for n in range(6)]
        records += [answered(n, f"s{n}", "2026-11-10T10:00:00Z", "nps", 10) for n in range(6)]
        await ingest(services, tmp_path, "small", records)
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(
            KpiQuery(
                start,
                start + dt.timedelta(days=30),
                group_by=(Dimension.COUNTRY,),
                kpis=(KpiId.NPS,),
            ),
            NOW,
        )
        by_country = {r.group: r.current for r in answer.rows}
        assert by_country[("FR",)].suppressed
        assert by_country[("FR",)].value is None
        assert by_country[("FR",)].numerator is None
        assert by_country[("FR",)].sample_size == 0
        assert not by_country[("ES",)].suppressed
        assert by_country[("ES",)].value == 100.0


# --- closing the loop: what the KPIs read of the follow-ups (c360/kpis/followups.py) ---------

OPENED = dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC)


def follow_up(
    n: int, profile_id: str, *, held_out: bool = False, status: str = "resolved", **times: int
) -> dict[str, Any]:
    """A follow-up as the follow-ups domain stores it (the fields the KPIs read), opened at
    OPENED with targets of 4 h (first response) and 24 h (resolution); ``times``: hours after
    opening at which each was done."""
    opened = int(OPENED.timestamp() * 1000) + n  # a distinct instant each
    doc: dict[str, Any] = {
        "_id": f"fu{n}",
        "profile_id": profile_id,
        "opened_ms": opened,
        "status": status,
        "held_out": held_out,
        "team": "care" if n % 2 else "retention",
    }
    if not held_out:
        doc["due"] = {"first_response": opened + 4 * HOUR_MS, "resolution": opened + 24 * HOUR_MS}
    for name, hours in times.items():
        doc[name] = opened + hours * HOUR_MS
    return doc


class TestClosingTheLoop:
    def test_newcombes_interval_of_a_difference(self) -> None:
        # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 - 48/80.
        interval = difference_interval(56, 70, 48, 80)
        assert interval is not None
        assert round(interval[0], 4) == 0.0524
        assert round(interval[1], 4) == 0.3339
        assert difference_interval(1, 2, 0, 0) is None

    async def test_sla_compliance_counts_decided_follow_ups_by_team(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        await ingest(services, tmp_path, "people", [person(n) for n in range(1, 7)])
        ids = {n: await profile_id(services, n) for n in range(1, 7)}
        await store.db.follow_ups.insert_many(
            [
                follow_up(1, ids[1], first_response_ms=1, resolved_ms=20),  # met, care
                follow_up(2, ids[2], first_response_ms=5, resolved_ms=10),  # late reply
                follow_up(3, ids[3], first_response_ms=2),  # unresolved, overdue by NOW
                follow_up(4, ids[4], held_out=True, status="held_out"),  # no SLA
                follow_up(5, ids[5], status="withdrawn"),  # not a follow-up any more
                follow_up(7, ids[6], first_response_ms=1, resolved_ms=3),  # met, care
            ]
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(
            KpiQuery(
                start,
                start + dt.timedelta(days=30),
                group_by=(Dimension.TEAM,),
                kpis=(KpiId.SLA_COMPLIANCE,),
            ),
            NOW,
        )
        by_team = {r.group: r.current for r in answer.rows}
        assert (by_team[("care",)].numerator, by_team[("care",)].denominator) == (2.0, 3.0)
        assert (by_team[("retention",)].numerator, by_team[("retention",)].denominator) == (
            0.0,
            1.0,
        )
        # Before its resolution was due, the unresolved one is not decided yet.
        early = await services.kpis.kpis(
            KpiQuery(start, start + dt.timedelta(days=30), kpis=(KpiId.SLA_COMPLIANCE,)),
            OPENED + dt.timedelta(hours=12),
        )
        figure = one(early, KpiId.SLA_COMPLIANCE).current
        assert (figure.numerator, figure.denominator) == (2.0, 3.0)

    async def test_feedback_acknowledged_within_48_hours(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        when = "2026-11-10T10:00:00Z"
        records = [person(n) for n in range(1, 6)]
        records += [
            answered(1, "s1", when, "nps", 3),  # low: needs an answer, answered in 5 h
            answered(2, "s2", when, "nps", 10),  # a promoter without a comment: no need
            answered(3, "s3", when, "csat", 2),  # low: answered after 3 days
            {**answered(4, "s4", when, "nps", 9), "comment": "Call me"},  # not answered
            f.service_case(
                external_id="t5",
                occurred_at=when,
                identifiers=[f.email("p5@example.com")],
                complaint=True,
            ),  # answered in 47 h
        ]
        await ingest(services, tmp_path, "feedback", records)
        at = int(dt.datetime(2026, 11, 10, 10, tzinfo=dt.UTC).timestamp() * 1000)
        await store.db.feedback_acks.insert_many(
            [
                {"_id": "surveys:survey_response:s1", "at_ms": at + 5 * HOUR_MS},
                {"_id": "surveys:survey_response:s3", "at_ms": at + 72 * HOUR_MS},
                {"_id": "helpdesk:service_case:t5", "at_ms": at + 47 * HOUR_MS},
            ]
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        query = KpiQuery(start, start + dt.timedelta(days=30), kpis=(KpiId.FEEDBACK_ACKNOWLEDGED,))
        figure = one(await services.kpis.kpis(query, NOW), KpiId.FEEDBACK_ACKNOWLEDGED).current
        assert (figure.numerator, figure.denominator) == (2.0, 4.0)
        # A day on, only what was answered already is counted; the rest still has time.
        soon = one(
            await services.kpis.kpis(query, OPENED + dt.timedelta(hours=25)),
            KpiId.FEEDBACK_ACKNOWLEDGED,
        ).current
        assert (soon.numerator, soon.denominator) == (1.0, 1.0)

    async def test_feedback_acknowledged_without_contact_counts_as_acknowledged(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        """Two detractors who accept contact on no channel: one acknowledged without contact
        in 5 h, one after three days. The first counts as acknowledged within 48 h, the other
        as late: the loop was closed, or not, in time all the same."""
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        when = dt.datetime(2026, 11, 10, 10, tzinfo=dt.UTC)
        records = [person(n) for n in (1, 2)]
        records += [answered(n, f"s{n}", when.isoformat(), "nps", 3) for n in (1, 2)]
        await ingest(services, tmp_path, "feedback", records)
        feedback = services.followups.feedback
        for n, hours in ((1, 5), (2, 72)):
            customer = await profile_id(services, n)
            agent = Actor(ChangeOrigin.AGENT, "ana.agent")
            await services.contact.set_do_not_contact(customer, True, "asked", agent, when)
            await feedback.acknowledge_without_contact(
                customer,
                f"surveys:survey_response:s{n}",
                None,
                "ana.agent",
                when + dt.timedelta(hours=hours),
            )

        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        query = KpiQuery(start, start + dt.timedelta(days=30), kpis=(KpiId.FEEDBACK_ACKNOWLEDGED,))
        figure = one(await services.kpis.kpis(query, NOW), KpiId.FEEDBACK_ACKNOWLEDGED).current
        assert (figure.numerator, figure.denominator) == (1.0, 2.0)

    async def test_holdout_churn_difference_with_its_parts(
        self, store: Store, settings: Settings, tmp_path: Path
    ) -> None:
        services = Services.build(store.db, configured(settings, kpi_min_group_size=1))
        # Followed up: 1 and 2, held out: 3 and 4. 2 and 3 were last seen in 2025 (their CRM
        # record): churned by NOW; 1 and 4 ordered after their follow-ups opened.
        records = [person(n) for n in range(1, 5)]
        records += [
            bought(1, "o1", "2026-11-20T10:00:00Z", 1000),
            bought(2, "o2", "2024-06-01T10:00:00Z", 1000),
            bought(3, "o3", "2024-06-01T10:00:00Z", 1000),
            bought(4, "o4", "2026-11-20T10:00:00Z", 1000),
        ]
        await ingest(services, tmp_path, "holdout", records)
        ids = {n: await profile_id(services, n) for n in range(1, 5)}
        await store.db.follow_ups.insert_many(
            [
                follow_up(1, ids[1]),
                follow_up(2, ids[2]),
                follow_up(3, ids[3], held_out=True, status="held_out"),
                follow_up(4, ids[4], held_out=True, status="held_out"),
            ]
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        answer = await services.kpis.kpis(
            KpiQuery(start, start + dt.timedelta(days=30), kpis=(KpiId.HOLDOUT_CHURN_DIFFERENCE,)),
            NOW,
        )
        figure = one(answer, KpiId.HOLDOUT_CHURN_DIFFERENCE).current
        assert [(p.name, p.count, p.total) for p in figure.parts] == [
            ("followed up: churned", 1, 2),
            ("held out: churned", 1, 2),
            ("followed up: ordered again", 1, 2),
            ("held out: ordered again", 1, 2),
        ]
        assert figure.value == 0.0
        assert (figure.low, figure.high) == pytest.approx(difference_interval(1, 2, 1, 2))


async def profile_id(services: Services, n: int) -> str:
    profile = await services.profiles.by_identifier(IdentifierType.EMAIL, f"p{n}@example.com")
    return profile.id
