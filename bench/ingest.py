"""Ingest benchmark: every connector through the whole pipeline, against raw ``insert_many``.

    python -m bench.ingest [--records N] [--people P] [--batch-size B] [--seed S]
                           [--keep-files DIR] [--commands]
    python -m bench.ingest --rss-lines [M]

Default mode. Generates input files with about N records (default 100 000) for P people
(default N / 10) for every connector (see ``bench/generate.py``: Segment events, Shopify orders
and refunds, Zendesk export pages, POS sales and returns, a service log, CRM customers and
surveys, about 0.5% of the items deliberately broken). Generation is timed apart and not
counted. Then, on one fresh database:

1. Pipeline: each file goes through ``import_file`` (parse, validate, normalise, link
   identities, merge, upsert, dead-letter), one connector after the other. The pipeline rate is
   the records read (stored or dead-lettered) divided by the seconds of all the imports.
2. Raw baseline: the same files are parsed again by the same connectors into the documents the
   pipeline stores (``record_document``), which are inserted with plain ``insert_many`` in
   batches of the same size into another collection; only the ``insert_many`` calls are timed.
   Rejected items have no document, so the baseline inserts the records read minus the
   rejected ones; the collection has only the ``_id`` index (the pipeline's have theirs).
   The same inserts are then made into a collection with the indexes of ``records`` (and,
   on the embedded store, those it needs besides): what storing the records alone costs.

Then the documents the pipeline keeps, by collection, with their indexes: a record is one of
them, its identities, profile, aggregate, name words and matching keys the others.

It prints per connector the records read, their outcomes, the rejects against the items broken
on purpose, seconds and records/s; then the totals, the raw docs/s, the ratio pipeline/raw and
the peak RSS of this process (``ru_maxrss``); then the CPU seconds each side spent — this
process and, where the store is the embedded server (a child process, read in ``/proc``), the
store — with the microseconds a record they add up to: where the time goes when the wall time
is their sum (the pipeline waits on the store, then the store on it).

``--commands``: also the store commands the pipeline sent a batch and the milliseconds until
their answers, by the stage that sent them (``c360.ingest.stages.base.current_stage``, seen by
a PyMongo command listener; ``journal`` is the loop entering and leaving batches), where raw
``insert_many`` sends one; then the costliest by stage, command and collection.

``--rss-lines [M]``: writes a Segment JSON-lines file of M lines (default 1 000 000), imports
it while sampling this process's resident memory (``/proc/self/statm``) every 5 s, prints
progress every 100 000 records, then the samples and the peak: memory should stay flat however
long the file.

The store is ``C360_MONGODB_URI`` when set in the environment, else a private embedded server in
a temporary directory; the database is dropped at the end. RSS figures are this process's: the
embedded server is a child process (its peak is printed apart). Nothing is asserted: the figures
are for people to read and compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import os
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pymongo import monitoring

from bench.common import Imported, bench_store, generate_files, import_written, positive
from bench.generate import FILE_NAMES, Written, write_segment
from c360.ingest.files import import_file
from c360.ingest.stages.base import current_stage
from c360.ingest.summary import IngestSummary
from c360.records.documents import record_document
from c360.services import Services
from c360.settings import Settings
from c360.store import Document, Store
from c360.store.indexes import EMBEDDED_ONLY, INDEXES
from connectors import Parsed, ParseOptions, get_connector

RAW_COLLECTION = "raw_baseline"
RAW_INDEXED_COLLECTION = "raw_baseline_indexed"
"""The same inserts into a collection with the indexes of ``records``: what storing the records
alone costs, with the indexes every query of theirs needs."""
RAW_PROFILE_ID = "bench-profile"
"""Stands in for the profile id the pipeline gives each record (so the documents are the same
shape)."""
RSS_INTERVAL_S = 5.0
PROGRESS_EVERY = 100_000
MAX_PRINTED_SAMPLES = 60


# --- Default mode: every connector, pipeline against raw insert_many ---------------------------


class StoreCommands(monitoring.CommandListener):
    """Counts the store commands sent while ``counting``, and the time until their answers, by
    the ingest stage that sent them (and by stage, command and collection)."""

    def __init__(self) -> None:
        self.by_stage: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self.micros_by_command: Counter[tuple[str, str, str]] = Counter()
        self._sent: dict[int, tuple[str, str, str]] = {}
        self.batches = 0
        self.counting = False

    def batch_done(self, summary: IngestSummary) -> None:
        self.batches += 1

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting:
            stage = current_stage.get() or "outside the stages"
            self.by_stage[stage] += 1
            command = event.command
            # A getMore names its cursor first and its collection apart.
            target = command.get("collection") or command.get(event.command_name)
            self._sent[event.request_id] = (stage, event.command_name, str(target))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._answered(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._answered(event.request_id, event.duration_micros)

    def _answered(self, request_id: int, micros: int) -> None:
        sent = self._sent.pop(request_id, None)
        if sent is not None:
            self.micros[sent[0]] += micros
            self.micros_by_command[sent] += micros

    def report(self) -> None:
        batches = max(self.batches, 1)
        print(
            f"\nstore commands a batch ({self.batches:,} batches; raw insert_many sends 1) and "
            "the milliseconds until their answers, summed (commands in flight together overlap)"
        )
        for stage, count in self.by_stage.items():  # in the order the stages first sent one
            ms = self.micros[stage] / 1000 / batches
            print(f"  {stage:<30} {count / batches:8.1f} {ms:10.1f} ms")
        total_ms = sum(self.micros.values()) / 1000 / batches
        print(f"  {'total':<30} {sum(self.by_stage.values()) / batches:8.1f} {total_ms:10.1f} ms")
        print("\nthe 15 costliest a batch, by stage, command and collection")
        for (stage, name, collection), micros in self.micros_by_command.most_common(15):
            what = f"{stage}: {name} {collection}"
            print(f"  {what:<50} {micros / 1000 / batches:8.1f} ms")


@dataclass
class Cpu:
    """CPU seconds spent by this process and by the store's (None: not known — a store
    elsewhere, or no ``/proc``)."""

    here: float = 0.0
    store: float | None = 0.0

    def __sub__(self, other: Cpu) -> Cpu:
        store = None if self.store is None or other.store is None else self.store - other.store
        return Cpu(self.here - other.here, store)

    def __add__(self, other: Cpu) -> Cpu:
        store = None if self.store is None or other.store is None else self.store + other.store
        return Cpu(self.here + other.here, store)


class CpuMeter:
    """This process's CPU time (all its threads) and the embedded store's (its process, read in
    ``/proc``; after a restart of it, unknown), read together."""

    def __init__(self, store: Store) -> None:
        # Only a server this process started: one it shares works for other clients too.
        owned = store.embedded is not None and store.embedded.process is not None
        self._store_pid = store.embedded.pid if owned and store.embedded else None
        self._tick = os.sysconf("SC_CLK_TCK")

    def now(self) -> Cpu:
        return Cpu(time.process_time(), self._store_cpu())

    def _store_cpu(self) -> float | None:
        if self._store_pid is None:
            return None
        try:
            fields = Path(f"/proc/{self._store_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime


async def run_mix(
    records: int,
    people: int,
    batch_size: int,
    seed: int,
    keep: Path | None,
    commands: StoreCommands | None = None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        files = generate_files(_files_dir(keep, Path(tmp)), records, people, seed)

        async with bench_store(Path(tmp), batch_size) as (store, settings):
            print(f"store       {store.kind}, database {settings.database}, batch {batch_size}")
            print()
            services = Services.build(store.db, settings)
            options = settings.parse_options()
            print(_HEADER)
            meter = CpuMeter(store)
            pipeline_cpu = Cpu()
            imports: list[Imported] = []
            progress = commands.batch_done if commands else None
            for written in files:
                if commands:
                    commands.counting = True
                before = meter.now()
                imported = await import_written(services, written, options, progress)
                pipeline_cpu += meter.now() - before
                if commands:
                    commands.counting = False
                imports.append(imported)
                print(_import_row(written.connector, [imported]), flush=True)
            print(_import_row("total", imports))
            rss_after_pipeline = peak_rss_mb()

            written_docs = await documents_by_collection(store)
            raw_docs = 0
            raw_s = 0.0
            raw_cpu = Cpu()
            for written in files:
                docs, seconds, cpu = await raw_inserts(
                    store, written, options, batch_size, meter, RAW_COLLECTION
                )
                raw_docs += docs
                raw_s += seconds
                raw_cpu += cpu
            indexed = store.db[RAW_INDEXED_COLLECTION]
            await indexed.create_indexes(INDEXES["records"])
            if store.kind == "embedded":
                await indexed.create_indexes(EMBEDDED_ONLY.get("records", []))
            indexed_s = 0.0
            for written in files:
                _, seconds, _ = await raw_inserts(
                    store, written, options, batch_size, meter, RAW_INDEXED_COLLECTION
                )
                indexed_s += seconds
            profiles = await store.db["profiles"].count_documents({})
            dead_letters = await store.db["dead_letters"].count_documents({})

        read = sum(i.summary.read for i in imports)
        pipeline_s = sum(i.seconds for i in imports)
        pipeline_rate = read / pipeline_s
        raw_rate = raw_docs / raw_s
        print()
        print(
            f"pipeline           {read:>10,} records {pipeline_s:8.2f} s {pipeline_rate:8,.0f} /s"
        )
        print(f"raw insert_many    {raw_docs:>10,} docs    {raw_s:8.2f} s {raw_rate:8,.0f} /s")
        print(f"ratio pipeline/raw {pipeline_rate / raw_rate:10.3f}")
        indexed_rate = raw_docs / indexed_s
        print(
            f"raw, records' idx  {raw_docs:>10,} docs    {indexed_s:8.2f} s {indexed_rate:8,.0f} /s"
            f"   ratio pipeline/it {pipeline_rate / indexed_rate:.3f}"
        )
        print(f"profiles           {profiles:>10,}")
        print(f"dead letters       {dead_letters:>10,}")
        print(
            f"peak RSS           {rss_after_pipeline:10.1f} MB after the pipeline, "
            f"{peak_rss_mb():.1f} MB at the end (this process)"
        )
        if store.kind == "embedded":
            print(f"embedded server    {children_peak_rss_mb():10.1f} MB peak RSS (child process)")
        _cpu_report([("pipeline", pipeline_cpu, read), ("raw insert_many", raw_cpu, raw_docs)])
        _written_report(written_docs, raw_docs)
        if commands:
            commands.report()
        _explain_rejects(imports)


def _cpu_report(rows: list[tuple[str, Cpu, int]]) -> None:
    """CPU seconds by side, and the microseconds a record (or document) they add up to."""
    print(f"\n{'cpu seconds':<18} {'this process':>12} {'store':>10} {'µs a record':>12}")
    for name, cpu, count in rows:
        if cpu.store is None:  # a store elsewhere: this process's share alone
            store, total, mark = "unknown", cpu.here, " (this process)"
        else:
            store, total, mark = f"{cpu.store:.2f}", cpu.here + cpu.store, ""
        print(f"{name:<18} {cpu.here:12.2f} {store:>10} {total / max(count, 1) * 1e6:12.0f}{mark}")


def _row(*cells: object) -> str:
    """A table row: the name left-aligned, then right-aligned columns."""
    name, *numbers = cells
    return f"{name!s:<16}" + "".join(f"{n!s:>10}" for n in numbers)


_HEADER = _row(
    "connector", "items", "read", "inserted", "updated", "dupes", "rejected", "broken",
    "seconds", "records/s",
)  # fmt: skip


def _import_row(name: str, imports: list[Imported]) -> str:
    seconds = sum(i.seconds for i in imports)
    read = sum(i.summary.read for i in imports)
    return _row(
        name,
        f"{sum(i.written.items for i in imports):,}",
        f"{read:,}",
        f"{sum(i.summary.inserted for i in imports):,}",
        f"{sum(i.summary.updated for i in imports):,}",
        f"{sum(i.summary.duplicates for i in imports):,}",
        f"{sum(i.summary.rejected for i in imports):,}",
        f"{sum(i.written.bad for i in imports):,}",
        f"{seconds:.2f}",
        f"{read / seconds:,.0f}" if seconds else "-",
    )


def _explain_rejects(imports: list[Imported]) -> None:
    """Name the connectors whose rejects or reads differ from what was generated, and why."""
    for imported in imports:
        written, summary = imported.written, imported.summary
        if summary.rejected == written.bad and summary.read == written.records:
            continue
        print(
            f"\nnote: {written.connector} read {summary.read:,} records "
            f"(generated {written.records:,}) and rejected {summary.rejected:,} "
            f"({written.bad:,} broken on purpose); most frequent reasons:"
        )
        reasons = Counter(error.reason[:120] for error in summary.errors)
        for reason, count in reasons.most_common(5):
            print(f"  {count:>6,}  {reason}")


async def documents_by_collection(store: Store) -> dict[str, tuple[int, int]]:
    """What the pipeline left in each collection: (documents, indexes)."""
    found: dict[str, tuple[int, int]] = {}
    for name in sorted(await store.db.list_collection_names()):
        documents = await store.db[name].count_documents({})
        if documents:
            found[name] = (documents, len(await store.db[name].index_information()))
    return found


def _written_report(written: dict[str, tuple[int, int]], raw_docs: int) -> None:
    """The documents the pipeline keeps, by collection, beside those raw insert_many writes:
    each is inserted (and most updated again), and each index is kept up to date with it."""
    print(f"\n{'documents kept':<20} {'documents':>10} {'indexes':>8}")
    for name, (documents, indexes) in written.items():
        print(f"  {name:<18} {documents:>10,} {indexes:>8}")
    total = sum(documents for documents, _ in written.values())
    print(f"  {'total':<18} {total:>10,}   (raw insert_many: {raw_docs:,} in 1 index)")


async def raw_inserts(
    store: Store,
    written: Written,
    options: ParseOptions,
    batch_size: int,
    meter: CpuMeter,
    collection_name: str,
) -> tuple[int, float, Cpu]:
    """Insert the documents the pipeline stores for a file: (documents, seconds and CPU in
    insert_many)."""
    collection = store.db[collection_name]
    count = 0
    seconds = 0.0
    cpu = Cpu()
    for batch in stored_documents(written, options, batch_size):
        before = meter.now()
        started = time.perf_counter()
        await collection.insert_many(batch, ordered=False)
        seconds += time.perf_counter() - started
        cpu += meter.now() - before
        count += len(batch)
    return count, seconds, cpu


def stored_documents(
    written: Written, options: ParseOptions, batch_size: int
) -> Iterator[list[Document]]:
    """The file's records as the pipeline stores them, in batches (rejected items skipped)."""
    connector = get_connector(written.connector)
    now = dt.datetime.now(dt.UTC)
    batch: list[Document] = []
    with written.path.open("rb") as stream:
        for item in connector.parse(stream, options):
            if not isinstance(item, Parsed):
                continue
            doc = record_document(item.record, RAW_PROFILE_ID, now)
            # A record may come again (a customer with each of their orders): its position in
            # the file keeps _ids unique, since no item yields the same record twice.
            doc["_id"] = f"{doc['_id']}@{item.position}"
            batch.append(doc)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


