"""Stages ``suppress`` and ``suppress again``: what an erased person would bring back is left
out of the batch, and counted (``suppressed`` in the summary).

Each record is named by its identity keys, its own id (``record:…``) and, for a return, its
order's (``record:…:order:…``); each rejected item by its dead letter's id
(``dead_letter:…``) and the e-mail addresses and phone numbers written in it. Whatever the
suppression list knows (keyed hashes: see :mod:`c360.privacy.hashing`) leaves the batch before
anything is dead-lettered, looked up or linked: one query per batch.

An erasure writes its suppressions first, then removes the person, then looks again for what
is left. A batch that asked just before the suppressions were written can still store the
person after that: so after every other stage the batch asks again (``suppress again``, a
fence: one more query). Either its second question sees the suppressions, or it asked before
they were written — then it wrote before that too, and the erasure's look, which comes after
its suppressions, finds what it wrote. What the second question finds leaves the summary as
suppressed and is handed over (``met``), to be erased again. So is what the first question
finds, in case something stored it when no erasure was running any more (an import cut short
between writing and asking again, a store restored from an older copy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from typing import Protocol

from c360.ingest.batch import Batch, Entry
from c360.ingest.repository import dead_letter_id
from c360.ingest.stages.base import Stage
from connectors import ItemError
from schemas import Return
from schemas.identifiers import contact_keys_in


class SuppressionCheck(Protocol):
    async def suppressed(self, candidates: Iterable[str]) -> set[str]:
        """The candidates that belong to an erased person."""
        ...

    async def met(self, items: Sequence[Collection[str]], *, written: bool) -> None:
        """The batch left out these items (each by all its names) for names the list holds,
        before writing its records or after (``written``): whatever is stored under them is
        erased again."""
        ...


def _names(entry: Entry) -> list[str]:
    record = entry.record
    names = [i.key for i in record.identifiers]
    names.append(f"record:{record.record_id}")
    if isinstance(record, Return):
        names.append(f"record:{record.source}:order:{record.order_external_id}")
    return names


async def _letters(batch: Batch) -> list[list[str]]:
    """Each rejected item's names: its dead letter's id, the identity keys its connector read
    of whom it is about (``ItemError.names``), and the e-mail addresses and phone numbers
    written in it (a line that could not be read may still be an erased person's).
    Read once a batch, in a worker thread: an item's text may be long (up to
    ``MAX_RAW_CHARS``), and finding numbers in it is the slow part."""
    region = batch.options.default_region if batch.options is not None else None
    ids = [f"dead_letter:{dead_letter_id(batch.connector, e.raw)}" for e in batch.errors]
    known = batch.rejected_names
    todo = {i: e.raw for i, e in zip(ids, batch.errors, strict=True) if i not in known}
    if todo:
        names = {i: e.names for i, e in zip(ids, batch.errors, strict=True)}

        def read() -> dict[str, list[str]]:
            return {
                i: [i, *names[i], *sorted(contact_keys_in(raw, region) - set(names[i]))]
                for i, raw in todo.items()
            }

        batch.rejected_names.update(await asyncio.to_thread(read))
    return [batch.rejected_names[i] for i in ids]


class Suppress(Stage):
    name = "suppress"
    written = False
    """Whether the stages before this one wrote the batch's records."""

    def __init__(self, check: SuppressionCheck | None) -> None:
        self._check = check

    async def run(self, batch: Batch) -> None:
        if self._check is None or not (batch.entries or batch.errors):
            return
        letters = await _letters(batch)
        names = [n for entry in batch.entries for n in _names(entry)]
        found = await self._check.suppressed([*names, *(n for named in letters for n in named)])
        if not found:
            return
        entries: list[Entry] = []
        errors: list[ItemError] = []
        left_out: list[list[str]] = []  # each item by all its names
        for entry in batch.entries:
            named = _names(entry)
            if found.isdisjoint(named):
                entries.append(entry)
            else:
                left_out.append(named)
        for error, named in zip(batch.errors, letters, strict=True):
            if found.isdisjoint(named):
                errors.append(error)
            else:
                left_out.append(named)
        batch.suppressed += len(left_out)
        batch.entries, batch.errors = entries, errors
        await self._check.met(left_out, written=self.written)


class SuppressAgain(Suppress):
    """The fence: the same question after the batch wrote everything (see the module)."""

    name = "suppress again"
    written = True
