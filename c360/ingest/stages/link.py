"""Stage ``link``: each record's profile, by its identifiers (:mod:`c360.identity.service`
plans with the owners the batch looked up, and claims new identifiers: one round trip, more
only when another writer claimed one first); a return that names nobody joins whoever placed
its order. The merges and suggestions the plan found are made by the stage ``merge``."""

from __future__ import annotations

from c360.identity.matching import Features, features_of
from c360.identity.service import IdentityService
from c360.ingest.batch import Batch, Entry
from c360.ingest.stages.base import Stage
from c360.ingest.stages.look_up import order_of
from schemas import CanonicalRecord, Person, Return, SiteEvent
from schemas.records import SiteEventType


class Link(Stage):
    name = "link"

    def __init__(self, identity: IdentityService) -> None:
        self._identity = identity

    async def run(self, batch: Batch) -> None:
        pending = [e for e in batch.entries if not e.linked]
        if not pending:
            return
        records = [e.record for e in pending]
        plan = await self._identity.link(
            [r.identifiers for r in records],
            [person_features(e) for e in pending],
            [is_alias(r) for r in records],
            known=batch.known,
        )
        for entry, profile_id, linked_by, unlinked in zip(
            pending, plan.profile_ids, plan.linked_by, plan.unlinked, strict=True
        ):
            entry.profile_id, entry.linked_by, entry.unlinked = profile_id, linked_by, unlinked
            entry.linked = True
        batch.merges = plan.merges
        batch.suggestions = plan.suggestions
        batch.survivors = {survivor for survivor, _ in plan.merges.values()}
        # A stored order of a profile this batch absorbs is its survivor's once merged.
        stored = {
            order: batch.merges[p][0] if p in batch.merges else p
            for order, p in batch.order_profiles.items()
        }
        link_returns_through_orders(batch.entries, stored)


def link_returns_through_orders(entries: list[Entry], stored: dict[str, str]) -> None:
    """A return that names nobody belongs to whoever placed its order (in the batch, or
    stored: ``stored`` maps order record ids to profiles); it is linked through the order."""
    in_batch = {e.record_id: e.profile_id for e in entries if e.profile_id is not None}
    for entry in entries:
        record = entry.record
        if not isinstance(record, Return) or entry.profile_id is not None:
            continue
        order = order_of(record)
        entry.profile_id = in_batch.get(order) or stored.get(order)
        if entry.profile_id is not None and entry.linked_by is None:
            entry.linked_by = f"record:{order}"


def person_features(entry: Entry) -> Features | None:
    """What a person record says of who they are (linking compares it through phones), from
    its payload as drafted."""
    if not isinstance(entry.record, Person):
        return None
    return features_of([entry.payload], ())


def is_alias(record: CanonicalRecord) -> bool:
    """Whether the record states that its identifiers are one person's (Segment's ``alias``)."""
    return isinstance(record, SiteEvent) and record.event_type is SiteEventType.ALIAS
