"""Exact-identifier linking: which profile does each incoming record belong to?

A record joins the profile that already owns one of its identifiers, and its other identifiers
join that profile too; a record with only new identifiers starts a new profile.

When a record's identifiers belong to several profiles:
- profiles that know the person only by anonymous ids (a browser, a device) are absorbed into
  the one that knows who they are: an identify or alias links the earlier anonymous browsing;
- two profiles of known people are not merged here (the record joins the oldest); that is the
  identity-resolution layer's decision, with its rules and review.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from bson import ObjectId

from c360.identity.repository import IdentityRepository
from c360.store import Document
from schemas import Identifier, IdentifierType

log = logging.getLogger(__name__)

_MAX_CLAIM_ROUNDS = 10


def new_profile_id() -> str:
    """Opaque, unique, and ordered by creation time, so the older of two profiles is known."""
    return str(ObjectId())


@dataclass
class LinkPlan:
    """The outcome of linking one batch: a profile per record, and the identities to claim.

    Profiles themselves are created by whoever records activity on them (see ProfileService).
    """

    profile_ids: list[str | None]
    new_identities: list[Document] = field(default_factory=list)
    merges: dict[str, str] = field(default_factory=dict)
    """Stored anonymous profiles to absorb: absorbed id → survivor id."""
    conflicts: int = 0


def plan_links(
    identifier_sets: Sequence[Sequence[Identifier]],
    owners: dict[str, str],
    now: dt.datetime,
    anonymous: set[str] | None = None,
) -> LinkPlan:
    """Decide a profile for each identifier set, in order. Pure: arguments are not modified.

    ``anonymous`` names the stored profiles known only by anonymous identifiers.
    """
    owners = dict(owners)
    anonymous = set(anonymous or ())
    created: set[str] = set()
    absorbed: dict[str, str] = {}
    plan = LinkPlan(profile_ids=[])
    for identifiers in identifier_sets:
        if not identifiers:
            plan.profile_ids.append(None)
            continue
        owning = sorted({owners[i.key] for i in identifiers if i.key in owners})
        if owning:
            known = [p for p in owning if p not in anonymous]
            profile_id = known[0] if known else owning[0]
            plan.conflicts += len(known) > 1
            for other in owning:
                if other != profile_id and other in anonymous:
                    absorbed[other] = profile_id
                    owners = {k: profile_id if v == other else v for k, v in owners.items()}
        else:
            profile_id = new_profile_id()
            created.add(profile_id)
            anonymous.add(profile_id)
        if any(i.type is not IdentifierType.ANONYMOUS for i in identifiers):
            anonymous.discard(profile_id)
        for identifier in identifiers:
            if identifier.key in owners:
                continue
            owners[identifier.key] = profile_id
            doc: Document = {
                "_id": identifier.key,
                "profile_id": profile_id,
                "type": identifier.type.value,
                "value": identifier.value,
                "created_at": now,
            }
            if identifier.source is not None:
                doc["source"] = identifier.source
            plan.new_identities.append(doc)
        plan.profile_ids.append(profile_id)
    # Absorptions decided later in the batch apply to its earlier records and claims too.
    final = {a: _survivor(a, absorbed) for a in absorbed}
    plan.profile_ids = [final.get(p, p) if p else p for p in plan.profile_ids]
    for doc in plan.new_identities:
        doc["profile_id"] = final.get(doc["profile_id"], doc["profile_id"])
    plan.merges = {a: s for a, s in final.items() if a not in created}
    return plan


def _survivor(profile_id: str, absorbed: dict[str, str]) -> str:
    while profile_id in absorbed:
        profile_id = absorbed[profile_id]
    return profile_id


class IdentityService:
    def __init__(self, identities: IdentityRepository) -> None:
        self._identities = identities

    async def link(self, identifier_sets: Sequence[Sequence[Identifier]]) -> LinkPlan:
        """Link a batch of records to profiles, claiming new identifiers in one round trip.

        If another worker claims one of our new identifiers first, the batch is planned again
        with the fresh owners; identifiers we did claim stay ours, so this converges.
        """
        keys = {i.key for identifiers in identifier_sets for i in identifiers}
        now = dt.datetime.now(dt.UTC)
        for _ in range(_MAX_CLAIM_ROUNDS):
            owners = await self._identities.owners(keys)
            anonymous = await self._anonymous_among_shared(identifier_sets, owners)
            plan = plan_links(identifier_sets, owners, now, anonymous)
            lost = await self._identities.claim(plan.new_identities)
            if not lost:
                if plan.conflicts:
                    log.info(
                        "records carry identifiers of several profiles",
                        extra={"records": plan.conflicts},
                    )
                return plan
        raise RuntimeError("identity claims kept conflicting; is another writer looping?")

    async def _anonymous_among_shared(
        self, identifier_sets: Sequence[Sequence[Identifier]], owners: dict[str, str]
    ) -> set[str]:
        """Of the profiles that meet another one in a record, those known only anonymously.

        One round trip, and only for batches where profiles meet at all.
        """
        shared: set[str] = set()
        for identifiers in identifier_sets:
            owning = {owners[i.key] for i in identifiers if i.key in owners}
            if len(owning) > 1:
                shared |= owning
        if not shared:
            return set()
        identities = await self._identities.of_profiles(shared)
        return {
            profile_id
            for profile_id, docs in identities.items()
            if docs and all(d["type"] == IdentifierType.ANONYMOUS.value for d in docs)
        }
