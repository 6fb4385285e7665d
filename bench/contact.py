"""Contact-policy benchmark: ``contactDecision`` and the audience export, against the raw driver.

    python -m bench.contact [--profiles N] [--clients C] [--requests R] [--seed S] [--quick]

1. Load: generates every connector's file for N people (default 10 000) with about 30 records
   each (``bench/generate.py``) and imports them through the whole pipeline (``import_file``)
   into a fresh database; then, for a seeded random share of the profiles that hold an e-mail
   address, writes contact data as canonical JSON-lines records linked by that address —
   consent changes (opt-in, opt-out, pending; per purpose and channel-wide ``all``), preference
   changes (preferred channel, time zone, quiet hours, contact windows, frequency caps, a few
   do-not-contacts), contact-point statuses (verified, bounced) and outbound e-mails (some
   profiles at the cap) — and imports them with the ``canonical`` connector. Both loads are
   timed apart from each other and from what follows.
2. ``contactDecision`` over HTTP: serves the real application (``create_app``) with uvicorn in
   this process as ``bench/api.py`` does (httptools; uvloop's event loop where installed),
   creates an API key with the marketing role, and has C concurrent clients (default 16) send
   R requests in all (default 2 000) of
   ``contactDecision(profileId, channel: EMAIL, purpose: "marketing")``, each for a profile
   picked at random (seeded) among the live ones. Every response is checked: status 200, no
   ``errors``, a ``ContactDecision``.
3. Raw driver, for the same profiles and concurrency: the reads a decision makes
   (``ContactService.decide`` through ``ContactRepository.records``) without the policy — the
   profile by ``_id``, its identities by ``profile_id``, and its records of the decision kinds
   and the contact log (one ``$in`` over the kinds, same projection; the contacts older than
   the longest window a cap may have dropped in memory, as the repository does). Two rows: in
   the application's order (one after another) and with identities and records read
   concurrently once the profile is known.
4. Audience export: streams ``GET /audiences/export?channel=email&purpose=marketing`` to its end,
   as NDJSON and as CSV, counting rows (members) and bytes; every live profile is examined, so
   profiles/s is the live count over the time. Raw driver: the reads the export makes
   (``ContactRepository.live_after`` then ``facts_between``: batches of live profiles by
   ``_id``, then identities and records in that ``_id`` range), timed the same way. A last,
   uncounted NDJSON export runs under ``tracemalloc``: the peak of memory allocated during it
   (client and server share this process; the client keeps nothing) shows whether the export
   holds one batch or the whole audience. The growth of the process's peak RSS over the counted
   NDJSON export is printed too (zero when it stays under an earlier peak).

Warm-ups are not counted. It prints p50/p95/p99 and max latency and throughput of each side with
the ratios GraphQL/raw of p50 and p99, the decisions' outcomes, the export rates with the ratio
export/raw, and the store commands the application sent per decision and per export batch
(counted with a PyMongo command listener, which sees only the application's client). Clients and
server share this process and its event loop, so the HTTP figures include the clients' own work.

The store is ``C360_MONGODB_URI`` when set in the environment, else a private embedded server in
a temporary directory; the database is dropped at the end. Nothing is asserted: the figures are
for people to read and compare between runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import resource
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pymongo import monitoring

from bench.api import (
    CommandCounter,
    Fetch,
    Plan,
    Run,
    event_loop_factory,
    live_profiles,
    load,
    measure,
    plan_from_arguments,
    report_errors,
    serve_with_client,
)
from bench.common import bench_store, generate_files, import_written
from bench.generate import SPAN, START, Item, write_file
from c360.api.app import create_app
from c360.auth.service import Role
from c360.contact.facts import CONTACT_KIND, DECISION_KINDS
from c360.services import Services
from c360.settings import Settings
from c360.store import Database, Document
from schemas.records import MAX_CAP_DAYS

RECORDS_PER_PROFILE = 30
QUICK_PROFILES = 300
QUICK_REQUESTS = 200
CHANNEL, PURPOSE = "email", "marketing"
CONTACT_FILE = "contact_changes.jsonl"

DECISION = """
query Decision($id: ID!) {
  contactDecision(profileId: $id, channel: EMAIL, purpose: "marketing") {
    __typename
    ... on ContactDecision {
      allowed
      contactPoint
      reasons { code message }
      nextAllowedAt
      timeZones
      timeZoneBasis
      regime
      country
      unsubscribeUrl
    }
    ... on Error { code message }
  }
}
"""

# What the contact policy's repository reads of a record (ContactRepository's projection).
RECORD_FIELDS = {"kind": 1, "source": 1, "occurred_at": 1, "revision": 1, "data": 1}
RECORD_FIELDS |= {"profile_id": 1}


# --- Contact data ------------------------------------------------------------------------------


async def email_owners(db: Database, live: Sequence[str]) -> list[tuple[str, str]]:
    """(profile id, its first e-mail address) for the live profiles that hold one, by id."""
    wanted = set(live)
    first: dict[str, str] = {}
    cursor = db["identities"].find({"type": "email"}, {"profile_id": 1, "value": 1}).sort("_id")
    async for doc in cursor:
        if doc["profile_id"] in wanted:
            first.setdefault(doc["profile_id"], doc["value"])
    return sorted(first.items())


def _past(rng: random.Random) -> str:
    """A moment in the year the generated sources cover."""
    return (START + SPAN * rng.random()).isoformat()


def _since(rng: random.Random) -> str:
    """A moment in the three months after that year: a change of mind."""
    return (START + SPAN + dt.timedelta(days=rng.uniform(1, 90))).isoformat()


def _days_ago(now: dt.datetime, rng: random.Random, low: float, high: float) -> str:
    return (now - dt.timedelta(days=rng.uniform(low, high))).isoformat()


def contact_records(index: int, email: str, seed: int, now: dt.datetime) -> list[Document]:
    """One profile's contact data, drawn from its own seeded generator (possibly none)."""
    rng = random.Random(f"{seed}:contact:{index}")
    who = [{"type": "email", "value": email}]
    made: list[Document] = []

    def add(kind: str, source: str, occurred_at: str, **data: Any) -> None:
        external_id = f"bench-{index}-{len(made)}"
        made.append(
            {"kind": kind, "source": source, "external_id": external_id}
            | {"occurred_at": occurred_at, "identifiers": who, **data}
        )

    def consent(channel: str, purpose: str, status: str, at: str, point: str | None) -> None:
        where = {} if point is None else {"contact_point": point}
        add("consent_change", "esp", at, channel=channel, purpose=purpose, status=status, **where)

    if rng.random() < 0.55:
        status = rng.choices(("opted_in", "opted_out", "pending"), (60, 30, 10))[0]
        point = email if rng.random() < 0.7 else None
        consent(CHANNEL, PURPOSE, status, _past(rng), point)
        if rng.random() < 0.15:  # changed their mind since
            again = "opted_out" if status != "opted_out" else "opted_in"
            consent(CHANNEL, PURPOSE, again, _since(rng), point)
    if rng.random() < 0.08:  # no e-mail at all, and for a few a later opt-in to marketing
        consent(CHANNEL, "all", "opted_out", _past(rng), None)
        if rng.random() < 0.3:
            consent(CHANNEL, PURPOSE, "opted_in", _since(rng), email)
    if rng.random() < 0.2:
        consent("sms", PURPOSE, rng.choice(("opted_in", "opted_out")), _past(rng), None)
    if rng.random() < 0.1:
        consent(CHANNEL, "surveys", "opted_in", _past(rng), email)

    if rng.random() < 0.3:
        preferences: dict[str, Any] = {}
        if rng.random() < 0.5:
            preferences["preferred_channels"] = {PURPOSE: rng.choice(("email", "sms"))}
        if rng.random() < 0.5:
            zones = ("Europe/Madrid", "Atlantic/Canary", "Europe/London", "America/New_York")
            preferences["time_zone"] = rng.choice(zones)
        if rng.random() < 0.4:
            preferences["quiet_hours"] = rng.choice(
                ({"start": "21:00", "end": "09:00"}, {"start": "22:00", "end": "08:00"})
            )
        if rng.random() < 0.2:
            weekdays = ["mon", "tue", "wed", "thu", "fri"]
            window = {"days": weekdays, "start": "09:00", "end": "18:00", "channels": [CHANNEL]}
            preferences["contact_windows"] = [window]
        if rng.random() < 0.3 or not preferences:
            max_contacts, per_days = rng.choice(((1, 7), (4, 30)))  # 30: past the default cap
            cap = {"channel": CHANNEL, "purpose": PURPOSE}
            preferences["frequency_caps"] = [
                cap | {"max_contacts": max_contacts, "per_days": per_days}
            ]
        add("preference_change", "prefcentre", _past(rng), **preferences)
    if rng.random() < 0.02:
        stop = {"active": True, "reason": "asked not to be contacted, on the phone"}
        add("preference_change", "callcentre", _past(rng), do_not_contact=stop)

    if rng.random() < 0.15:
        state: dict[str, str] = {"status": "verified"}
        if rng.random() < 0.4:
            state = {"status": "bounced", "reason": "550 5.1.1 mailbox unknown"}
        address = {"channel": CHANNEL, "contact_point": email}
        add("contact_point_status", "esp", _past(rng), **address, **state)

    if rng.random() < 0.3:  # this week's campaigns: two or more reach the default cap
        for _ in range(rng.choice((1, 2, 2, 3))):
            outcome = rng.choices(("sent", "delivered", "opened", "failed"), (30, 40, 20, 10))[0]
            add(
                "outbound_contact",
                "esp",
                _days_ago(now, rng, 0.05, 6.5),
                channel=CHANNEL,
                purpose=PURPOSE,
                contact_point=email,
                campaign=f"weekly-{rng.randrange(4)}",
                outcome=outcome,
            )
    if rng.random() < 0.1:  # older ones, counted only by a customer's own 30-day cap
        for _ in range(rng.randint(1, 3)):
            add(
                "outbound_contact",
                "esp",
                _days_ago(now, rng, 8, 29),
                channel=CHANNEL,
                purpose=PURPOSE,
                contact_point=email,
                campaign="monthly",
                outcome="delivered",
            )
    return made


