"""GraphQL types of follow-ups: the follow-up, its events and SLA clocks, its events on the
customer's timeline, and feedback with its acknowledgement."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from c360.api.graphql.access import Requires, holds, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from c360.api.graphql.types.contact import ChannelChoice
from c360.api.graphql.types.timeline import (
    TimelineEdge,
    TimelineItem,
    timeline_item,
)
from c360.api.graphql.values import PageInfo, TimelineKind
from c360.auth.service import Permission
from c360.contact.policy import best_channels
from c360.followups import sla as sla_rules
from c360.followups.feedback import PURPOSE
from c360.followups.feedback import Feedback as FeedbackValue
from c360.followups.model import HIDDEN, Event, EventType, Outcome, Status, Target
from c360.followups.model import FollowUp as FollowUpValue
from c360.followups.rules import ConditionKind, Priority
from c360.notifications.repository import DeliveryStatus
from c360.profiles.service import decode_cursor, position_cursor
from c360.records.documents import timeline_key
from c360.records.repository import TimelineQuery
from schemas.records import ContactChannel

FollowUpStatus = Status  # named in c360.api.graphql.values, before the profile uses it
strawberry.enum(Priority, name="FollowUpPriority")
strawberry.enum(EventType, name="FollowUpEventType")
strawberry.enum(Outcome, name="FollowUpOutcome")
strawberry.enum(Target, name="SlaTarget")
strawberry.enum(sla_rules.SlaState, name="SlaState")
strawberry.enum(ConditionKind, name="AlertConditionKind")
strawberry.enum(DeliveryStatus, name="NotificationStatus")

IDS = public("ids made by c360")
RULES = public("alert rules are written by admins (manageAlerts), read by agents")
TEAMS = public("a team id from the settings or an admin (lower-case letters, digits, -_.)")
ADMINS = public("the outbox, reached only through notifications (manageAlerts: admins)")
MADE = public("a sentence made by c360 from scores, counts and dates")


def follow_ups_loader(info: Info[Context, None]) -> DataLoader[str, list[FollowUpValue]]:
    service = info.context.services.followups.service
    return info.context.loader("followups.of_profiles", service.of_profiles)


# --- Follow-ups ---------------------------------------------------------------------------------


@strawberry.type(description="The alert rule (and its version) that opened a follow-up.")
class FollowUpRule:
    id: str = strawberry.field(metadata=RULES)
    name: str = strawberry.field(metadata=RULES)
    version: int


@strawberry.type(description="An SLA target of a follow-up: when it is due and how it stands.")
class SlaClock:
    target: Target
    due: dt.datetime
    state: sla_rules.SlaState
    done_at: dt.datetime | None = strawberry.field(
        description="The first response, or the resolution."
    )
    escalated_at: dt.datetime | None
    due_soon_at: dt.datetime | None = strawberry.field(
        description="When it turns due soon (C360_FOLLOWUP_DUE_SOON_FRACTION of its window "
        "left, as set when the follow-up opened); null for one opened before this was kept."
    )
    warned_at: dt.datetime | None = strawberry.field(
        description="When its owner (or its team, while nobody owned it) was warned it was "
        "due soon: once per target."
    )


@strawberry.type(description="Something that happened to a follow-up: who did what, when.")
class FollowUpEvent:
    n: int = strawberry.field(description="1, 2, … within the follow-up.")
    type: EventType
    at: dt.datetime
    actor: str = strawberry.field(
        description="c360, or the API key that acted (`key:<id> (<name>)`).", extensions=in_text()
    )
    status: Status = strawberry.field(description="The follow-up's status after it.")
    note: str | None = strawberry.field(
        description="What the agent wrote.", extensions=[Requires(Permission.FOLLOW_UPS)]
    )
    owner: str | None = strawberry.field(extensions=in_text())
    team: str | None = strawberry.field(metadata=TEAMS)
    priority: Priority | None
    outcome: Outcome | None
    root_cause: str | None = strawberry.field(
        metadata=public("one of the configured root causes (C360_FOLLOWUP_ROOT_CAUSES)")
    )
    target: Target | None = strawberry.field(
        description="The SLA target an escalation or a due-soon warning is for."
    )
    record_ids: list[strawberry.ID] = strawberry.field(
        description="Records that joined the follow-up with this event.", extensions=in_text()
    )
    other_id: strawberry.ID | None = strawberry.field(
        description="The other follow-up of a merge, or the profile a follow-up moved to.",
        metadata=IDS,
    )

    @classmethod
    def of(cls, event: Event) -> FollowUpEvent:
        return cls(
            n=event.n,
            type=event.type,
            at=event.at,
            actor=event.actor,
            status=event.status,
            note=event.note,
            owner=event.owner,
            team=event.team,
            priority=event.priority,
            outcome=event.outcome,
            root_cause=event.root_cause,
            target=event.target,
            record_ids=[strawberry.ID(r) for r in event.records],
            other_id=None if event.other is None else strawberry.ID(event.other),
        )


@strawberry.type(
    description="A case opened by an alert rule for one customer: an owner in a team, a "
    "priority, SLA clocks, and every transition as an event."
)
class FollowUp:
    id: strawberry.ID = strawberry.field(metadata=IDS)
    profile_id: strawberry.ID = strawberry.field(metadata=IDS)
    rule: FollowUpRule
    status: Status
    priority: Priority
    team: str = strawberry.field(metadata=TEAMS)
    owner: str | None = strawberry.field(
        description="The team member (or account owner) it is assigned to.", extensions=in_text()
    )
    held_out: bool = strawberry.field(
        description="In the rule's holdout: recorded, not actioned (no owner, SLA or "
        "notification), so outcomes can be compared."
    )
    reason: str = strawberry.field(description="Why the rule fired.", metadata=MADE)
    opened_at: dt.datetime
    updated_at: dt.datetime | None
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    outcome: Outcome | None
    root_cause: str | None = strawberry.field(
        metadata=public("one of the configured root causes (C360_FOLLOWUP_ROOT_CAUSES)")
    )
    value: strawberry.Private[FollowUpValue]

    @classmethod
    def of(cls, fu: FollowUpValue) -> FollowUp:
        return cls(
            id=strawberry.ID(fu.id),
            profile_id=strawberry.ID(fu.profile_id),
            rule=FollowUpRule(id=fu.rule_id, name=fu.rule_name, version=fu.rule_version),
            status=fu.status,
            priority=fu.priority,
            team=fu.team,
            owner=fu.owner,
            held_out=fu.held_out,
            reason=fu.reason,
            opened_at=fu.opened_at,
            updated_at=fu.updated_at,
            first_response_at=fu.first_response_at,
            resolved_at=fu.resolved_at,
            outcome=fu.outcome,
            root_cause=fu.root_cause,
            value=fu,
        )

    @strawberry.field(description="Per SLA target: due time and state now.")
    def sla(self, info: Info[Context, None]) -> list[SlaClock]:
        service = info.context.services.followups.service
        return [
            SlaClock(
                target=clock.target,
                due=clock.due,
                state=state,
                done_at=clock.done_at,
                escalated_at=clock.escalated_at,
                due_soon_at=clock.due_soon_at,
                warned_at=clock.warned_at,
            )
            for clock, state in service.sla_states(self.value, info.context.now)
        ]

    @strawberry.field(description="Every transition, oldest first.")
    def events(self) -> list[FollowUpEvent]:
        return [FollowUpEvent.of(e) for e in self.value.events]

    @strawberry.field(description="The records that triggered it, newest first.")
    async def trigger(self, info: Info[Context, None]) -> list[TimelineItem]:
        service = info.context.services.followups.service
        loader = info.context.loader("followups.trigger_records", service.trigger_records)
        ordered = sorted(self.value.triggers, reverse=True)
        found = await loader.load_many([(self.value.profile_id, t.record_id) for t in ordered])
        return [timeline_item(record) for record in found if record is not None]


@strawberry.type
class FollowUpEdge:
    cursor: str = strawberry.field(metadata=public("a position in a queue, made by c360"))
    node: FollowUp


@strawberry.type(description="A queue of follow-ups: most urgent first, then soonest due.")
class FollowUpConnection:
    edges: list[FollowUpEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Follow-ups the filter matches.")


@strawberry.input(description="Which follow-ups: every field given must match.")
class FollowUpFilter:
    status: list[Status] | None = strawberry.field(
        default=None, description="Default: open, acknowledged and in progress (the work)."
    )
    team: list[str] | None = None
    owner: list[str] | None = None
    unassigned: bool | None = strawberry.field(
        default=None,
        description="true: only those nobody owns (waiting in a team with no members, or "
        "left without an owner); false: only those someone owns.",
    )
    rule: list[str] | None = None
    priority: list[Priority] | None = None
    overdue: bool | None = strawberry.field(
        default=None,
        description="true: only those with an SLA target past due now; false: only those "
        "with none.",
    )
    due_soon: bool | None = strawberry.field(
        default=None,
        description="true: only those at risk — the SLA target due next is due soon now (most "
        "of its window gone) and not met nor overdue yet; false: all the others. Not with "
        "`overdue: true`.",
    )
    profile_id: strawberry.ID | None = None


FollowUpResult = Annotated[
    FollowUp | ForbiddenError | NotFoundError | ConflictError | InvalidInputError,
    strawberry.union("FollowUpResult"),
]


async def follow_ups_of(
    info: Info[Context, None], profile_id: str, status: list[Status] | None
) -> list[FollowUp]:
    """``Profile.followUps``."""
    found = await follow_ups_loader(info).load(profile_id)
    wanted = set(status) if status else None
    return [
        FollowUp.of(fu)
        for fu in found
        if (fu.status in wanted if wanted is not None else fu.status not in HIDDEN)
    ]


# --- The timeline -------------------------------------------------------------------------------


@strawberry.type(description="Something that happened to one of the customer's follow-ups.")
class FollowUpEventItem(TimelineItem):
    follow_up_id: strawberry.ID = strawberry.field(metadata=IDS)
    rule: FollowUpRule
    event: FollowUpEvent
    value: strawberry.Private[FollowUpValue]

    @strawberry.field(description="The follow-up as it stands now.")
    def follow_up(self) -> FollowUp:
        return FollowUp.of(self.value)


def _event_key(fu: FollowUpValue, event: Event) -> str:
    return timeline_key(event.at, f"followup:{fu.id}:{event.n}")


async def with_follow_up_events(
    info: Info[Context, None],
    profile_id: str,
    query: TimelineQuery,
    edges: list[TimelineEdge],
    has_next_page: bool,
) -> tuple[list[TimelineEdge], bool]:
    """A timeline page with the customer's follow-up events merged in, in the same order and
    the same cursors (for callers who read follow-ups, and unless ``kinds`` leaves them out)."""
    if not holds(info, Permission.FOLLOW_UPS):
        return edges, has_next_page
    if query.kinds and TimelineKind.FOLLOW_UP.value not in query.kinds:
        return edges, has_next_page
    upper = [query.before_key] if query.before_key is not None else []
    if query.until is not None:
        upper.append(timeline_key(query.until, "\uffff"))
    lower = None if query.since is None else timeline_key(query.since, "")
    keyed: list[tuple[str, TimelineEdge]] = [(decode_cursor(e.cursor), e) for e in edges]
    for fu in await follow_ups_loader(info).load(profile_id):
        if fu.status in HIDDEN:
            continue
        for event in fu.events:
            key = _event_key(fu, event)
            if (upper and key >= min(upper)) or (lower is not None and key < lower):
                continue
            item = FollowUpEventItem(
                id=strawberry.ID(f"followup:{fu.id}:{event.n}"),
                kind=TimelineKind.FOLLOW_UP,
                source="c360",
                external_id=f"{fu.id}:{event.n}",
                occurred_at=event.at,
                revision=event.at,
                identifiers=[],
                profile_id=fu.profile_id,
                follow_up_id=strawberry.ID(fu.id),
                rule=FollowUpRule(id=fu.rule_id, name=fu.rule_name, version=fu.rule_version),
                event=FollowUpEvent.of(event),
                value=fu,
            )
            cursor = position_cursor(key)
            keyed.append((key, TimelineEdge(cursor=cursor, node=item)))
    first = query.limit - 1
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [edge for _, edge in keyed[:first]], has_next_page or len(keyed) > first


# --- Feedback (closing the loop) ----------------------------------------------------------------


@strawberry.type(description="How and when a piece of feedback was answered.")
class FeedbackAcknowledgement:
    at: dt.datetime
    channel: ContactChannel | None = strawberry.field(
        description="Where the customer was answered; null when acknowledged without contact."
    )
    without_contact: str | None = strawberry.field(
        description="Acknowledged without contact: why no channel could be used (the contact "
        "policy allowed none for purpose service, each refused channel with its reason code).",
        metadata=MADE,
    )
    by: str = strawberry.field(
        description="The API key that acknowledged it.", extensions=in_text()
    )
    note: str | None = strawberry.field(extensions=[Requires(Permission.FOLLOW_UPS)])
    contact_record_id: strawberry.ID | None = strawberry.field(
        description="The outbound contact logged with it.", extensions=in_text()
    )


@strawberry.type(description="A survey response or complaint that needs an answer to the customer.")
class Feedback:
    why: str = strawberry.field(description="Why it needs an answer.", metadata=MADE)
    acknowledgement: FeedbackAcknowledgement | None
    value: strawberry.Private[FeedbackValue]

    @classmethod
    def of(cls, feedback: FeedbackValue) -> Feedback:
        ack = feedback.acknowledgement
        return cls(
            why=feedback.why,
            acknowledgement=None
            if ack is None
            else FeedbackAcknowledgement(
                at=ack.at,
                channel=None if ack.channel is None else ContactChannel(ack.channel),
                without_contact=ack.without_contact,
                by=ack.actor,
                note=ack.note,
                contact_record_id=None
                if ack.contact_record_id is None
                else strawberry.ID(ack.contact_record_id),
            ),
            value=feedback,
        )

    @strawberry.field(description="The survey response or the complaint.")
    def record(self) -> TimelineItem:
        return timeline_item(self.value.record)

    @strawberry.field(
        description="Where to answer: the contact policy's best channel for purpose service "
        "now (what the customer asked for, or used to reach us). Null: none is allowed, "
        "not even later — acknowledge it without contact instead."
    )
    async def channel_offered(self, info: Info[Context, None]) -> ChannelChoice | None:
        facts = await info.context.contact_facts.load(self.value.profile_id)
        policy = info.context.services.contact.policy
        ranked = best_channels(facts, PURPOSE, info.context.now, policy)
        return ChannelChoice.of(ranked[0]) if ranked else None


async def feedback_of(
    info: Info[Context, None], profile_id: str, acknowledged: bool | None
) -> list[Feedback]:
    """``Profile.feedback``."""
    feedback = info.context.services.followups.feedback
    loader = info.context.loader("followups.feedback_of_profiles", feedback.of_profiles)
    found = await loader.load(profile_id)
    return [
        Feedback.of(f)
        for f in found
        if acknowledged is None or (f.acknowledgement is not None) == acknowledged
    ]


FeedbackResult = Annotated[
    Feedback | ForbiddenError | NotFoundError | ConflictError | InvalidInputError,
    strawberry.union("FeedbackResult"),
]
