"""Linking a batch of records to profiles against the store: the owners of their identifiers
read, the batch planned (:func:`c360.identity.linking.plan_links`, pure), new identifiers
claimed; planned again when another writer claimed one first."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence

from c360.identity.linking import (
    LinkPlan,
    meeting,
    needing_holders,
    plan_links,
    weakly_tied,
)
from c360.identity.matching import Features
from c360.identity.repository import IdentityRepository, Known, MatchRepository
from c360.identity.rules import IdentityRules
from schemas import Identifier

log = logging.getLogger(__name__)

_MAX_CLAIM_ROUNDS = 10


class IdentityService:
    def __init__(
        self,
        identities: IdentityRepository,
        rules: IdentityRules | None = None,
        matches: MatchRepository | None = None,
    ) -> None:
        self._identities = identities
        self._rules = rules or IdentityRules()
        self._matches = matches

    async def link(
        self,
        identifier_sets: Sequence[Sequence[Identifier]],
        people: Sequence[Features | None] | None = None,
        aliases: Sequence[bool] | None = None,
        *,
        known: Known | None = None,
    ) -> LinkPlan:
        """Link a batch of records to profiles, claiming new identifiers in one round trip.

        ``people`` gives the person attributes of each record that states them (else None);
        ``aliases`` whether each record is an alias (its external ids are one person's).
        ``known``: what the store says of the identifiers, already read (by
        :meth:`IdentityRepository.lookup`); else it is read here. If another worker claims
        one of our new identifiers first, the batch is planned again with the fresh owners;
        identifiers we did claim stay ours, so this converges.
        """
        keys = {i.key for identifiers in identifier_sets for i in identifiers}
        now = dt.datetime.now(dt.UTC)
        for _ in range(_MAX_CLAIM_ROUNDS):
            found = known or await self._identities.lookup(keys)
            known = None  # a later round reads them again
            owners = found.owners
            tied = weakly_tied(identifier_sets, owners, people, self._rules)
            # Independent reads, in flight together.
            held, apart, features = await asyncio.gather(
                self._identities.of_profiles(needing_holders(identifier_sets, owners) | tied),
                self._identities.apart(meeting(identifier_sets, owners)),
                self._features(tied),
            )
            plan = plan_links(
                identifier_sets,
                owners,
                held,
                now,
                self._rules,
                apart,
                people=people,
                features=features,
                shared=found.shared,
                aliases=aliases,
                claimed_via=found.claimed_via,
            )
            lost = await self._identities.claim(plan.new_identities)
            if not lost:
                await self._identities.flag_shared(plan.shared, now)
                if plan.suggestions:
                    log.info(
                        "records tie profiles that are not merged",
                        extra={"pairs": len(plan.suggestions)},
                    )
                return plan
        raise RuntimeError("identity claims kept conflicting; is another writer looping?")

    async def _features(self, profile_ids: set[str]) -> dict[str, Features]:
        if self._matches is None or not profile_ids:
            return {}
        return await self._matches.features(profile_ids)
