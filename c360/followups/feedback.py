"""Closing the loop: which feedback needs an answer to the customer, and recording that answer.

Every survey response with a comment, a low score (``C360_FEEDBACK_LOW_SCORES``) or a request
to be contacted, and every complaint, needs acknowledging. ``acknowledgeFeedback`` answers on
the channel the contact policy ranks first for purpose ``service`` — what the customer asked
for, or used to reach us — so a customer who left a voicemail asking for a call is not sent an
e-mail. The answer is logged as an outbound contact (the contact log, caps and the timeline
see it) and the acknowledgement is kept by the feedback's record id.

A customer the policy allows no channel for purpose ``service`` — not now, nor once quiet hours
or caps lift — cannot be answered, yet their feedback is not owed forever:
``acknowledgeFeedbackWithoutContact`` closes the loop internally, recorded with who and when and
why no channel (each channel's reason code), and nothing is sent. It is refused while any channel
is allowed, and the contact policy stays the only gate of an answer that is sent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from c360.contact.service import Actor, ContactService
from c360.contact.types import Ranking
from c360.errors import Conflict, InvalidInput, NotFound
from c360.followups.repository import (
    Acknowledgement,
    AcknowledgementRepository,
    RuleInputRepository,
)
from c360.profiles.service import ProfileService
from c360.records.types import Record
from schemas.quoting import shown
from schemas.records import ChangeOrigin

FEEDBACK_KINDS = ("survey_response", "service_case")
PURPOSE = "service"
CAMPAIGN = "feedback-acknowledgement"
MAX_NOTE = 4000


class FeedbackNotFound(NotFound):
    pass


class AlreadyAcknowledged(Conflict):
    pass


# (profile id, record id, how — "answered by email", actor, when): what else an answer to the
# customer settles — the follow-ups the feedback opened (the wiring hands in
# FollowUpService.feedback_answered).
Answered = Callable[[str, str, str, str, dt.datetime], Awaitable[None]]


async def _nothing_else(
    profile_id: str, record_id: str, how: str, actor: str, now: dt.datetime
) -> None:
    return None


def how_answered(ack: Acknowledgement) -> str:
    if ack.channel is None:
        return "acknowledged without contact (the contact policy allows no channel for service)"
    return f"answered by {ack.channel}"


def without_contact_reason(ranking: Ranking) -> str:
    """Why no channel: each refused channel with its first reason's code (never case text)."""
    refused = ", ".join(
        f"{d.channel} ({d.reasons[0].code.value})" if d.reasons else d.channel
        for d in ranking.refused
    )
    return f"the contact policy allows no channel for purpose {PURPOSE}: {refused}"


def needs_acknowledgement(
    kind: str, data: Mapping[str, Any], low_scores: Mapping[str, int]
) -> str | None:
    """Why this record needs an answer to the customer, or None."""
    reasons = []
    if kind == "survey_response":
        if data.get("comment"):
            reasons.append("left a comment")
        limit = low_scores.get(data["survey_type"])
        if limit is not None and data["score"] <= limit:
            reasons.append(f"a low {data['survey_type'].upper()} score ({data['score']} ≤ {limit})")
        if data.get("contact_requested"):
            reasons.append("asked to be contacted")
    elif kind == "service_case" and data.get("complaint"):
        reasons.append("a complaint")
    return "; ".join(reasons) or None


@dataclass(frozen=True)
class Feedback:
    profile_id: str  # the customer's, whose record it is
    record: Record
    why: str
    acknowledgement: Acknowledgement | None