# --- --rss-lines: memory while importing one long file ----------------------------------------


class RssMonitor:
    """Samples this process's resident memory while an import runs, and reports progress."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.read = 0
        self.samples: list[tuple[float, int, float]] = []  # (seconds, records read, MB)
        self._reported = (self.started, 0)  # (when, records read) of the last progress line

    def progress(self, summary: IngestSummary) -> None:
        self.read = summary.read
        then, read_then = self._reported
        if self.read // PROGRESS_EVERY > read_then // PROGRESS_EVERY:
            now = time.perf_counter()
            rate = (self.read - read_then) / (now - then)
            print(
                f"  {self.read:>10,} records  {now - self.started:8.1f} s  "
                f"{rate:8,.0f} records/s since the last line  RSS {current_rss_mb():7.1f} MB",
                flush=True,
            )
            self._reported = (now, self.read)

    def sample(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.samples.append((elapsed, self.read, current_rss_mb()))

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(RSS_INTERVAL_S)


async def run_rss(lines: int, people: int, batch_size: int, seed: int, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        path = _files_dir(keep, Path(tmp)) / FILE_NAMES["segment"]
        started = time.perf_counter()
        written = write_segment(path, lines, people, seed)
        print(
            f"generated   {written.items:,} Segment lines ({written.records:,} records, "
            f"{written.bytes / 2**20:,.1f} MB) for {people:,} people in "
            f"{time.perf_counter() - started:.1f} s (not counted), in {path}"
        )
        async with bench_store(Path(tmp), batch_size) as (store, settings):
            print(f"store       {store.kind}, database {settings.database}, batch {batch_size}")
            services = Services.build(store.db, settings)
            monitor = RssMonitor()
            sampler = asyncio.create_task(monitor.run())
            try:
                summary = await import_file(
                    services.ingest,
                    "segment",
                    str(path),
                    settings.parse_options(),
                    progress=monitor.progress,
                )
            finally:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            seconds = time.perf_counter() - monitor.started
            monitor.sample()

    rate = summary.read / seconds
    print(f"\nimported    {summary.counts()} in {seconds:.1f} s ({rate:,.0f} records/s)")
    print(f"broken      {written.bad:,} lines on purpose")
    samples = monitor.samples
    step = math.ceil(len(samples) / MAX_PRINTED_SAMPLES)  # at most that many, evenly spread
    shown = "" if step == 1 else f", one in {step} shown"
    print(f"\nRSS every {RSS_INTERVAL_S:.0f} s (this process, /proc/self/statm{shown}):")
    print(f"  {'seconds':>8}  {'records':>10}  {'RSS MB':>8}")
    for elapsed, read, rss in [*samples[:-1:step], samples[-1]]:
        print(f"  {elapsed:8.1f}  {read:>10,}  {rss:8.1f}")
    sampled_peak = max(rss for _, _, rss in samples)
    print(f"peak RSS    {sampled_peak:.1f} MB sampled, {peak_rss_mb():.1f} MB ru_maxrss")
    if store.kind == "embedded":
        print(f"embedded server  {children_peak_rss_mb():.1f} MB peak RSS (child process)")


# --- Shared -----------------------------------------------------------------------------------


def _files_dir(keep: Path | None, tmp: Path) -> Path:
    if keep is None:
        return tmp
    keep.mkdir(parents=True, exist_ok=True)
    return keep


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def children_peak_rss_mb() -> float:
    """Largest peak RSS of the child processes waited for (the embedded server, once stopped)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def current_rss_mb() -> float:
    """Resident set size now (Linux: the second field of /proc/self/statm, in pages)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * _PAGE_SIZE / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--records", type=positive, default=100_000, metavar="N", help="default: 100 000"
    )
    parser.add_argument(
        "--people", type=positive, metavar="P", help="population size (default: records / 10)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive,
        default=Settings(_env_file=None).ingest_batch_size,
        metavar="B",
        help="records per store round trip, pipeline and baseline (default: from settings)",
    )
    parser.add_argument("--seed", type=int, default=7, help="of the generated data (default: 7)")
    parser.add_argument(
        "--keep-files",
        type=Path,
        metavar="DIR",
        help="write the generated files into DIR and keep them (default: a temporary directory)",
    )
    parser.add_argument(
        "--commands",
        action="store_true",
        help="also print the store commands a batch, by the stage that sent them",
    )
    parser.add_argument(
        "--rss-lines",
        type=positive,
        nargs="?",
        const=1_000_000,
        metavar="M",
        help="instead: import a Segment file of M lines (default 1 000 000), sampling RSS",
    )
    args = parser.parse_args()
    if args.rss_lines is not None:
        people = args.people or max(args.rss_lines // 10, 100)
        asyncio.run(run_rss(args.rss_lines, people, args.batch_size, args.seed, args.keep_files))
    else:
        people = args.people or max(args.records // 10, 100)
        commands = None
        if args.commands:
            commands = StoreCommands()
            monitoring.register(commands)  # before the store's client is made
        asyncio.run(
            run_mix(args.records, people, args.batch_size, args.seed, args.keep_files, commands)
        )


if __name__ == "__main__":
    main()
