"""An access request's export: everything held about the person, kind by kind and item by
item (constant memory), each item with where it came from. The formats (one JSON document, a
zip of JSON and CSV per kind) are the API's."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Sequence

from c360.errors import InvalidInput
from c360.metrics.service import MetricsService
from c360.privacy.erasure import Of
from c360.privacy.repository import ErasureRepository
from c360.store import Document

EXPORT_SECTIONS = (
    "profiles",
    "identifiers",
    "records",
    "derived",
    "merges",
    "match_suggestions",
    "audit",
    "dead_letters",
)
"""What an access export holds, in this order: every profile merged into the person's too."""


def _item(doc: Document, source: Document) -> Document:
    return {"source": source, "item": doc}


def _record_item(doc: Document) -> Document:
    """A record with its canonical payload, and where it came from (the source system)."""
    source = {
        "collection": "records",
        "system": doc["source"],
        "record_id": doc["_id"],
        "profile_id": doc.get("profile_id"),
    }
    fields = ("kind", "external_id", "occurred_at", "identifiers", "data", "revision")
    item: Document = {k: doc[k] for k in fields if k in doc}
    return _item(item, source)


class AccessExport:
    def __init__(self, erasure: ErasureRepository, metrics: MetricsService) -> None:
        self._erasure = erasure
        self._metrics = metrics

    async def section(
        self, scope: Document, name: str, now: dt.datetime
    ) -> AsyncIterator[Document]:
        """One kind of what is held about the person, item by item, each with its source."""
        profiles = scope[Of.PROFILES.value]
        match name:
            case "profiles":
                for doc in await self._erasure.documents("profiles", "_id", profiles):
                    yield _item(doc, {"collection": "profiles"})
            case "identifiers":
                for doc in await self._erasure.documents("identities", "profile_id", profiles):
                    yield _item(doc, {"collection": "identities", "profile_id": doc["profile_id"]})
            case "records":
                async for page in self._erasure.records_of(profiles):
                    for doc in page:
                        yield _record_item(doc)
            case "derived":
                async for item in self._derived(profiles, now):
                    yield item
            case "merges":
                seen: set[str] = set()
                for field in ("absorbed", "survivor"):
                    for doc in await self._erasure.documents("merges", field, profiles):
                        if doc["_id"] not in seen:
                            seen.add(doc["_id"])
                            yield _item(doc, {"collection": "merges", "rule": doc.get("rule")})
            case "match_suggestions":
                for doc in await self._erasure.documents("match_suggestions", "profiles", profiles):
                    yield _item(doc, {"collection": "match_suggestions"})
            case "audit":
                async for page in self._erasure.audit_of(profiles):
                    for doc in page:
                        yield _item(doc, {"collection": "audit_log", "key_id": doc.get("key_id")})
            case "dead_letters":
                ids = await self._erasure.dead_letters_naming(scope["pattern"])
                for doc in await self._erasure.dead_letters(ids):
                    source = {"collection": "dead_letters", "connector": doc.get("connector")}
                    yield _item(doc, source)
            case _:
                raise InvalidInput(f"no export section {name!r}")

    async def _derived(self, profiles: Sequence[str], now: dt.datetime) -> AsyncIterator[Document]:
        """Metrics, lifecycle stage, value tier and churn risk with their reasons, as the
        profile 360 shows them now, computed from the profile's records."""
        docs = await self._erasure.documents("profiles", "_id", profiles)
        live = [d for d in docs if "merged_into" not in d]
        aggregates = await self._metrics.aggregates([d["_id"] for d in live])
        for doc, agg in zip(live, aggregates, strict=True):
            last_ms = doc.get("last_seen_ms")
            last = None if last_ms is None else dt.datetime.fromtimestamp(last_ms / 1000, dt.UTC)
            view = await self._metrics.view(agg, last, now)
            yield _item(
                {"_id": doc["_id"], **dataclasses.asdict(view)},
                {"collection": "profile_metrics", "computed_from": "records", "at": now},
            )
