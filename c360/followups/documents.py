"""A follow-up as a stored document and back: what :mod:`.repository` writes and reads.

Times are stored as epoch milliseconds: a date ``$set`` on an existing document is stored as a
string by the embedded development server, and integers order and compare the same on both.
The queue key orders a queue in one index walk: priority, then the soonest due, then age.
``next_due_ms`` and ``due_soon_ms`` (when the target due next turns due soon) select the overdue
and the due-soon follow-ups of a queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from c360.followups import sla
from c360.followups.model import (
    Episode,
    Event,
    EventType,
    FollowUp,
    MergeMark,
    Outcome,
    Status,
    Target,
)
from c360.followups.rules import (
    PRIORITY_ORDER,
    Priority,
    Trigger,
)
from c360.store import Document

NO_DUE_MS = 9_999_999_999_999


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def at(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)


def maybe_at(value: int | None) -> dt.datetime | None:
    return None if value is None else at(value)


# --- Follow-ups ---------------------------------------------------------------------------------


def _event_doc(event: Event) -> Document:
    doc: Document = {
        "n": event.n,
        "type": event.type.value,
        "at_ms": ms(event.at),
        "actor": event.actor,
        "status": event.status.value,
    }
    optional: dict[str, Any] = {
        "note": event.note,
        "owner": event.owner,
        "team": event.team,
        "priority": event.priority.value if event.priority else None,
        "outcome": event.outcome.value if event.outcome else None,
        "root_cause": event.root_cause,
        "target": event.target.value if event.target else None,
        "records": list(event.records) or None,
        "other": event.other,
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    return doc


def _event(doc: Mapping[str, Any]) -> Event:
    return Event(
        n=doc["n"],
        type=EventType(doc["type"]),
        at=at(doc["at_ms"]),
        actor=doc["actor"],
        status=Status(doc["status"]),
        note=doc.get("note"),
        owner=doc.get("owner"),
        team=doc.get("team"),
        priority=Priority(doc["priority"]) if "priority" in doc else None,
        outcome=Outcome(doc["outcome"]) if "outcome" in doc else None,
        root_cause=doc.get("root_cause"),
        target=Target(doc["target"]) if "target" in doc else None,
        records=tuple(doc.get("records", ())),
        other=doc.get("other"),
    )


def queue_key(follow_up: FollowUp) -> str:
    """The order of a queue: most urgent first, then the soonest due, then the oldest."""
    rank = len(PRIORITY_ORDER) - 1 - PRIORITY_ORDER.index(follow_up.priority)
    due = sla.next_due(follow_up)
    due_ms = NO_DUE_MS if due is None else ms(due)
    return f"{rank}|{due_ms:013d}|{ms(follow_up.opened_at):013d}|{follow_up.id}"


def accountable_team(follow_up: FollowUp) -> str:
    """The team answerable for the follow-up's SLA: the one that held it when it was first
    escalated (a target it let pass), else the one holding it. An escalation team is handed a
    follow-up after its target was missed; the miss stays the team's that missed it."""
    held: str | None = None  # the team as of each event (those that move it name it)
    for event in follow_up.events:
        if event.type is EventType.ESCALATED:
            return held or follow_up.team
        held = event.team or held
    return follow_up.team


