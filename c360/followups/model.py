"""What a follow-up is, as the repository hands it up: typed values, no storage field names."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass, field

from c360.followups.rules import Priority, Trigger


class Status(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED_NO_ACTION = "closed_no_action"
    HELD_OUT = "held_out"  # recorded, not actioned: the holdout group
    WITHDRAWN = "withdrawn"  # its rule stopped firing before anyone acted on it
    MERGED = "merged"  # folded into the survivor's follow-up of the same rule


ACTIVE = frozenset({Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS})
"""Being worked: in a team's queue, with SLA clocks running."""
CLOSED = frozenset({Status.RESOLVED, Status.CLOSED_NO_ACTION})
HIDDEN = frozenset({Status.WITHDRAWN, Status.MERGED})
"""Not listed unless asked for by status: they are not follow-ups any more."""


class EventType(enum.StrEnum):
    OPENED = "opened"
    HELD_OUT = "held_out"
    TRIGGERED = "triggered"  # newer records joined the open follow-up
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    STARTED = "started"
    RESOLVED = "resolved"
    CLOSED_NO_ACTION = "closed_no_action"
    REOPENED = "reopened"
    NOTED = "noted"  # an agent's note, the status as it was
    ESCALATED = "escalated"
    DUE_SOON = "due_soon"  # an SLA target is due soon: its owner (or team) is warned
    WITHDRAWN = "withdrawn"
    MERGED = "merged"  # this one was folded into another (a profile merge)
    ABSORBED = "absorbed"  # another was folded into this one
    MOVED = "moved"  # to the survivor of a merge
    RETURNED = "returned"  # an unmerge handed it back


class Outcome(enum.StrEnum):
    """How a follow-up ended."""

    CONTACTED_RESOLVED = "contacted_resolved"
    CONTACTED_UNRESOLVED = "contacted_unresolved"
    UNREACHABLE = "unreachable"
    NO_ACTION_NEEDED = "no_action_needed"  # closes it as closed_no_action


class Target(enum.StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


SYSTEM = "c360"
"""The actor of what c360 does by itself (opening, escalating, withdrawing)."""


@dataclass(frozen=True)
class Event:
    n: int  # 1, 2, … within the follow-up
    type: EventType
    at: dt.datetime
    actor: str
    status: Status  # after the event
    note: str | None = None
    owner: str | None = None
    team: str | None = None
    priority: Priority | None = None
    outcome: Outcome | None = None
    root_cause: str | None = None
    target: Target | None = None
    records: tuple[str, ...] = ()
    other: str | None = None  # the other follow-up of a merge or an absorption


@dataclass(frozen=True)
class Episode:
    """Which of a customer's follow-ups of a rule this is: the profile it was opened for and
    its number there, or the record that opened it when the rule does not dedupe."""

    profile_id: str
    n: int
    record_id: str | None = None

    def key(self, rule_id: str) -> str:
        which = f"r:{self.record_id}" if self.record_id is not None else str(self.n)
        return f"{self.profile_id}\0{rule_id}\0{which}"


def follow_up_id(rule_id: str, episode: Episode) -> str:
    """Deterministic: two processes, or a run and its re-run, opening the same episode write
    the same document."""
    return "fu_" + hashlib.sha256(episode.key(rule_id).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class MergeMark:
    """A follow-up a merge moved to the survivor, or folded into the survivor's."""

    merge_id: str
    profile_id: str  # where it came from
    status: Status  # what it was before the merge


@dataclass(frozen=True)
class FollowUp:
    id: str
    profile_id: str
    rule_id: str
    rule_version: int
    rule_name: str
    episode: Episode
    status: Status
    priority: Priority
    team: str
    owner: str | None
    held_out: bool
    triggers: tuple[Trigger, ...]
    reason: str
    opened_at: dt.datetime
    due: dict[Target, dt.datetime] = field(default_factory=dict)
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    escalated: dict[Target, dt.datetime] = field(default_factory=dict)
    due_soon_at: dict[Target, dt.datetime] = field(default_factory=dict)  # fixed at opening
    warned: dict[Target, dt.datetime] = field(default_factory=dict)  # the due-soon warnings
    outcome: Outcome | None = None
    root_cause: str | None = None
    holding: bool = False  # a view-only rule's state still holds (no new episode till it stops)
    touched: bool = False  # someone acted on it (no withdrawal then)
    events: tuple[Event, ...] = ()
    version: int = 1
    updated_at: dt.datetime | None = None
    merged: MergeMark | None = None
    merged_into: str | None = None
    opened_by: str | None = None  # the ingest batch that opened it (its journal key)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def trigger_ids(self) -> set[str]:
        return {t.record_id for t in self.triggers}