class FeedbackService:
    def __init__(
        self,
        inputs: RuleInputRepository,
        acks: AcknowledgementRepository,
        profiles: ProfileService,
        contact: ContactService,
        low_scores: Mapping[str, int],
        answered: Answered = _nothing_else,
    ) -> None:
        self._inputs = inputs
        self._answered = answered
        self._acks = acks
        self._profiles = profiles
        self._contact = contact
        self._low_scores = dict(low_scores)

    async def of_profiles(self, profile_ids: Sequence[str]) -> list[list[Feedback]]:
        """Each profile's feedback that needs acknowledging, newest first, with its
        acknowledgement (a DataLoader's batch function)."""
        records = await self._inputs.of_kinds(profile_ids, FEEDBACK_KINDS)
        needing = {
            p: [(r, why) for r in found if (why := self._why(r)) is not None]
            for p, found in records.items()
        }
        acks = await self._acks.of_records(r.id for found in needing.values() for r, _ in found)
        return [
            sorted(
                (Feedback(p, r, why, acks.get(r.id)) for r, why in needing.get(p, [])),
                key=lambda f: f.record.position,
                reverse=True,
            )
            for p in profile_ids
        ]

    def _why(self, record: Record) -> str | None:
        return needs_acknowledgement(record.kind, record.payload, self._low_scores)

    async def _owed(
        self, profile_id: str, record_id: str, note: str | None
    ) -> tuple[str, Record, str]:
        """The live profile, the record and why it needs an answer; refused when it needs
        none or was acknowledged already (what that settles done again: a run cut short after
        storing it had not)."""
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput(f"a note is at most {MAX_NOTE} characters")
        live = (await self._profiles.get(profile_id)).id
        found = (await self._inputs.of_kinds([live], FEEDBACK_KINDS, record_ids=[record_id]))[live]
        if not found:
            raise FeedbackNotFound(
                f"no survey response or case {shown(record_id)} of this customer"
            )
        record = found[0]
        why = self._why(record)
        if why is None:
            raise InvalidInput(
                "this feedback needs no acknowledgement (no comment, no low score, no request "
                "to be contacted, not a complaint)"
            )
        done = (await self._acks.of_records([record_id])).get(record_id)
        if done is not None:
            await self._answered(live, record_id, how_answered(done), done.actor, done.at)
            raise _already(done)
        return live, record, why

    async def acknowledge(
        self,
        profile_id: str,
        record_id: str,
        channel: str | None,
        note: str | None,
        actor: str,
        now: dt.datetime,
    ) -> Feedback:
        """Answer a piece of feedback on the customer's service channel, once."""
        live, record, why = await self._owed(profile_id, record_id, note)
        options = (await self._contact.best_channels(live, PURPOSE, now)).options
        if not options:
            raise InvalidInput(
                "the contact policy allows no channel for purpose service now: acknowledge it "
                "without contact (acknowledgeFeedbackWithoutContact)"
            )
        offered = options[0]
        if channel is not None and channel != offered.channel:
            raise InvalidInput(
                f"the customer's channel for service is {offered.channel} ({offered.reason}): "
                f"acknowledge there, not by {channel}"
            )
        digest = hashlib.sha256(record_id.encode()).hexdigest()[:24]
        logged = await self._contact.record_contact(
            live,
            {
                "channel": offered.channel,
                "purpose": PURPOSE,
                "campaign": CAMPAIGN,
                "outcome": "sent",
                "occurred_at": now,
            },
            Actor(ChangeOrigin.AGENT, actor),
            now,
            external_id=f"ack-{digest}",
        )
        ack = Acknowledgement(record_id, live, now, offered.channel, actor, logged.record.id, note)
        return await self._kept(ack, record, why)

    async def acknowledge_without_contact(
        self, profile_id: str, record_id: str, note: str | None, actor: str, now: dt.datetime
    ) -> Feedback:
        """Close the loop internally, once, for a customer the contact policy allows no
        channel for purpose service (not now, nor later): nothing is sent or logged as a
        contact. Refused while a channel is allowed: answer there."""
        live, record, why = await self._owed(profile_id, record_id, note)
        ranking = await self._contact.best_channels(live, PURPOSE, now)
        if ranking.options:
            offered = ranking.options[0]
            raise InvalidInput(
                f"the customer accepts contact for service by {offered.channel} "
                f"({offered.reason}): acknowledge there (acknowledgeFeedback)"
            )
        reason = without_contact_reason(ranking)
        ack = Acknowledgement(record_id, live, now, None, actor, None, note, reason)
        return await self._kept(ack, record, why)

    async def _kept(self, ack: Acknowledgement, record: Record, why: str) -> Feedback:
        if not await self._acks.add(ack):
            raise _already((await self._acks.of_records([ack.record_id]))[ack.record_id])
        await self._answered(ack.profile_id, ack.record_id, how_answered(ack), ack.actor, ack.at)
        return Feedback(ack.profile_id, record, why, ack)


def _already(done: Acknowledgement) -> AlreadyAcknowledged:
    return AlreadyAcknowledged(
        f"acknowledged at {done.at.isoformat()} by {done.actor} ({how_answered(done)})"
    )
