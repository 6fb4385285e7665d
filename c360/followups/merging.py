"""Follow-ups through merges and unmerges: a merge moves the absorbed customer's follow-ups to
the survivor and folds open ones of one rule into the oldest (which lists them); an unmerge
hands back what a merge moved and opens again what it folded. Each part is a read and one write
for every merge made together, by the conditional-replace protocol of :mod:`.writes`; then the
customers are evaluated afresh."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from c360.followups.evaluation import Evaluation
from c360.followups.model import ACTIVE, SYSTEM, EventType, MergeMark, Status
from c360.followups.repository import FollowUpRepository, Stored
from c360.followups.rulebook import RuleBook
from c360.followups.writes import MAX_ROUNDS, FollowUpConflict, new_event, next_version
from c360.steps import StepHook, no_hook

MERGE_FOLLOW_UP_STEPS = ("move follow-ups", "fold follow-ups", "list absorbed")
"""The writes of a merge's follow-up step, each announced to ``before_step`` after the read it
is made from (a seam for tests: another writer, or a crash, between the two)."""


class FollowUpMerges:
    def __init__(
        self, follow_ups: FollowUpRepository, rules: RuleBook, evaluation: Evaluation
    ) -> None:
        self._follow_ups = follow_ups
        self.rules = rules
        self._evaluation = evaluation
        self.before_step: StepHook = no_hook

    async def merged(self, merges: Sequence[tuple[str, str, str]], now: dt.datetime) -> None:
        """A merge step, for merges made together ((absorbed, survivor, merge id) each): every
        absorbed profile's follow-ups move to its survivor, open follow-ups of one rule fold into
        the oldest, which lists them, and the survivors are evaluated afresh — a read and a write
        for each of the three, for all the merges, and one evaluation. Where another writer
        changed a follow-up first, it is read again and the write made again; each part can run
        again. Merges into one survivor are taken one after another: what folds into what
        depends on the order they came in."""
        survivors = [survivor for _, survivor, _ in merges]
        if len(set(survivors)) < len(survivors):
            for merge in merges:
                await self.merged([merge], now)
            return
        held = await self._follow_ups.of_profiles(p for a, s, _ in merges for p in (a, s))
        into = {absorbed: (survivor, merge_id) for absorbed, survivor, merge_id in merges}
        await self._move(into, [item for absorbed in into for item in held[absorbed]], now)
        # Each survivor's open follow-ups of one rule fold into the oldest; then each one kept
        # lists the folds into it: the folds written first, so a fold that lost a race or a run
        # cut short between the two is listed by the next.
        merge_of = {survivor: merge_id for survivor, merge_id in into.values()}
        await self._rewrite(
            merge_of,
            lambda survivor, held: self._folds(survivor, held, merge_of[survivor], now),
            MERGE_FOLLOW_UP_STEPS[1],
        )
        await self._rewrite(
            merge_of, lambda _, held: self._absorbed(held, now), MERGE_FOLLOW_UP_STEPS[2]
        )
        sensitive = await self._merge_sensitive()
        again = [s for a, s, _ in merges if sensitive or held[a] or held[s]]
        if again:
            await self._evaluation.evaluate_profiles(again, now)

    async def _move(
        self, into: Mapping[str, tuple[str, str]], moving: list[Stored], now: dt.datetime
    ) -> None:
        """The absorbed profiles' follow-ups to their survivors (``into``: absorbed →
        (survivor, merge id)), with the notifications waiting for the relay."""
        for _ in range(MAX_ROUNDS):
            if not moving:
                return
            writes: list[tuple[Stored, int]] = []
            for item in moving:
                fu = item.follow_up
                survivor, merge_id = into[fu.profile_id]
                mark = fu.merged or MergeMark(merge_id, fu.profile_id, fu.status)
                event = new_event(
                    fu.events, EventType.MOVED, now, SYSTEM, fu.status, other=survivor
                )
                moved = next_version(
                    fu, now, profile_id=survivor, merged=mark, events=(*fu.events, event)
                )
                writes.append((Stored(moved, item.unsent), fu.version))
            await self.before_step(MERGE_FOLLOW_UP_STEPS[0])
            lost = await self._follow_ups.replace_many(writes)
            if not lost:
                return
            # Another writer changed these first: moved as they are now, if still to move.
            again = await self._follow_ups.get_many(lost)
            moving = [item for item in again.values() if item.follow_up.profile_id in into]
        raise FollowUpConflict("follow-ups kept changing while a merge moved them; run it again")

    async def _rewrite(
        self,
        profiles: Iterable[str],
        plan: Callable[[str, Sequence[Stored]], list[tuple[Stored, int]]],
        step: str,
    ) -> None:
        """Writes planned from each profile's follow-ups as stored; for the profiles where
        another writer came first, read again and planned again."""
        todo = sorted(profiles)
        for _ in range(MAX_ROUNDS):
            held = await self._follow_ups.of_profiles(todo)
            writes = [write for p in todo for write in plan(p, held[p])]
            if not writes:
                return
            await self.before_step(step)
            lost = await self._follow_ups.replace_many(writes)
            if not lost:
                return
            todo = sorted({s.follow_up.profile_id for s, _ in writes if s.follow_up.id in lost})
        raise FollowUpConflict(f"follow-ups kept changing ({step}) in a merge; run it again")

    def _folds(
        self, survivor: str, held: Sequence[Stored], merge_id: str, now: dt.datetime
    ) -> list[tuple[Stored, int]]:
        """A survivor's open follow-ups of one rule folded into the oldest: the writes (their
        notifications waiting for the relay kept). The one kept lists them afterwards."""
        by_rule: dict[str, list[Stored]] = defaultdict(list)
        for item in held:
            if item.follow_up.status in ACTIVE:
                by_rule[item.follow_up.rule_id].append(item)
        writes: list[tuple[Stored, int]] = []
        for active in by_rule.values():
            keeper, *others = sorted(active, key=lambda s: (s.follow_up.opened_at, s.follow_up.id))
            for item in others:
                fu = item.follow_up
                mark = fu.merged or MergeMark(merge_id, survivor, fu.status)
                event = new_event(
                    fu.events,
                    EventType.MERGED,
                    now,
                    SYSTEM,
                    Status.MERGED,
                    other=keeper.follow_up.id,
                )
                folded = next_version(
                    fu,
                    now,
                    status=Status.MERGED,
                    merged=mark,
                    merged_into=keeper.follow_up.id,
                    events=(*fu.events, event),
                )
                writes.append((Stored(folded, item.unsent), fu.version))
        return writes

    def _absorbed(self, held: Sequence[Stored], now: dt.datetime) -> list[tuple[Stored, int]]:
        """The writes that list on each follow-up the folds into it it does not list yet (as
        many ``absorbed`` events for a follow-up as it has ``merged`` events into this one)."""
        writes: list[tuple[Stored, int]] = []
        for item in held:
            keeper = item.follow_up
            listed = Counter(e.other for e in keeper.events if e.type is EventType.ABSORBED)
            events = list(keeper.events)
            for other in (s.follow_up for s in held if s.follow_up.merged_into == keeper.id):
                folds = sum(
                    1 for e in other.events if e.type is EventType.MERGED and e.other == keeper.id
                )
                for _ in range(folds - listed[other.id]):
                    events.append(
                        new_event(
                            events,
                            EventType.ABSORBED,
                            now,
                            SYSTEM,
                            keeper.status,
                            other=other.id,
                            records=tuple(t.record_id for t in other.triggers),
                        )
                    )
            if len(events) > len(keeper.events):
                kept = next_version(keeper, now, events=tuple(events))
                writes.append((Stored(kept, item.unsent), keeper.version))
        return writes

    async def unmerged(self, absorbed: str, survivor: str, merge_id: str, now: dt.datetime) -> None:
        """An unmerge step: the follow-ups the merge moved go back, those it folded are open
        again; then both customers are evaluated afresh."""
        writes: list[tuple[Stored, int]] = []
        for stored in await self._follow_ups.of_merge(merge_id):
            fu = stored.follow_up
            mark = fu.merged
            if mark is None:
                continue
            status = mark.status if fu.status is Status.MERGED else fu.status
            event = new_event(
                fu.events, EventType.RETURNED, now, SYSTEM, status, other=mark.profile_id
            )
            back = next_version(
                fu,
                now,
                profile_id=mark.profile_id,
                status=status,
                merged=None,
                merged_into=None,
                events=(*fu.events, event),
            )
            writes.append((Stored(back, stored.unsent), fu.version))
        await self._follow_ups.replace_many(writes)
        await self._evaluation.evaluate_profiles([absorbed, survivor], now)

    async def _merge_sensitive(self) -> bool:
        """Whether a rule may fire on two customers' records together when it fired on
        neither alone (a drop between answers, bursts, metrics)."""
        for rule in await self.rules.enabled():
            for condition in rule.definition.conditions:
                if condition.sort == "view" or condition.kind.value in (
                    "survey_score_drop",
                    "cases_in_days",
                    "returns_in_days",
                ):
                    return True
        return False
