"""What the KPIs read of the follow-ups of the voice of the customer: the contract, in one place.

The follow-ups domain keeps its documents; the KPIs' repository reads only these fields of them
and hands the service :class:`StoredFollowUp` values, which it counts as
:class:`~c360.kpis.facts.FollowUpFact` (times are epoch
milliseconds, UTC):

``follow_ups`` (one document a follow-up)
    ``profile_id``; ``opened_ms``; ``status`` (``withdrawn`` and ``merged`` ones are not
    follow-ups any more and are left out); ``held_out`` (true: the holdout, recorded and not
    actioned); ``team``, and ``accountable_team`` (the team that held it when it was first
    escalated: the one that missed its target; absent from documents written before it was
    kept, which count by ``team``); ``root_cause`` (when closed with one); ``due`` (SLA
    target name → due time: ``first_response``, ``resolution``); ``first_response_ms`` and
    ``resolved_ms`` (when each target was done, absent while not done).

``feedback_acks`` (one document per acknowledged piece of feedback)
    ``_id``: the record id of the survey response or complaint answered; ``at_ms``: when.
    One acknowledged without contact (``without_contact``: the customer accepts contact on
    no channel) is one like any other: the loop was closed then.

Feedback needs an answer when it is a complaint, or a survey answer with a comment, a request
to be contacted, or a score at or below the low score of its survey type. Pure: no I/O
(:func:`stored_follow_up`, the mapping of a document, is called by the repository only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from c360.kpis.facts import CaseFact, FollowUpFact, SurveyFact

FOLLOW_UP_FIELDS = {
    "profile_id": 1,
    "opened_ms": 1,
    "status": 1,
    "held_out": 1,
    "team": 1,
    "accountable_team": 1,
    "root_cause": 1,
    "due": 1,
    "first_response_ms": 1,
    "resolved_ms": 1,
}
GONE = frozenset({"withdrawn", "merged"})
"""Statuses of what is no longer a follow-up (its rule stopped firing, a merge folded it)."""
DONE_FIELD = {"first_response": "first_response_ms", "resolution": "resolved_ms"}
Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class StoredFollowUp:
    """A follow-up as the KPIs read it (the fields above), typed."""

    profile_id: str
    opened_ms: int
    status: str
    held_out: bool
    team: str | None  # accountable for its SLA (the team it was escalated from, if it was)
    root_cause: str | None
    due: Mapping[str, int]  # SLA target name → due time
    done: Mapping[str, int]  # SLA target name → when it was done


def stored_follow_up(doc: Mapping[str, Any]) -> StoredFollowUp:
    """What the repository hands the service of a follow-up's document."""
    due: Mapping[str, int] = doc.get("due") or {}
    done = {t: doc[f] for t in due if doc.get(f := DONE_FIELD.get(t, f"{t}_ms")) is not None}
    return StoredFollowUp(
        profile_id=doc["profile_id"],
        opened_ms=doc["opened_ms"],
        status=doc.get("status", ""),
        held_out=bool(doc.get("held_out")),
        team=doc.get("accountable_team") or doc.get("team"),
        root_cause=doc.get("root_cause"),
        due=due,
        done=done,
    )


def follow_up_fact(stored: StoredFollowUp, now_ms: int) -> FollowUpFact | None:
    """A stored follow-up as the KPIs count it (None: withdrawn or merged away)."""
    if stored.status in GONE:
        return None
    return FollowUpFact(
        profile_id=stored.profile_id,
        at=stored.opened_ms,
        team=stored.team,
        root_cause=stored.root_cause,
        held_out=stored.held_out,
        sla_met=None if stored.held_out else sla_met(stored, now_ms),
    )


def sla_met(stored: StoredFollowUp, now_ms: int) -> bool | None:
    """Every target met by its due time (True); one done late or past due undone (False);
    otherwise not decided yet, or no target at all (None)."""
    if not stored.due:
        return None
    decided = True
    for target, due_ms in stored.due.items():
        done = stored.done.get(target)
        if done is not None:
            if done > due_ms:
                return False
        elif now_ms > due_ms:
            return False
        else:
            decided = False
    return True if decided else None


def needs_answer(fact: SurveyFact | CaseFact, low_scores: Mapping[str, int]) -> bool:
    """Whether a survey answer or a case is feedback that needs acknowledging."""
    if isinstance(fact, CaseFact):
        return fact.complaint
    low = low_scores.get(fact.survey_type)
    return fact.commented or fact.contact_requested or (low is not None and fact.score <= low)


def wilson(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion."""
    p = successes / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    scale = 1 + z * z / total
    return (centre - spread) / scale, (centre + spread) / scale


def difference_interval(
    a: int, n: int, b: int, m: int, z: float = Z95
) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval (his method 10) of ``a/n - b/m``; None when a group is
    empty."""
    if not n or not m:
        return None
    p1, p2 = a / n, b / m
    l1, u1 = wilson(a, n, z)
    l2, u2 = wilson(b, m, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high
