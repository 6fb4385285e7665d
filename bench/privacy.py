"""Privacy benchmark: the access export of a person with very many records, against the raw
driver reading and writing the same records, in the same run.

    python -m bench.privacy [--records N] [--seed S]

1. Load (not counted): two people through the whole pipeline (``import_file``, canonical JSON
   lines): one with N records (default 100 000: site events, orders, cases, surveys), one
   with N/10, and their anonymous browsing, identified later (a merge each).
2. An access request for each, received, verified and run (the run finds the person: its
   profiles, absorbed ones too, identifiers and person records), timed.
3. The export, streamed to a sink that counts its bytes and keeps nothing: as one JSON
   document and as a zip of JSON and CSV per kind, each under ``tracemalloc`` (the peak of
   memory allocated while it runs). Raw driver: the same records read by ``profile_id`` in
   pages of 1 000 (the export's page), each written as JSON to the same kind of sink, timed
   and traced the same way.

It prints items, bytes, seconds, records/s and the traced peak for each, the ratio export/raw
of the time, and the peak memory of the big export beside the small one's: constant memory
shows as two peaks of the same size for people ten times apart. The store is
``C360_MONGODB_URI`` when set, else a private embedded server in a temporary directory; the
database is dropped at the end. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import bench_store
from c360.ingest.files import import_file
from c360.privacy.formats import json_document, zip_archive
from c360.privacy.given import GivenIdentifier
from c360.privacy.rules import RequestType
from c360.services import Services
from c360.settings import Settings
from c360.store import Database, Document
from schemas import IdentifierType

PAGE = 1000


def person_records(email: str, count: int, seed: int) -> Iterator[str]:
    """``count`` canonical records of one person as JSON lines, mostly site events, half of
    them anonymous."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    anon = {"type": "anonymous", "value": f"anon-{seed:08x}"}
    who = [{"type": "email", "value": email}]
    for n in range(count - 1):
        at = (start + dt.timedelta(seconds=n * 60 + rng.randrange(60))).isoformat()
        roll = rng.random()
        if roll < 0.9:
            record = {
                "kind": "site_event",
                "source": "web",
                "external_id": f"E-{seed}-{n}",
                "occurred_at": at,
                "identifiers": [anon] if n % 2 else who,
                "event_type": "track",
                "name": "Product Viewed",
                "properties": {"sku": f"SKU-{rng.randrange(500)}", "price": rng.randrange(9999)},
            }
        elif roll < 0.97:
            amount = rng.randrange(100, 20000)
            record = {
                "kind": "order",
                "source": "shop",
                "external_id": f"O-{seed}-{n}",
                "occurred_at": at,
                "identifiers": who,
                "channel": "online",
                "line_items": [
                    {
                        "sku": "SKU-1",
                        "quantity": 1,
                        "unit_price": {"amount": amount, "currency": "EUR"},
                    }
                ],
                "total": {"amount": amount, "currency": "EUR"},
            }
        else:
            record = {
                "kind": "service_case",
                "source": "helpdesk",
                "external_id": f"T-{seed}-{n}",
                "occurred_at": at,
                "identifiers": who,
                "channel": "email",
                "status": "solved",
                "subject": f"Question {n} about an order",
            }
        yield json.dumps(record)
    # Named last: his anonymous browsing and his e-mail were two profiles until then (a merge).
    yield json.dumps(
        {
            "kind": "person",
            "source": "crm",
            "external_id": f"P-{seed}",
            "occurred_at": start.isoformat(),  # last in the file: it joins the two
            "identifiers": [*who, anon],
            "given_name": "Bench",
            "family_name": f"Person{seed}",
        }
    )


async def load_person(
    services: Services, directory: Path, email: str, count: int, seed: int
) -> float:
    path = directory / f"person-{seed}.jsonl"
    with path.open("w") as out:
        for line in person_records(email, count, seed):
            out.write(line + "\n")
    started = time.perf_counter()
    settings = Settings(_env_file=None, default_region="ES")
    summary = await import_file(services.ingest, "canonical", str(path), settings.parse_options())
    seconds = time.perf_counter() - started
    print(
        f"loaded      {summary.read:,} records of {email} in {seconds:.1f} s "
        f"({summary.read / seconds:,.0f} records/s, not counted), {summary.rejected} rejected"
    )
    return seconds


