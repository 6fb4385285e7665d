"""Replaying dead letters, typically after a mapping or connector fix.

Each dead letter's raw input goes through its connector again. Items that now parse are
ingested like any other (idempotently) and their dead letters removed; items that still fail
stay, with the new reason and one more attempt counted.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from c360.ingest.repository import DeadLetterRepository, StoredDeadLetter
from c360.ingest.service import IngestService
from c360.ingest.summary import IngestSummary
from connectors import ItemError, Parsed, ParseOptions, get_connector

PAGE_SIZE = 500


@dataclass
class ReplayResult:
    replayed: int = 0
    recovered: int = 0
    still_failing: int = 0
    summary: IngestSummary = field(default_factory=IngestSummary)


class DeadLetterService:
    def __init__(self, dead_letters: DeadLetterRepository, ingest: IngestService) -> None:
        self._dead_letters = dead_letters
        self._ingest = ingest

    async def waiting(self) -> int:
        return await self._dead_letters.waiting()

    async def recent(self, connector: str | None, limit: int) -> list[StoredDeadLetter]:
        return await self._dead_letters.recent(connector, limit)

    async def replay(self, connector_name: str, options: ParseOptions) -> ReplayResult:
        connector = get_connector(connector_name)
        result = ReplayResult()
        after: str | None = None
        while letters := await self._dead_letters.page(connector.name, after, PAGE_SIZE):
            after = letters[-1].id
            recovered: list[Parsed] = []
            recovered_ids: list[str] = []
            failing: list[ItemError] = []
            for letter in letters:
                position = f"dead letter {letter.id}"
                raw = letter.raw.encode(options.settings.get("encoding", "utf-8"), "replace")
                outcomes = list(connector.parse(io.BytesIO(raw), options))
                problems = [o for o in outcomes if isinstance(o, ItemError)]
                if problems or not outcomes:
                    reason = "; ".join(p.reason for p in problems) or "no item in the raw input"
                    needs = problems[0].currency_of if len(problems) == 1 else None
                    # The stored raw keeps the dead letter's identity (and counts the attempt).
                    failing.append(ItemError(position, letter.raw, reason, needs))
                    continue
                recovered += [
                    Parsed(position, o.record, letter.raw)
                    for o in outcomes
                    if isinstance(o, Parsed)
                ]
                recovered_ids.append(letter.id)
            # A refund whose order has arrived since is read in the order's currency.
            read, failing = await self._ingest.read_in_order_currency(
                connector.name, failing, options
            )
            recovered += read
            recovered_ids += list(
                dict.fromkeys(p.position.removeprefix("dead letter ") for p in read)
            )
            if recovered:
                summary = await self._ingest.ingest(connector.name, recovered, origin="replay")
                result.summary.absorb(summary)
                # The pipeline refused these after all (a value the store cannot hold): it kept
                # them as dead letters again, with the reason.
                refused = {e.position.removeprefix("dead letter ") for e in summary.errors}
                recovered_ids = [i for i in recovered_ids if i not in refused]
                result.still_failing += len(refused)
            result.replayed += len(letters)
            result.still_failing += len(failing)
            result.recovered += len(recovered_ids)
            # Only after their records are stored: a crash here replays them again, harmlessly.
            await self._dead_letters.remove(recovered_ids)
            await self._dead_letters.add(connector.name, "replay", failing, dt.datetime.now(dt.UTC))
        return result
