"""An erasure's run over whom it found: the steps of :data:`c360.privacy.erasure.STEPS` in
order, each noting how many documents it changes (before it first runs), changing them and
marking itself done in the request's journal; then a look for what is left of the person, and
another pass over it if anything is, until a look finds nothing.

The look is the erasure's half of the fence it shares with ingest (see
:mod:`c360.ingest.stages.suppress`): an import that asked the suppression list just before the
erasure wrote it and stored the person after the steps found them is seen here; one that
stores after this look sees the suppressions when it asks again after writing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from c360.errors import Conflict
from c360.notifications.repository import OutboxRepository
from c360.privacy import rules
from c360.privacy.erasure import ADDING, MAX_PASSES, STEPS, Custom, Delete
from c360.privacy.hashing import (
    CONTACT_CHANNELS,
    DEAD_LETTER,
    PROFILE,
    RECORD,
    Hasher,
    SuppressionList,
)
from c360.privacy.repository import (
    ErasureRepository,
    RequestRepository,
    SuppressionRepository,
    TombstoneRepository,
)
from c360.privacy.types import (
    Journal,
    Pass,
    PrivacyRequest,
    Scope,
    Suppression,
    SuppressionKind,
    Tombstone,
)
from c360.steps import StepHook, no_hook
from schemas.identifiers import split_identity_key

log = logging.getLogger(__name__)


class ErasureUnsettled(Conflict):
    """Each look after a pass found more of the person: an import of their sources is storing
    them again all along. Stop it and run the request again."""


class FollowUpIds(Protocol):
    """The follow-ups domain's answer to whose follow-ups are whose (it sits above privacy)."""

    async def ids_of_profiles(self, profile_ids: Iterable[str]) -> list[str]: ...


def _label(step: str, number: int) -> str:
    """What the step hook is told: the step, and its pass after the first."""
    return step if number == 1 else f"{step} (pass {number})"


