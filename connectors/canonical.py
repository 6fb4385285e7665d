"""``canonical``: canonical records as JSON lines or a JSON array, any kind (``schemas/json/``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from connectors._json import json_results, plain_numbers
from connectors.base import JSON_MEDIA_TYPES, ParseOptions, ParseResult
from schemas import RecordKind, parse_record


class CanonicalConnector:
    name: ClassVar[str] = "canonical"
    kinds: ClassVar[tuple[RecordKind, ...]] = tuple(RecordKind)
    media_types: ClassVar[tuple[str, ...]] = JSON_MEDIA_TYPES

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        return json_results(
            stream,
            ("records",),
            # Canonical records hold plain JSON numbers (a site event's properties): not the
            # parser's Decimals, which the store cannot hold.
            lambda value: [
                parse_record(plain_numbers(value), default_region=options.default_region)
            ],
        )
