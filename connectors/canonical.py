"""``canonical``: one canonical record per line (JSON lines), any kind; see ``schemas/json/``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import ClassVar

from pydantic import ValidationError

from connectors.base import ItemError, Parsed, ParseResult
from schemas import RecordKind, describe_errors, parse_record


class CanonicalConnector:
    name: ClassVar[str] = "canonical"
    kinds: ClassVar[tuple[RecordKind, ...]] = tuple(RecordKind)

    def parse(self, lines: Iterable[bytes], *, default_region: str) -> Iterator[ParseResult]:
        for number, raw in enumerate(lines, start=1):
            position = f"line {number}"
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield ItemError.of(position, raw, f"not UTF-8: {exc.reason} at byte {exc.start}")
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield ItemError.of(position, text, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            try:
                record = parse_record(data, default_region=default_region)
            except ValidationError as exc:
                yield ItemError.of(position, text, describe_errors(exc))
                continue
            yield Parsed(position=position, record=record)
