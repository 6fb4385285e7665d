"""Stage ``suppress``: what an erased person would bring back is left out of the batch, and
counted (``suppressed`` in the summary).

Each record is named by its identity keys, its own id (``record:…``) and, for a return, its
order's (``record:…:order:…``); each rejected item by its dead letter's id
(``dead_letter:…``). Whatever the suppression list knows (keyed hashes: see
:mod:`c360.privacy.hashing`) leaves the batch before anything is dead-lettered, looked up or
linked: one query per batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from c360.ingest.batch import Batch, Entry
from c360.ingest.repository import dead_letter_id
from c360.ingest.stages.base import Stage
from schemas import Return


class SuppressionCheck(Protocol):
    async def suppressed(self, candidates: Iterable[str]) -> set[str]:
        """The candidates that belong to an erased person."""
        ...


def _names(entry: Entry) -> list[str]:
    record = entry.record
    names = [i.key for i in record.identifiers]
    names.append(f"record:{record.record_id}")
    if isinstance(record, Return):
        names.append(f"record:{record.source}:order:{record.order_external_id}")
    return names


class Suppress(Stage):
    name = "suppress"

    def __init__(self, check: SuppressionCheck | None) -> None:
        self._check = check

    async def run(self, batch: Batch) -> None:
        if self._check is None or not (batch.entries or batch.errors):
            return
        letters = [f"dead_letter:{dead_letter_id(batch.connector, e.raw)}" for e in batch.errors]
        names = [n for entry in batch.entries for n in _names(entry)]
        found = await self._check.suppressed([*names, *letters])
        if not found:
            return
        entries = [e for e in batch.entries if found.isdisjoint(_names(e))]
        errors = [e for e, name in zip(batch.errors, letters, strict=True) if name not in found]
        batch.suppressed += len(batch.entries) - len(entries) + len(batch.errors) - len(errors)
        batch.entries, batch.errors = entries, errors
