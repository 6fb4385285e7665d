"""KPI benchmark: a year of generated data, ``kpis`` for a month by week split by lifecycle stage,
beside the raw driver reading the same documents in the same run; and what the ledgers cost
ingest.

    python -m bench.kpis [--records 1000000] [--people 100000] [--ingest-records 100000]
                         [--queries 20] [--record-runs 3] [--seed 7]

1. Ingest cost. KPIs read each active customer's ledger, folded at ingest with the profile's
   aggregate (see the README's "KPIs"). ``--ingest-records`` of generated files (the people in
   proportion) are imported twice into fresh databases through the whole pipeline: with the
   ledgers left empty (no entry per record) and without their indexes (``ledger_days``, and
   ``profiles.last_seen`` that churn counts), then as c360 runs; the throughput ratio is
   printed (the issue's target: at least 0.85).
2. Scale. The second import is the store the queries run on. When ``--records`` is more than
   ``--ingest-records``, it is copied until it holds about ``--records``: each copy is the
   documents the pipeline stored for that import — records, profiles, aggregates with their
   ledgers, follow-ups, acknowledgements — under new profile, record and follow-up ids, what
   the pipeline stores for another population that behaves alike (the embedded store ingests a
   few hundred records a second, so a million records through the pipeline take hours).
3. Query. ``KpiService.kpis`` for a month by week grouped by lifecycle stage (every KPI, with
   the previous period), at the end of the data's year, p50 and p99 over ``--queries`` runs, in
   turns with the raw driver reading the same ledgers (the same index range and projection) and
   folding three of the figures (revenue, orders, NPS by week) in a plain loop, with the
   ratio; the two agree on those figures (checked). Then ``--record-runs`` runs, in turns with
   ``kpis`` again, of the raw driver reading what a query read before the ledgers — every
   record of the span by the kind/time index, the refunded orders, the customers' profiles and
   aggregates — folding the same figures (checked too).
4. Memory: the peak of Python allocations during one query (tracemalloc) and the process's peak
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
from unittest import mock
from zoneinfo import ZoneInfo

from bench.common import bench_store, generate_files, import_written, positive
from bench.generate import SPAN, START, Written
from c360.kpis.definitions import Dimension, KpiId
from c360.kpis.periods import Interval, earlier
from c360.kpis.service import KpiAnswer, KpiQuery
from c360.metrics.ledger import MS_PER_DAY, Ledger
from c360.services import Services
from c360.settings import Settings
from c360.store import Database, Document, Store
from connectors import ParseOptions

MONTH = (dt.datetime(2024, 6, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 1, tzinfo=dt.UTC))
NOW = START + SPAN
"""The moment of the report: the end of the data's year (later, every customer is churned)."""
LEDGER_INDEXES = {"profile_metrics": ("ledger_days",), "profiles": ("last_seen",)}
# Every group shown, so the figures can be compared with the raw driver's (suppression is a
# filter over the computed figures: it costs nothing to speak of).
UNSUPPRESSED = {"kpi_min_group_size": 1}
KINDS = ("order", "return", "service_case", "survey_response", "site_event")
COPIED = ("records", "profiles", "profile_metrics", "follow_ups", "feedback_acks")
PAGE = 1000
Figures = dict[str, Any]


def options(settings: Settings) -> ParseOptions:
    return settings.parse_options()


async def drop_indexes(db: Database) -> None:
    for collection, names in LEDGER_INDEXES.items():
        existing = {i["name"] async for i in await db[collection].list_indexes()}
        for name in names:
            if name in existing:
                await db[collection].drop_index(name)


async def import_all(services: Services, files: list[Written], settings: Settings) -> float:
    started = time.perf_counter()
    for written in files:
        await import_written(services, written, options(settings))
    return time.perf_counter() - started


async def ingest_without_ledgers(work: Path, files: list[Written], batch_size: int) -> float:
    """Import every file into a fresh database with the ledgers left empty; seconds."""
    async with bench_store(work, batch_size) as (store, settings):
        await drop_indexes(store.db)
        services = Services.build(store.db, settings)
        with mock.patch("c360.metrics.aggregate.entry", no_entry):
            return await import_all(services, files, settings)


def no_entry(doc: Document) -> Ledger:
    """What a record adds to its profile's ledger when ledgers are off: nothing."""
    return Ledger()


# --- copies of what the pipeline stored ------------------------------------------------------


