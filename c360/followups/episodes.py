"""What a rule's firing does to a customer's follow-ups of that rule. Pure.

Each follow-up is an *episode* of a rule for a customer. Given what the rule says now (a firing
or nothing) and the episodes there are:

- **covered**: a trigger already in an episode, or older than the newest trigger of one, opens
  nothing — a survey imported twice, or an earlier answer arriving late, changes nothing;
- **join**: with dedupe, newer triggers join the open episode (at most one open per customer);
- **open**: otherwise newer triggers open the next episode (its number is the next free one
  for the customer, so its id is the same whichever process or re-run computes it). A
  withdrawn episode, nobody having acted on it, is revived rather than followed by a new one;
- **withdraw**: when a rule made of states (the latest answer, churn risk, the lifecycle
  stage) stops holding, an open episode nobody has acted on is withdrawn: it was about a state
  that is no longer so (the detractor's newer answer is a 9). Once someone acted, it stays;
- a view-only rule (no records) opens once per stay in its state: ``holding`` marks the
  episode while the state lasts;
- **too old**: triggers older than the rule's ``max_trigger_age_days`` (``actionable_since``)
  open nothing — a year of history imported stays in the customers' timelines, not in a queue
  with its SLA long past. They may still join an open episode.

So the episodes are a function of the records, whatever order they arrive in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from c360.followups.model import ACTIVE, Episode, FollowUp, Status
from c360.followups.rules import Firing, RuleDefinition, Trigger


@dataclass(frozen=True)
class Open:
    episode: Episode
    triggers: tuple[Trigger, ...]
    reason: str
    revive: FollowUp | None = None  # a withdrawn episode to open again instead
    holding: bool = False


@dataclass(frozen=True)
class Join:
    follow_up: FollowUp
    triggers: tuple[Trigger, ...]


@dataclass(frozen=True)
class Withdraw:
    follow_up: FollowUp


@dataclass(frozen=True)
class Release:
    """The state of a view-only rule stopped holding: its next stay opens a new episode."""

    follow_ups: tuple[FollowUp, ...]


Step = Open | Join | Withdraw | Release


def plan(
    rule: RuleDefinition,
    profile_id: str,
    firing: Firing | None,
    episodes: Sequence[FollowUp],
    actionable_since: dt.datetime | None = None,
) -> list[Step]:
    """The steps that bring ``episodes`` (this customer's follow-ups, any rule) in line with
    ``firing`` (what ``rule`` says of the customer now). A trigger before ``actionable_since``
    opens no follow-up."""
    mine = [e for e in episodes if e.rule_id == rule.id and e.status is not Status.MERGED]
    active = [e for e in mine if e.status in ACTIVE]
    if firing is None:
        steps: list[Step] = []
        if rule.state:
            steps += [Withdraw(e) for e in active if not e.touched]
            holding = tuple(e for e in mine if e.holding)
            if holding:
                steps.append(Release(holding))
        return steps
    if not firing.triggers:  # a view-only rule: once per stay in the state
        if active or any(e.holding for e in mine if e.status is not Status.WITHDRAWN):
            return []
        return [_open(profile_id, mine, (), firing.reason, holding=True)]
    counted = [e for e in mine if e.status is not Status.WITHDRAWN]
    known = {rid for e in counted for rid in e.trigger_ids()}
    newest = max((t.at for e in counted for t in e.triggers), default=None)
    fresh = tuple(
        t for t in firing.triggers if t.record_id not in known and (newest is None or t.at > newest)
    )
    if not rule.dedupe:
        return [
            Open(Episode(profile_id, 0, t.record_id), (t,), firing.reason)
            for t in fresh
            if not any(t.record_id in e.trigger_ids() for e in mine)
            and actionable(t, actionable_since)
        ]
    if active:
        return [Join(active[0], fresh)] if fresh else []
    if not any(actionable(t, actionable_since) for t in fresh):
        return []
    return [_open(profile_id, mine, fresh, firing.reason)]


def actionable(trigger: Trigger, since: dt.datetime | None) -> bool:
    """Whether a trigger is recent enough to open a follow-up."""
    return since is None or trigger.at >= since


def _open(
    profile_id: str,
    mine: Sequence[FollowUp],
    triggers: tuple[Trigger, ...],
    reason: str,
    *,
    holding: bool = False,
) -> Open:
    own = [e for e in mine if e.episode.profile_id == profile_id and e.episode.record_id is None]
    latest = max(own, key=lambda e: e.episode.n, default=None)
    if latest is not None and latest.status is Status.WITHDRAWN:
        return Open(latest.episode, triggers, reason, revive=latest, holding=holding)
    n = 1 + max((e.episode.n for e in own), default=0)
    return Open(Episode(profile_id, n), triggers, reason, holding=holding)
