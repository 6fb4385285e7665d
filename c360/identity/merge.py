"""Merging and unmerging profiles, each as a journal of idempotent steps.

A merge is written to the ``merges`` ledger first, with the identifiers the absorbed profile
held; then identities and records are repointed, the activity folded in, the absorbed profile
marked ``merged_into`` the survivor and its match features and keys dropped (its survivor is the
candidate now); then the entry is closed. An unmerge follows the ledger
back: the absorbed side is those identifiers plus every identifier claimed through them since,
and every record linked through that side (including records that arrived after the merge)
returns with them; both profiles' activity is recomputed and the pair is set apart, so the
same evidence does not merge them again. Every step can run twice, so a crash anywhere is
repaired by running the unfinished entries again (ingest does so before each run).

Each step is named (``MERGE_STEPS``, ``UNMERGE_STEPS``) and announced to ``before_step`` before
it runs: a seam through which tests crash a merge between any two steps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from c360.errors import Conflict, NotFound
from c360.identity.repository import (
    IdentityRepository,
    MatchRepository,
    MergeRepository,
    SuggestionRepository,
)
from c360.identity.types import (
    MergeEntry,
    MergePreview,
    MergeStatus,
    ProfileIdentifier,
    Suggestion,
    SuggestionStatus,
)
from c360.profiles.service import ProfileService
from c360.records.repository import RecordRepository
from c360.steps import StepHook, no_hook
from schemas.quoting import shown

log = logging.getLogger(__name__)


class MergeNotFound(NotFound):
    pass


class MergeNotUndoable(Conflict):
    pass


class MergeRefused(Conflict):
    """The two profiles cannot be one person (or are one already)."""


class SuggestionNotFound(NotFound):
    pass


MANUAL_RULE = "manual"

MERGE_STEPS = (
    "repoint identities",
    "repoint records",
    "fold activity",
    "mark absorbed",
    "forget absorbed match data",
    "fold follow-ups",
    "close entry",
)
UNMERGE_STEPS = (
    "return identities",
    "return records",
    "unmark absorbed",
    "set apart",
    "recompute absorbed",
    "recompute survivor",
    "return follow-ups",
    "close entry",
)

MergeHook = Callable[[str, str, str, dt.datetime], Awaitable[None]]
"""(absorbed, survivor, merge id, now): what another domain does at an unmerge."""
MergesHook = Callable[[Sequence[tuple[str, str, str]], dt.datetime], Awaitable[None]]
"""((absorbed, survivor, merge id) of each, now): what another domain does at merges made
together (one or more; an absorbed profile appears once, and is no survivor of another)."""


async def _no_merge_hook(absorbed: str, survivor: str, merge_id: str, now: dt.datetime) -> None:
    return None


async def _no_merges_hook(merges: Sequence[tuple[str, str, str]], now: dt.datetime) -> None:
    return None


def customers_apart(
    survivor: Iterable[ProfileIdentifier], absorbed: Iterable[ProfileIdentifier]
) -> list[str]:
    """The sources of which the two sides hold different customer ids: two customers."""
    ids = {i.source: i.value for i in survivor if i.source is not None}
    return sorted(
        {
            i.source
            for i in absorbed
            if i.source is not None and ids.get(i.source, i.value) != i.value
        }
    )


class MergeService:
    def __init__(
        self,
        merges: MergeRepository,
        identities: IdentityRepository,
        records: RecordRepository,
        profiles: ProfileService,
        suggestions: SuggestionRepository,
        matches: MatchRepository,
    ) -> None:
        self._suggestions = suggestions
        self._matches = matches
        self._merges = merges
        self._identities = identities
        self._records = records
        self._profiles = profiles
        self.before_step: StepHook = no_hook
        # Follow-ups fold into the survivor's, and go back on unmerge (set by the wiring).
        self.after_merge: MergesHook = _no_merges_hook
        self.after_unmerge: MergeHook = _no_merge_hook

    async def absorb(
        self,
        absorbed: str,
        survivor: str,
        rule: str,
        now: dt.datetime,
        *,
        actor: str = "ingest",
        reason: str | None = None,
    ) -> str:
        """Merge ``absorbed`` into ``survivor``; returns the ledger entry's id."""
        ids = await self.absorb_all({absorbed: (survivor, rule)}, now, actor=actor, reason=reason)
        return ids[absorbed]

    async def absorb_all(
        self,
        merges: Mapping[str, tuple[str, str]],
        now: dt.datetime,
        *,
        actor: str = "ingest",
        reason: str | None = None,
    ) -> dict[str, str]:
        """Merge each absorbed profile into its survivor (``merges``: absorbed → (survivor,
        rule)); returns each absorbed profile's ledger entry id.

        Each merge has its own ledger entry, but their steps run together, each one round trip
        or a few for all of them: a batch that links many pairs merges them at the cost of one.
        No survivor may be absorbed here too (linking names the final survivor of each).
        """
        if not merges:
            return {}
        if clash := {s for s, _ in merges.values()} & set(merges):
            raise ValueError(f"profiles both absorbed and surviving: {sorted(clash)}")
        ids, held = await asyncio.gather(
            self._merges.entry_ids((a, s) for a, (s, _) in merges.items()),
            self._identities.keys_of(merges),
        )
        entries = [
            MergeEntry(
                id=ids[absorbed, survivor],
                absorbed=absorbed,
                survivor=survivor,
                rule=rule,
                actor=actor,
                status=MergeStatus.STARTED,
                started_at=now,
                moved_identities=tuple(held[absorbed]),
                reason=reason or None,
            )
            for absorbed, (survivor, rule) in merges.items()
        ]
        await self._merges.start(entries)
        # A resumed entry keeps its list.
        stored = await self._merges.get_many(e.id for e in entries)
        await self._complete([stored.get(e.id, e) for e in entries], now)
        for absorbed, (survivor, rule) in merges.items():
            log.info(
                "profiles merged", extra={"absorbed": absorbed, "survivor": survivor, "rule": rule}
            )
        return {e.absorbed: e.id for e in entries}

    async def unmerge(
        self, merge_id: str, now: dt.datetime, *, actor: str, reason: str | None = None
    ) -> MergeEntry:
        """Undo a merge: both profiles as they would be had it never happened."""
        entry = await self._merges.get(merge_id)
        if entry is None:
            raise MergeNotFound(f"no merge {shown(merge_id)}")
        if entry.status not in (MergeStatus.DONE, MergeStatus.UNDOING):
            raise MergeNotUndoable(f"merge {shown(merge_id)} is {entry.status}, not done")
        await self._merges.undoing(merge_id, actor, now, reason)
        await self._undo(entry, now)
        log.info("profiles unmerged", extra={"merge": merge_id})
        return await self._merges.get(merge_id) or entry

    async def settle(self, profile_ids: Iterable[str], now: dt.datetime) -> None:
        """Re-run the merges that absorbed any of these profiles.

        A worker that linked records or claimed identifiers to a profile while another worker
        was absorbing it may have written them after the repointing: running the merge's
        idempotent steps again moves them to the survivor. Called after each batch is written.
        """
        for entry in await self._merges.absorbing(profile_ids):
            await self._complete([entry], now)

    async def check(self, survivor: str, absorbed: str, *, automatic: bool) -> list[str]:
        """Refuse impossible merges; returns the identity keys ``absorbed`` would bring.

        An ``automatic`` merge (matching's) never joins two customers of one source: the
        source says they are two. A person may (an admin's merge, an accepted suggestion: a
        duplicate account), as an alias does; the survivor then holds both ids."""
        if survivor == absorbed:
            raise MergeRefused("a profile cannot absorb itself")
        for profile_id in (survivor, absorbed):
            live = await self._profiles.get(profile_id)
            if live.id != profile_id:
                raise MergeRefused(f"profile {profile_id} was merged into {live.id}")
        held = await self._identities.of_profiles([survivor, absorbed])
        clashes = customers_apart(held[survivor], held[absorbed])
        if clashes and automatic:
            raise MergeRefused(
                f"both profiles hold {', '.join(clashes)} customer ids: two customers, not one"
            )
        return [i.key for i in held[absorbed]]

    async def preview(self, survivor: str, absorbed: str) -> MergePreview:
        """What merging ``absorbed`` into ``survivor`` would move; refuses impossible merges."""
        identities = await self.check(survivor, absorbed, automatic=False)
        records = await self._records.count_of(absorbed)
        return MergePreview(survivor, absorbed, tuple(identities), records)

    async def merge(
        self, survivor: str, absorbed: str, *, actor: str, reason: str, now: dt.datetime
    ) -> MergeEntry:
        """A merge someone decided (an admin, an accepted suggestion)."""
        await self.check(survivor, absorbed, automatic=False)
        merge_id = await self.absorb(
            absorbed, survivor, MANUAL_RULE, now, actor=actor, reason=reason
        )
        entry = await self._merges.get(merge_id)
        assert entry is not None  # just written
        return entry

    async def resolve_suggestion(
        self, suggestion_id: str, accept: bool, *, actor: str, now: dt.datetime
    ) -> Suggestion:
        """Accept (merge the pair; the older survives) or reject (never suggest it again)."""
        suggestion = await self._suggestions.get(suggestion_id)
        if suggestion is None:
            raise SuggestionNotFound(f"no match suggestion {shown(suggestion_id)}")
        if suggestion.status != SuggestionStatus.OPEN:
            raise MergeRefused(f"suggestion {suggestion_id} is already {suggestion.status}")
        first, second = suggestion.profiles
        if accept:
            live = sorted({(await self._profiles.get(p)).id for p in (first, second)})
            if len(live) == 2:
                await self.merge(
                    live[0], live[1], actor=actor, reason="suggestion accepted", now=now
                )
        else:
            await self._identities.separate(first, second, f"suggestion:{suggestion_id}", now)
        status = SuggestionStatus.ACCEPTED if accept else SuggestionStatus.REJECTED
        await self._suggestions.resolve(suggestion_id, status, actor, now)
        return replace(suggestion, status=status)

    async def standing(self, rule: str, after: str | None, limit: int) -> list[MergeEntry]:
        """A page of the merges made by ``rule`` that stand (done, not undone), in id order
        after ``after``."""
        return await self._merges.done_by(rule, after, limit)

    async def history(self, profile_id: str) -> list[MergeEntry]:
        """The merges and unmerges a profile took part in."""
        return await self._merges.of_profile(profile_id)

    async def suggestions(self, profile_id: str) -> list[Suggestion]:
        return await self._suggestions.of_profile(profile_id)

    async def resume_unfinished(self, now: dt.datetime) -> int:
        """Complete the merges and unmerges a crashed run left half-done; returns how many."""
        unfinished = await self._merges.unfinished()
        for entry in unfinished:
            if entry.status == MergeStatus.UNDOING:
                await self._undo(entry, now)
            else:
                await self._complete([entry], now)
        return len(unfinished)

    async def _complete(self, entries: Sequence[MergeEntry], now: dt.datetime) -> None:
        """The steps of these merges, each for all of them (an absorbed profile appears once,
        and is no survivor of another)."""
        moves = {entry.absorbed: entry.survivor for entry in entries}
        step = iter(MERGE_STEPS)
        await self.before_step(next(step))
        await self._identities.repoint(moves)
        await self.before_step(next(step))
        await self._records.repoint(moves)
        await self.before_step(next(step))
        await self._profiles.fold_activity(moves, now)
        await self.before_step(next(step))
        await self._profiles.mark_merged(moves)
        await self.before_step(next(step))
        # No longer candidates for matching: their survivors are.
        await self._matches.forget(moves)
        await self.before_step(next(step))
        await self.after_merge([(e.absorbed, e.survivor, e.id) for e in entries], now)
        await self.before_step(next(step))
        await self._merges.finish([entry.id for entry in entries], now)

    async def absorbed_side(self, entry: MergeEntry) -> tuple[set[str], dict[str, str]]:
        """What an unmerge of ``entry`` hands back to the absorbed profile: the identity keys
        it brought and those claimed through them since, and the records linked through them
        (id → the profile holding it), including records that arrived after the merge.

        Looked up on both profiles, so a resumed unmerge that already handed some back finds
        the same side."""
        side = await self._identities_side(entry)
        return side, await self._records_side(entry, side)

    async def _identities_side(self, entry: MergeEntry) -> set[str]:
        side = set(entry.moved_identities)
        pair = (entry.survivor, entry.absorbed)
        while grown := set(await self._identities.claimed_via(pair, side)) - side:
            side |= grown
        return side

    async def _records_side(self, entry: MergeEntry, side: set[str]) -> dict[str, str]:
        pair = (entry.survivor, entry.absorbed)
        linked = await self._records.linked_by(pair, side)
        links = side | {f"record:{rid}" for rid in linked}
        return await self._records.linked_by(pair, links)

    async def _undo(self, entry: MergeEntry, now: dt.datetime) -> None:
        absorbed, survivor = entry.absorbed, entry.survivor
        step = iter(UNMERGE_STEPS)
        side = await self._identities_side(entry)
        await self.before_step(next(step))
        await self._identities.assign(sorted(side), absorbed)
        await self.before_step(next(step))
        await self._records.assign(await self._records_side(entry, side), absorbed)
        await self.before_step(next(step))
        await self._profiles.unmark_merged(absorbed)
        await self.before_step(next(step))
        await self._identities.separate(absorbed, survivor, entry.id, now)
        await self.before_step(next(step))
        await self._profiles.recompute_activity(absorbed)
        await self.before_step(next(step))
        await self._profiles.recompute_activity(survivor)
        await self.before_step(next(step))
        await self.after_unmerge(absorbed, survivor, entry.id, now)
        await self.before_step(next(step))
        await self._merges.undone(entry.id, now)