async def load_contact(
    services: Services, db: Database, settings: Settings, directory: Path, seed: int
) -> None:
    """Writes and imports the contact data; prints what it was and how long the import took."""
    live = await live_profiles(db)
    owners = await email_owners(db, live)
    now = dt.datetime.now(dt.UTC)
    made = [contact_records(i, email, seed, now) for i, (_, email) in enumerate(owners)]
    kinds = Counter(doc["kind"] for docs in made for doc in docs)
    default_days = services.contact.policy.longest_cap_days
    longer = {
        doc["external_id"]
        for docs in made
        for doc in docs
        for cap in doc.get("frequency_caps", ())
        if cap["per_days"] > default_days
    }
    items = (Item(json.dumps(doc, ensure_ascii=False) + "\n") for docs in made for doc in docs)
    written = write_file("canonical", directory / CONTACT_FILE, items)
    imported = await import_written(services, written, settings.parse_options())
    summary = imported.summary
    print(
        f"contact     {written.records:,} records for {sum(1 for d in made if d):,} of "
        f"{len(owners):,} live profiles with an e-mail ({len(live):,} live): "
        + ", ".join(f"{kinds[k]:,} {k}" for k in sorted(kinds))
        + f"; {len(longer):,} own caps over more than {default_days} days"
    )
    print(
        f"loaded      {summary.read:,} contact records ({summary.rejected:,} rejected) in "
        f"{imported.seconds:.1f} s ({summary.read / imported.seconds:,.0f} records/s) through "
        "the canonical connector"
    )


