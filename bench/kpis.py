"""KPI benchmark: a year of generated data, ``kpis`` for a month by week split by lifecycle stage,
beside the raw driver reading the same records in the same run; and what the KPIs cost ingest.

    python -m bench.kpis [--records 1000000] [--people 100000] [--queries 20] [--seed 7]

1. Ingest cost. KPIs are computed at query time from indexed reads (no rollups are folded at
   ingest: see the README's "KPIs"), so all they add to ingest is keeping their indexes
   (``records.kind_time``, ``profiles.last_seen``, and the embedded server's ``records.by_time``).
   The same files are imported twice into fresh databases, with those indexes and without, and
   the throughput ratio printed (the issue's target: at least 0.85).
2. Query. ``KpiService.kpis`` for a month by week grouped by lifecycle stage (every KPI), p50 and
   p99 over ``--queries`` runs, beside the raw driver doing the same reads (each kind's records of
   the span by the kind/time index, the refunded orders, the customers' profiles and metrics) and
   folding three of the figures (revenue, orders, NPS by week) in a plain loop, with the ratio;
   the two agree on those figures (checked).
3. Memory: the peak of Python allocations during one query (tracemalloc) and the process's peak
   resident set.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import bench_store, generate_files, import_written, positive
from bench.generate import START, Written
from c360.kpis.definitions import Dimension, KpiId
from c360.kpis.periods import Interval
from c360.kpis.service import KpiAnswer, KpiQuery
from c360.services import Services
from c360.settings import Settings
from c360.store import Database, Store
from connectors import ParseOptions

MONTH = (dt.datetime(2024, 6, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 1, tzinfo=dt.UTC))
KPI_INDEXES = {"records": ("kind_time", "by_time"), "profiles": ("last_seen",)}
# Every group shown, so the figures can be compared with the raw driver's (suppression is a
# filter over the computed figures: it costs nothing to speak of).
UNSUPPRESSED = {"kpi_min_group_size": 1}
KINDS = ("order", "return", "service_case", "survey_response", "site_event")


def options(settings: Settings) -> ParseOptions:
    return settings.parse_options()


async def drop_kpi_indexes(db: Database) -> None:
    for collection, names in KPI_INDEXES.items():
        existing = {i["name"] async for i in await db[collection].list_indexes()}
        for name in names:
            if name in existing:
                await db[collection].drop_index(name)


async def ingest(
    work: Path, files: list[Written], batch_size: int, *, indexes: bool
) -> tuple[float, int]:
    """Import every file into a fresh database; seconds and records stored."""
    async with bench_store(work, batch_size) as (store, settings):
        if not indexes:
            await drop_kpi_indexes(store.db)
        services = Services.build(store.db, settings)
        started = time.perf_counter()
        for written in files:
            await import_written(services, written, options(settings))
        seconds = time.perf_counter() - started
        stored = await store.db.records.count_documents({})
    return seconds, stored


async def raw_week_figures(db: Database, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The raw driver: the same reads as the service, and three figures folded by week."""
    span = {"$gte": start, "$lt": end}
    payload = {"profile_id": 1, "occurred_at": 1, "source": 1, "data": 1}
    docs: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        projection = payload if kind != "site_event" else {"profile_id": 1, "occurred_at": 1}
        found = db.records.find({"kind": kind, "occurred_at": span}, projection)
        docs[kind] = [d async for d in found if "profile_id" in d]
    order_ids = sorted(
        {f"{d['source']}:order:{d['data']['order_external_id']}" for d in docs["return"]}
    )
    orders = {
        d["_id"]: d
        async for d in db.records.find({"_id": {"$in": order_ids}, "kind": "order"}, payload)
    }
    people = sorted({d["profile_id"] for kind in KINDS for d in docs[kind]})
    for start_at in range(0, len(people), 1000):
        chunk = people[start_at : start_at + 1000]
        _ = [p async for p in db.profiles.find({"_id": {"$in": chunk}})]
        _ = [m async for m in db.profile_metrics.find({"_id": {"$in": chunk}})]

    def week(moment: dt.datetime) -> dt.date:
        day = moment.astimezone(dt.UTC).date()
        return day - dt.timedelta(days=day.weekday())

    revenue: dict[dt.date, Counter[str]] = defaultdict(Counter)
    placed: Counter[dt.date] = Counter()
    nps: dict[dt.date, Counter[str]] = defaultdict(Counter)
    for order in docs["order"]:
        if order["data"].get("cancelled_at") is None:
            revenue[week(order["occurred_at"])][order["data"]["total"]["currency"]] += order[
                "data"
            ]["total"]["amount"]
            placed[week(order["occurred_at"])] += 1
    for refund in docs["return"]:
        bought = orders.get(f"{refund['source']}:order:{refund['data']['order_external_id']}")
        if bought is None or bought["data"].get("cancelled_at") is None:
            amount = refund["data"]["amount"]
            revenue[week(refund["occurred_at"])][amount["currency"]] -= amount["amount"]
    for answer in docs["survey_response"]:
        if answer["data"]["survey_type"] == "nps":
            score = answer["data"]["score"]
            band = "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"
            nps[week(answer["occurred_at"])][band] += 1
    return {"revenue": revenue, "orders": placed, "nps": nps}


