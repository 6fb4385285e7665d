"""The suppression stage: what an erased person would bring back is skipped, and counted.

Between parsing and linking, each record is named by its identity keys, its own id
(``record:…``) and, for a return, its order's (``record:…:order:…``); each rejected item by its
dead letter's id (``dead_letter:…``). Whatever the suppression list knows is left out of the
batch, so an erased person is neither linked, nor stored, nor dead-lettered again: one query
per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from c360.ingest.repository import dead_letter_id
from c360.store import Document
from connectors import ItemError, Parsed
from schemas import Return


class SuppressionCheck(Protocol):
    async def suppressed(self, candidates: Iterable[str]) -> set[str]:
        """The candidates that belong to an erased person."""
        ...


def _names(parsed: Parsed) -> list[str]:
    record = parsed.record
    names = [i.key for i in record.identifiers]
    names.append(f"record:{record.record_id}")
    if isinstance(record, Return):
        names.append(f"record:{record.source}:order:{record.order_external_id}")
    return names


async def suppress(
    check: SuppressionCheck | None,
    connector: str,
    parsed: Sequence[Parsed],
    drafts: Sequence[Document],
    errors: Sequence[ItemError],
) -> tuple[list[Parsed], list[Document], list[ItemError], int]:
    """The batch without what is suppressed, and how many records and items were."""
    if check is None or not (parsed or errors):
        return list(parsed), list(drafts), list(errors), 0
    letters = [f"dead_letter:{dead_letter_id(connector, e.raw)}" for e in errors]
    found = await check.suppressed([*(n for p in parsed for n in _names(p)), *letters])
    if not found:
        return list(parsed), list(drafts), list(errors), 0
    kept = [i for i, p in enumerate(parsed) if found.isdisjoint(_names(p))]
    kept_errors = [e for e, name in zip(errors, letters, strict=True) if name not in found]
    skipped = len(parsed) - len(kept) + len(errors) - len(kept_errors)
    return [parsed[i] for i in kept], [drafts[i] for i in kept], kept_errors, skipped