# --- Decisions ---------------------------------------------------------------------------------


def decision_fetch(http: httpx.AsyncClient, outcomes: Counter[str]) -> Fetch:
    """One ``contactDecision`` over HTTP: (1 if allowed else 0, what was wrong or None)."""

    async def fetch(profile_id: str) -> tuple[int, str | None]:
        body = {"query": DECISION, "variables": {"id": profile_id}, "operationName": "Decision"}
        response = await http.post("/graphql", json=body)
        if response.status_code != 200:
            return 0, f"HTTP {response.status_code}: {response.text}"
        answer: Document = response.json()
        if answer.get("errors"):
            return 0, f"errors: {answer['errors']}"
        decision = (answer.get("data") or {}).get("contactDecision") or {}
        if decision.get("__typename") != "ContactDecision":
            return 0, f"not a decision: {decision}"
        first = decision["reasons"][0]["code"] if decision["reasons"] else "none"
        outcomes[("allowed: " if decision["allowed"] else "refused: ") + first] += 1
        return int(decision["allowed"]), None

    return fetch


# What a decision reads of the records (``ContactRepository.records``): one ``$in`` over the
# kinds, the contact log among them, whose cap window is applied in memory.
RECORD_KINDS = {"kind": {"$in": [*DECISION_KINDS, CONTACT_KIND]}}


