"""The files of a completed access request's export: one JSON document, or a zip of JSON and
CSV per kind, written item by item in constant memory (the REST endpoint streams them, ``c360
privacy export`` writes them to a file)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Literal

from c360.spreadsheet import neutralised

# The export (its sections, the store's reads behind them) is imported by the writers, not with
# the formats' names: ``c360 privacy … --help`` lists those.
if TYPE_CHECKING:
    from c360.privacy.export import AccessExport, ExportItem, Tally
    from c360.privacy.types import Delivery, PrivacyRequest, Scope

Format = Literal["json", "zip"]
CSV_COLUMNS = (
    "section",
    "collection",
    "system",
    "id",
    "profile_id",
    "kind",
    "occurred_at",
    "item",
)
_FLUSH_AT = 64 * 1024


def _plain(value: Any) -> Any:
    """JSON for what the store holds: times in ISO 8601, ids and the rest as text."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False, sort_keys=True)


def _header(request: PrivacyRequest, now: dt.datetime) -> dict[str, Any]:
    """The request the export answers: what the person was searched by (so an export with
    nothing in it says under what nothing is held) and when it was carried out."""
    from c360.privacy.export import EXPORT_SECTIONS

    searched = None
    if request.identifiers is not None:  # None: erased since, only keyed hashes are kept
        searched = [
            {"type": i.type.value, "value": i.value, "source": i.source}
            for i in request.identifiers
        ]
    return {
        "id": request.id,
        "type": request.type.value,
        "received_at": request.received_at,
        "completed_at": request.completed_at,
        "identifiers": searched,
        "generated_at": now,
        "sections": list(EXPORT_SECTIONS),
    }


async def json_document(
    export: AccessExport,
    request: PrivacyRequest,
    scope: Scope,
    now: dt.datetime,
    tally: Tally | None = None,
) -> AsyncIterator[bytes]:
    """``{"request": {...}, "sections": {"profiles": [...], "records": [...], …}}``, written
    item by item (each counted in ``tally``)."""
    from c360.privacy.export import EXPORT_SECTIONS, Tally

    tally = tally or Tally()
    yield ('{"request": ' + _json(_header(request, now)) + ', "sections": {').encode()
    for number, name in enumerate(EXPORT_SECTIONS):
        yield (("," if number else "") + f'"{name}": [').encode()
        buffer: list[str] = []
        size, first = 0, True
        async for item in export.section(scope, name, now):
            tally.count(item)
            text = ("" if first else ",") + _json(item.as_json())
            first = False
            buffer.append(text)
            size += len(text)
            if size > _FLUSH_AT:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        yield ("".join(buffer) + "]").encode()
    yield b"}}\n"


class _Sink(io.RawIOBase):
    """Where the zip is written: taken out chunk by chunk as it grows (never seeked: the zip
    writes data descriptors after each member)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._written = 0
        self.pending = 0  # bytes written and not yet taken

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._written += len(chunk)
        self.pending += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        self.pending = 0
        return out


def _csv_row(item: ExportItem) -> dict[str, str | None]:
    return {
        "section": item.section,
        "collection": item.collection,
        "system": item.system,
        "id": item.id,
        "profile_id": item.profile_id,
        "kind": item.kind,
        "occurred_at": None if item.occurred_at is None else _plain(item.occurred_at),
        "item": _json(item.item),
    }


async def zip_archive(
    export: AccessExport,
    request: PrivacyRequest,
    scope: Scope,
    now: dt.datetime,
    tally: Tally | None = None,
) -> AsyncIterator[bytes]:
    """``request.json`` and, per kind, ``{kind}.json`` (an array of items with their source)
    and ``{kind}.csv`` (one row per item; cells a spreadsheet would run are quoted). Each item
    of the JSON files is counted in ``tally``."""
    from c360.privacy.export import EXPORT_SECTIONS, Tally

    tally = tally or Tally()
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("request.json", "w") as member:
            member.write(_json(_header(request, now)).encode())
        yield sink.take()
        for name in EXPORT_SECTIONS:
            with archive.open(f"{name}.json", "w", force_zip64=True) as member:
                member.write(b"[")
                first = True
                async for item in export.section(scope, name, now):
                    tally.count(item)
                    member.write((("" if first else ",\n") + _json(item.as_json())).encode())
                    first = False
                    if sink.pending > _FLUSH_AT:
                        yield sink.take()
                member.write(b"]\n")
            yield sink.take()
            with archive.open(f"{name}.csv", "w", force_zip64=True) as member:
                text = io.TextIOWrapper(member, encoding="utf-8", newline="")
                writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
                writer.writeheader()
                async for item in export.section(scope, name, now):
                    row = _csv_row(item)
                    writer.writerow({k: neutralised(v) for k, v in row.items()})
                    if sink.pending > _FLUSH_AT:
                        yield sink.take()
                text.flush()
                text.detach()
            yield sink.take()
    yield sink.take()


def delivery_detail(request_id: str | None, delivery: Delivery) -> dict[str, Any]:
    """A delivery as JSON: what the access audit keeps of it, and ``c360 privacy status
    --json`` shows (``request_id`` None: shown with its request)."""
    detail: dict[str, Any] = {} if request_id is None else {"request": request_id}
    return {
        **detail,
        "at": delivery.at.isoformat(),
        "actor": delivery.actor,
        "format": delivery.format,
        "sha256": delivery.sha256,
        "bytes": delivery.size,
        "sections": dict(delivery.sections),
        "records": dict(delivery.records),
    }


FORMATS: dict[str, tuple[str, Callable[..., AsyncIterator[bytes]]]] = {
    "json": ("application/json", json_document),
    "zip": ("application/zip", zip_archive),
}
