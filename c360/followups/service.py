"""Follow-ups: rules evaluated as records arrive, the lifecycle agents drive, escalation, merges,
and the relay of notifications to the outbox.

**Evaluation** (:meth:`FollowUpService.evaluate_batch`, an ingest stage after metrics are
folded): the batch's records say which customers a rule may now say something new of; for
those, the records and metrics the rules read are loaded in one round trip each, every rule
fires or not (:func:`rules.fire`), and :func:`episodes.plan` says what that does to the
customer's follow-ups. Follow-up ids are deterministic (customer, rule, episode number), every
write is conditional on the version read, and what is written derives from the stored records
alone — so evaluating again (a re-run batch, another process at once, a re-import) converges.

**Notifications** are written with the follow-up: an event that notifies is listed in the
follow-up's ``unsent`` in the same document write as the event itself; the relay then copies
each to the outbox (entries keyed by follow-up and event: writing one twice adds nothing) and
clears the list. A crash between the two leaves the list, which the next relay (the worker's
every round) finishes. Nothing is relayed or delivered about a person once their erasure has
begun (:meth:`FollowUpService.withheld`).
"""

# Over 500 lines, kept whole for now: evaluation, the agents' actions, escalation and merges
# all write follow-ups by the same conditional-replace protocol (read a version, write the next,
# retry on a lost race) and relay their notifications the same way; the seam to split at is
# evaluation (evaluate_batch … _opened) apart from the lifecycle.

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from c360.errors import Conflict, InvalidInput, NotFound
from c360.followups import sla
from c360.followups.assignment import Opening, TeamLoad, assign_in_turn, opening_order
from c360.followups.backtest import Preview, simulate
from c360.followups.documents import ms
from c360.followups.episodes import Join, Open, Release, Withdraw, plan
from c360.followups.model import (
    ACTIVE,
    SYSTEM,
    Event,
    EventType,
    FollowUp,
    MergeMark,
    Outcome,
    Status,
    follow_up_id,
)
from c360.followups.repository import (
    FollowUpRepository,
    QueueFilter,
    RuleInputRepository,
    Stored,
)
from c360.followups.rulebook import RuleBook
from c360.followups.rules import (
    RecordFacts,
    Rule,
    RuleDefinition,
    ViewFact,
    facts_of,
    fire,
    held_out,
    priority_for,
    raised,
)
from c360.followups.states import Action, transition
from c360.followups.teams import Teams
from c360.notifications.delivery import body_of
from c360.notifications.repository import DeliveryStatus, Notification, OutboxRepository
from c360.observability.metrics import count_follow_up
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import ProfileService
from c360.records.types import Record

log = logging.getLogger(__name__)

EVALUATION_STEPS = ("read", "write follow-ups", "relay notifications", "clear relayed")
MERGE_FOLLOW_UP_STEPS = ("move follow-ups", "fold follow-ups", "list absorbed")
"""The writes of a merge's follow-up step, each announced to ``before_step`` after the read it
is made from (a seam for tests: another writer, or a crash, between the two)."""
NOTIFIED = frozenset(
    {
        EventType.OPENED,
        EventType.REOPENED,
        EventType.ASSIGNED,
        EventType.ESCALATED,
        EventType.RESOLVED,
        EventType.CLOSED_NO_ACTION,
        EventType.WITHDRAWN,
    }
)
MAX_PAGE = 100
MAX_PREVIEW = dt.timedelta(days=1100)
_MAX_ROUNDS = 10
_RELAY_BATCH = 500
_ALARM_BATCH = 200

StepHook = Callable[[str], Awaitable[None]]


class Erasures(Protocol):
    """The privacy domain's answer to which profiles are erased (it sits below follow-ups)."""

    async def erased_profiles(self, profile_ids: Iterable[str]) -> set[str]: ...


class _NoErasures:
    async def erased_profiles(self, profile_ids: Iterable[str]) -> set[str]:
        return set()


async def _no_hook(step: str) -> None:
    return None


class FollowUpNotFound(NotFound):
    pass


class FollowUpConflict(Conflict):
    pass


@dataclass(frozen=True)
class FollowUpConfig:
    root_causes: tuple[str, ...] = ("other",)
    due_soon: float = 0.25


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


