"""Stage ``read again in order currency``: items rejected only for want of their order's
currency (a refund stating none) are read again in that currency when the order is stored."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import replace

from c360.ingest.batch import Batch
from c360.ingest.stages.base import Stage
from c360.records.repository import RecordRepository
from connectors import (
    Connector,
    ItemError,
    Parsed,
    ParseOptions,
    ParseResult,
    Unreadable,
    get_connector,
)


class ReadInOrderCurrency(Stage):
    name = "read again in order currency"

    def __init__(self, records: RecordRepository) -> None:
        self._records = records

    async def run(self, batch: Batch) -> None:
        if batch.options is None:
            return
        read, batch.errors = await self.read(batch.connector, batch.errors, batch.options)
        batch.parsed += read

    async def read(
        self, connector_name: str, errors: Sequence[ItemError], options: ParseOptions
    ) -> tuple[list[Parsed], list[ItemError]]:
        """The records of the items that read in their order's currency, and the errors that
        remain (one round trip, only for errors that name an order)."""
        currencies = await self._records.order_currencies(
            e.currency_of for e in errors if e.currency_of is not None
        )
        if not currencies:
            return [], list(errors)
        connector = get_connector(connector_name)
        read: list[Parsed] = []
        remaining: list[ItemError] = []
        for error in errors:
            currency = currencies.get(error.currency_of or "")
            again = _parse_again(connector, error.raw, options, currency) if currency else []
            records = [r.record for r in again if isinstance(r, Parsed)]
            if again and len(records) == len(again):
                read += [Parsed(error.position, record, error.raw) for record in records]
            else:
                remaining.append(error)
        return read, remaining


def _parse_again(
    connector: Connector, raw: str, options: ParseOptions, currency: str
) -> list[ParseResult]:
    settings = {**options.settings, "currency": currency}
    try:
        return list(connector.parse(io.BytesIO(raw.encode()), replace(options, settings=settings)))
    except Unreadable:  # not in these options either: the item stays rejected as it was
        return []
