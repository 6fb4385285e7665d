"""What every writer of follow-ups shares. Each follows one protocol: read a version, write the
next only if it is still the one read, else read again and plan again, at most
:data:`MAX_ROUNDS` times, then raise :class:`FollowUpConflict`. Here: those two, a follow-up's
next version and next event, which events notify a team, the teams' loads an assignment reads
(who gets a follow-up is part of writing it), and the hook tests crash a step at."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from c360.errors import Conflict
from c360.followups.assignment import TeamLoad
from c360.followups.model import Event, EventType, FollowUp, Status
from c360.followups.repository import FollowUpRepository
from c360.followups.teams import Teams

MAX_ROUNDS = 10
NOTIFIED = frozenset(
    {
        EventType.OPENED,
        EventType.REOPENED,
        EventType.ASSIGNED,
        EventType.ESCALATED,
        EventType.DUE_SOON,
        EventType.RESOLVED,
        EventType.CLOSED_NO_ACTION,
        EventType.WITHDRAWN,
    }
)
"""The events a team's webhook is told of."""


class FollowUpConflict(Conflict):
    pass


def new_event(
    events: Sequence[Event],
    kind: EventType,
    now: dt.datetime,
    actor: str,
    status: Status,
    **more: Any,
) -> Event:
    """The event after ``events`` (a follow-up's, with those added to it so far)."""
    return Event(n=len(events) + 1, type=kind, at=now, actor=actor, status=status, **more)


def next_version(fu: FollowUp, now: dt.datetime, **changes: Any) -> FollowUp:
    """The follow-up changed: the version after the one read."""
    return replace(fu, version=fu.version + 1, updated_at=now, **changes)


async def team_loads(
    teams: Teams,
    follow_ups: FollowUpRepository,
    team_ids: Iterable[str],
    leaving_out: str | None = None,
) -> dict[str, TeamLoad]:
    """Each team's load now; without the follow-ups batch ``leaving_out`` opened."""
    wanted = sorted(set(team_ids))
    if not wanted:
        return {}
    found = {t: await teams.get(t) for t in wanted}
    counts = await follow_ups.team_counts([t for t in wanted if found[t].members], leaving_out)
    return {
        t: TeamLoad(
            list(found[t].members),
            dict(counts.open.get(t, {})),
            dict(counts.last_assigned.get(t, {})),
        )
        for t in wanted
    }
