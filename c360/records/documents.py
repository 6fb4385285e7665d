"""A record as the store holds it: the document made from a canonical record (its draft before
linking, then with what linking decided: its profile, the identity key that linked it, the
identifiers it kept unlinked), and its id's place on the timeline. Every record document is made
here; the ingest stages hand it typed values and the records repository takes what it makes."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from c360.records.types import Record, RecordIdentifier, StoredRevision, Unlinked
from c360.store import Document
from schemas import CanonicalRecord
from schemas.identifiers import IdentifierType
from schemas.records import RecordKind

_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_ENVELOPE = {"kind", "source", "external_id", "occurred_at", "updated_at", "identifiers"}
"""What every record carries besides its payload (``data`` holds the rest)."""


def timeline_key(occurred_at: dt.datetime, record_id: str) -> str:
    """Sorts like (occurred_at, record id): zero-padded microseconds since year 1, then the id.

    Digits rather than an ISO timestamp: the embedded server compares ISO-looking strings as
    dates, which breaks range queries on them.
    """
    micros = (occurred_at - _EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros:018d}|{record_id}"


def content_hash(record: CanonicalRecord) -> str:
    return hashlib.sha256(record.model_dump_json().encode()).hexdigest()


def stated(value: Any) -> int:
    """How many values a stored payload (or any part of it) states: its leaves that are not
    empty text (nulls are not stored)."""
    if isinstance(value, dict):
        return sum(stated(v) for v in value.values())
    if isinstance(value, list):
        return sum(stated(v) for v in value)
    return 0 if value == "" else 1


def _bson_safe(value: Any) -> Any:
    """BSON has datetimes but no plain dates or times of day: store those as ISO strings."""
    if isinstance(value, dict):
        return {k: _bson_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bson_safe(v) for v in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="minutes")
    return value


def payload_of(record: CanonicalRecord) -> Document:
    """What the record says beyond its envelope, as stored (its ``data``)."""
    return _bson_safe(record.model_dump(exclude=_ENVELOPE, exclude_none=True))


def drafted_payload(draft: Document) -> Document:
    """The payload of a drafted record document: what :func:`payload_of` made of its record."""
    payload: Document = draft["data"]
    return payload


def record_document(
    record: CanonicalRecord,
    profile_id: str | None,
    now: dt.datetime,
    unlinked: Sequence[Unlinked] = (),
    linked_by: str | None = None,
) -> Document:
    return linked_document(draft_document(record, now), profile_id, unlinked, linked_by)


def draft_document(record: CanonicalRecord, now: dt.datetime) -> Document:
    """The record's document before linking says whose it is."""
    payload = payload_of(record)
    return {
        "_id": record.record_id,
        "kind": record.kind,
        "source": record.source,
        "external_id": record.external_id,
        "occurred_at": record.occurred_at,
        "timeline_key": timeline_key(record.occurred_at, record.record_id),
        "revision": record.revision,
        "identifiers": [i.model_dump(exclude_none=True) for i in record.identifiers],
        "identity_keys": [i.key for i in record.identifiers],
        "data": payload,
        "content_hash": content_hash(record),
        "stated": stated(payload) + len(record.identifiers),
        "ingested_at": now,
    }


def linked_document(
    draft: Document,
    profile_id: str | None,
    unlinked: Sequence[Unlinked] = (),
    linked_by: str | None = None,
    *,
    batch: str | None = None,
) -> Document:
    """The draft with what linking decided: its profile and how; and the ingest batch that
    writes it (a run that finds the batch unfinished redoes what derives from it)."""
    doc = dict(draft)
    if batch is not None:
        doc["batch"] = batch
    if profile_id is not None:  # no explicit nulls: the embedded store mis-queries them
        doc["profile_id"] = profile_id
    if linked_by is not None:  # what decided its profile; an unmerge follows it
        doc["linked_by"] = linked_by
    if unlinked:  # identifiers kept on the record that did not link it (blocked, limits, …)
        doc["unlinked_identifiers"] = [{"key": u.key, "reason": u.reason} for u in unlinked]
    return doc


def stored_revision(draft: Document) -> StoredRevision:
    """The revision a draft would store: its time, its content's hash, what it states."""
    return StoredRevision(draft["revision"], draft["content_hash"], stated=draft["stated"])


RECORD_FIELDS: Document = dict.fromkeys(
    (
        "kind",
        "source",
        "external_id",
        "occurred_at",
        "revision",
        "identifiers",
        "data",
        "profile_id",
        "timeline_key",
    ),
    1,
)
"""The projection of a query whose documents become :class:`Record`s."""


def stored_record(doc: Document) -> Record:
    """The typed view of a record document (read with at least :data:`RECORD_FIELDS`)."""
    return Record(
        id=doc["_id"],
        kind=RecordKind(doc["kind"]),
        source=doc["source"],
        external_id=doc["external_id"],
        occurred_at=doc["occurred_at"],
        revision=doc["revision"],
        payload=doc["data"],
        identifiers=tuple(
            RecordIdentifier(IdentifierType(i["type"]), i["value"], i.get("source"))
            for i in doc["identifiers"]
        ),
        profile_id=doc.get("profile_id"),
        position=doc["timeline_key"],
    )