class Copier:
    """Documents of the imported population under new ids, copy ``n`` of them: profile ids
    (24 hex digits) with ``n`` as their first byte, record ids and external ids with ``~n``,
    follow-up ids with ``~n``, wherever they appear (references, ledger entries, timeline
    keys)."""

    def __init__(self, profiles: set[str], records: set[str], follow_ups: set[str]) -> None:
        self.profiles, self.records, self.follow_ups = profiles, records, follow_ups

    def copy(self, value: Any, n: int) -> Any:
        if isinstance(value, dict):
            return {k: self.copy(v, n) for k, v in value.items()}
        if isinstance(value, list):
            return [self.copy(v, n) for v in value]
        if isinstance(value, str):
            return self._string(value, n)
        return value

    def _string(self, text: str, n: int) -> str:
        if text in self.profiles:
            return f"{n:02x}{text[2:]}"
        if text in self.records or text in self.follow_ups:
            return f"{text}~{n}"
        head, bar, tail = text.partition("|")
        if bar and tail in self.records:  # a timeline key: moment|record id
            return f"{head}|{tail}~{n}"
        return text

    def record(self, doc: Document, n: int) -> Document:
        copied: Document = self.copy(doc, n)
        copied["external_id"] = f"{doc['external_id']}~{n}"
        data = copied.get("data") or {}
        if "order_external_id" in data:  # a refund names its order by the order's id
            data["order_external_id"] = f"{data['order_external_id']}~{n}"
        return copied


async def copy_population(db: Database, copies: int) -> None:
    """Add ``copies - 1`` copies of every document the KPIs read, a page at a time."""
    ids = {name: {d["_id"] async for d in db[name].find({}, {"_id": 1})} for name in COPIED}
    copier = Copier(ids["profiles"], ids["records"], ids["follow_ups"])
    for name in COPIED:
        page: list[Document] = []

        async def flush(page: list[Document], name: str = name) -> None:
            for n in range(1, copies):
                docs = [
                    copier.record(d, n) if name == "records" else copier.copy(d, n) for d in page
                ]
                await db[name].insert_many(docs, ordered=False)

        async for doc in db[name].find({}):
            page.append(doc)
            if len(page) == PAGE:
                await flush(page)
                page = []
        if page:
            await flush(page)


# --- the figures, by the raw driver ----------------------------------------------------------


