"""A rule replayed over stored history, writing nothing: how many follow-ups it would have
opened, by team and week, and for whom. Pure.

Each customer's records are replayed in the order they happened, as ingest would have met them
live; after each record that concerns the rule, the rule fires or not over the records up to
then, and :mod:`.episodes`' rules apply: a trigger already covered opens nothing, and with
dedupe a follow-up stays open (taking new triggers) for its resolution target — or first
response, or a week — as if a team worked it in time. Metrics (churn risk, lifecycle stage,
value tier) are the customer's today: their history is not kept.

Replayed as live, a record is never too old for its rule; imported now, one older than the
rule's ``max_trigger_age_days`` opens nothing. ``too_old`` counts the follow-ups of the preview
whose records are all that old: what evaluating the window's records today (an import of them,
``c360 alerts evaluate --every-record``) would not open.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from c360.followups.rules import RecordFacts, RuleDefinition, ViewFact, facts_of, fire, held_out

DEFAULT_OPEN_FOR = dt.timedelta(days=7)
SAMPLE = 20


@dataclass(frozen=True)
class Bucket:
    team: str
    week: dt.date  # the Monday of the ISO week
    count: int


@dataclass(frozen=True)
class Sample:
    profile_id: str
    at: dt.datetime
    reason: str
    held_out: bool
    too_old: bool = False  # its records are too old to open it if evaluated now


@dataclass(frozen=True)
class Preview:
    would_open: int  # follow-ups, held-out ones included
    held_out: int
    too_old: int  # of those, the ones whose records are too old to open them now
    customers: int  # distinct customers with at least one
    evaluated: int  # customers with records that concern the rule in the window
    buckets: list[Bucket] = field(default_factory=list)
    sample: list[Sample] = field(default_factory=list)


@dataclass
class _Episode:
    opened: dt.datetime
    until: dt.datetime
    triggers: set[str]
    newest: dt.datetime


def _open_for(rule: RuleDefinition) -> dt.timedelta:
    hours = rule.sla.resolution_hours or rule.sla.first_response_hours
    return DEFAULT_OPEN_FOR if hours is None else dt.timedelta(hours=hours)


def _monday(moment: dt.datetime) -> dt.date:
    day = moment.astimezone(dt.UTC).date()
    return day - dt.timedelta(days=day.weekday())


def simulate(
    rule: RuleDefinition,
    history: Mapping[str, Sequence[RecordFacts]],
    views: Mapping[str, ViewFact],
    since: dt.datetime,
    until: dt.datetime,
    actionable_since: dt.datetime | None = None,
    sample: int = SAMPLE,
) -> Preview:
    """``history``: per customer, the records the rule reads (the window's and, for history
    conditions, those before it); ``actionable_since``: the oldest a trigger may be now to
    open a follow-up (see :func:`.rules.actionable_since`)."""
    openings: list[Sample] = []
    evaluated = 0
    open_for = _open_for(rule)
    for profile_id in sorted(history):
        records = sorted(
            {r.record_id: r for r in history[profile_id]}.values(),
            key=lambda r: (r.at, r.record_id),
        )
        concerned = [r for r in records if since <= r.at < until and rule.concerns(r.kind, r.data)]
        if not concerned:
            continue
        evaluated += 1
        episodes: list[_Episode] = []
        holding = False
        for record in concerned:
            upto = [r for r in records if (r.at, r.record_id) <= (record.at, record.record_id)]
            facts = facts_of(upto, frozenset({record.record_id}), views.get(profile_id))
            firing = fire(rule, facts, record.at)
            current = next((e for e in episodes if e.opened <= record.at < e.until), None)
            if firing is None:
                holding = False
                if rule.state and current is not None:
                    current.until = record.at  # the state ended: it blocks no more
                continue
            if not firing.triggers:
                if holding or current is not None:
                    continue
                holding = True
                episodes.append(_Episode(record.at, record.at + open_for, set(), record.at))
                openings.append(_sample(profile_id, record.at, firing.reason, rule))
                continue
            known = {rid for e in episodes for rid in e.triggers}
            newest = max((e.newest for e in episodes), default=None)
            fresh = [
                t
                for t in firing.triggers
                if t.record_id not in known and (newest is None or t.at > newest)
            ]
            if not fresh:
                continue
            if rule.dedupe and current is not None:
                current.triggers |= {t.record_id for t in fresh}
                current.newest = max(current.newest, *(t.at for t in fresh))
                continue
            for group in [fresh] if rule.dedupe else [[t] for t in fresh]:
                episodes.append(
                    _Episode(
                        record.at,
                        record.at + open_for,
                        {t.record_id for t in group},
                        max(t.at for t in group),
                    )
                )
                old = actionable_since is not None and all(t.at < actionable_since for t in group)
                openings.append(_sample(profile_id, record.at, firing.reason, rule, old))
    weeks = Counter(_monday(s.at) for s in openings)
    return Preview(
        would_open=len(openings),
        held_out=sum(s.held_out for s in openings),
        too_old=sum(s.too_old for s in openings),
        customers=len({s.profile_id for s in openings}),
        evaluated=evaluated,
        buckets=[Bucket(rule.team, week, n) for week, n in sorted(weeks.items())],
        sample=sorted(openings, key=lambda s: (s.at, s.profile_id))[:sample],
    )


def _sample(
    profile_id: str, at: dt.datetime, reason: str, rule: RuleDefinition, too_old: bool = False
) -> Sample:
    return Sample(profile_id, at, reason, held_out(profile_id, rule.id, rule.holdout), too_old)