class Eraser:
    def __init__(
        self,
        requests: RequestRepository,
        suppressions: SuppressionRepository,
        tombstones: TombstoneRepository,
        erasure: ErasureRepository,
        follow_ups: FollowUpIds,
        outbox: OutboxRepository,
        hasher: Hasher,
        erased: SuppressionList,
    ) -> None:
        self._requests = requests
        self._suppressions = suppressions
        self._tombstones = tombstones
        self._erasure = erasure
        self._follow_ups = follow_ups
        self._outbox = outbox
        self._hasher = hasher
        self._erased = erased  # what ingest and follow-ups ask too
        self.before_step: StepHook = no_hook  # tests cut a run short here

    async def run(self, request: PrivacyRequest, now: dt.datetime) -> None:
        """Every step not done yet, pass after pass, until a look finds nothing of the person
        (the request's journal holds whom it found)."""
        for passes in range(1, MAX_PASSES + 1):
            scope, number = request.journal.scope or Scope(), request.journal.current
            for step in STEPS:
                if request.journal.done(step.name):
                    continue
                await self.before_step(_label(step.name, number))
                await self._step(step, scope, request, number, now)
                await self._requests.step_done(request.id, number, step.name)
            await self.before_step(_label("look again", number))
            wider = scope.widened(await self.resolve(scope.keys, scope.profiles))
            if not await self._left(wider, request):
                break
            if passes == MAX_PASSES:
                raise ErasureUnsettled(
                    f"after {MAX_PASSES} passes more of the person is stored again each time: "
                    "an import of their sources is running; stop it and run the request again"
                )
            log.info("erasure found more of the person", extra={"request": request.id})
            request = await self._next_pass(request.id, wider)

    async def _next_pass(self, request_id: str, scope: Scope) -> PrivacyRequest:
        """A new pass over the steps, over the widened scope (the journal's counts and done
        steps of the passes before are read fresh: the steps wrote them)."""
        request = await self._requests.get(request_id)
        if request is not None:
            journal = Journal(scope, (*request.journal.passes, Pass()))
            saved = await self._requests.save(
                request, dataclasses.replace(request, journal=journal)
            )
            if saved is not None:
                return saved
        raise rules.TransitionRefused("the request changed meanwhile; run it again")

    async def resolve(self, keys: Sequence[str], seeds: Sequence[str] = ()) -> Scope:
        """Everything that names the person: the profiles holding these identity keys (their
        survivors if merged) and ``seeds``, every profile ever merged into those, their
        identity keys and their person records."""
        owners = await self._erasure.owners(keys)
        profiles: set[str] = set()
        for owner in {*owners.values(), *seeds}:
            live = owner
            for _ in range(100):  # follow merges to the live profile
                after = await self._erasure.merged_into(live)
                if after is None:
                    break
                live = after
            profiles.add(live)
        frontier = set(profiles)
        while frontier:
            frontier = set(await self._erasure.absorbed_into(sorted(frontier))) - profiles
            profiles |= frontier
        ordered = sorted(profiles)
        all_keys = sorted({*keys, *await self._erasure.keys_of(ordered)})
        return Scope(
            profiles=tuple(ordered),
            keys=tuple(all_keys),
            people=tuple(sorted(await self._erasure.people_of(ordered))),
            pattern=rules.key_pattern(all_keys),
            names=tuple(await self._erasure.names_of(ordered)),
        )

    async def _left(self, scope: Scope, request: PrivacyRequest) -> int:
        """How much of the person the steps would find now (what adds hashes left aside)."""
        total = 0
        for step in STEPS:
            if step.name in ADDING:
                continue
            if isinstance(step, Delete):
                total += await self._erasure.count(step, scope.of(step.of))
            else:
                total += len(await self._find(step, scope, request))
        return total

    async def _find(self, step: Custom, scope: Scope, request: PrivacyRequest) -> list[Any]:
        """The ids of what a step that finds its own documents changes."""
        match step.name:
            case "notifications":  # the outbox names the follow-up, not the customer
                follow_ups = await self._follow_ups.ids_of_profiles(scope.profiles)
                return await self._outbox.ids_of_follow_ups(follow_ups)
            case "unlinked records":
                named = await self._erasure.unlinked_records(scope.keys, scope.records)
                return list(dict.fromkeys([*named, *await self._orphans(request)]))
            case "dead letters":
                # Another person's text may hold an id by chance: ids by the letters' names alone.
                contacts = rules.key_pattern(scope.keys, contacts_only=True)
                named = await self._erasure.dead_letters_naming(contacts, scope.keys)
                given = await self._erasure.found((), (), scope.dead_letters)
                return list(dict.fromkeys([*named, *given.dead_letters]))
            case "access audit":
                return await self._erasure.audit_entries(scope.profiles, scope.pattern)
            case _:
                raise RuntimeError(f"no implementation for the erasure step {step.name!r}")

    async def _step(
        self,
        step: Delete | Custom,
        scope: Scope,
        request: PrivacyRequest,
        number: int,
        now: dt.datetime,
    ) -> None:
        async def noted(found: int) -> None:  # the first count of the pass is kept
            await self._requests.note_count(request.id, number, step.name, found)

        if isinstance(step, Delete):
            values = scope.of(step.of)
            await noted(await self._erasure.count(step, values))
            await self._erasure.delete(step, values)
            return
        suppress = self._suppressor(request, now)
        match step.name:
            case "suppress identifiers":
                await noted(len(scope.keys))
                await suppress(scope.keys, SuppressionKind.IDENTIFIER)
            case "suppress profiles":
                await noted(len(scope.profiles))
                await suppress([f"{PROFILE}{p}" for p in scope.profiles], SuppressionKind.PROFILE)
            case "suppress records":
                unlinked = await self._erasure.unlinked_records(scope.keys, scope.records)
                total = len(unlinked)
                await suppress([f"{RECORD}{r}" for r in unlinked], SuppressionKind.RECORD)
                async for ids in self._erasure.record_ids(scope.profiles):
                    total += len(ids)
                    await suppress([f"{RECORD}{r}" for r in ids], SuppressionKind.RECORD)
                await noted(total)
            case "suppress dead letters":
                letters = await self._find(Custom("dead letters", "dead_letters"), scope, request)
                await noted(len(letters))
                await suppress([f"{DEAD_LETTER}{d}" for d in letters], SuppressionKind.DEAD_LETTER)
            case "tombstone contact points":
                points = [k for k in scope.keys if k.split(":", 1)[0] in CONTACT_CHANNELS]
                await noted(len(points))
                await self._tombstones.add(
                    [Tombstone(self._hasher.tombstone(k), now) for k in points]
                )
            case "earlier requests":
                earlier = await self._requests.naming(scope.keys, request.id)
                await noted(len(earlier))
                for other in earlier:
                    hashes = sorted(self._hasher.suppression(k) for k in other.keys)
                    notes = other.unnamed(scope.pattern, rules.name_pattern(scope.names))
                    await self._requests.forget_identifiers(other.id, hashes, notes)
            case "access audit":
                entries = await self._find(step, scope, request)
                await noted(len(entries))
                await self._erasure.scrub_audit(entries)
            case _:
                ids = await self._find(step, scope, request)
                await noted(len(ids))
                await self._erasure.delete_ids(step.collection, ids)

    async def _orphans(self, request: PrivacyRequest) -> list[str]:
        """Returns no profile holds whose order this erasure suppressed: a return that names
        nobody, stored after its order was erased (it waits for an order that will not come)."""
        owner = request.completes or request.id
        found: list[str] = []
        async for page in self._erasure.waiting_returns():
            by_hash = {self._hasher.suppression(f"{RECORD}{order}"): rid for rid, order in page}
            suppressed = await self._suppressions.found(by_hash)
            found += [by_hash[h] for h, s in suppressed.items() if s.request == owner]
        return found

    def _suppressor(
        self, request: PrivacyRequest, now: dt.datetime
    ) -> Callable[[Sequence[str], SuppressionKind], Awaitable[None]]:
        """Writes suppressions in the name of the erasure they belong to: the request's own,
        or the one it completes (lifting that person lifts these too)."""
        owner = request.completes or request.id

        async def suppress(texts: Sequence[str], kind: SuppressionKind) -> None:
            await self._suppressions.add(
                [Suppression(self._hasher.suppression(t), kind, owner, now) for t in texts]
            )

        return suppress

    async def stored_under(self, names: Sequence[str]) -> Scope | None:
        """Whom to erase again of what is stored under names an import met (identity keys,
        ``record:…``, ``dead_letter:…``): None when nothing is. A stored record's profile is
        erased with it only if it is one an erasure erased (an import linked the record to it
        again); of anyone else's, nothing is touched."""
        keys = [n for n in names if is_identity_key(n)]
        records = [n.removeprefix(RECORD) for n in names if n.startswith(RECORD)]
        letters = [n.removeprefix(DEAD_LETTER) for n in names if n.startswith(DEAD_LETTER)]
        found = await self._erasure.found(keys, records, letters)
        if not found:
            return None
        holders = sorted({p for p in found.records.values() if p is not None})
        erased = await self._erased.erased_profiles(holders)
        seeds = [p for p in holders if p in erased]
        scope = dataclasses.replace(
            await self.resolve(keys, seeds),
            records=tuple(sorted(r for r, p in found.records.items() if p is None)),
            dead_letters=found.dead_letters,
        )
        return scope if scope.profiles or scope.records or scope.dead_letters else None


def is_identity_key(name: str) -> bool:
    """Whether an import's name for an item is an identity key (not ``record:…``,
    ``dead_letter:…``)."""
    if name.startswith((RECORD, DEAD_LETTER)):
        return False
    try:
        split_identity_key(name)
    except ValueError:
        return False
    return True