def read_span(answer: KpiAnswer, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """What the query read: its periods, the ones before them and the span retention looks
    back to from each."""
    starts = [earlier(*p.previous, Interval.WEEK, zone)[0] for p in answer.periods] + [
        p.start for p in answer.periods
    ]
    return min(starts), max(p.end for p in answer.periods)


def week(ms: int) -> dt.date:
    day = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def band(score: int) -> str:
    return "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"


async def raw_ledger_figures(
    db: Database, span: tuple[dt.datetime, dt.datetime], month: tuple[int, int]
) -> Figures:
    """The raw driver: the ledgers the query reads (same index range, same projection), and
    revenue, orders and NPS by week of the month folded from them."""
    start_ms, end_ms = (int(m.timestamp() * 1000) for m in span)
    days = {"$gte": start_ms // MS_PER_DAY, "$lte": (end_ms - 1) // MS_PER_DAY}
    cursor = db.profile_metrics.find({"ledger_days": {"$elemMatch": days}}, {"ledger": 1})
    ledgers = [doc["ledger"] async for doc in cursor]
    revenue: dict[dt.date, Counter[str]] = defaultdict(Counter)
    placed: Counter[dt.date] = Counter()
    nps: dict[dt.date, Counter[str]] = defaultdict(Counter)
    elsewhere: list[list[Any]] = []
    low, high = month
    for ledger in ledgers:
        orders = {o[1]: o for o in ledger["orders"]}
        for o in ledger["orders"]:
            if low <= o[0] < high and not o[8]:
                revenue[week(o[0])][o[2]] += o[3]
                placed[week(o[0])] += 1
        for r in ledger["returns"]:
            if low <= r[0] < high:
                if r[3] not in orders:
                    elsewhere.append(r)
                elif not orders[r[3]][8]:
                    revenue[week(r[0])][r[1]] -= r[2]
        for s in ledger["surveys"]:
            if low <= s[0] < high and s[3] == "nps":
                nps[week(s[0])][band(s[4])] += 1
    cancelled: set[str] = set()
    if elsewhere:
        found = db.records.find({"_id": {"$in": [r[3] for r in elsewhere]}, "kind": "order"})
        cancelled = {d["_id"] async for d in found if d["data"].get("cancelled_at") is not None}
    for r in elsewhere:
        if r[3] not in cancelled:
            revenue[week(r[0])][r[1]] -= r[2]
    return {"revenue": revenue, "orders": placed, "nps": nps}


async def raw_record_figures(
    db: Database, span: tuple[dt.datetime, dt.datetime], month: tuple[int, int]
) -> Figures:
    """The raw driver: what a query read before the ledgers — each kind's records of the span
    by the kind/time index, the refunded orders, the customers' profiles and aggregates — and
    the same three figures folded from the records."""
    window = {"$gte": span[0], "$lt": span[1]}
    payload = {"profile_id": 1, "occurred_at": 1, "source": 1, "data": 1}
    docs: dict[str, list[Document]] = {}
    for kind in KINDS:
        projection = payload if kind != "site_event" else {"profile_id": 1, "occurred_at": 1}
        found = db.records.find({"kind": kind, "occurred_at": window}, projection)
        docs[kind] = [d async for d in found if "profile_id" in d]

    def order_id(refund: Document) -> str:
        return f"{refund['source']}:order:{refund['data']['order_external_id']}"

    wanted = sorted({order_id(d) for d in docs["return"]})
    orders = {
        d["_id"]: d
        async for d in db.records.find({"_id": {"$in": wanted}, "kind": "order"}, payload)
    }
    people = sorted({d["profile_id"] for kind in KINDS for d in docs[kind]})
    for start in range(0, len(people), PAGE):
        chunk = people[start : start + PAGE]
        _ = [p async for p in db.profiles.find({"_id": {"$in": chunk}})]
        _ = [m async for m in db.profile_metrics.find({"_id": {"$in": chunk}}, {"agg": 1})]

    def ms(doc: Document) -> int:
        return int(doc["occurred_at"].timestamp() * 1000)

    revenue: dict[dt.date, Counter[str]] = defaultdict(Counter)
    placed: Counter[dt.date] = Counter()
    nps: dict[dt.date, Counter[str]] = defaultdict(Counter)
    low, high = month
    for order in docs["order"]:
        if low <= ms(order) < high and order["data"].get("cancelled_at") is None:
            total = order["data"]["total"]
            revenue[week(ms(order))][total["currency"]] += total["amount"]
            placed[week(ms(order))] += 1
    for refund in docs["return"]:
        bought = orders.get(order_id(refund))
        stands = bought is None or bought["data"].get("cancelled_at") is None
        if low <= ms(refund) < high and stands:
            amount = refund["data"]["amount"]
            revenue[week(ms(refund))][amount["currency"]] -= amount["amount"]
    for answer in docs["survey_response"]:
        if low <= ms(answer) < high and answer["data"]["survey_type"] == "nps":
            nps[week(ms(answer))][band(answer["data"]["score"])] += 1
    return {"revenue": revenue, "orders": placed, "nps": nps}


def week_totals(answer: KpiAnswer) -> Figures:
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


def agree(mine: Figures, theirs: Figures, who: str) -> None:
    for name in ("revenue", "orders", "nps"):
        ours = {k: v for k, v in mine[name].items() if v}
        raw = {k: v for k, v in theirs[name].items() if v}
        assert ours == raw, (who, name, ours, raw)


async def interleaved(
    first: Callable[[], Awaitable[Any]], second: Callable[[], Awaitable[Any]], runs: int
) -> tuple[list[float], list[float]]:
    """Each timed ``runs`` times, in turns, so a change in the machine's load falls on both."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for work, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            await work()
            into.append(time.perf_counter() - started)
    return times


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def ratio(mine: list[float], theirs: list[float]) -> str:
    return (
        f"p50 {statistics.median(mine) / statistics.median(theirs):.2f}x, "
        f"p99 {p(mine, 0.99) / p(theirs, 0.99):.2f}x"
    )


async def query_figures(
    store: Store, services: Services, queries: int, record_runs: int, settings: Settings
) -> None:
    query = KpiQuery(
        start=MONTH[0],
        end=MONTH[1],
        interval=Interval.WEEK,
        compare=True,
        group_by=(Dimension.LIFECYCLE_STAGE,),
    )
    answer = await services.kpis.kpis(query, NOW)  # warm: indexes and caches, as a server is
    span = read_span(answer, ZoneInfo(settings.reporting_time_zone))
    month = (int(MONTH[0].timestamp() * 1000), int(MONTH[1].timestamp() * 1000))
    mine = week_totals(answer)
    agree(mine, await raw_ledger_figures(store.db, span, month), "raw driver, ledgers")
    stages = sorted({r.group[0] or "-" for r in answer.rows if r.group})
    api_times, raw_times = await interleaved(
        lambda: services.kpis.kpis(query, NOW),
        lambda: raw_ledger_figures(store.db, span, month),
        queries,
    )
    tracemalloc.start()
    await services.kpis.kpis(query, NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"kpis        a month by week by lifecycle stage ({len(stages)} stages: "
        f"{', '.join(stages)}), every KPI ({len(answer.rows):,} rows), now {NOW:%Y-%m-%d}, "
        f"{queries} runs: p50 {p(api_times, 0.5):,.0f} ms, p99 {p(api_times, 0.99):,.0f} ms"
    )
    print(
        f"raw driver  the same ledgers ({span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}), three "
        f"figures by week: p50 {p(raw_times, 0.5):,.0f} ms, p99 {p(raw_times, 0.99):,.0f} ms"
    )
    print(
        f"ratio       kpis / raw driver: {ratio(api_times, raw_times)} "
        "(revenue, orders and NPS by week agree)"
    )
    if record_runs:
        agree(mine, await raw_record_figures(store.db, span, month), "raw driver, records")
        old_times, api_again = await interleaved(
            lambda: raw_record_figures(store.db, span, month),
            lambda: services.kpis.kpis(query, NOW),
            record_runs,
        )
        print(
            f"records     the raw driver reading what a query read before the ledgers (the "
            f"span's records, refunded orders, profiles, aggregates), {record_runs} runs: "
            f"p50 {p(old_times, 0.5):,.0f} ms, p99 {p(old_times, 0.99):,.0f} ms; kpis in turn "
            f"with it p50 {p(api_again, 0.5):,.0f} ms, kpis / it: {ratio(api_again, old_times)} "
            "(the same figures agree)"
        )
    print(f"memory      one query's peak Python allocations {peak / 2**20:,.1f} MB")


async def run(args: argparse.Namespace) -> None:
    ingested = min(args.ingest_records, args.records)
    copies = max(1, round(args.records / ingested))
    people = max(1, round(args.people * ingested / args.records))
    with tempfile.TemporaryDirectory(prefix="c360-bench-kpis-") as scratch:
        work = Path(scratch)
        files = generate_files(work, ingested, people, args.seed)
        print(f"data        {START:%Y-%m-%d} + 1 year; month asked: {MONTH[0]:%Y-%m}")
        if not args.query_only:
            without_s = await ingest_without_ledgers(work, files, args.batch_size)
        async with bench_store(work, args.batch_size, UNSUPPRESSED) as (store, settings):
            services = Services.build(store.db, settings)
            with_s = await import_all(services, files, settings)
            stored = await store.db.records.estimated_document_count()
            if not args.query_only:
                print(
                    f"ingest      {stored:,} records through the pipeline: with the ledgers "
                    f"empty and without their indexes {without_s:.1f} s "
                    f"({stored / without_s:,.0f}/s), as c360 runs {with_s:.1f} s "
                    f"({stored / with_s:,.0f}/s); throughput ratio {without_s / with_s:.2f} "
                    "(target >= 0.85)"
                )
            if copies > 1:
                started = time.perf_counter()
                await copy_population(store.db, copies)
                print(
                    f"copies      that population {copies} times over "
                    f"({await store.db.records.estimated_document_count():,} records, "
                    f"{await store.db.profiles.estimated_document_count():,} profiles, "
                    f"{await store.db.profile_metrics.estimated_document_count():,} ledgers) in "
                    f"{time.perf_counter() - started:.0f} s (not counted)"
                )
            await query_figures(store, services, args.queries, args.record_runs, settings)
    print(f"peak RSS    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--records", type=positive, default=1_000_000)
    parser.add_argument("--people", type=positive, default=100_000)
    parser.add_argument(
        "--ingest-records",
        type=positive,
        default=100_000,
        help="records imported through the pipeline (twice: the ingest cost); the rest copies",
    )
    parser.add_argument("--queries", type=positive, default=20)
    parser.add_argument(
        "--record-runs",
        type=int,
        default=3,
        help="runs of the raw driver over the span's records (0: none)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=positive, default=500)
    parser.add_argument(
        "--query-only", action="store_true", help="skip the ingest comparison (one load only)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
