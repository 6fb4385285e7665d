"""An access request's export: everything held about the person, kind by kind and item by
item (constant memory), each item with where it came from. The formats (one JSON document, a
zip of JSON and CSV per kind) are the API's.

Stored documents are handed over as they are stored (:data:`~c360.privacy.types.StoredDocument`):
what the person is owed is what is held. What is computed for them — metrics, lifecycle stage,
value tier and churn risk with their reasons, the consent in force — is computed now by the
services that compute it everywhere else, and says what it was computed from.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from c360.errors import InvalidInput
from c360.metrics.service import MetricsService
from c360.privacy import rules
from c360.privacy.repository import ExportRepository
from c360.privacy.types import Held, Scope
from c360.profiles.repository import ProfileRepository
from c360.profiles.types import Profile
from schemas.quoting import shown

EXPORT_SECTIONS = (
    "profiles",
    "identifiers",
    "records",
    "derived",
    "consents",
    "merges",
    "match_suggestions",
    "follow_ups",
    "feedback_acknowledgements",
    "audit",
    "dead_letters",
)
"""What an access export holds, in this order: every profile merged into the person's too."""


class ConsentInForce(Protocol):
    """One channel, contact point and purpose's consent as the contact policy folds it."""

    @property
    def channel(self) -> str: ...
    @property
    def contact_point(self) -> str | None: ...
    @property
    def purpose(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def since(self) -> dt.datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def record_id(self) -> str: ...
    @property
    def evidence(self) -> str | None: ...
    @property
    def pending_since(self) -> dt.datetime | None: ...
    @property
    def origin(self) -> str: ...
    @property
    def actor(self) -> str | None: ...


class ConsentReader(Protocol):
    """The contact service's fold of each profile's consent (contact sits beside privacy and
    asks it for tombstones, so privacy is handed the fold rather than importing it)."""

    async def states(self, profile_ids: Sequence[str]) -> Sequence[Sequence[ConsentInForce]]: ...


@dataclass(frozen=True)
class ExportItem:
    """One thing held about the person: ``item`` (what is held) and ``source`` (where it came
    from) are what the JSON holds; the other fields are the CSV's columns."""

    section: str
    source: Mapping[str, Any]
    item: Mapping[str, Any]
    collection: str
    id: str
    profile_id: str | None = None
    system: str | None = None
    kind: str | None = None
    occurred_at: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "item": self.item}


class Tally:
    """How many items an export handed over, per section (every section, none: 0) and, of its
    records, per kind: what a delivery records of what it held."""

    def __init__(self) -> None:
        self.sections: Counter[str] = Counter(dict.fromkeys(EXPORT_SECTIONS, 0))
        self.records: Counter[str] = Counter()

    def count(self, item: ExportItem) -> None:
        self.sections[item.section] += 1
        if item.section == "records" and item.kind is not None:
            self.records[item.kind] += 1


def _held(section: str, held: Held, **source: Any) -> ExportItem:
    return ExportItem(
        section=section,
        source={"collection": held.collection, **source},
        item=held.document,
        collection=held.collection,
        id=held.id,
        profile_id=held.profile_id,
        system=held.system,
        kind=held.kind,
        occurred_at=held.occurred_at,
    )


def _record(held: Held) -> ExportItem:
    """A record with its canonical payload, and where it came from (the source system)."""
    source = {"system": held.system, "record_id": held.id, "profile_id": held.profile_id}
    return _held("records", held, **source)


class AccessExport:
    def __init__(
        self,
        held: ExportRepository,
        profiles: ProfileRepository,
        metrics: MetricsService,
        consents: ConsentReader,
    ) -> None:
        self._held = held
        self._profiles = profiles
        self._metrics = metrics
        self._consents = consents

    async def section(self, scope: Scope, name: str, now: dt.datetime) -> AsyncIterator[ExportItem]:
        """One kind of what is held about the person, item by item, each with its source."""
        profiles = scope.profiles
        match name:
            case "profiles":
                for held in await self._held.profiles(profiles):
                    yield _held(name, held)
            case "identifiers":
                for held in await self._held.identities(profiles):
                    yield _held(name, held, profile_id=held.profile_id)
            case "records":
                async for page in self._held.records(profiles):
                    for held in page:
                        yield _record(held)
            case "derived":
                async for item in self._derived(profiles, now):
                    yield item
            case "consents":
                async for item in self._consent(profiles, now):
                    yield item
            case "merges":
                for held in await self._held.merges(profiles, scope.keys):
                    yield _held(name, held, rule=held.rule)
            case "match_suggestions":
                for held in await self._held.match_suggestions(profiles):
                    yield _held(name, held)
            case "follow_ups":
                for held in await self._held.of_profiles("follow_ups", profiles):
                    yield _held(name, held, profile_id=held.profile_id)
            case "feedback_acknowledgements":
                for held in await self._held.of_profiles("feedback_acks", profiles):
                    yield _held(name, held, profile_id=held.profile_id)
            case "audit":
                async for page in self._held.audit(profiles):
                    for held in page:
                        yield _held(name, held, key_id=held.key_id)
            case "dead_letters":
                contacts = rules.key_pattern(scope.keys, contacts_only=True)
                for held in await self._held.dead_letters_naming(contacts, scope.keys):
                    yield _held(name, held, connector=held.system)
            case _:
                raise InvalidInput(f"no export section {shown(name)}")

    async def _live(self, profiles: Sequence[str]) -> list[Profile]:
        """Their profiles not merged into another (those hold the records now)."""
        found = await self._profiles.get_many(profiles)
        return sorted((p for p in found if p.merged_into is None), key=lambda p: p.id)

    async def _derived(
        self, profiles: Sequence[str], now: dt.datetime
    ) -> AsyncIterator[ExportItem]:
        """Metrics, lifecycle stage, value tier and churn risk with their reasons, as the
        profile 360 shows them now, computed from the profile's records."""
        live = await self._live(profiles)
        aggregates = await self._metrics.aggregates([p.id for p in live])
        for profile, agg in zip(live, aggregates, strict=True):
            view = await self._metrics.view(agg, profile.last_seen_at, now)
            yield ExportItem(
                section="derived",
                source={"collection": "profile_metrics", "computed_from": "records", "at": now},
                item={"_id": profile.id, **dataclasses.asdict(view)},
                collection="profile_metrics",
                id=profile.id,
                profile_id=profile.id,
            )

    async def _consent(
        self, profiles: Sequence[str], now: dt.datetime
    ) -> AsyncIterator[ExportItem]:
        """The consent in force per channel, contact point and purpose, as the contact policy
        folds it from the consent changes (which are among the records), each with the change
        that decided it."""
        live = [p.id for p in await self._live(profiles)]
        for profile_id, states in zip(live, await self._consents.states(live), strict=True):
            for state in states:
                item = {
                    "channel": state.channel,
                    "contact_point": state.contact_point,
                    "purpose": state.purpose,
                    "status": state.status,
                    "since": state.since,
                    "evidence": state.evidence,
                    "pending_since": state.pending_since,
                    "origin": state.origin,  # how it came about, and who recorded it
                    "actor": state.actor,
                }
                source = {
                    "collection": "records",
                    "computed_from": "consent_change records",
                    "decided_by": state.record_id,
                    "system": state.source,
                    "profile_id": profile_id,
                    "at": now,
                }
                yield ExportItem(
                    section="consents",
                    source=source,
                    item={k: v for k, v in item.items() if v is not None},
                    collection="records",
                    id=state.record_id,
                    profile_id=profile_id,
                    system=state.source,
                    kind=state.status,
                    occurred_at=state.since,
                )
