"""Follow-ups: the service agents and the worker drive, over its parts.

- **Evaluation** (:mod:`.evaluation`): alert rules evaluated as records arrive, opening, joining
  and withdrawing follow-ups.
- **The lifecycle** (here): an agent acknowledges, starts, resolves, reopens or assigns one.
- **Escalation** (here): a target past due raises the priority and hands the follow-up to the
  team's escalation team.
- **Merges** (:mod:`.merging`): follow-ups move, fold and come back with their customers.
- **The relay** (:mod:`.relay`): each event that notifies a team is written on its follow-up in
  the same write, then copied to the outbox.

Every writer follows one protocol (:mod:`.writes`): read a version, write the next only if it is
still the one read, else read again and plan again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from c360.errors import InvalidInput, NotFound
from c360.followups import sla
from c360.followups.assignment import TeamLoad
from c360.followups.backtest import Preview, simulate
from c360.followups.evaluation import Evaluation
from c360.followups.merging import FollowUpMerges
from c360.followups.model import SYSTEM, EventType, FollowUp, Outcome, Status, Target
from c360.followups.relay import Erasures, Relay
from c360.followups.repository import FollowUpRepository, QueueFilter, RuleInputRepository, Stored
from c360.followups.rulebook import RuleBook
from c360.followups.rules import RecordFacts, RuleDefinition, actionable_since, raised
from c360.followups.states import Action, TransitionRefused, transition
from c360.followups.teams import Team, Teams, member_name
from c360.followups.upgrades import keep_due_soon_times
from c360.followups.writes import (
    MAX_ROUNDS,
    NOTIFIED,
    FollowUpConflict,
    new_event,
    next_version,
    team_loads,
)
from c360.instants import zoned
from c360.notifications.repository import Notification, OutboxRepository
from c360.observability.metrics import count_follow_up
from c360.profiles.repository import ProfileRepository
from c360.profiles.service import ProfileService
from c360.records.types import Record
from c360.steps import StepHook, no_hook
from schemas.quoting import shown

log = logging.getLogger(__name__)

MAX_PAGE = 100
MAX_PREVIEW = dt.timedelta(days=1100)
_ALARM_BATCH = 200


class FollowUpNotFound(NotFound):
    pass


@dataclass(frozen=True)
class FollowUpConfig:
    """The settings' ``followup_root_causes``, ``followup_due_soon_fraction`` and
    ``followup_max_trigger_age_days`` (the rules' default)."""

    root_causes: tuple[str, ...]
    due_soon: float
    max_trigger_age_days: int


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
        self._follow_ups = follow_ups
        self._inputs = inputs
        self._outbox = outbox
        self.rules = rules
        self.teams = teams
        self.config = config
        self._profiles = profiles
        self.relay = Relay(follow_ups, outbox, teams, config.due_soon)
        self.evaluation = Evaluation(
            follow_ups,
            inputs,
            rules,
            teams,
            profiles,
            self.relay,
            profile_ids,
            max_trigger_age_days=config.max_trigger_age_days,
            due_soon=config.due_soon,
        )
        self.merging = FollowUpMerges(follow_ups, rules, self.evaluation)
        self.relay.assign_owner = self._owner_for
        self._before_step: StepHook = no_hook

    @property
    def before_step(self) -> StepHook:
        """Announced each step of every part (tests crash one through it)."""
        return self._before_step

    @before_step.setter
    def before_step(self, hook: StepHook) -> None:
        self._before_step = hook
        self.relay.before_step = self.evaluation.before_step = self.merging.before_step = hook

    @property
    def erasures(self) -> Erasures:
        """Who is erased (the wiring sets privacy's suppression list): nothing is relayed or
        delivered about them."""
        return self.relay.erasures

    @erasures.setter
    def erasures(self, erasures: Erasures) -> None:
        self.relay.erasures = erasures

    # --- The lifecycle --------------------------------------------------------------------------

    async def get(self, follow_up_id: str) -> FollowUp:
        stored = await self._follow_ups.get(follow_up_id)
        if stored is None:
            raise FollowUpNotFound(f"no follow-up {shown(follow_up_id)}")
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
        """An agent's action: acknowledge, start, resolve, reopen, assign (``owner``, ``team``),
        or a note alone. Refused (409) when the follow-up is not where the action starts
        from."""
        for _ in range(MAX_ROUNDS):
            stored = await self._follow_ups.get(follow_up_id)
            if stored is None:
                raise FollowUpNotFound(f"no follow-up {shown(follow_up_id)}")
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
            event = new_event(
                fu.events,
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
            new = next_version(
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
                await self.relay.forward([Stored(new, unsent)], now)
                return new
        raise FollowUpConflict(f"follow-up {follow_up_id} kept changing; try again")

    async def feedback_answered(
        self, profile_id: str, record_id: str, how: str, actor: str, now: dt.datetime
    ) -> None:
        """Answering a piece of feedback (``how``: "answered by email", or acknowledged
        without contact) is the first response of the follow-ups it opened: each one still
        open is acknowledged by whoever answered, saying how, so its first-response clock
        stops and it does not escalate as if the customer had not been answered. One another
        agent moved meanwhile is left as it is."""
        [found] = await self.of_profiles([profile_id])
        for fu in found:
            if fu.status is not Status.OPEN or record_id not in fu.trigger_ids():
                continue
            try:
                await self.act(
                    fu.id,
                    Action.ACKNOWLEDGE,
                    actor,
                    now,
                    note=f"the customer's feedback was {how}",
                )
            except TransitionRefused:
                continue

    async def known_teams(self) -> set[str]:
        """The teams follow-ups can be in: those configured or set by an admin, the teams they
        escalate to, and the teams the alert rules send follow-ups to."""
        return set(await self.every_team())

    async def every_team(self) -> dict[str, Team]:
        """Every team follow-ups can be in, by id: those configured or set by an admin as they
        are, and those only an escalation or an alert rule names, with no members (their
        follow-ups wait unassigned) and no webhook."""
        teams = await self.teams.all()
        escalations = {t.escalation_team for t in teams.values() if t.escalation_team}
        routed = {rule.definition.team for rule in await self.rules.all()}
        unconfigured = (escalations | routed) - set(teams)
        return {**teams, **{t: Team(t, (), None, None) for t in unconfigured}}

    async def _assignee(
        self, fu: FollowUp, owner: str | None, team_id: str | None
    ) -> tuple[str, str | None]:
        if team_id is not None and team_id != fu.team:
            known = await self.known_teams()
            if team_id not in known:
                raise InvalidInput(
                    f"no team {shown(team_id)}; the teams: {', '.join(sorted(known))}"
                )
        team = await self.teams.get(team_id or fu.team)
        if owner is not None and not owner.strip():
            raise InvalidInput("owner is empty (leave it out to unassign)")
        owner = member_name(owner, "an owner") if owner is not None else None
        if owner is not None and team.members and owner not in team.members:
            # The customer's account owner is given their follow-ups whatever the team (see
            # .assignment), so one may be handed back to them.
            [traits] = await self._profiles.traits([fu.profile_id])
            if owner != traits.value("account_owner"):
                raise InvalidInput(
                    f"{shown(owner)} is not a member of team {team.id} "
                    f"({', '.join(team.members)}) nor the customer's account owner"
                )
        if owner is None and team.id != fu.team:
            load = await self._load(team.id)
            owner = load.choose()
        return team.id, owner

    async def _owner_for(self, fu: FollowUp) -> str | None:
        """Who gets a follow-up opened unassigned: the customer's account owner, else the
        team's member with the fewest active follow-ups (see :mod:`.assignment`)."""
        team = await self.teams.get(fu.team)
        if not team.members:
            return None
        [traits] = await self._profiles.traits([fu.profile_id])
        return traits.value("account_owner") or (await self._load(team.id)).choose()

    async def _load(self, team: str) -> TeamLoad:
        return (await team_loads(self.teams, self._follow_ups, [team]))[team]

    # --- Escalation -----------------------------------------------------------------------------

    async def keep_due_soon_times(self) -> int:
        """The follow-ups of an earlier version given their due-soon times (:mod:`.upgrades`)."""
        return await keep_due_soon_times(self._follow_ups, self.config.due_soon)

    async def escalate_due(self, now: dt.datetime) -> Alarms:
        """Escalate every target past due and not escalated yet: priority up a level, the
        follow-up to the team's escalation team (a member of it), an event and a notification.
        Warn of every target due soon and not warned of yet: a ``due_soon`` event naming who is
        told (the owner, or the team when nobody owns it) and a notification. Each target once:
        the write is conditional on the version read, and a ticker that lost the race reads the
        follow-up again and finds it escalated or warned."""
        report = Alarms()
        while due := await self._follow_ups.alarms(now, _ALARM_BATCH):
            written: list[Stored] = []
            for stored in due:
                done = await self._escalate(stored, now)
                if done is not None:
                    new, escalated, warned = done
                    report.escalated += bool(escalated)
                    report.warned += warned
                    written.append(new)
            await self.relay.forward(written, now)
            if len(due) < _ALARM_BATCH or not written:
                break
        return report

    async def _escalate(
        self, stored: Stored | None, now: dt.datetime
    ) -> tuple[Stored, int, int] | None:
        """The follow-up escalated and warned of as its targets need now, with how many
        targets were each; None when none needs anything (or it is gone)."""
        for _ in range(MAX_ROUNDS):
            if stored is None:
                return None
            fu = stored.follow_up
            targets = sla.overdue(fu, now)
            soon = sla.due_soon(fu, now)
            if not targets and not soon:
                return None
            to_team, owner, priority = fu.team, fu.owner, fu.priority
            if targets:
                team = await self.teams.get(fu.team)
                to_team = team.escalation_team or fu.team
                if to_team != fu.team:
                    owner = (await self._load(to_team)).choose()
                priority = raised(fu.priority, len(targets))
            events = list(fu.events)
            for target in targets:
                events.append(
                    new_event(
                        events,
                        EventType.ESCALATED,
                        now,
                        SYSTEM,
                        fu.status,
                        target=target,
                        team=to_team,
                        owner=owner,
                        priority=priority,
                        note=f"{target.value.replace('_', ' ')} overdue",
                    )
                )
            for target in soon:
                events.append(
                    new_event(
                        events,
                        EventType.DUE_SOON,
                        now,
                        SYSTEM,
                        fu.status,
                        target=target,
                        owner=owner,
                        note=_due_soon_note(target, fu, owner, to_team),
                    )
                )
            new = next_version(
                fu,
                now,
                priority=priority,
                team=to_team,
                owner=owner,
                escalated={**fu.escalated, **dict.fromkeys(targets, now)},
                warned={**fu.warned, **dict.fromkeys(soon, now)},
                events=tuple(events),
            )
            unsent = (*stored.unsent, *(e.n for e in events[len(fu.events) :]))
            if await self._follow_ups.replace(Stored(new, unsent), fu.version):
                for target in targets:
                    count_follow_up(fu.rule_id, f"escalated_{target.value}")
                for target in soon:
                    count_follow_up(fu.rule_id, f"due_soon_{target.value}")
                log.info(
                    "follow-up escalated" if targets else "follow-up due soon",
                    extra={
                        "follow_up": fu.id,
                        "targets": [t.value for t in targets],
                        "due_soon": [t.value for t in soon],
                    },
                )
                return Stored(new, unsent), len(targets), len(soon)
            stored = await self._follow_ups.get(fu.id)
        return None

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

    async def trigger_records(self, keys: Sequence[tuple[str, str]]) -> list[Record | None]:
        """The record of each (profile id, record id) that follow-ups name as their triggers,
        in the order asked (None: no longer stored): a DataLoader's batch function, so that a
        page of follow-ups reads its triggers together."""
        wanted: dict[str, set[str]] = defaultdict(set)
        for profile_id, record_id in keys:
            wanted[profile_id].add(record_id)
        found = await self._inputs.of_follow_ups(wanted)
        return [found.get(key) for key in keys]

    async def preview(
        self, rule: RuleDefinition, since: dt.datetime, until: dt.datetime, now: dt.datetime
    ) -> Preview:
        """What ``rule`` would have opened over the records of [since, until), writing
        nothing (see :mod:`.backtest`)."""
        since, until = zoned(since), zoned(until)
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
        views = (
            await self.evaluation.views(profile_ids, now) if rule.needs_view and profile_ids else {}
        )
        return simulate(
            rule,
            history,
            views,
            since,
            until,
            actionable_since(rule, now, self.config.max_trigger_age_days),
        )

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


@dataclass
class Alarms:
    """What a round of :meth:`FollowUpService.escalate_due` did: follow-ups escalated, and SLA
    targets warned of as due soon."""

    escalated: int = 0
    warned: int = 0


def _due_soon_note(target: Target, fu: FollowUp, owner: str | None, team: str) -> str:
    due = fu.due[target].isoformat(timespec="minutes")
    told = f"{owner} told" if owner is not None else f"team {team} told (nobody owns it)"
    return f"{target.value.replace('_', ' ')} due soon (due {due}): {told}"


@dataclass(frozen=True)
class FollowUpStats:
    by_status: dict[tuple[str, str, str], int]
    sla: dict[tuple[str, str], int]
    outbox: dict[str, int]
