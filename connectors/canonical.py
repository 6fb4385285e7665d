"""``canonical``: canonical records as JSON lines or a JSON array, any kind (``schemas/json/``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, ClassVar

from pydantic import ValidationError

from connectors._json import json_items
from connectors.base import ItemError, Parsed, ParseOptions, ParseResult
from schemas import RecordKind, describe_errors, parse_record


class CanonicalConnector:
    name: ClassVar[str] = "canonical"
    kinds: ClassVar[tuple[RecordKind, ...]] = tuple(RecordKind)

    def parse(self, stream: BinaryIO, options: ParseOptions) -> Iterator[ParseResult]:
        for item in json_items(stream, wrappers=("records",)):
            if item.error is not None:
                yield ItemError.of(item.position, item.raw, item.error)
                continue
            try:
                record = parse_record(item.value, default_region=options.default_region)
            except ValidationError as exc:
                yield ItemError.of(item.position, item.raw, describe_errors(exc))
                continue
            yield Parsed(position=item.position, record=record)
