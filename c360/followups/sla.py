"""SLA clocks of a follow-up: per target (first response, resolution) a due time and a state.

Pure: every function takes the moment it judges at. A target is **met** when done by its due
time and **missed** when done later; while not done it is **overdue** past its due time,
**due soon** in the last ``soon`` share of its window, else **on track**. The first response is
the first time someone acknowledged, started or resolved the follow-up; the resolution is when
it was resolved or closed (a reopening starts it again, against the same due time).

When a target turns due soon is fixed with its due time when the follow-up opens
(:func:`due_soon_times`, from ``C360_FOLLOWUP_DUE_SOON_FRACTION`` then), so the worker's warning
and the state agree whatever the setting becomes later. A target not done by then is warned of
once (:func:`due_soon`); one already overdue is escalated instead (:func:`overdue`).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from c360.followups.model import ACTIVE, HIDDEN, FollowUp, Target


class SlaState(enum.StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET = "met"
    MISSED = "missed"


@dataclass(frozen=True)
class Clock:
    target: Target
    started: dt.datetime
    due: dt.datetime
    done_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    due_soon_at: dt.datetime | None = None  # None: opened before it was kept
    warned_at: dt.datetime | None = None


def due_times(opened: dt.datetime, hours: Mapping[str, float]) -> dict[Target, dt.datetime]:
    """Each target's due time from the opening and the rule's hours."""
    return {Target(name): opened + dt.timedelta(hours=h) for name, h in hours.items()}


def due_soon_times(
    opened: dt.datetime, due: Mapping[Target, dt.datetime], soon: float
) -> dict[Target, dt.datetime]:
    """When each target turns due soon: once all but the last ``soon`` share of its window has
    passed (0.25: three quarters of the time gone)."""
    return {target: when - (when - opened) * soon for target, when in due.items()}


def state(clock: Clock, now: dt.datetime, soon: float) -> SlaState:
    """``soon`` counts for a clock whose follow-up kept no due-soon time."""
    if clock.done_at is not None:
        return SlaState.MET if clock.done_at <= clock.due else SlaState.MISSED
    if now > clock.due:
        return SlaState.OVERDUE
    if clock.due_soon_at is not None:
        if now >= clock.due_soon_at:
            return SlaState.DUE_SOON
    elif clock.due - now <= (clock.due - clock.started) * soon:
        return SlaState.DUE_SOON
    return SlaState.ON_TRACK


def clocks(follow_up: FollowUp) -> list[Clock]:
    """The follow-up's targets in order (none for one held out, withdrawn or merged away)."""
    if follow_up.held_out or follow_up.status in HIDDEN or not follow_up.due:
        return []
    done = {
        Target.FIRST_RESPONSE: follow_up.first_response_at,
        Target.RESOLUTION: follow_up.resolved_at,
    }
    return [
        Clock(
            target,
            follow_up.opened_at,
            follow_up.due[target],
            done[target],
            follow_up.escalated.get(target),
            follow_up.due_soon_at.get(target),
            follow_up.warned.get(target),
        )
        for target in Target
        if target in follow_up.due
    ]


def next_due(follow_up: FollowUp) -> dt.datetime | None:
    """The earliest due time of a target not done yet, while the follow-up is being worked."""
    if follow_up.status not in ACTIVE:
        return None
    waiting = [c.due for c in clocks(follow_up) if c.done_at is None]
    return min(waiting, default=None)


def next_due_soon(follow_up: FollowUp) -> dt.datetime | None:
    """When the target :func:`next_due` is for turns due soon (None: no such time kept)."""
    if follow_up.status not in ACTIVE:
        return None
    waiting = [c for c in clocks(follow_up) if c.done_at is None]
    if not waiting:
        return None
    return min(waiting, key=lambda c: c.due).due_soon_at


def _warnable(clock: Clock) -> bool:
    return (
        clock.done_at is None
        and clock.due_soon_at is not None
        and clock.warned_at is None
        and clock.escalated_at is None
    )


def alarm(follow_up: FollowUp) -> dt.datetime | None:
    """When the worker next has something to do for the follow-up: the earliest of the due
    times of targets neither done nor escalated yet, and the due-soon times of targets neither
    done, warned of nor escalated yet."""
    if follow_up.status not in ACTIVE:
        return None
    waiting = [c.due for c in clocks(follow_up) if c.done_at is None and c.escalated_at is None]
    waiting += [c.due_soon_at for c in clocks(follow_up) if _warnable(c) and c.due_soon_at]
    return min(waiting, default=None)


def due_soon(follow_up: FollowUp, now: dt.datetime) -> list[Target]:
    """The targets to warn of now: due soon, not done, not overdue yet, not warned of before
    (once per target: a reopening does not warn again)."""
    if follow_up.status not in ACTIVE:
        return []
    return [
        c.target
        for c in clocks(follow_up)
        if _warnable(c) and c.due_soon_at is not None and c.due_soon_at <= now <= c.due
    ]


def overdue(follow_up: FollowUp, now: dt.datetime) -> list[Target]:
    """The targets to escalate now: past due, not done, not escalated before."""
    if follow_up.status not in ACTIVE:
        return []
    return [
        c.target
        for c in clocks(follow_up)
        if c.done_at is None and c.escalated_at is None and now > c.due
    ]