class FollowUpService:
    def __init__(
        self,
        follow_ups: FollowUpRepository,
        inputs: RuleInputRepository,
        outbox: OutboxRepository,
        rules: RuleBook,
        teams: Teams,
        profiles: ProfileService,
        config: FollowUpConfig,
        profile_ids: ProfileRepository | None = None,
    ) -> None:
        self._profile_ids = profile_ids
        self._follow_ups = follow_ups
        self._inputs = inputs
        self._outbox = outbox
        self.rules = rules
        self.teams = teams
        self._profiles = profiles
        self.config = config
        self.before_step: StepHook = _no_hook
        # Who is erased (set by the wiring: privacy's suppression list): their notifications
        # are taken back when relayed meanwhile, and never delivered (``withheld``).
        self.erasures: Erasures = _NoErasures()

    # --- Evaluation -----------------------------------------------------------------------------

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
        for _ in range(_MAX_ROUNDS):
            if not pending:
                break
            loaded = await self._load(pending, by_id, now)
            if batch is not None:
                for episodes in loaded.episodes.values():
                    opened |= {fu.id: fu for fu in episodes if fu.opened_by == batch}
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
                    for step in plan(rule.definition, profile_id, firing, episodes):
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
                await self.relay(written, now)
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
        owner_of = await self._assign(opening, earlier, batch, moment)
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
                    released = self._next(fu, now, holding=False)
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
    ) -> dict[str, str | None]:
        """The owners of the follow-ups to open (by id), assigned in turn after those the
        batch opened already, from the loads without any of the batch's (see
        :mod:`.assignment`)."""
        actioned = [(p, r, s) for p, r, s in opening if not held_out(p, r.id, r.definition.holdout)]
        if not actioned:
            return {}
        ids = [_opening_id(r, s) for _, r, s in actioned]
        planned = set(ids)
        loads = await self._loads({r.definition.team for _, r, _ in actioned}, batch)
        account = await self._account_owners({p for p, _, _ in actioned})
        queue = [
            Opening(opening_order(s.triggers, r.id, i), r.definition.team, account.get(p))
            for (p, r, s), i in zip(actioned, ids, strict=True)
        ]
        queue += [
            Opening(opening_order(fu.triggers, fu.rule_id, fu.id), fu.team, None, True, fu.owner)
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
            due={} if held else sla.due_times(now, definition.sla.hours()),
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
        event = self._event(fu, EventType.TRIGGERED, now, SYSTEM, fu.status)
        event = replace(event, records=tuple(t.record_id for t in step.triggers))
        return Stored(self._next(fu, now, triggers=triggers, events=(*fu.events, event)))

    def _withdrawn(self, fu: FollowUp, now: dt.datetime) -> Stored:
        event = self._event(
            fu,
            EventType.WITHDRAWN,
            now,
            SYSTEM,
            Status.WITHDRAWN,
            note="the rule no longer holds for the customer, and nobody had acted on it",
        )
        new = self._next(
            fu, now, status=Status.WITHDRAWN, holding=False, events=(*fu.events, event)
        )
        return Stored(new, (event.n,))

    @staticmethod
    def _event(
        fu: FollowUp, kind: EventType, now: dt.datetime, actor: str, status: Status, **more: Any
    ) -> Event:
        return Event(n=len(fu.events) + 1, type=kind, at=now, actor=actor, status=status, **more)

    @staticmethod
    def _next(fu: FollowUp, now: dt.datetime, **changes: Any) -> FollowUp:
        return replace(fu, version=fu.version + 1, updated_at=now, **changes)

    async def _loads(
        self, team_ids: Iterable[str], leaving_out: str | None = None
    ) -> dict[str, TeamLoad]:
        """Each team's load now; without the follow-ups batch ``leaving_out`` opened."""
        wanted = sorted(set(team_ids))
        if not wanted:
            return {}
        teams = {t: await self.teams.get(t) for t in wanted}
        counts = await self._follow_ups.team_counts(
            [t for t in wanted if teams[t].members], leaving_out
        )
        return {
            t: TeamLoad(
                list(teams[t].members),
                dict(counts.open.get(t, {})),
                dict(counts.last_assigned.get(t, {})),
            )
            for t in wanted
        }

    async def _account_owners(self, profile_ids: Iterable[str]) -> dict[str, str | None]:
        wanted = sorted(set(profile_ids))
        if not wanted:
            return {}
        traits = await self._profiles.traits(wanted)
        return {p: t.value("account_owner") for p, t in zip(wanted, traits, strict=True)}

    # --- Notifications --------------------------------------------------------------------------

    async def relay(self, stored: Sequence[Stored], now: dt.datetime) -> int:
        """Copy the follow-ups' unsent notifications to the outbox, then clear their lists.
        Returns how many entries were written."""
        pending = [s for s in stored if s.unsent]
        if not pending:
            return 0
        entries: list[Notification] = []
        for item in pending:
            entries += await self._entries(item, now)
        await self._outbox.add(entries)
        await self._unless_erased(entries)
        await self.before_step(EVALUATION_STEPS[3])
        await self._clear_unsent(pending, now)
        return len(entries)

    async def _unless_erased(self, entries: Sequence[Notification]) -> None:
        """Take back what was just written about a person an erasure began on meanwhile (a
        fence, as ingest's ``suppress again``): the erasure suppresses their profiles before it
        removes anything, and their notifications, found through their follow-ups, before the
        follow-ups. So either this question finds the follow-up gone or its customer erased, or
        the entries were written before the erasure began, and it finds them. An entry a crash
        left between the write and this question is withheld by the delivery instead."""
        if not entries:
            return
        if withheld := await self.withheld(entries):
            taken = await self._outbox.remove(withheld)
            log.info("took back the notifications of an erased person", extra={"entries": taken})

    async def withheld(self, entries: Sequence[Notification]) -> set[str]:
        """The entries never to send: their follow-up is gone (only an erasure removes one) or
        belongs now to a customer an erasure began on — asked of the follow-up as it is now,
        since a merge or an unmerge may have moved it."""
        owners = await self._follow_ups.owners(e.follow_up_id for e in entries)
        erased = await self.erasures.erased_profiles(set(owners.values()))
        return {
            e.id
            for e in entries
            if (owner := owners.get(e.follow_up_id)) is None or owner in erased
        }

    async def relay_waiting(self, now: dt.datetime) -> int:
        """The relay for what a crash left between a follow-up's write and its copy."""
        total = 0
        while waiting := await self._follow_ups.with_unsent(_RELAY_BATCH):
            total += await self.relay(waiting, now)
            if len(waiting) < _RELAY_BATCH:
                break
        return total

    async def _entries(self, item: Stored, now: dt.datetime) -> list[Notification]:
        fu = item.follow_up
        entries = []
        for n in item.unsent:
            if not 0 < n <= len(fu.events):
                continue
            event = fu.events[n - 1]
            if event.type not in NOTIFIED or fu.held_out:
                continue
            team = event.team or fu.team
            url = self.teams.webhook_of(team)
            if url is None:
                continue
            if event.type is EventType.WITHDRAWN:
                _, attempted = await self._outbox.cancel_unattempted(fu.id)
                if not attempted:
                    continue  # nobody was told of it: nothing to take back
            key = notification_id(fu.id, n)
            payload = notification_payload(key, fu, event, self.config.due_soon, now)
            entries.append(
                Notification(
                    id=key,
                    follow_up_id=fu.id,
                    event=n,
                    type=f"follow_up.{event.type.value}",
                    team=team,
                    url=url,
                    body=body_of(payload),
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_at=now,
                    created_at=now,
                )
            )
        return entries

    async def _clear_unsent(self, relayed: Sequence[Stored], now: dt.datetime) -> None:
        """Take the relayed entries off these follow-ups' unsent lists, each only if still at
        the version read, all in one round trip; those another writer changed meanwhile are
        read again and cleared of what was relayed and is still listed."""
        done = {item.follow_up.id: set(item.unsent) for item in relayed}
        current = list(relayed)
        for _ in range(_MAX_ROUNDS):
            writes = []
            for item in current:
                fu = item.follow_up
                remaining = tuple(n for n in item.unsent if n not in done[fu.id])
                if remaining != item.unsent:
                    writes.append((Stored(self._next(fu, now), remaining), fu.version))
            if not writes:
                return
            lost = await self._follow_ups.replace_many(writes)
            if not lost:
                return
            current = list((await self._follow_ups.get_many(lost)).values())

    # --- The lifecycle --------------------------------------------------------------------------

    async def get(self, follow_up_id: str) -> FollowUp:
        stored = await self._follow_ups.get(follow_up_id)
        if stored is None:
            raise FollowUpNotFound(f"no follow-up {follow_up_id!r}")
        return stored.follow_up

    async def act(
        self,
        follow_up_id: str,
        action: Action,
        actor: str,
        now: dt.datetime,
        *,
        note: str | None = None,
        outcome: Outcome | None = None,
        root_cause: str | None = None,
        owner: str | None = None,
        team: str | None = None,
    ) -> FollowUp:
        """An agent's action: acknowledge, start, resolve, reopen, or assign (``owner``,
        ``team``). Refused (409) when the follow-up is not where the action starts from."""
        for _ in range(_MAX_ROUNDS):
            stored = await self._follow_ups.get(follow_up_id)
            if stored is None:
                raise FollowUpNotFound(f"no follow-up {follow_up_id!r}")
            fu = stored.follow_up
            change = transition(
                fu,
                action,
                outcome=outcome,
                root_cause=root_cause,
                root_causes=self.config.root_causes,
                note=note,
            )
            new_team, new_owner = fu.team, fu.owner
            if action is Action.ASSIGN:
                new_team, new_owner = await self._assignee(fu, owner, team)
            event = self._event(
                fu,
                change.event,
                now,
                actor,
                change.status,
                note=note,
                owner=new_owner if action is Action.ASSIGN else None,
                team=new_team if new_team != fu.team else None,
                outcome=outcome if change.resolves else None,
                root_cause=root_cause if change.resolves else None,
            )
            new = self._next(
                fu,
                now,
                status=change.status,
                team=new_team,
                owner=new_owner,
                touched=True,
                first_response_at=fu.first_response_at or (now if change.responds else None),
                resolved_at=now
                if change.resolves
                else (None if change.reopens else fu.resolved_at),
                outcome=outcome if change.resolves else (None if change.reopens else fu.outcome),
                root_cause=root_cause
                if change.resolves
                else (None if change.reopens else fu.root_cause),
                events=(*fu.events, event),
            )
            unsent = (*stored.unsent, event.n) if event.type in NOTIFIED else stored.unsent
            if await self._follow_ups.replace(Stored(new, unsent), fu.version):
                count_follow_up(fu.rule_id, change.event.value)
                await self.relay([Stored(new, unsent)], now)
                return new
        raise FollowUpConflict(f"follow-up {follow_up_id} kept changing; try again")

    async def _assignee(
        self, fu: FollowUp, owner: str | None, team_id: str | None
    ) -> tuple[str, str | None]:
        team = await self.teams.get(team_id or fu.team)
        owner = owner.strip() if owner is not None else None
        if owner == "":
            raise InvalidInput("owner is empty (leave it out to unassign)")
        if owner is not None and team.members and owner not in team.members:
            raise InvalidInput(
                f"{owner!r} is not a member of team {team.id} ({', '.join(team.members)})"
            )
        if owner is None and team.id != fu.team:
            load = (await self._loads([team.id]))[team.id]
            owner = load.choose()
        return team.id, owner

    # --- Escalation -----------------------------------------------------------------------------

    async def escalate_due(self, now: dt.datetime) -> int:
        """Escalate every target past due and not escalated yet: priority up a level, the
        follow-up to the team's escalation team (a member of it), an event and a notification.
        Each target once: the write is conditional on the version read, and a ticker that lost
        the race reads the follow-up again and finds it escalated."""
        escalated = 0
        while due := await self._follow_ups.alarms(now, _ALARM_BATCH):
            written: list[Stored] = []
            for stored in due:
                done = await self._escalate(stored, now)
                if done is not None:
                    escalated += 1
                    written.append(done)
            await self.relay(written, now)
            if len(due) < _ALARM_BATCH or not written:
                break
        return escalated

    async def _escalate(self, stored: Stored | None, now: dt.datetime) -> Stored | None:
        for _ in range(_MAX_ROUNDS):
            if stored is None:
                return None
            fu = stored.follow_up
            targets = sla.overdue(fu, now)
            if not targets:
                return None
            team = await self.teams.get(fu.team)
            to_team = team.escalation_team or fu.team
            owner = fu.owner
            if to_team != fu.team:
                owner = (await self._loads([to_team]))[to_team].choose()
            priority = raised(fu.priority, len(targets))
            events = list(fu.events)
            for target in targets:
                events.append(
                    Event(
                        n=len(events) + 1,
                        type=EventType.ESCALATED,
                        at=now,
                        actor=SYSTEM,
                        status=fu.status,
                        target=target,
                        team=to_team,
                        owner=owner,
                        priority=priority,
                        note=f"{target.value.replace('_', ' ')} overdue",
                    )
                )
            new = self._next(
                fu,
                now,
                priority=priority,
                team=to_team,
                owner=owner,
                escalated={**fu.escalated, **dict.fromkeys(targets, now)},
                events=tuple(events),
            )
            unsent = (*stored.unsent, *(e.n for e in events[len(fu.events) :]))
            if await self._follow_ups.replace(Stored(new, unsent), fu.version):
                for target in targets:
                    count_follow_up(fu.rule_id, f"escalated_{target.value}")
                log.info(
                    "follow-up escalated",
                    extra={"follow_up": fu.id, "targets": [t.value for t in targets]},
                )
                return Stored(new, unsent)
            stored = await self._follow_ups.get(fu.id)
        return None

    # --- Merges ---------------------------------------------------------------------------------

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
            await self.evaluate_profiles(again, now)

    async def _move(
        self, into: Mapping[str, tuple[str, str]], moving: list[Stored], now: dt.datetime
    ) -> None:
        """The absorbed profiles' follow-ups to their survivors (``into``: absorbed →
        (survivor, merge id)), with the notifications waiting for the relay."""
        for _ in range(_MAX_ROUNDS):
            if not moving:
                return
            writes: list[tuple[Stored, int]] = []
            for item in moving:
                fu = item.follow_up
                survivor, merge_id = into[fu.profile_id]
                mark = fu.merged or MergeMark(merge_id, fu.profile_id, fu.status)
                event = self._event(fu, EventType.MOVED, now, SYSTEM, fu.status, other=survivor)
                moved = self._next(
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
        for _ in range(_MAX_ROUNDS):
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
                event = self._event(
                    fu, EventType.MERGED, now, SYSTEM, Status.MERGED, other=keeper.follow_up.id
                )
                folded = self._next(
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
                        Event(
                            n=len(events) + 1,
                            type=EventType.ABSORBED,
                            at=now,
                            actor=SYSTEM,
                            status=keeper.status,
                            other=other.id,
                            records=tuple(t.record_id for t in other.triggers),
                        )
                    )
            if len(events) > len(keeper.events):
                kept = self._next(keeper, now, events=tuple(events))
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
            event = self._event(fu, EventType.RETURNED, now, SYSTEM, status, other=mark.profile_id)
            back = self._next(
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
        await self.evaluate_profiles([absorbed, survivor], now)

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

    # --- Reading --------------------------------------------------------------------------------

    async def of_profiles(self, profile_ids: Sequence[str]) -> list[list[FollowUp]]:
        """Each profile's follow-ups, newest first (a DataLoader's batch function)."""
        found = await self._follow_ups.of_profiles(profile_ids)
        return [
            sorted((s.follow_up for s in found[p]), key=lambda f: (f.opened_at, f.id), reverse=True)
            for p in profile_ids
        ]

    async def queue(
        self, queue: QueueFilter, first: int, after: str | None
    ) -> tuple[list[FollowUp], bool]:
        if not 0 < first <= MAX_PAGE:
            raise InvalidInput(f"first must be between 1 and {MAX_PAGE}, not {first}")
        if after is not None and after.count("|") != 3:
            raise InvalidInput("malformed cursor")
        return await self._follow_ups.page(queue, first, after)

    async def count(self, queue: QueueFilter) -> int:
        return await self._follow_ups.count(queue)

    async def trigger_records(self, follow_ups: Sequence[FollowUp]) -> dict[str, Record]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for fu in follow_ups:
            wanted[fu.profile_id] |= fu.trigger_ids()
        return await self._inputs.of_follow_ups(wanted)

    async def preview(
        self, rule: RuleDefinition, since: dt.datetime, until: dt.datetime, now: dt.datetime
    ) -> Preview:
        """What ``rule`` would have opened over the records of [since, until), writing
        nothing (see :mod:`.backtest`)."""
        if until <= since:
            raise InvalidInput("the window ends before it starts")
        if until - since > MAX_PREVIEW:
            raise InvalidInput(f"preview at most {MAX_PREVIEW.days} days at once")
        kinds = set().union(*(c.reads for c in rule.trigger_conditions))
        window = [
            r
            for r in await self._inputs.between(kinds, since, until)
            if r.profile_id is not None and rule.concerns(r.kind, r.data)
        ]
        profile_ids = sorted({r.profile_id for r in window if r.profile_id is not None})
        history: dict[str, list[RecordFacts]] = defaultdict(list)
        for record in window:
            assert record.profile_id is not None
            history[record.profile_id].append(record)
        if rule.history_kinds and profile_ids:
            earlier = await self._inputs.of_profiles(profile_ids, rule.history_kinds)
            for profile_id, records in earlier.items():
                history[profile_id] += records
        views = await self.views(profile_ids, now) if rule.needs_view and profile_ids else {}
        return simulate(rule, history, views, since, until)

    async def notifications(self, follow_up_id: str) -> list[Notification]:
        return await self._outbox.of_follow_up(follow_up_id)

    def sla_states(self, fu: FollowUp, now: dt.datetime) -> list[tuple[sla.Clock, sla.SlaState]]:
        return [(c, sla.state(c, now, self.config.due_soon)) for c in sla.clocks(fu)]

    async def stats(self, now: dt.datetime) -> FollowUpStats:
        """What the /metrics gauges show: follow-ups by status, team and rule; the SLA states
        of those being worked; the outbox by status."""
        clocks: Counter[tuple[str, str]] = Counter()
        for fu in await self._follow_ups.active():
            for clock, state in self.sla_states(fu, now):
                clocks[(clock.target.value, state.value)] += 1
        return FollowUpStats(
            await self._follow_ups.status_counts(), dict(clocks), await self._outbox.counts()
        )


@dataclass(frozen=True)
class FollowUpStats:
    by_status: dict[tuple[str, str, str], int]
    sla: dict[tuple[str, str], int]
    outbox: dict[str, int]


def _opening_id(rule: Rule, step: Open) -> str:
    """The follow-up an opening writes: the withdrawn one it revives, or its episode's."""
    return step.revive.id if step.revive is not None else follow_up_id(rule.id, step.episode)


def notification_id(follow_up_id: str, event: int) -> str:
    """The outbox entry (and idempotency key) of a follow-up's event."""
    return f"{follow_up_id}.{event}"


def notification_payload(
    key: str, fu: FollowUp, event: Event, soon: float, now: dt.datetime
) -> dict[str, object]:
    """What a team's webhook receives: the event and the follow-up as it stands. Ids, states
    and the rule's reason (made by c360 from scores and counts); never customer text."""
    return {
        "id": key,
        "type": f"follow_up.{event.type.value}",
        "occurredAt": event.at.isoformat(),
        "event": {
            "n": event.n,
            "type": event.type.value,
            "actor": event.actor,
            **({"target": event.target.value} if event.target else {}),
        },
        "followUp": {
            "id": fu.id,
            "profileId": fu.profile_id,
            "rule": {"id": fu.rule_id, "name": fu.rule_name, "version": fu.rule_version},
            "status": fu.status.value,
            "priority": fu.priority.value,
            "team": fu.team,
            "owner": fu.owner,
            "reason": fu.reason,
            "openedAt": fu.opened_at.isoformat(),
            "sla": [
                {
                    "target": c.target.value,
                    "due": c.due.isoformat(),
                    "state": sla.state(c, now, soon).value,
                }
                for c in sla.clocks(fu)
            ],
        },
    }