def in_window(docs: list[Document], contacts_since: dt.datetime) -> list[Document]:
    """The records a decision keeps: outbound contacts only within the cap window."""
    return [d for d in docs if d["kind"] != CONTACT_KIND or d["occurred_at"] > contacts_since]


def raw_decision_fetch(db: Database, cap_days: int, *, together: bool) -> Fetch:
    """The reads of one decision: (records read, what was wrong or None)."""
    profiles, identities, records = db["profiles"], db["identities"], db["records"]

    async def fetch(profile_id: str) -> tuple[int, str | None]:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=cap_days)
        profile = await profiles.find_one({"_id": profile_id})
        if profile is None:
            return 0, "no profile"
        owned = {"profile_id": profile["_id"]}
        wanted = records.find(owned | RECORD_KINDS, RECORD_FIELDS)
        if together:
            _, found = await asyncio.gather(identities.find(owned).to_list(), wanted.to_list())
        else:
            await identities.find(owned).to_list()
            found = await wanted.to_list()
        return len(in_window(found, since)), None

    return fetch


# --- The audience export -----------------------------------------------------------------------


@dataclass
class Export:
    """One pass over every live profile: what came out, and how long it took."""

    profiles: int
    rows: int
    bytes: int
    seconds: float
    first_byte: float
    problem: str | None = None

    @property
    def profiles_per_s(self) -> float:
        return self.profiles / self.seconds

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


async def http_export(http: httpx.AsyncClient, form: str, live: int) -> Export:
    """``GET /audiences/export`` read to its end; rows: lines, less the CSV header."""
    params = {"channel": CHANNEL, "purpose": PURPOSE, "format": form}
    lines = size = 0
    first_byte = 0.0
    problem = None
    started = time.perf_counter()
    async with http.stream("GET", "/audiences/export", params=params) as response:
        async for chunk in response.aiter_bytes():
            if not size:
                first_byte = time.perf_counter() - started
            lines += chunk.count(b"\n")
            size += len(chunk)
        if response.status_code != 200:
            problem = f"HTTP {response.status_code}"
    seconds = time.perf_counter() - started
    rows = lines - 1 if form == "csv" and lines else lines
    return Export(live, rows, size, seconds, first_byte, problem)


async def raw_export(db: Database, cap_days: int, batch: int) -> Export:
    """The export's reads: the next batch of live profiles by ``_id``, then identities and
    records in that ``_id`` range (rows: the records read)."""
    profiles, identities, records = db["profiles"], db["identities"], db["records"]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=cap_days)
    examined = read = size = 0
    first_byte = 0.0
    after: str | None = None
    started = time.perf_counter()
    while True:
        query: Document = {"merged_into": {"$exists": False}}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = profiles.find(query, {"_id": 1}).sort("_id", 1).limit(batch)
        ids = [doc["_id"] async for doc in cursor]
        if not ids:
            break
        span = {"profile_id": {"$gte": ids[0], "$lte": ids[-1]}}
        await identities.find(span).to_list()
        found = await records.find(span | RECORD_KINDS, RECORD_FIELDS).to_list()
        if not examined:
            first_byte = time.perf_counter() - started
        examined += len(ids)
        read += len(in_window(found, since))
        after = ids[-1]
    return Export(examined, read, size, time.perf_counter() - started, first_byte)


