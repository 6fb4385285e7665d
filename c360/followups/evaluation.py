"""Evaluation: alert rules run as records arrive (:meth:`Evaluation.evaluate_batch`, an ingest
stage after metrics are folded). The batch's records say which customers a rule may now say
something new of; for those, the records and metrics the rules read are loaded in one round trip
each, every rule fires or not (:func:`.rules.fire`), and :func:`.episodes.plan` says what that
does to the customer's follow-ups. Follow-up ids are deterministic (customer, rule, episode
number), every write is conditional on the version read, and what is written derives from the
stored records alone — so evaluating again (a re-run batch, another process at once, a
re-import) converges. Notifications are written with the follow-up (``unsent``), then relayed
(:mod:`.relay`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from c360.followups import sla
from c360.followups.assignment import Opening, assign_in_turn, opening_order
from c360.followups.documents import ms
from c360.followups.episodes import Join, Open, Release, Withdraw, plan
from c360.followups.model import SYSTEM, Event, EventType, FollowUp, Status, follow_up_id
from c360.followups.relay import RELAY_STEP, Relay
from c360.followups.repository import FollowUpRepository, RuleInputRepository, Stored
from c360.followups.rulebook import RuleBook
from c360.followups.rules import (
    RecordFacts,
    Rule,
    ViewFact,
    actionable_since,
    facts_of,
    fire,
    held_out,
    priority_for,
)
from c360.followups.teams import Teams
from c360.followups.writes import MAX_ROUNDS, NOTIFIED, new_event, next_version, team_loads
from c360.observability.metrics import count_follow_up
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import ProfileService
from c360.records.types import Record
from c360.steps import StepHook, no_hook

EVALUATION_STEPS = ("read", "write follow-ups", "relay notifications", RELAY_STEP)


@dataclass
class EvaluationReport:
    profiles: int = 0
    opened: int = 0
    joined: int = 0
    withdrawn: int = 0
    held_out: int = 0


@dataclass
class _Loaded:
    """What an evaluation read: per live profile its records, view and follow-ups."""

    records: dict[str, list[RecordFacts]] = field(default_factory=dict)
    views: dict[str, ViewFact] = field(default_factory=dict)
    episodes: dict[str, list[FollowUp]] = field(default_factory=dict)
    waiting: list[Stored] = field(default_factory=list)  # with notifications not relayed
    owners: dict[str, str | None] = field(default_factory=dict)  # account owners
    cutoffs: list[int] | None = None  # the value tiers', once read


class Evaluation:
    def __init__(
        self,
        follow_ups: FollowUpRepository,
        inputs: RuleInputRepository,
        rules: RuleBook,
        teams: Teams,
        profiles: ProfileService,
        relay: Relay,
        profile_ids: ProfileRepository | None = None,
        *,
        max_trigger_age_days: int,
        due_soon: float,
    ) -> None:
        self._follow_ups = follow_ups
        self._inputs = inputs
        self.rules = rules
        self.teams = teams
        self._profiles = profiles
        self._relay = relay
        self._profile_ids = profile_ids
        self._max_age_days = max_trigger_age_days
        self._due_soon = due_soon
        self.before_step: StepHook = no_hook

    async def evaluate_batch(
        self, records: Sequence[Record], now: dt.datetime, batch: str | None = None
    ) -> EvaluationReport:
        """The ingest stage: ``records`` are those a batch wrote (new or amended, or written by
        an earlier run of the same batch that was cut short); ``batch``, its journal key, marks
        the follow-ups it opens (a run of it again assigns the rest as the first did)."""
        rules = await self.rules.enabled()
        wanted: dict[str, set[str]] = defaultdict(set)
        fresh: dict[str, list[RecordFacts]] = defaultdict(list)
        for record in records:
            profile_id = record.profile_id
            if profile_id is None:
                continue
            concerned = {r.id for r in rules if r.definition.concerns(record.kind, record.payload)}
            if concerned:
                wanted[profile_id] |= concerned
                fresh[profile_id].append(RecordFacts.of(record))
        if not wanted:
            return EvaluationReport()
        return await self._evaluate(wanted, fresh, rules, now, batch=batch)

    async def evaluate_profiles(
        self, profile_ids: Iterable[str], now: dt.datetime, *, every_record: bool = False
    ) -> EvaluationReport:
        """Every enabled rule for these customers (after a merge, or a sweep). With
        ``every_record``, each record counts as new to event conditions too (``c360 alerts
        evaluate``: what rules would have opened had they been on all along)."""
        rules = await self.rules.enabled()
        wanted = {p: {r.id for r in rules} for p in profile_ids}
        if not wanted or not rules:
            return EvaluationReport()
        return await self._evaluate(wanted, {}, rules, now, every_record=every_record)

    async def live_profiles(self) -> AsyncIterator[str]:
        """Every customer (not absorbed into another), for a sweep."""
        assert self._profile_ids is not None, "built without the profiles repository"
        async for profile_id in self._profile_ids.live_ids():
            yield profile_id

    async def _evaluate(
        self,
        wanted: Mapping[str, set[str]],
        fresh: Mapping[str, list[RecordFacts]],
        rules: Sequence[Rule],
        now: dt.datetime,
        *,
        every_record: bool = False,
        batch: str | None = None,
    ) -> EvaluationReport:
        report = EvaluationReport()
        by_id = {r.id: r for r in rules}
        await self.before_step(EVALUATION_STEPS[0])
        live_wanted, live_fresh = await self._live(wanted, fresh)
        report.profiles = len(live_wanted)
        pending = dict(live_wanted)
        opened: dict[str, FollowUp] = {}  # what this batch opened, in this run or an earlier
        for _ in range(MAX_ROUNDS):
            if not pending:
                break
            loaded = await self._load(pending, by_id, now)
            if batch is not None:
                for episodes in loaded.episodes.values():
                    opened |= {fu.id: fu for fu in episodes if fu.opened_by == batch}
            # How old a trigger may be to open a follow-up is measured from the batch's first
            # run when one was cut short (what it opened says when), so its re-run decides as
            # it would have; time only ages triggers, so evaluating again converges.
            start = min((fu.opened_at for fu in opened.values()), default=now)
            steps: list[tuple[str, Rule, Any]] = []
            for profile_id, rule_ids in sorted(pending.items()):
                new = live_fresh.get(profile_id, [])
                records = [*loaded.records.get(profile_id, []), *new]
                fresh_ids = None if every_record else frozenset(r.record_id for r in new)
                for rule_id in sorted(rule_ids):
                    rule = by_id[rule_id]
                    facts = facts_of(records, fresh_ids, loaded.views.get(profile_id))
                    firing = fire(rule.definition, facts, now)
                    episodes = loaded.episodes.get(profile_id, [])
                    since = actionable_since(rule.definition, start, self._max_age_days)
                    for step in plan(rule.definition, profile_id, firing, episodes, since):
                        steps.append((profile_id, rule, step))
            lost: set[str] = set()
            written: list[Stored] = []
            if steps:
                await self.before_step(EVALUATION_STEPS[1])
                lost, written = await self._apply(steps, loaded, now, report, batch, opened)
                for item in written:
                    if batch is not None and item.follow_up.opened_by == batch:
                        opened[item.follow_up.id] = item.follow_up
            rewritten = {s.follow_up.id for s in written}
            written += [s for s in loaded.waiting if s.follow_up.id not in rewritten]
            if written:
                await self.before_step(EVALUATION_STEPS[2])
                await self._relay.forward(written, now)
            pending = {p: set(live_wanted[p]) for p in lost}
        return report

    async def _live(
        self, wanted: Mapping[str, set[str]], fresh: Mapping[str, list[RecordFacts]]
    ) -> tuple[dict[str, set[str]], dict[str, list[RecordFacts]]]:
        """Ids of absorbed profiles replaced by their survivors' (a merge may have moved the
        batch's records since they were written)."""
        ids = sorted(wanted)
        docs = await self._profiles.get_many(ids)
        live_wanted: dict[str, set[str]] = defaultdict(set)
        live_fresh: dict[str, list[RecordFacts]] = defaultdict(list)
        for profile_id, profile in zip(ids, docs, strict=True):
            if profile is None:
                continue
            live = profile.id
            live_wanted[live] |= wanted[profile_id]
            live_fresh[live] += fresh.get(profile_id, [])
        return dict(live_wanted), dict(live_fresh)

    async def _load(
        self, wanted: Mapping[str, set[str]], rules: Mapping[str, Rule], now: dt.datetime
    ) -> _Loaded:
        loaded = _Loaded()
        kinds: set[str] = set()
        history: list[str] = []
        views: list[str] = []
        for profile_id, rule_ids in wanted.items():
            definitions = [rules[r].definition for r in rule_ids]
            needed = set().union(*(d.history_kinds for d in definitions))
            if needed:
                kinds |= needed
                history.append(profile_id)
            if any(d.needs_view for d in definitions):
                views.append(profile_id)
        if history:
            loaded.records = await self._inputs.of_profiles(history, kinds)
        if views:
            await self._read_views(loaded, views, now)
        stored = await self._follow_ups.of_profiles(wanted)
        loaded.episodes = {p: [s.follow_up for s in items] for p, items in stored.items()}
        # What a run cut short between a follow-up's write and the relay left: relayed now.
        loaded.waiting = [s for items in stored.values() for s in items if s.unsent]
        return loaded

    async def _read_views(
        self, loaded: _Loaded, profile_ids: Sequence[str], now: dt.datetime
    ) -> None:
        if loaded.cutoffs is None:
            loaded.cutoffs = await self._profiles.metrics.cutoffs(fresh=True)
        loaded.views.update(await self.views(profile_ids, now, loaded.cutoffs))

    async def views(
        self, profile_ids: Sequence[str], now: dt.datetime, cutoffs: Sequence[int] | None = None
    ) -> dict[str, ViewFact]:
        """Each profile's computed verdicts now (stage, churn risk, value tier).

        The tiers' cutoffs are read fresh (once per evaluation; ``cutoffs`` when given), not
        the ones a process keeps for five minutes: what a rule says of a batch (a tier
        condition, a priority raised by tier) must follow from the stored records, or a new
        process completing a batch cut short would see other tiers than the process that
        imported the batches before it."""
        wanted = list(dict.fromkeys(profile_ids))
        metrics = self._profiles.metrics
        aggregates = await metrics.aggregates(wanted)
        profiles = await self._profiles.get_many(wanted)
        if cutoffs is None:
            cutoffs = await metrics.cutoffs(fresh=True)
        found: dict[str, ViewFact] = {}
        for profile_id, agg, profile in zip(wanted, aggregates, profiles, strict=True):
            last_seen = None if profile is None else profile.last_seen_at
            view = await metrics.view(agg, last_seen, now, cutoffs)
            found[profile_id] = ViewFact(
                view.stage.stage.value,
                view.stage.reason,
                view.churn.score,
                tuple(view.churn.reasons),
                view.tier.tier.value,
                view.tier.reason,
            )
        return found

    async def _apply(
        self,
        steps: Sequence[tuple[str, Rule, Any]],
        loaded: _Loaded,
        now: dt.datetime,
        report: EvaluationReport,
        batch: str | None = None,
        opened: Mapping[str, FollowUp] | None = None,
    ) -> tuple[set[str], list[Stored]]:
        """Write the steps; returns the profiles that lost a race (to evaluate again) and what
        was written. ``opened``: the follow-ups ``batch`` opened already (an earlier run of it
        was cut short): the new ones are opened at their moment, assigned after them."""
        opening = [(p, r, s) for p, r, s in steps if isinstance(s, Open)]
        raise_for = {
            p
            for p, r, s in opening
            if r.definition.raise_priority_for_tiers and p not in loaded.views
        }
        if raise_for:
            await self._read_views(loaded, sorted(raise_for), now)
        earlier = list((opened or {}).values())
        moment = min((fu.opened_at for fu in earlier), default=now)
        owner_of = await self._assign(opening, earlier, batch, moment, loaded.episodes)
        inserts: list[tuple[str, Stored]] = []
        replaces: list[tuple[str, int, Stored]] = []
        for profile_id, rule, step in steps:
            if isinstance(step, Open):
                tier = loaded.views[profile_id].tier if profile_id in loaded.views else None
                owner = owner_of.get(_opening_id(rule, step))
                stored = self._opened(profile_id, rule, step, tier, owner, moment, batch)
                fu = stored.follow_up
                report.held_out += fu.held_out
                report.opened += not fu.held_out
                count_follow_up(rule.id, "held_out" if fu.held_out else "opened")
                if step.revive is None:
                    inserts.append((profile_id, stored))
                else:
                    replaces.append((profile_id, step.revive.version, stored))
                continue
            if isinstance(step, Join):
                stored = self._joined(step, now)
                report.joined += 1
            elif isinstance(step, Withdraw):
                stored = self._withdrawn(step.follow_up, now)
                report.withdrawn += 1
                count_follow_up(rule.id, "withdrawn")
            elif isinstance(step, Release):
                for fu in step.follow_ups:
                    released = next_version(fu, now, holding=False)
                    replaces.append((profile_id, fu.version, Stored(released)))
                continue
            else:  # pragma: no cover - plan returns these four only
                raise TypeError(step)
            replaces.append((profile_id, step.follow_up.version, stored))
        existing = await self._follow_ups.insert([s for _, s in inserts])
        missed = await self._follow_ups.replace_many([(s, v) for _, v, s in replaces])
        lost = {p for p, s in inserts if s.follow_up.id in existing}
        lost |= {p for p, _, s in replaces if s.follow_up.id in missed}
        written = [s for _, s in inserts if s.follow_up.id not in existing]
        written += [s for _, _, s in replaces if s.follow_up.id not in missed]
        return lost, written

    async def _assign(
        self,
        opening: Sequence[tuple[str, Rule, Open]],
        earlier: Sequence[FollowUp],
        batch: str | None,
        moment: dt.datetime,
        episodes: Mapping[str, Sequence[FollowUp]] | None = None,
    ) -> dict[str, str | None]:
        """The owners of the follow-ups to open (by id), assigned in turn after those the
        batch opened already, from the loads without any of the batch's, each customer's to
        whoever holds their open follow-ups in the team (``episodes``: the customers' stored
        follow-ups; see :mod:`.assignment`)."""
        actioned = [(p, r, s) for p, r, s in opening if not held_out(p, r.id, r.definition.holdout)]
        if not actioned:
            return {}
        ids = [_opening_id(r, s) for _, r, s in actioned]
        planned = set(ids)
        loads = await team_loads(
            self.teams, self._follow_ups, {r.definition.team for _, r, _ in actioned}, batch
        )
        account = await self._account_owners({p for p, _, _ in actioned})
        held = _holders(episodes or {}, batch, planned)
        queue = [
            Opening(
                opening_order(s.triggers, r.id, i),
                r.definition.team,
                account.get(p),
                profile=p,
                customers=held.get((p, r.definition.team)),
            )
            for (p, r, s), i in zip(actioned, ids, strict=True)
        ]
        queue += [
            Opening(
                opening_order(fu.triggers, fu.rule_id, fu.id),
                fu.team,
                None,
                True,
                fu.owner,
                profile=fu.profile_id,
            )
            for fu in earlier
            if fu.id not in planned
        ]
        owners = assign_in_turn(queue, loads, ms(moment))
        return dict(zip(ids, owners[: len(ids)], strict=True))

    def _opened(
        self,
        profile_id: str,
        rule: Rule,
        step: Open,
        tier: str | None,
        owner: str | None,
        now: dt.datetime,
        batch: str | None = None,
    ) -> Stored:
        definition = rule.definition
        held = held_out(profile_id, rule.id, definition.holdout)
        team = definition.team
        priority = priority_for(definition, tier)
        owner = None if held else owner
        revived = step.revive
        earlier = revived.events if revived is not None else ()
        due = {} if held else sla.due_times(now, definition.sla.hours())
        status = Status.HELD_OUT if held else Status.OPEN
        kind = EventType.HELD_OUT if held else EventType.OPENED
        if revived is not None and not held:
            kind = EventType.REOPENED
        event = Event(
            n=len(earlier) + 1,
            type=kind,
            at=now,
            actor=SYSTEM,
            status=status,
            note=step.reason,
            owner=owner,
            team=team,
            priority=priority,
            records=tuple(t.record_id for t in step.triggers),
        )
        fu = FollowUp(
            id=_opening_id(rule, step),
            profile_id=profile_id,
            rule_id=rule.id,
            rule_version=rule.version,
            rule_name=definition.name,
            episode=step.episode,
            status=status,
            priority=priority,
            team=team,
            owner=owner,
            held_out=held,
            triggers=step.triggers,
            reason=step.reason,
            opened_at=now,
            due=due,
            due_soon_at=sla.due_soon_times(now, due, self._due_soon),
            holding=step.holding,
            events=(*earlier, event),
            version=(revived.version + 1) if revived is not None else 1,
            updated_at=now,
            opened_by=batch,
        )
        return Stored(fu, (event.n,) if kind in NOTIFIED else ())

    def _joined(self, step: Join, now: dt.datetime) -> Stored:
        fu = step.follow_up
        triggers = tuple(sorted({*fu.triggers, *step.triggers}))
        event = new_event(fu.events, EventType.TRIGGERED, now, SYSTEM, fu.status)
        event = replace(event, records=tuple(t.record_id for t in step.triggers))
        return Stored(next_version(fu, now, triggers=triggers, events=(*fu.events, event)))

    def _withdrawn(self, fu: FollowUp, now: dt.datetime) -> Stored:
        event = new_event(
            fu.events,
            EventType.WITHDRAWN,
            now,
            SYSTEM,
            Status.WITHDRAWN,
            note="the rule no longer holds for the customer, and nobody had acted on it",
        )
        new = next_version(
            fu, now, status=Status.WITHDRAWN, holding=False, events=(*fu.events, event)
        )
        return Stored(new, (event.n,))

    async def _account_owners(self, profile_ids: Iterable[str]) -> dict[str, str | None]:
        wanted = sorted(set(profile_ids))
        if not wanted:
            return {}
        traits = await self._profiles.traits(wanted)
        return {p: t.value("account_owner") for p, t in zip(wanted, traits, strict=True)}


def _holders(
    episodes: Mapping[str, Sequence[FollowUp]], batch: str | None, planned: set[str]
) -> dict[tuple[str, str], str]:
    """(customer, team) → the owner of the customer's oldest active follow-up in the team,
    among those opened before this batch (the batch's own are assigned in turn with it)."""
    held: dict[tuple[str, str], str] = {}
    for profile_id, follow_ups in episodes.items():
        for fu in sorted(follow_ups, key=lambda f: (f.opened_at, f.id)):
            if not fu.active or fu.owner is None or fu.id in planned:
                continue
            if batch is not None and fu.opened_by == batch:
                continue
            held.setdefault((profile_id, fu.team), fu.owner)
    return held


def _opening_id(rule: Rule, step: Open) -> str:
    """The follow-up an opening writes: the withdrawn one it revives, or its episode's."""
    return step.revive.id if step.revive is not None else follow_up_id(rule.id, step.episode)
