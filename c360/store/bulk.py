"""Bulk-write helpers shared by repositories: inserts that may meet an existing ``_id``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


def duplicate_key_indexes(exc: BulkWriteError) -> list[int]:
    """Positions of the operations that failed only because their ``_id`` exists.

    Any other write error is not ours to absorb: the exception is raised again.
    """
    errors = exc.details.get("writeErrors", [])
    if any(error.get("code") != DUPLICATE_KEY for error in errors):
        raise exc
    return [error["index"] for error in errors]


async def insert_new(
    collection: AsyncCollection[dict[str, Any]], docs: Sequence[dict[str, Any]]
) -> set[Any]:
    """Insert in one round trip; return the ids that already existed (someone was first)."""
    if not docs:
        return set()
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return {docs[index]["_id"] for index in duplicate_key_indexes(exc)}
    return set()
