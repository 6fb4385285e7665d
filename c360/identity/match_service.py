"""Running probabilistic matching when people records arrive: score candidates from the
blocking keys, merge above the automatic threshold (rule ``probabilistic``, reversible like any
merge), suggest between the thresholds with a per-field explanation. A batch's profiles are
evaluated together: a handful of round trips per batch, whatever its size."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from c360.identity.calibration import Calibration, calibrate
from c360.identity.matching import (
    MAX_BLOCK,
    Features,
    Score,
    Weights,
    blocking_keys,
    conflicts,
    differ,
    features_of,
    score,
)
from c360.identity.merge import MergeRefused, MergeService, customers_apart
from c360.identity.repository import IdentityRepository, MatchRepository, SuggestionRepository
from c360.identity.types import MergeEntry, ProfileIdentifier
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from schemas import IdentifierType

log = logging.getLogger(__name__)

PROBABILISTIC_RULE = "probabilistic"


@dataclass(frozen=True, slots=True)
class Rechecked:
    """An automatic merge weighed again under today's rules: ``score`` is what its two sides
    score now, ``refused`` why matching would not make it today (None: it would); ``score`` is
    None when that cannot be told, and ``unjudged`` says why."""

    entry: MergeEntry
    score: Score | None = None
    refused: str | None = None
    unjudged: str | None = None


class Matcher:
    def __init__(
        self,
        matches: MatchRepository,
        identities: IdentityRepository,
        records: RecordRepository,
        profiles: ProfileService,
        merges: MergeService,
        suggestions: SuggestionRepository,
        *,
        auto_merge_at: float,
        review_at: float,
        weights: Weights | None = None,
    ) -> None:
        self._matches = matches
        self._identities = identities
        self._records = records
        self._profiles = profiles
        self._merges = merges
        self._suggestions = suggestions
        self._auto = auto_merge_at
        self._review = review_at
        self._weights = weights or Weights()

    async def evaluate(
        self, profile_ids: Iterable[str], now: dt.datetime, *, again: Iterable[str] = ()
    ) -> None:
        """Refresh these profiles' features and keys; merge or suggest their likely twins.

        Profiles whose features did not change are not compared again, but for those in
        ``again`` (a run cut short may have saved their features and not compared them).
        """
        wanted = set(profile_ids)
        if not wanted:
            return
        # Independent reads, in flight together (those of profiles found absorbed go unused).
        live, people, phones, before, apart = await asyncio.gather(
            self._profiles.live(wanted),
            self._records.people_of(wanted),
            self._identities.phones_of(wanted),
            self._matches.features(wanted, current=True),
            self._identities.apart(wanted),
        )
        if not live:
            return
        mine: dict[str, Features] = {}
        keys: dict[str, set[str]] = {}
        for p in live:
            mine[p] = features_of(people[p], phones[p])
            keys[p] = blocking_keys(mine[p])
        # Only what changed is rewritten and compared again (a customer's person record comes
        # again with each of their orders, mostly unchanged).
        forced = set(again)
        live = [p for p in live if p in forced or p not in before or mine[p] != before[p]]
        if not live:
            return
        # Every one may hold keys: those written under older rules are not in ``before``.
        await self._matches.save(
            {p: mine[p] for p in live}, {p: keys[p] for p in live}, replacing=live
        )
        holders = {
            key: members
            for key, members in (
                await self._matches.holders(k for ks in keys.values() for k in ks)
            ).items()
            if len(members) <= MAX_BLOCK
        }
        candidates = {
            p: set().union(*(holders.get(k, set()) for k in keys[p])) - {p} - apart.get(p, set())
            for p in live
        }
        # Only live profiles are candidates (one absorbed by a run cut short before it forgot
        # them may still hold keys).
        others = set().union(*candidates.values())
        alive, features = await asyncio.gather(
            self._profiles.live(others), self._matches.features(others)
        )
        stored = {p: features[p] for p in alive if p in features}
        gone: set[str] = set()
        survivors: set[str] = set()
        suggestions: list[tuple[str, str, str]] = []
        for p in live:
            for other in sorted(candidates[p] & set(stored)):
                if p in gone or other in gone:
                    continue
                result = score(mine[p], stored[other], self._weights)
                if result.total < self._review:
                    continue
                first, second = sorted((p, other))
                told_apart = self._told_apart(mine[p], stored[other], result)
                automatic = result.total >= self._auto and not told_apart
                if automatic and await self._merge(first, second, result, now):
                    gone.add(second)
                    survivors.add(first)
                    continue
                reasons = result.explain()
                if told_apart:
                    reasons += f"; not merged automatically: {told_apart}"
                suggestions.append((first, second, reasons))
        await self._suggestions.add(suggestions, now)
        if survivors:  # they hold the absorbed profiles' people now: compared afresh
            await self.evaluate(survivors - gone, now)

    def _told_apart(self, a: Features, b: Features, result: Score) -> str | None:
        """Why a pair scoring above the automatic threshold is not merged automatically: an
        attribute on which they are clearly two people (twins of one family at one address
        agree on everything but the given name), so a person decides."""
        clash = conflicts(a, b) if result.total >= self._auto else []
        return differ(clash) if clash else None

    async def rekey(self, now: dt.datetime, page: int = 500) -> int:
        """Key and compare afresh every profile keyed under older rules (``KEYS_VERSION``),
        a page at a time, rather than when a record of each next arrives; merging or
        suggesting the twins that finds, as at ingest. Returns how many were. Running it again
        after a stop goes on where it stopped (those done are keyed under today's rules)."""
        done = 0
        after: str | None = None
        while ids := await self._matches.keyed_before(after, page):
            after = ids[-1]
            await self.evaluate(ids, now, again=ids)
            done += len(ids)
        return done

    async def recheck(self, page: int = 200) -> AsyncIterator[Rechecked]:
        """Every automatic merge that stands, weighed again under today's rules (after an
        upgrade whose rules would not have made some of them: names in other scripts once all
        agreed). Each side is what an unmerge would give back: the absorbed profile's
        identifiers and the records linked through them, against the rest of the survivor."""
        after: str | None = None
        while entries := await self._merges.standing(PROBABILISTIC_RULE, after, page):
            after = entries[-1].id
            for entry in entries:
                yield await self._weigh(entry)

    async def _weigh(self, entry: MergeEntry) -> Rechecked:
        survivor = entry.survivor
        if not await self._profiles.live([survivor]):
            merged = (await self._profiles.get(survivor)).id
            return Rechecked(entry, unjudged=f"its survivor was merged into {merged} since")
        (side, records), people, held = await asyncio.gather(
            self._merges.absorbed_side(entry),
            self._records.of_kind([survivor], "person"),
            self._identities.of_profiles([survivor]),
        )
        # Each side as it would stand apart: True the absorbed one, False the survivor's.
        persons: dict[bool, list[Mapping[str, Any]]] = {True: [], False: []}
        ids: dict[bool, list[ProfileIdentifier]] = {True: [], False: []}
        for record in sorted(people[survivor], key=lambda r: r.position):
            persons[record.id in records].append(record.payload)
        for identifier in held[survivor]:
            ids[identifier.key in side].append(identifier)
        if not (persons[True] and persons[False]):
            return Rechecked(entry, unjudged="one side holds no person record to compare")
        absorbed, kept = (
            features_of(persons[s], [i.value for i in ids[s] if i.type is IdentifierType.PHONE])
            for s in (True, False)
        )
        now = score(absorbed, kept, self._weights)
        refused = self._told_apart(absorbed, kept, now)
        if refused is None and (apart := customers_apart(ids[False], ids[True])):
            refused = f"two customers: both hold {', '.join(apart)} customer ids"
        if refused is None and now.total < self._auto:
            refused = f"under the automatic threshold {self._auto:g}"
        return Rechecked(entry, now, refused=refused)

    async def calibrate(self, records: int, u_pairs: int) -> Calibration:
        """m and u estimated from up to ``records`` person records of the store."""
        found = await self._matches.person_records(records)
        features = [features_of([data], phones) for data, phones in found]
        return await asyncio.to_thread(calibrate, features, u_pairs=u_pairs, start=self._weights)

    async def _merge(self, survivor: str, absorbed: str, result: Score, now: dt.datetime) -> bool:
        try:
            await self._merges.check(survivor, absorbed, automatic=True)  # two customers: no
        except MergeRefused:
            return False
        await self._merges.absorb(
            absorbed,
            survivor,
            PROBABILISTIC_RULE,
            now,
            actor="matcher",
            reason=result.explain(),
        )
        return True
