"""Ingest benchmark: the whole pipeline against raw ``insert_many`` on the same store.

    python bench/ingest.py [--records N] [--people P] [--batch-size B]

Generates N canonical records (orders, cases, surveys, site events, people) for P people into a
temporary JSON-lines file, imports it through the pipeline (parse, validate, normalise, link,
upsert, dead-letter), then inserts the same number of stored-shape documents with plain
``insert_many`` in batches of the same size, and prints both rates, their ratio and peak RSS.
Uses ``C360_MONGODB_URI`` when set, else a private embedded server. Nothing is asserted: the
figures are for people to read and compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from c360.ingest.files import import_file
from c360.ingest.service import record_document
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from connectors import Parsed, ParseOptions, get_connector

START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)


def person_identifiers(rng: random.Random, person: int) -> list[dict[str, Any]]:
    """Each source knows a person by one or two identifiers, spelled its own way."""
    email = f"customer{person}@example.com"
    phone = f"+34 6{person:08d}"
    choices = [
        [{"type": "email", "value": email.upper() if rng.random() < 0.2 else email}],
        [{"type": "phone", "value": phone}],
        [{"type": "email", "value": email}, {"type": "phone", "value": phone.replace(" ", "")}],
    ]
    return rng.choice(choices)


def generate(count: int, people: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        person = rng.randrange(people)
        when = (START + dt.timedelta(minutes=n * 3)).isoformat()
        base = {
            "source": "bench",
            "external_id": str(n),
            "occurred_at": when,
            "identifiers": person_identifiers(rng, person),
        }
        roll = rng.random()
        if roll < 0.35:
            quantity = rng.randint(1, 3)
            price = rng.randint(500, 20000)
            yield {
                **base,
                "kind": "order",
                "channel": rng.choice(["online", "in_store"]),
                "line_items": [
                    {
                        "sku": f"SKU-{rng.randrange(500)}",
                        "quantity": quantity,
                        "unit_price": {"amount": price, "currency": "EUR"},
                    }
                ],
                "total": {"amount": price * quantity, "currency": "EUR"},
            }
        elif roll < 0.55:
            yield {
                **base,
                "kind": "service_case",
                "channel": rng.choice(["phone", "email"]),
                "status": rng.choice(["open", "solved"]),
                "subject": "Question",
            }
        elif roll < 0.65:
            yield {
                **base,
                "kind": "survey_response",
                "survey_type": "nps",
                "score": rng.randint(0, 10),
            }
        elif roll < 0.95:
            yield {
                **base,
                "kind": "site_event",
                "event_type": "page",
                "name": "Home",
                "url": "https://shop.example.com/",
            }
        else:
            yield {**base, "kind": "person", "given_name": "Ana", "family_name": "García"}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def run(count: int, people: int, batch_size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for record in generate(count, people):
                out.write(json.dumps(record) + "\n")

        settings = Settings(
            _env_file=None,
            database=f"bench_{uuid.uuid4().hex[:8]}",
            data_dir=Path(tmp) / "store",
            ingest_batch_size=batch_size,
            log_level="WARNING",
        )
        store = await Store.open(settings)
        try:
            services = Services.build(store.db, settings)
            started = time.perf_counter()
            summary = await import_file(
                services.ingest, "canonical", str(path), ParseOptions(default_region="ES")
            )
            pipeline_s = time.perf_counter() - started
            rss_after_pipeline = peak_rss_mb()

            # Baseline: the same documents (as stored) with one insert_many per batch.
            connector = get_connector("canonical")
            now = dt.datetime.now(dt.UTC)
            docs: list[dict[str, Any]] = []
            raw_s = 0.0
            with path.open("rb") as lines:
                for item in connector.parse(lines, ParseOptions(default_region="ES")):
                    assert isinstance(item, Parsed)
                    docs.append(record_document(item.record, "p", now))
                    if len(docs) == batch_size:
                        raw_s += await _timed_insert(store, docs)
                        docs = []
            if docs:
                raw_s += await _timed_insert(store, docs)

            pipeline_rate = count / pipeline_s
            raw_rate = count / raw_s
            print(f"store                 {store.kind}")
            print(f"records               {count:,} for {people:,} people, batch {batch_size}")
            print(f"summary               {summary.counts()}")
            profiles = await store.db.profiles.count_documents({})
            print(f"profiles              {profiles:,}")
            print(f"pipeline              {pipeline_s:8.2f} s  {pipeline_rate:10,.0f} records/s")
            print(f"raw insert_many       {raw_s:8.2f} s  {raw_rate:10,.0f} docs/s")
            print(f"ratio pipeline/raw    {pipeline_rate / raw_rate:8.2f}")
            print(f"peak RSS              {rss_after_pipeline:8.1f} MB (after the pipeline)")
        finally:
            await store.client.drop_database(settings.database)
            await store.close()


async def _timed_insert(store: Store, docs: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    await store.db.raw_baseline.insert_many(docs, ordered=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=0, help="default: records / 5")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    people = args.people or max(args.records // 5, 1)
    asyncio.run(run(args.records, people, args.batch_size))


if __name__ == "__main__":
    main()
