"""Exact-identifier linking: which profile does each incoming record belong to?

A record joins the profile that already owns one of its identifiers, and its other identifiers
join that profile too; a record with only new identifiers starts a new profile. When a record's
identifiers belong to more than one profile, it joins the oldest and the others are left as they
are (merging is the identity-resolution layer's decision, not this one's).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from bson import ObjectId

from c360.identity.repository import IdentityRepository
from c360.store import Document
from schemas import Identifier

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
    conflicts: int = 0


def plan_links(
    identifier_sets: Sequence[Sequence[Identifier]],
    owners: dict[str, str],
    now: dt.datetime,
) -> LinkPlan:
    """Decide a profile for each identifier set, in order. Pure: ``owners`` is not modified."""
    owners = dict(owners)
    plan = LinkPlan(profile_ids=[])
    for identifiers in identifier_sets:
        if not identifiers:
            plan.profile_ids.append(None)
            continue
        owning = sorted({owners[i.key] for i in identifiers if i.key in owners})
        if owning:
            profile_id = owning[0]
            plan.conflicts += len(owning) > 1
        else:
            profile_id = new_profile_id()
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
    return plan


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
            plan = plan_links(identifier_sets, await self._identities.owners(keys), now)
            lost = await self._identities.claim(plan.new_identities)
            if not lost:
                if plan.conflicts:
                    log.info(
                        "records carry identifiers of several profiles",
                        extra={"records": plan.conflicts},
                    )
                return plan
        raise RuntimeError("identity claims kept conflicting; is another writer looping?")
