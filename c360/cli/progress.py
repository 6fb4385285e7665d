"""Import progress: a live bar with records/s on a terminal, a plain line now and then otherwise;
and the summary an import ends with."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from c360.ingest.service import IngestSummary

PLAIN_INTERVAL_S = 5.0


class ProgressReporter(Protocol):
    def __call__(self, summary: IngestSummary) -> None: ...


def _line(summary: IngestSummary, elapsed: float) -> str:
    rate = summary.read / elapsed if elapsed > 0 else 0.0
    return (
        f"{summary.items_read:,} items, {summary.read:,} records ({rate:,.0f}/s): "
        f"{summary.inserted:,} inserted, "
        f"{summary.updated:,} updated, {summary.duplicates:,} duplicates, "
        f"{summary.rejected:,} rejected"
    )


@contextmanager
def import_progress(label: str) -> Iterator[ProgressReporter]:
    started = time.monotonic()
    if sys.stderr.isatty():
        from rich.console import Console  # the live bar only
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[line]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(label, line="starting…")

            def live(summary: IngestSummary) -> None:
                bar.update(task, line=_line(summary, time.monotonic() - started))

            yield live
        return

    last = started

    def plain(summary: IngestSummary) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PLAIN_INTERVAL_S:
            last = now
            print(f"{label}: {_line(summary, now - started)}", file=sys.stderr, flush=True)

    yield plain


MAX_ERRORS_SHOWN = 20


def print_summary(summary: IngestSummary) -> None:
    """The import's counts on stdout; on stderr the first items rejected and ignored, each
    with where it came from and why, and what conflicts say."""
    outcomes = ", ".join(
        f"{name}: {getattr(summary, name):,}"
        for name in ("inserted", "updated", "duplicates", "rejected", "ignored", "suppressed")
    )
    print(f"items read: {summary.items_read:,}, records: {summary.read:,} ({outcomes})")
    if effects := [f"{name}: {n:,}" for name, n in sorted(summary.effects.items()) if n]:
        print(f"then {', '.join(effects)}")
    for error in summary.errors[:MAX_ERRORS_SHOWN]:
        print(f"  rejected {error.position}: {error.reason}", file=sys.stderr)
    if summary.rejected > MAX_ERRORS_SHOWN:
        print(
            f"  … and {summary.rejected - MAX_ERRORS_SHOWN:,} more (see dead letters)",
            file=sys.stderr,
        )
    # Kept out on purpose (a test order, an edit notice): said, as the HTTP answer does.
    for ignored in summary.ignored_items[:MAX_ERRORS_SHOWN]:
        print(f"  ignored {ignored.position}: {ignored.reason}", file=sys.stderr)
    if summary.ignored > MAX_ERRORS_SHOWN:
        print(f"  … and {summary.ignored - MAX_ERRORS_SHOWN:,} more ignored", file=sys.stderr)
    if summary.conflicts:
        print(
            f"  {summary.conflicts:,} record(s) came with the revision time of the stored copy "
            "and other content: the copy stating more values was kept, else one by a fixed "
            "order; a correction needs a later revision time (updated_at) to win",
            file=sys.stderr,
        )