def peak_rss_mb() -> float:
    """The process's peak resident set so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Memory:
    traced_peak_mb: float
    output_mb: float
    rss_growth_mb: float


async def traced_export(http: httpx.AsyncClient, live: int) -> tuple[float, float]:
    """An NDJSON export under ``tracemalloc``: (peak MB allocated during it, output MB)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        done = await http_export(http, "ndjson", live)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20, done.bytes / 2**20


# --- The run -----------------------------------------------------------------------------------


@dataclass
class Results:
    over_http: Run
    raw_serial: Run
    raw_together: Run
    outcomes: Counter[str]
    decisions: CommandCounter
    exports: dict[str, Export]
    raw: Export
    export_commands: CommandCounter
    batch: int
    memory: Memory


async def run(plan: Plan, batch_size: int) -> Results:
    decisions, exporting = CommandCounter(), CommandCounter()
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        records = plan.profiles * RECORDS_PER_PROFILE
        files = generate_files(Path(tmp), records, plan.profiles, plan.seed)
        async with bench_store(Path(tmp), batch_size) as (store, settings):
            print(f"store       {store.kind}, database {settings.database}, batch {batch_size}")
            services = Services.build(store.db, settings)
            await load(services, store, settings, files)
            await load_contact(services, store.db, settings, Path(tmp), plan.seed)
            live = await live_profiles(store.db)
            rng = random.Random(plan.seed)
            warmup = [rng.choice(live) for _ in range(plan.warmup)]
            picked = [rng.choice(live) for _ in range(plan.requests)]
            batch = services.contact.config.audience_batch
            print(
                f"requests    {plan.requests:,} by {plan.clients} clients for "
                f"{len(set(picked)):,} distinct profiles, after {plan.warmup:,} not counted"
            )

            _, key = await services.keys.create(Role.MARKETING, "bench", dt.datetime.now(dt.UTC))
            monitoring.register(decisions)  # before the application's client exists
            monitoring.register(exporting)
            # Warms the store's caches for the export; not counted.
            await raw_export(store.db, MAX_CAP_DAYS, batch)
            async with serve_with_client(
                create_app(settings), key, plan.clients, request_timeout_s=600.0
            ) as (base_url, http):
                print(f"server      {base_url}, uvicorn in this process, a marketing key")
                outcomes = Counter[str]()
                await measure(decision_fetch(http, Counter()), warmup, plan.clients)
                decisions.on = True
                over_http = await measure(decision_fetch(http, outcomes), picked, plan.clients)
                decisions.on = False

                rss_before = peak_rss_mb()
                exporting.on = True
                ndjson = await http_export(http, "ndjson", len(live))
                exporting.on = False
                rss_growth = peak_rss_mb() - rss_before
                csv = await http_export(http, "csv", len(live))
                traced_mb, output_mb = await traced_export(http, len(live))

            serial = raw_decision_fetch(store.db, MAX_CAP_DAYS, together=False)
            together = raw_decision_fetch(store.db, MAX_CAP_DAYS, together=True)
            await measure(serial, warmup, plan.clients)
            raw_serial = await measure(serial, picked, plan.clients)
            raw_together = await measure(together, picked, plan.clients)
            raw = await raw_export(store.db, MAX_CAP_DAYS, batch)
    return Results(
        over_http,
        raw_serial,
        raw_together,
        outcomes,
        decisions,
        {"ndjson": ndjson, "csv": csv},
        raw,
        exporting,
        batch,
        Memory(traced_mb, output_mb, rss_growth),
    )


# --- The report --------------------------------------------------------------------------------


def report(results: Results, requests: int) -> None:
    print()
    report_decisions(results, requests)
    print()
    report_export(results)


