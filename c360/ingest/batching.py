"""Cutting parsed results into batches that never split an item, parsed one batch ahead."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Iterator
from itertools import islice

from connectors import ParseResult


async def batches(
    items: Iterable[ParseResult] | AsyncIterable[ParseResult], size: int
) -> AsyncIterable[list[ParseResult]]:
    """Batches of about ``size`` results; an item's results (adjacent, one position) are never
    split between two, so a batch keeps or refuses an item whole."""
    if isinstance(items, AsyncIterable):
        batch: list[ParseResult] = []
        async for item in items:
            if len(batch) >= size and item.position != batch[-1].position:
                yield batch
                batch = []
            batch.append(item)
        if batch:
            yield batch
        return
    # Parsing (validation, normalisation) is CPU work in the connector; the store round trips
    # are waiting. The next batch is parsed in a worker thread while this one is stored, so the
    # two overlap. One batch ahead at most: memory stays bounded.
    source = _Lookahead(iter(items))
    upcoming = asyncio.create_task(asyncio.to_thread(source.take, size))
    try:
        while batch := await upcoming:
            upcoming = asyncio.create_task(asyncio.to_thread(source.take, size))
            yield batch
    finally:
        upcoming.cancel()


class _Lookahead:
    """Results with one seen ahead: where the current item ends."""

    def __init__(self, iterator: Iterator[ParseResult]) -> None:
        self._iterator = iterator
        self._next: ParseResult | None = None

    def take(self, size: int) -> list[ParseResult]:
        batch: list[ParseResult] = []
        if self._next is not None:
            batch.append(self._next)
            self._next = None
        batch += islice(self._iterator, size - len(batch))
        while batch:
            following = next(self._iterator, None)
            if following is None:
                break
            if following.position != batch[-1].position:
                self._next = following
                break
            batch.append(following)
        return batch
