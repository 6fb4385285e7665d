"""The follow-up lifecycle: which transitions are allowed from where, and what each changes.

    open ──► acknowledged ──► in_progress ──► resolved
      │            │               │     └──► closed_no_action
      └────────────┴───────────────┴──► (resolve, from any of the three)
    resolved / closed_no_action ──reopen──► open

Assigning and noting keep the status (a note needs its text; a closed follow-up takes one too).
Held-out, withdrawn and merged follow-ups take no transition. Pure:
the service reads the follow-up, asks here, and writes the change conditionally on the version
it read, so two agents acting at once cannot both win.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from c360.errors import Conflict, InvalidInput
from c360.followups.model import ACTIVE, CLOSED, EventType, FollowUp, Outcome, Status
from schemas.quoting import shown


class TransitionRefused(Conflict):
    """The follow-up is not in a status this action starts from (another agent moved it)."""


class Action(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    ASSIGN = "assign"
    NOTE = "note"


FROM: dict[Action, frozenset[Status]] = {
    Action.ACKNOWLEDGE: frozenset({Status.OPEN}),
    Action.START: frozenset({Status.OPEN, Status.ACKNOWLEDGED}),
    Action.RESOLVE: ACTIVE,
    Action.REOPEN: CLOSED,
    Action.ASSIGN: ACTIVE,
    Action.NOTE: ACTIVE | CLOSED,
}

MAX_NOTE = 4000


@dataclass(frozen=True)
class Change:
    """What an action does: the status after it, its event, and the SLA clocks it stops or
    starts again."""

    status: Status
    event: EventType
    responds: bool = False  # the first response, if none yet
    resolves: bool = False
    reopens: bool = False


def transition(
    follow_up: FollowUp,
    action: Action,
    *,
    outcome: Outcome | None = None,
    root_cause: str | None = None,
    root_causes: Collection[str] = (),
    note: str | None = None,
) -> Change:
    """The change ``action`` makes to ``follow_up``, or a refusal saying why."""
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"a note is at most {MAX_NOTE} characters")
    allowed = FROM[action]
    if follow_up.status not in allowed:
        starts = ", ".join(sorted(s.value for s in allowed))
        raise TransitionRefused(
            f"follow-up {follow_up.id} is {follow_up.status.value}: {action.value} applies to "
            f"{starts}"
        )
    match action:
        case Action.ACKNOWLEDGE:
            return Change(Status.ACKNOWLEDGED, EventType.ACKNOWLEDGED, responds=True)
        case Action.START:
            return Change(Status.IN_PROGRESS, EventType.STARTED, responds=True)
        case Action.ASSIGN:
            return Change(follow_up.status, EventType.ASSIGNED)
        case Action.NOTE:
            if note is None or not note.strip():
                raise InvalidInput("a note needs its text")
            return Change(follow_up.status, EventType.NOTED)
        case Action.REOPEN:
            return Change(Status.OPEN, EventType.REOPENED, reopens=True)
    if outcome is None:
        raise InvalidInput("resolving needs an outcome")
    if root_cause is None or root_cause not in root_causes:
        known = ", ".join(root_causes)
        raise InvalidInput(f"root cause {shown(root_cause)} is not one of the configured: {known}")
    if outcome is Outcome.NO_ACTION_NEEDED:
        return Change(
            Status.CLOSED_NO_ACTION, EventType.CLOSED_NO_ACTION, responds=True, resolves=True
        )
    return Change(Status.RESOLVED, EventType.RESOLVED, responds=True, resolves=True)
