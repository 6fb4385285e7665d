"""Bulk helpers shared by repositories: inserts that may meet an existing ``_id``, replacing
values of a field everywhere, and finding by many values of an indexed field."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import UpdateMany
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000
UNION_MAX = 32
WHOLE_BATCH = 100_000
"""The first batch asked of a cursor that is read whole anyway (a find by many ids, a result
made a list): all of it in one reply (MongoDB still ends a batch at 16 MB), rather than the
default 101 documents and a ``getMore`` round trip for the rest."""


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


async def replace_values(
    collection: AsyncCollection[dict[str, Any]],
    field: str,
    changes: Mapping[Any, Any],
    page: int = 1000,
) -> None:
    """Set ``field`` from each old value to its new one (``changes``: old → new) wherever it is
    the old one: ids first (:func:`find_each`), then one update per old value by ``_id``, all
    in one round trip; page after page, a short page being the last.

    An indexed find then updates by primary key: fast on MongoDB, and on the embedded server,
    which does not use secondary indexes for updates (a filtered update_many scans it all).
    """
    if not changes:
        return
    projection = {"_id": 1, field: 1}
    while found := await find_each(collection, field, changes, None, projection, limit=page):
        ids: dict[Any, list[Any]] = {}
        for doc in found:
            ids.setdefault(doc[field], []).append(doc["_id"])
        await collection.bulk_write(
            [
                UpdateMany({"_id": {"$in": these}, field: old}, {"$set": {field: changes[old]}})
                for old, these in ids.items()
            ],
            ordered=False,
        )
        if len(found) < page:
            return


async def find_each(
    collection: AsyncCollection[dict[str, Any]],
    field: str,
    values: Iterable[Any],
    query: Mapping[str, Any] | None = None,
    projection: Mapping[str, Any] | None = None,
    *,
    limit: int | None = None,
    spread: bool = False,
) -> list[dict[str, Any]]:
    """Documents whose ``field`` equals one of ``values`` (and match ``query``), in one round trip
    (at most ``limit`` of them, when given).

    For a few values, one equality branch per value joined by ``$unionWith`` rather than
    ``{field: {$in: …}}``: the embedded development server answers ``$in`` on any field but
    ``_id`` by scanning the whole collection, whereas an equality uses the field's index (as it
    does on MongoDB, where each branch is one index lookup). From :data:`UNION_MAX` values on,
    ``$in``: the embedded server's cost per ``$unionWith`` jumps there (past 50 branches, a
    second), so one scan is cheaper; on MongoDB ``$in`` is one index walk anyway.

    ``spread``: more values are asked as several unions of at most :data:`UNION_MAX` branches,
    in flight together, rather than one ``$in`` — for a collection that grows with every import
    (``records``, ``identities``), whose scan costs more than the unions long before the values
    are many (a batch's profiles' person records: a tenth of the scan's cost at 100 000
    records). Only where each branch is served by an index on its own: a branch that scans
    makes it far worse.

    ``projection``: inclusions only; a dotted name (``data.given_name``) keeps the whole
    top-level field (``data``).
    """
    wanted = list(dict.fromkeys(values))
    if not wanted:
        return []
    if projection:
        # A dotted name keeps its whole top-level field, on every path and every store: the
        # unions are projected here (below), and the embedded server answers a dotted
        # projection with the dotted name as a key (``{"data.x": …}``), not nested.
        projection = {name.partition(".")[0]: 1 for name, keep in projection.items() if keep}
    if len(wanted) > UNION_MAX and spread:
        chunks = [wanted[i : i + UNION_MAX] for i in range(0, len(wanted), UNION_MAX)]
        parts = await asyncio.gather(
            *(find_each(collection, field, c, query, projection, limit=limit) for c in chunks)
        )
        found = [doc for part in parts for doc in part]
        return found[:limit] if limit else found
    if len(wanted) > UNION_MAX:
        in_query = {field: {"$in": wanted}, **(query or {})}
        cursor = collection.find(in_query, projection, limit=limit or 0, batch_size=WHOLE_BATCH)
        return await cursor.to_list()

    def branch(value: Any) -> list[dict[str, Any]]:
        return [{"$match": {field: value, **(query or {})}}]

    if len(wanted) == 1:
        only = {field: wanted[0], **(query or {})}
        cursor = collection.find(only, projection, limit=limit or 0, batch_size=WHOLE_BATCH)
        return await cursor.to_list()
    pipeline = branch(wanted[0]) + [
        {"$unionWith": {"coll": collection.name, "pipeline": branch(value)}} for value in wanted[1:]
    ]
    if limit:
        pipeline.append({"$limit": limit})
    found = await (await collection.aggregate(pipeline, batchSize=WHOLE_BATCH)).to_list()
    # Projected here, not by a $project stage: the embedded server hands back the dates of a
    # projected union as text.
    if not projection:
        return found
    kept = {"_id", *projection}
    return [{k: v for k, v in doc.items() if k in kept} for doc in found]