def week_totals(answer: KpiAnswer) -> dict[str, Any]:
    """The service's revenue, orders and NPS by week, summed over the lifecycle stages."""
    revenue: dict[dt.date, Counter[str]] = defaultdict(Counter)
    placed: Counter[dt.date] = Counter()
    nps: dict[dt.date, Counter[str]] = defaultdict(Counter)
    for row in answer.rows:
        day = row.period.start.date()
        monday = day - dt.timedelta(days=day.weekday())
        figure = row.current
        if row.kpi is KpiId.REVENUE and not row.converted and figure.value is not None:
            revenue[monday][row.currency or ""] += int(figure.value)
        if row.kpi is KpiId.ITEMS_PER_ORDER and figure.denominator:
            placed[monday] += int(figure.denominator)
        if row.kpi is KpiId.NPS and figure.parts:
            for part in figure.parts:
                nps[monday][part.name.rstrip("s")] += part.count
    return {"revenue": revenue, "orders": placed, "nps": nps}


async def timed(work: Callable[[], Awaitable[Any]], runs: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return times, result


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-kpis-") as scratch:
        work = Path(scratch)
        files = generate_files(work, args.records, args.people, args.seed)
        print(f"data        {START:%Y-%m-%d} + 1 year; month asked: {MONTH[0]:%Y-%m}")

        if args.query_only:
            async with bench_store(work, args.batch_size, UNSUPPRESSED) as (store, settings):
                services = Services.build(store.db, settings)
                for written in files:
                    await import_written(services, written, options(settings))
                await query_figures(store, services, args.queries)
            return
        without_s, stored = await ingest(work, files, args.batch_size, indexes=False)
        with_s, _ = await ingest(work, files, args.batch_size, indexes=True)
        print(
            f"ingest      {stored:,} records: without the KPI indexes {without_s:.1f} s "
            f"({stored / without_s:,.0f}/s), with them {with_s:.1f} s "
            f"({stored / with_s:,.0f}/s); throughput ratio {without_s / with_s:.2f} "
            "(target >= 0.85)"
        )

        async with bench_store(work, args.batch_size, UNSUPPRESSED) as (store, settings):
            services = Services.build(store.db, settings)
            for written in files:
                await import_written(services, written, options(settings))
            await query_figures(store, services, args.queries)
    print(f"peak RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


async def query_figures(store: Store, services: Services, queries: int) -> None:
    query = KpiQuery(
        start=MONTH[0],
        end=MONTH[1],
        interval=Interval.WEEK,
        compare=True,
        group_by=(Dimension.LIFECYCLE_STAGE,),
    )
    await services.kpis.kpis(query)  # warm: indexes and caches, as a serving process is
    await raw_week_figures(store.db, *MONTH)
    api_times, answer = await timed(lambda: services.kpis.kpis(query), queries)
    raw_times, raw = await timed(lambda: raw_week_figures(store.db, *MONTH), queries)
    mine = week_totals(answer)
    for name in ("revenue", "orders", "nps"):
        ours = {k: v for k, v in mine[name].items() if v}
        theirs = {k: v for k, v in raw[name].items() if v}
        assert ours == theirs, (name, ours, theirs)
    tracemalloc.start()
    await services.kpis.kpis(query)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = len(answer.rows)
    print(
        f"kpis        a month by week by lifecycle stage, every KPI ({rows:,} rows), "
        f"{queries} runs: p50 {p(api_times, 0.5):,.0f} ms, p99 {p(api_times, 0.99):,.0f} ms"
    )
    print(
        f"raw driver  the same reads, three figures by week: p50 {p(raw_times, 0.5):,.0f} ms, "
        f"p99 {p(raw_times, 0.99):,.0f} ms"
    )
    print(
        f"ratio       kpis / raw driver: p50 "
        f"{statistics.median(api_times) / statistics.median(raw_times):.2f}x, p99 "
        f"{p(api_times, 0.99) / p(raw_times, 0.99):.2f}x (revenue, orders and NPS by week agree)"
    )
    print(f"memory      one query's peak Python allocations {peak / 2**20:,.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=positive, default=1_000_000)
    parser.add_argument("--people", type=positive, default=100_000)
    parser.add_argument("--queries", type=positive, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=positive, default=500)
    parser.add_argument(
        "--query-only", action="store_true", help="skip the ingest comparison (one load only)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