def follow_up_doc(follow_up: FollowUp, unsent: Sequence[int] = ()) -> Document:
    """The stored form, with what queries need (queue order, when it is next due, whether
    notifications wait for the relay)."""
    doc: Document = {
        "_id": follow_up.id,
        "profile_id": follow_up.profile_id,
        "rule_id": follow_up.rule_id,
        "rule_version": follow_up.rule_version,
        "rule_name": follow_up.rule_name,
        "episode": {
            "profile": follow_up.episode.profile_id,
            "n": follow_up.episode.n,
            **({"record": follow_up.episode.record_id} if follow_up.episode.record_id else {}),
        },
        "status": follow_up.status.value,
        "priority": follow_up.priority.value,
        "team": follow_up.team,
        "accountable_team": accountable_team(follow_up),
        "held_out": follow_up.held_out,
        "triggers": [
            {"id": t.record_id, "kind": t.kind, "at_ms": ms(t.at)} for t in follow_up.triggers
        ],
        "reason": follow_up.reason,
        "opened_ms": ms(follow_up.opened_at),
        "due": {t.value: ms(d) for t, d in follow_up.due.items()},
        "escalated": {t.value: ms(d) for t, d in follow_up.escalated.items()},
        "due_soon": {t.value: ms(d) for t, d in follow_up.due_soon_at.items()},
        "warned": {t.value: ms(d) for t, d in follow_up.warned.items()},
        "holding": follow_up.holding,
        "touched": follow_up.touched,
        "events": [_event_doc(e) for e in follow_up.events],
        "unsent": list(unsent),
        "version": follow_up.version,
        "updated_ms": ms(follow_up.updated_at or follow_up.opened_at),
        "queue_key": queue_key(follow_up),
    }
    optional: dict[str, Any] = {
        "owner": follow_up.owner,
        "first_response_ms": ms_or_none(follow_up.first_response_at),
        "resolved_ms": ms_or_none(follow_up.resolved_at),
        "outcome": follow_up.outcome.value if follow_up.outcome else None,
        "root_cause": follow_up.root_cause,
        "merged_into": follow_up.merged_into,
        "batch": follow_up.opened_by,
    }
    # No explicit nulls: the embedded store mis-queries them, and sparse indexes skip absence.
    doc.update({k: v for k, v in optional.items() if v is not None})
    if (due := sla.next_due(follow_up)) is not None:
        doc["next_due_ms"] = ms(due)
    if (soon := sla.next_due_soon(follow_up)) is not None:
        doc["due_soon_ms"] = ms(soon)
    if (alarm := sla.alarm(follow_up)) is not None:
        doc["alarm_ms"] = ms(alarm)
    if unsent:
        doc["has_unsent"] = True
    if follow_up.owner is not None:
        assigned = [e for e in follow_up.events if e.owner == follow_up.owner]
        doc["assigned_ms"] = ms(assigned[-1].at if assigned else follow_up.opened_at)
    if follow_up.merged is not None:
        doc["merge_id"] = follow_up.merged.merge_id
        doc["merged_from"] = {
            "profile": follow_up.merged.profile_id,
            "status": follow_up.merged.status.value,
        }
    return doc


def ms_or_none(moment: dt.datetime | None) -> int | None:
    return None if moment is None else ms(moment)


def follow_up_of(doc: Mapping[str, Any]) -> FollowUp:
    episode = doc["episode"]
    merged_from = doc.get("merged_from")
    return FollowUp(
        id=doc["_id"],
        profile_id=doc["profile_id"],
        rule_id=doc["rule_id"],
        rule_version=doc["rule_version"],
        rule_name=doc["rule_name"],
        episode=Episode(episode["profile"], episode["n"], episode.get("record")),
        status=Status(doc["status"]),
        priority=Priority(doc["priority"]),
        team=doc["team"],
        owner=doc.get("owner"),
        held_out=doc.get("held_out", False),
        triggers=tuple(
            sorted(Trigger(at(t["at_ms"]), t["id"], t["kind"]) for t in doc.get("triggers", ()))
        ),
        reason=doc.get("reason", ""),
        opened_at=at(doc["opened_ms"]),
        due={Target(t): at(v) for t, v in (doc.get("due") or {}).items()},
        first_response_at=maybe_at(doc.get("first_response_ms")),
        resolved_at=maybe_at(doc.get("resolved_ms")),
        escalated={Target(t): at(v) for t, v in (doc.get("escalated") or {}).items()},
        due_soon_at={Target(t): at(v) for t, v in (doc.get("due_soon") or {}).items()},
        warned={Target(t): at(v) for t, v in (doc.get("warned") or {}).items()},
        outcome=Outcome(doc["outcome"]) if "outcome" in doc else None,
        root_cause=doc.get("root_cause"),
        holding=doc.get("holding", False),
        touched=doc.get("touched", False),
        events=tuple(_event(e) for e in doc.get("events", ())),
        version=doc["version"],
        updated_at=maybe_at(doc.get("updated_ms")),
        merged=None
        if merged_from is None
        else MergeMark(doc["merge_id"], merged_from["profile"], Status(merged_from["status"])),
        merged_into=doc.get("merged_into"),
        opened_by=doc.get("batch"),
    )