async def access(services: Services, email: str) -> tuple[str, float]:
    now = dt.datetime.now(dt.UTC)
    privacy = services.privacy
    given = [GivenIdentifier(IdentifierType.EMAIL, email)]
    request = await privacy.create(RequestType.ACCESS, given, actor="bench", now=now)
    await privacy.verify(request.id, actor="bench", now=now)
    scope = await privacy.scope(request.id)  # the officer's review: his ids found, all his
    started = time.perf_counter()
    acknowledged = None if scope is None else scope.fingerprint
    done = await privacy.run(request.id, actor="bench", now=now, acknowledged=acknowledged)
    return done.id, time.perf_counter() - started


@dataclass
class Measured:
    name: str
    records: int
    bytes: int
    seconds: float
    peak_mb: float

    @property
    def per_s(self) -> float:
        return self.records / self.seconds


async def traced(name: str, records: int, work: Callable[[], Awaitable[int]]) -> Measured:
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    written = await work()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Measured(name, records, written, seconds, peak / 2**20)


async def drain(chunks: AsyncIterator[bytes]) -> int:
    return sum([len(chunk) async for chunk in chunks])


async def export(services: Services, request_id: str, form: str) -> int:
    privacy = services.privacy
    scope = await privacy.export_scope(request_id)
    request = await privacy.get(request_id)
    write = json_document if form == "json" else zip_archive
    return await drain(write(privacy.export, request, scope, dt.datetime.now(dt.UTC)))


def exporting(services: Services, request_id: str, form: str) -> Callable[[], Awaitable[int]]:
    return lambda: export(services, request_id, form)


def reading(db: Database, profile_ids: list[str]) -> Callable[[], Awaitable[int]]:
    return lambda: raw(db, profile_ids)


async def raw(db: Database, profile_ids: list[str]) -> int:
    """The records by profile, a page at a time, each as JSON: the export's reads, no more."""
    written = 0
    for profile_id in profile_ids:
        after: str | None = None
        while True:
            query: Document = {"profile_id": profile_id}
            if after is not None:
                query["timeline_key"] = {"$lt": after}
            cursor = db["records"].find(query).sort("timeline_key", -1).limit(PAGE)
            docs = await cursor.to_list()
            if not docs:
                break
            written += sum(len(json.dumps(d, default=str)) for d in docs)
            after = docs[-1]["timeline_key"]
    return written


async def run(records: int, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-privacy-") as tmp:
        async with bench_store(Path(tmp), 500) as (store, settings):
            services = Services.build(store.db, settings)
            big, small = "big@example.com", "small@example.com"
            await load_person(services, Path(tmp), big, records, seed)
            await load_person(services, Path(tmp), small, max(records // 10, 10), seed + 1)
            rows = []
            for email in (big, small):
                request_id, found_in = await access(services, email)
                scope = await services.privacy.export_scope(request_id)
                held = 0
                for profile_id in scope.profiles:
                    held += await store.db["records"].count_documents({"profile_id": profile_id})
                print(
                    f"request     {email}: {len(scope.profiles)} profiles, {held:,} records, "
                    f"found in {found_in * 1000:.0f} ms"
                )
                for form in ("json", "zip"):
                    name = f"{form} export ({held:,})"
                    rows.append(await traced(name, held, exporting(services, request_id, form)))
                profiles = list(scope.profiles)
                name = f"raw driver ({held:,})"
                rows.append(await traced(name, held, reading(store.db, profiles)))
            report(rows)


def report(rows: list[Measured]) -> None:
    print()
    print(f"{'':26}{'records':>10}{'MB out':>9}{'seconds':>9}{'records/s':>11}{'peak MB':>9}")
    for row in rows:
        print(
            f"{row.name:<26}{row.records:>10,}{row.bytes / 2**20:9.1f}{row.seconds:9.2f}"
            f"{row.per_s:11,.0f}{row.peak_mb:9.2f}"
        )
    big_json, big_zip, big_raw, small_json, _, _ = rows
    print(
        f"ratio export/raw   json {big_json.seconds / big_raw.seconds:.2f}x, "
        f"zip {big_zip.seconds / big_raw.seconds:.2f}x (time, the big person)"
    )
    print(
        f"memory             json export peak {big_json.peak_mb:.2f} MB for "
        f"{big_json.records:,} records vs {small_json.peak_mb:.2f} MB for {small_json.records:,} "
        f"({big_json.peak_mb / max(small_json.peak_mb, 0.01):.2f}x for "
        f"{big_json.records / max(small_json.records, 1):.0f}x the records); raw driver "
        f"{big_raw.peak_mb:.2f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="the big person's records")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    asyncio.run(run(args.records, args.seed))


if __name__ == "__main__":
    main()
