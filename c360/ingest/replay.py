"""Replaying dead letters, typically after a mapping or connector fix.

Each dead letter's raw input goes through its connector again. Items that now parse are
ingested like any other (idempotently) and their dead letters removed; items that still fail
stay, with the new reason and one more attempt counted, and where they came from (the file and
line of the import that first rejected them). Letters the options cannot read at all (a mapping
naming a column their header lacks) are left as they are, reason and attempts, and reported.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from c360.ingest.repository import DeadLetterRepository, StoredDeadLetter, dead_letter_id
from c360.ingest.service import IngestService, UnreadableInput
from c360.ingest.summary import MAX_REPORTED_ERRORS, IngestSummary
from connectors import (
    Connector,
    ItemError,
    Parsed,
    ParseOptions,
    Unreadable,
    get_connector,
    kept_whole,
)
from schemas.quoting import shown

PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class StillFailing:
    """A dead letter the replay could not ingest: where the item came from, and why not."""

    id: str
    origin: str
    position: str
    reason: str


@dataclass
class ReplayResult:
    """``replayed == recovered + still_failing``; ``summary``: what the recovered items'
    records did (inserted, updated, duplicates, suppressed); ``failures``: the first
    ``MAX_REPORTED_ERRORS`` still failing."""

    replayed: int = 0
    recovered: int = 0
    still_failing: int = 0
    summary: IngestSummary = field(default_factory=IngestSummary)
    failures: list[StillFailing] = field(default_factory=list)


class DeadLetterService:
    def __init__(self, dead_letters: DeadLetterRepository, ingest: IngestService) -> None:
        self._dead_letters = dead_letters
        self._ingest = ingest

    async def waiting(self) -> int:
        return await self._dead_letters.waiting()

    async def recent(self, connector: str | None, limit: int) -> list[StoredDeadLetter]:
        return await self._dead_letters.recent(connector, limit)

    async def discard(self, ids: Sequence[str]) -> list[StoredDeadLetter]:
        """Remove these dead letters (an operator's decision: the item was stored since by
        another delivery, or is not wanted); returns those there were, in the order asked."""
        found = {letter.id: letter for letter in await self._dead_letters.get_many(ids)}
        await self._dead_letters.remove(list(found))
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def replay(self, connector_name: str, options: ParseOptions) -> ReplayResult:
        """Every dead letter of the connector read again with ``options``. Options it cannot
        use whatever the input (a mapping naming a field it does not have) are refused,
        :class:`UnreadableInput`, before any letter is touched."""
        connector = get_connector(connector_name)
        _check_options(connector, options)
        result = ReplayResult()
        after: str | None = None
        while letters := await self._dead_letters.page(connector.name, after, PAGE_SIZE):
            after = letters[-1].id
            # Each item is read again as coming from where it first came from (a file and its
            # line): a dead letter that fails again keeps that, not "the replay".
            by_origin: dict[str, list[StoredDeadLetter]] = {}
            for letter in letters:
                by_origin.setdefault(letter.last_rejection.origin, []).append(letter)
            for origin, group in by_origin.items():
                await self._replay(connector, origin, group, options, result)
        return result

    async def _replay(
        self,
        connector: Connector,
        origin: str,
        letters: Sequence[StoredDeadLetter],
        options: ParseOptions,
        result: ReplayResult,
    ) -> None:
        recovered: list[Parsed] = []
        failing: list[ItemError] = []
        unfit: dict[str, str] = {}  # letters these options cannot read at all: left as they are
        encoding = options.settings.get("encoding", "utf-8")
        for letter in letters:
            position = letter.last_rejection.position
            if not kept_whole(letter.raw):
                # What it would store is not what came: bytes lost as U+FFFD, a cut value.
                unfit[letter.id] = (
                    "not replayed, its raw input is not all of the item as it came (bytes that "
                    "were not text are U+FFFD in it, or it was cut): import its file again, "
                    "with the right encoding"
                )
                continue
            try:
                raw = letter.raw.encode(encoding)
            except UnicodeEncodeError as exc:
                # "?" for what the encoding lacks would be stored as data.
                unfit[letter.id] = (
                    f"not replayed, its raw input holds {shown(exc.object[exc.start : exc.end])}, "
                    f"which {encoding} cannot write: replay it in the encoding of its file"
                )
                continue
            try:
                outcomes = list(connector.parse(io.BytesIO(raw), options))
            except Unreadable as exc:
                # The mapping does not fit the header it was kept under: no new attempt at the
                # item, so its reason (why it was rejected) and its attempts stay.
                unfit[letter.id] = f"not replayed, the options do not fit it: {exc.reason}"
                continue
            problems = [o for o in outcomes if isinstance(o, ItemError)]
            if problems or not outcomes:
                reason = "; ".join(p.reason for p in problems) or "no item in the raw input"
                needs = problems[0].currency_of if len(problems) == 1 else None
                names = tuple(dict.fromkeys(n for p in problems for n in p.names))
                # The stored raw keeps the dead letter's identity (and counts the attempt).
                failing.append(ItemError(position, letter.raw, reason, needs, names))
                continue
            recovered += [
                Parsed(position, o.record, letter.raw) for o in outcomes if isinstance(o, Parsed)
            ]
        # A refund whose order has arrived since is read in the order's currency.
        read, failing = await self._ingest.read_in_order_currency(connector.name, failing, options)
        recovered += read
        refused: list[ItemError] = []
        # In runs of no more records than a summary lists errors: every refusal is named.
        for start in range(0, len(recovered), MAX_REPORTED_ERRORS):
            run = recovered[start : start + MAX_REPORTED_ERRORS]
            summary = await self._ingest.ingest(connector.name, run, origin=origin)
            result.summary.absorb(summary)
            # The pipeline refused these after all (a value the store cannot hold): it kept
            # them as dead letters again, with the reason.
            refused += summary.errors
        # A dead letter's id is its raw input's: the errors name the letters still failing.
        reasons = {dead_letter_id(connector.name, e.raw): e.reason for e in [*failing, *refused]}
        reasons |= unfit
        recovered_ids = [letter.id for letter in letters if letter.id not in reasons]
        result.replayed += len(letters)
        result.recovered += len(recovered_ids)
        result.still_failing += len(letters) - len(recovered_ids)
        room = MAX_REPORTED_ERRORS - len(result.failures)
        result.failures += [
            StillFailing(letter.id, origin, letter.last_rejection.position, reasons[letter.id])
            for letter in letters
            if letter.id in reasons
        ][: max(room, 0)]
        # Only after their records are stored: a crash here replays them again, harmlessly.
        await self._dead_letters.remove(recovered_ids)
        await self._dead_letters.add(connector.name, origin, failing, dt.datetime.now(dt.UTC))


def _check_options(connector: Connector, options: ParseOptions) -> None:
    """Refuses options the connector would refuse for any input (read on an empty one)."""
    try:
        for _ in connector.parse(io.BytesIO(b""), options):
            pass
    except Unreadable as exc:
        if exc.options_only:
            raise UnreadableInput(
                f"{connector.name} cannot read with these options ({exc.position}): "
                f"{exc.reason}; no dead letter was replayed"
            ) from None