def report_decisions(results: Results, requests: int) -> None:
    over_http, serial, together = results.over_http, results.raw_serial, results.raw_together
    print(f"{'contactDecision':26}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}")
    rows = (
        ("GraphQL over HTTP", over_http),
        ("raw driver, in turn", serial),
        ("raw driver, concurrent", together),
    )
    for name, side in rows:
        cells = [side.percentile(q) * 1000 for q in (0.50, 0.95, 0.99, 1.0)]
        print(f"{name:<26}" + "".join(f"{c:9.2f}" for c in cells) + f"{side.throughput:9,.0f}")
    for name, raw in (("in turn", serial), ("concurrent", together)):
        p50 = over_http.percentile(0.50) / raw.percentile(0.50)
        p99 = over_http.percentile(0.99) / raw.percentile(0.99)
        print(f"ratio GraphQL/raw, raw {name}: p50 {p50:.2f}x, p99 {p99:.2f}x")
    allowed = over_http.items / len(over_http.latencies)
    print(
        f"decisions   {allowed:.1%} allowed; the raw side read "
        f"{serial.items / len(serial.latencies):.1f} records per decision; first reasons:"
    )
    for outcome, count in results.outcomes.most_common():
        print(f"  {count / requests:6.1%}  {outcome}")
    report_commands(results.decisions, requests, "GraphQL request", "request")
    report_errors((("GraphQL over HTTP", over_http), ("raw driver", serial)))


def report_export(results: Results) -> None:
    print(
        f"{'audience export':26}{'profiles':>9}{'rows':>9}{'MB':>7}{'s':>8}{'first ms':>10}"
        f"{'profiles/s':>12}{'rows/s':>9}"
    )
    sides = [(f"GET {form}", done) for form, done in results.exports.items()]
    for name, done in [*sides, ("raw driver (rows: records)", results.raw)]:
        size = f"{done.bytes / 2**20:7.1f}" if done.bytes else f"{'-':>7}"
        print(
            f"{name:<26}{done.profiles:9,}{done.rows:9,}{size}"
            f"{done.seconds:8.2f}{done.first_byte * 1000:10.1f}"
            f"{done.profiles_per_s:12,.0f}{done.rows_per_s:9,.0f}"
        )
    ratios = ", ".join(
        f"{form} {done.profiles_per_s / results.raw.profiles_per_s:.2f}"
        for form, done in results.exports.items()
    )
    print(f"ratio export/raw profiles/s: {ratios}")
    ndjson = results.exports["ndjson"]
    batches = max(-(-ndjson.profiles // results.batch), 1)
    report_commands(results.export_commands, batches, "batch of the NDJSON export", "batch")
    memory = results.memory
    print(
        f"memory      {memory.traced_peak_mb:.1f} MB allocated at the peak of an NDJSON export "
        f"of {memory.output_mb:.1f} MB ({ndjson.profiles:,} profiles, batches of "
        f"{results.batch}; tracemalloc); peak RSS grew {memory.rss_growth_mb:.1f} MB over the "
        "counted export"
    )
    for form, done in results.exports.items():
        if done.problem is not None:
            print(f"errors      GET {form}: {done.problem}")
    if results.exports["ndjson"].rows != results.exports["csv"].rows:
        print("errors      NDJSON and CSV exports disagree on the members")


def report_commands(counter: CommandCounter, per: int, what: str, unit: str) -> None:
    total = sum(counter.commands.values()) / per
    print(
        f"store       {total:.2f} commands per {what}; per command, as the application's "
        "client saw it (queueing included):"
    )
    for name, count in sorted(counter.commands.items()):
        mean_ms = counter.micros[name] / count / 1000
        print(f"  {name:<30} {count / per:7.2f} per {unit} {mean_ms:9.2f} ms mean")


def main() -> None:
    plan = plan_from_arguments(__doc__, "decisions")
    requests = plan.requests
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        results = runner.run(run(plan, Settings(_env_file=None).ingest_batch_size))
    report(results, requests)


if __name__ == "__main__":
    main()
