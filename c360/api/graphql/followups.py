"""GraphQL for the voice of the customer: follow-ups and their queues, the agents' actions,
feedback and its acknowledgement, alert rules (read, applied, previewed), teams, and the
notification outbox.

Agents and admins read and work follow-ups (``followUps``); admins manage rules, teams and the
outbox (``manageAlerts``). Marketing and connector keys reach none of it: every field that
leads here requires ``followUps``, and the timeline shows follow-up events only to those who
hold it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from c360.api.graphql.access import Requires, holds, in_text, public
from c360.api.graphql.context import Context
from c360.api.graphql.identity import ConflictError, actor, as_error
from c360.api.graphql.types import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PageInfo,
    Profile,
    TimelineEdge,
    TimelineItem,
    TimelineKind,
    timeline_item,
)
from c360.auth.service import Permission
from c360.errors import C360Error, InvalidInput
from c360.followups import sla as sla_rules
from c360.followups.backtest import Preview
from c360.followups.feedback import PURPOSE
from c360.followups.feedback import Feedback as FeedbackValue
from c360.followups.model import HIDDEN, Event, EventType, Outcome, Status, Target
from c360.followups.model import FollowUp as FollowUpValue
from c360.followups.repository import QueueFilter, queue_key
from c360.followups.rulebook import validated
from c360.followups.rules import ConditionKind, Priority, Rule
from c360.followups.states import Action
from c360.followups.teams import Team as TeamValue
from c360.notifications.repository import Attempt, DeliveryStatus
from c360.notifications.repository import Notification as NotificationValue
from c360.profiles.lifecycle import ValueTier
from c360.profiles.service import decode_cursor, encode_cursor
from c360.records.repository import TimelineQuery, timeline_key
from schemas.records import ContactChannel, SurveyType

if TYPE_CHECKING:
    from c360.api.graphql.contact import ChannelChoice

FollowUpStatus = strawberry.enum(Status, name="FollowUpStatus")
strawberry.enum(Priority, name="FollowUpPriority")
strawberry.enum(EventType, name="FollowUpEventType")
strawberry.enum(Outcome, name="FollowUpOutcome")
strawberry.enum(Target, name="SlaTarget")
strawberry.enum(sla_rules.SlaState, name="SlaState")
strawberry.enum(ConditionKind, name="AlertConditionKind")
strawberry.enum(DeliveryStatus, name="NotificationStatus")

_IDS = public("ids made by c360")
_RULES = public("alert rules are written by admins (manageAlerts), read by agents")
_TEAMS = public("a team id from the settings or an admin (lower-case letters, digits, -_.)")
_ADMINS = public("the outbox, reached only through notifications (manageAlerts: admins)")
_MADE = public("a sentence made by c360 from scores, counts and dates")
K = TypeVar("K")
V = TypeVar("V")


def _loader(
    info: Info[Context, None], name: str, load: Callable[[list[K]], Awaitable[Sequence[V]]]
) -> DataLoader[K, V]:
    """A per-request DataLoader of this domain, made on first use."""
    loaders = info.context.loaders
    if name not in loaders:
        loaders[name] = DataLoader(load_fn=load)
    return loaders[name]


def _follow_ups_loader(info: Info[Context, None]) -> DataLoader[str, list[FollowUpValue]]:
    return _loader(
        info, "followups.of_profile", info.context.services.followups.service.of_profiles
    )


# --- Follow-ups ---------------------------------------------------------------------------------


@strawberry.type(description="The alert rule (and its version) that opened a follow-up.")
class FollowUpRule:
    id: str = strawberry.field(metadata=_RULES)
    name: str = strawberry.field(metadata=_RULES)
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
    team: str | None = strawberry.field(metadata=_TEAMS)
    priority: Priority | None
    outcome: Outcome | None
    root_cause: str | None = strawberry.field(
        metadata=public("one of the configured root causes (C360_FOLLOWUP_ROOT_CAUSES)")
    )
    target: Target | None = strawberry.field(description="The SLA target an escalation is for.")
    record_ids: list[strawberry.ID] = strawberry.field(
        description="Records that joined the follow-up with this event.", extensions=in_text()
    )
    other_id: strawberry.ID | None = strawberry.field(
        description="The other follow-up of a merge, or the profile a follow-up moved to.",
        metadata=_IDS,
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
    id: strawberry.ID = strawberry.field(metadata=_IDS)
    profile_id: strawberry.ID = strawberry.field(metadata=_IDS)
    rule: FollowUpRule
    status: Status
    priority: Priority
    team: str = strawberry.field(metadata=_TEAMS)
    owner: str | None = strawberry.field(
        description="The team member (or account owner) it is assigned to.", extensions=in_text()
    )
    held_out: bool = strawberry.field(
        description="In the rule's holdout: recorded, not actioned (no owner, SLA or "
        "notification), so outcomes can be compared."
    )
    reason: str = strawberry.field(description="Why the rule fired.", metadata=_MADE)
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
            )
            for clock, state in service.sla_states(self.value, info.context.now)
        ]

    @strawberry.field(description="Every transition, oldest first.")
    def events(self) -> list[FollowUpEvent]:
        return [FollowUpEvent.of(e) for e in self.value.events]

    @strawberry.field(description="The records that triggered it, newest first.")
    async def trigger(self, info: Info[Context, None]) -> list[TimelineItem]:
        service = info.context.services.followups.service
        found = await service.trigger_records([self.value])
        ordered = sorted(self.value.triggers, reverse=True)
        return [timeline_item(found[t.record_id]) for t in ordered if t.record_id in found]

    @strawberry.field(description="The customer.")
    async def profile(self, info: Info[Context, None]) -> Profile | None:
        doc = await info.context.profiles.load(self.value.profile_id)
        return None if doc is None else Profile.from_doc(doc)


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
    rule: list[str] | None = None
    priority: list[Priority] | None = None
    overdue: bool | None = strawberry.field(
        default=None, description="true: only those with an SLA target past due now."
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
    found = await _follow_ups_loader(info).load(profile_id)
    wanted = set(status) if status else None
    return [
        FollowUp.of(fu)
        for fu in found
        if (fu.status in wanted if wanted is not None else fu.status not in HIDDEN)
    ]


# --- The timeline -------------------------------------------------------------------------------


@strawberry.type(description="Something that happened to one of the customer's follow-ups.")
class FollowUpEventItem(TimelineItem):
    follow_up_id: strawberry.ID = strawberry.field(metadata=_IDS)
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
    for fu in await _follow_ups_loader(info).load(profile_id):
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
            cursor = encode_cursor({"timeline_key": key})
            keyed.append((key, TimelineEdge(cursor=cursor, node=item)))
    first = query.limit - 1
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [edge for _, edge in keyed[:first]], has_next_page or len(keyed) > first


# --- Feedback (closing the loop) ----------------------------------------------------------------


@strawberry.type(description="How and when a piece of feedback was answered.")
class FeedbackAcknowledgement:
    at: dt.datetime
    channel: ContactChannel
    by: str = strawberry.field(
        description="The API key that acknowledged it.", extensions=in_text()
    )
    note: str | None = strawberry.field(extensions=[Requires(Permission.FOLLOW_UPS)])
    contact_record_id: strawberry.ID | None = strawberry.field(
        description="The outbound contact logged with it.", extensions=in_text()
    )


@strawberry.type(description="A survey response or complaint that needs an answer to the customer.")
class Feedback:
    why: str = strawberry.field(description="Why it needs an answer.", metadata=_MADE)
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
                channel=ContactChannel(ack.channel),
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
        "now (what the customer asked for, or used to reach us). Null: none is allowed."
    )
    async def channel_offered(
        self, info: Info[Context, None]
    ) -> Annotated[ChannelChoice, strawberry.lazy("c360.api.graphql.contact")] | None:
        from c360.api.graphql.contact import ChannelChoice
        from c360.contact.policy import best_channels

        facts = await info.context.contact_facts.load(self.value.record["profile_id"])
        policy = info.context.services.contact.policy
        ranked = best_channels(facts, PURPOSE, info.context.now, policy)
        return ChannelChoice.of(ranked[0]) if ranked else None


async def feedback_of(
    info: Info[Context, None], profile_id: str, acknowledged: bool | None
) -> list[Feedback]:
    """``Profile.feedback``."""
    loader = _loader(
        info, "followups.feedback", info.context.services.followups.feedback.of_profiles
    )
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


# --- Alert rules --------------------------------------------------------------------------------


@strawberry.type(description="One condition of an alert rule; the fields its kind takes.")
class AlertCondition:
    kind: ConditionKind
    survey_type: SurveyType | None = None
    score: int | None = strawberry.field(default=None, description="A survey score (at most).")
    churn_risk: float | None = strawberry.field(default=None, description="At least (0..1).")
    points: int | None = None
    count: int | None = None
    days: int | None = None
    tiers: list[ValueTier] | None = None


@strawberry.type(description="SLA targets in hours from opening (null: not tracked).")
class SlaTargets:
    first_response_hours: float | None
    resolution_hours: float | None


@strawberry.type(description="An alert rule, as data: conditions from a fixed vocabulary.")
class AlertRule:
    id: str = strawberry.field(metadata=_RULES)
    name: str = strawberry.field(metadata=_RULES)
    version: int
    enabled: bool
    match: str = strawberry.field(
        description="all: every condition; any: one is enough.", metadata=public("all or any")
    )
    conditions: list[AlertCondition]
    priority: Priority
    raise_priority_for_tiers: list[ValueTier]
    team: str = strawberry.field(metadata=_TEAMS)
    sla: SlaTargets
    dedupe: bool
    holdout: float
    updated_at: dt.datetime | None
    updated_by: str | None = strawberry.field(extensions=in_text())

    @classmethod
    def of(cls, rule: Rule) -> AlertRule:
        d = rule.definition
        return cls(
            id=d.id,
            name=d.name,
            version=rule.version,
            enabled=d.enabled,
            match=d.match,
            conditions=[_condition(c) for c in d.conditions],
            priority=d.priority,
            raise_priority_for_tiers=list(d.raise_priority_for_tiers),
            team=d.team,
            sla=SlaTargets(
                first_response_hours=d.sla.first_response_hours,
                resolution_hours=d.sla.resolution_hours,
            ),
            dedupe=d.dedupe,
            holdout=d.holdout,
            updated_at=rule.updated_at,
            updated_by=rule.updated_by,
        )


def _condition(condition: Any) -> AlertCondition:
    data = condition.model_dump()
    churn = condition.kind is ConditionKind.CHURN_RISK_AT_LEAST
    tiers = data.get("tiers")
    return AlertCondition(
        kind=condition.kind,
        survey_type=data.get("survey_type"),
        score=None if churn else data.get("score"),
        churn_risk=data.get("score") if churn else None,
        points=data.get("points"),
        count=data.get("count"),
        days=data.get("days"),
        tiers=None if tiers is None else list(tiers),
    )


@strawberry.input(description="A condition: its kind and the fields that kind takes.")
class AlertConditionInput:
    kind: ConditionKind
    survey_type: SurveyType | None = None
    score: int | None = strawberry.field(
        default=None, description="survey_score_at_most: the score at or below which."
    )
    churn_risk: float | None = strawberry.field(
        default=None, description="churn_risk_at_least: 0 (excluded) to 1."
    )
    points: int | None = strawberry.field(default=None, description="survey_score_drop.")
    count: int | None = strawberry.field(default=None, description="cases_ or returns_in_days.")
    days: int | None = None
    tiers: list[ValueTier] | None = strawberry.field(default=None, description="value_tier_in.")


@strawberry.input(description="An alert rule to apply or preview (validated as a rule file is).")
class AlertRuleInput:
    id: str
    name: str
    team: str
    conditions: list[AlertConditionInput]
    enabled: bool = True
    match: str = "all"
    priority: Priority = Priority.NORMAL
    raise_priority_for_tiers: list[ValueTier] = strawberry.field(default_factory=list)
    first_response_hours: float | None = None
    resolution_hours: float | None = None
    dedupe: bool = True
    holdout: float = 0.0

    def definition(self) -> Any:
        conditions = []
        for c in self.conditions:
            data: dict[str, Any] = {"kind": c.kind.value}
            for name in ("survey_type", "points", "count", "days"):
                value = getattr(c, name)
                if value is not None:
                    data[name] = value.value if isinstance(value, SurveyType) else value
            if c.score is not None:
                data["score"] = c.score
            if c.churn_risk is not None:
                data["score"] = c.churn_risk
            if c.tiers is not None:
                data["tiers"] = [t.value for t in c.tiers]
            conditions.append(data)
        sla: dict[str, float] = {}
        if self.first_response_hours is not None:
            sla["first_response_hours"] = self.first_response_hours
        if self.resolution_hours is not None:
            sla["resolution_hours"] = self.resolution_hours
        return validated(
            {
                "id": self.id,
                "name": self.name,
                "enabled": self.enabled,
                "match": self.match,
                "conditions": conditions,
                "priority": self.priority.value,
                "raise_priority_for_tiers": [t.value for t in self.raise_priority_for_tiers],
                "team": self.team,
                "sla": sla,
                "dedupe": self.dedupe,
                "holdout": self.holdout,
            }
        )


AlertRuleResult = Annotated[
    AlertRule | ForbiddenError | NotFoundError | ConflictError | InvalidInputError,
    strawberry.union("AlertRuleResult"),
]


@strawberry.type(description="Follow-ups a previewed rule would have opened in one week.")
class PreviewBucket:
    team: str = strawberry.field(metadata=_TEAMS)
    week_start: dt.date = strawberry.field(description="The Monday of the ISO week (UTC).")
    count: int


@strawberry.type(description="A customer the previewed rule would have opened a follow-up for.")
class PreviewSample:
    profile_id: strawberry.ID = strawberry.field(metadata=_IDS)
    at: dt.datetime
    reason: str = strawberry.field(metadata=_MADE)
    held_out: bool


@strawberry.type(
    description="What a rule would have done over stored history (nothing was written). "
    "Metrics-based conditions (churn risk, lifecycle stage, value tier) use today's metrics."
)
class AlertRulePreview:
    would_open: int = strawberry.field(description="Follow-ups, held-out ones included.")
    held_out: int
    customers: int = strawberry.field(description="Distinct customers with at least one.")
    evaluated: int = strawberry.field(description="Customers whose records the rule read.")
    by_week: list[PreviewBucket]
    sample: list[PreviewSample]

    @classmethod
    def of(cls, preview: Preview) -> AlertRulePreview:
        return cls(
            would_open=preview.would_open,
            held_out=preview.held_out,
            customers=preview.customers,
            evaluated=preview.evaluated,
            by_week=[
                PreviewBucket(team=b.team, week_start=b.week, count=b.count)
                for b in preview.buckets
            ],
            sample=[
                PreviewSample(
                    profile_id=strawberry.ID(s.profile_id),
                    at=s.at,
                    reason=s.reason,
                    held_out=s.held_out,
                )
                for s in preview.sample
            ],
        )


PreviewResult = Annotated[
    AlertRulePreview | ForbiddenError | NotFoundError | ConflictError | InvalidInputError,
    strawberry.union("AlertRulePreviewResult"),
]


# --- Teams and the outbox -----------------------------------------------------------------------


@strawberry.type(description="A team follow-ups are assigned to.")
class Team:
    id: str = strawberry.field(metadata=_TEAMS)
    members: list[str] = strawberry.field(extensions=in_text())
    escalation_team: str | None = strawberry.field(metadata=_TEAMS)
    notifies: bool = strawberry.field(description="A webhook is configured for it.")
    changed_by: str | None = strawberry.field(
        description="The admin whose change is in force (null: the settings).",
        extensions=in_text(),
    )
    changed_at: dt.datetime | None

    @classmethod
    def of(cls, team: TeamValue) -> Team:
        return cls(
            id=team.id,
            members=list(team.members),
            escalation_team=team.escalation_team,
            notifies=team.webhook_url is not None,
            changed_by=team.changed_by,
            changed_at=team.changed_at,
        )


TeamResult = Annotated[
    Team | ForbiddenError | NotFoundError | ConflictError | InvalidInputError,
    strawberry.union("TeamResult"),
]


@strawberry.type(description="One delivery attempt of a notification.")
class DeliveryAttempt:
    at: dt.datetime
    status_code: int | None = strawberry.field(description="Null: no answer (refused, timeout).")
    error: str | None = strawberry.field(metadata=_ADMINS)
    seconds: float

    @classmethod
    def of(cls, attempt: Attempt) -> DeliveryAttempt:
        return cls(
            at=attempt.at,
            status_code=attempt.status_code,
            error=attempt.error,
            seconds=attempt.seconds,
        )


@strawberry.type(description="A signed webhook notification in the outbox, with its deliveries.")
class Notification:
    id: strawberry.ID = strawberry.field(
        description="Also the Idempotency-Key the receiver sees.", metadata=_ADMINS
    )
    follow_up_id: strawberry.ID = strawberry.field(metadata=_ADMINS)
    type: str = strawberry.field(metadata=_ADMINS)
    team: str = strawberry.field(metadata=_ADMINS)
    url: str = strawberry.field(metadata=_ADMINS)
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    log: list[DeliveryAttempt]

    @classmethod
    def of(cls, n: NotificationValue) -> Notification:
        return cls(
            id=strawberry.ID(n.id),
            follow_up_id=strawberry.ID(n.follow_up_id),
            type=n.type,
            team=n.team,
            url=n.url,
            status=n.status,
            attempts=n.attempts,
            next_attempt_at=n.next_at if n.status is DeliveryStatus.PENDING else None,
            created_at=n.created_at,
            delivered_at=n.delivered_at,
            log=[DeliveryAttempt.of(a) for a in n.log],
        )


@strawberry.type
class NotificationEdge:
    cursor: str = strawberry.field(metadata=_ADMINS)
    node: Notification


@strawberry.type(description="Outbox entries, newest first.")
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo


# --- Operations ---------------------------------------------------------------------------------


def _queue(filter: FollowUpFilter | None, now: dt.datetime) -> QueueFilter:
    f = filter or FollowUpFilter()
    return QueueFilter(
        statuses=tuple(f.status)
        if f.status
        else (Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS),
        teams=tuple(f.team or ()),
        owners=tuple(f.owner or ()),
        rules=tuple(f.rule or ()),
        priorities=tuple(f.priority or ()),
        overdue_at=now if f.overdue else None,
        profile_id=None if f.profile_id is None else str(f.profile_id),
    )


@strawberry.type
class FollowUpQuery:
    @strawberry.field(
        description="A queue of follow-ups (agents, admins): by default the work — open, "
        "acknowledged and in progress — most urgent first, then soonest due. `overdue: true` "
        "keeps those with an SLA target past due.",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def follow_ups(
        self,
        info: Info[Context, None],
        filter: FollowUpFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> FollowUpConnection | None:
        service = info.context.services.followups.service
        queue = _queue(filter, info.context.now)
        items, more = await service.queue(queue, first, after)
        edges = [FollowUpEdge(cursor=queue_key(fu), node=FollowUp.of(fu)) for fu in items]
        return FollowUpConnection(
            edges=edges,
            page_info=PageInfo.after(edges, more),
            total_count=await service.count(queue),
        )

    @strawberry.field(
        description="One follow-up by id.",
        extensions=[Requires(Permission.FOLLOW_UPS, refusal=ForbiddenError)],
    )
    async def follow_up(self, info: Info[Context, None], id: strawberry.ID) -> FollowUpResult:
        try:
            return FollowUp.of(await info.context.services.followups.service.get(str(id)))
        except C360Error as exc:
            return as_error(exc)

    @strawberry.field(
        description="Every alert rule, with its current version.",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def alert_rules(self, info: Info[Context, None]) -> list[AlertRule] | None:
        return [AlertRule.of(r) for r in await info.context.services.followups.rules.all()]

    @strawberry.field(
        description="Every version of one alert rule, oldest first.",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def alert_rule_versions(
        self, info: Info[Context, None], id: str
    ) -> list[AlertRule] | None:
        try:
            versions = await info.context.services.followups.rules.versions(id)
        except C360Error:
            return []
        return [AlertRule.of(r) for r in versions]

    @strawberry.field(
        description="Backtest (admin): what a rule, new or changed, would have opened over "
        "the records of [from, to) — how many follow-ups, by team and week, and a sample of "
        "customers. Writes nothing.",
        extensions=[Requires(Permission.MANAGE_ALERTS, refusal=ForbiddenError)],
    )
    async def alert_rule_preview(
        self,
        info: Info[Context, None],
        rule: AlertRuleInput,
        from_: Annotated[dt.datetime, strawberry.argument(name="from")],
        to: dt.datetime,
    ) -> PreviewResult:
        try:
            definition = rule.definition()
            service = info.context.services.followups.service
            preview = await service.preview(definition, from_, to, info.context.now)
        except C360Error as exc:
            return as_error(exc)
        return AlertRulePreview.of(preview)

    @strawberry.field(
        description="Teams follow-ups go to.", extensions=[Requires(Permission.FOLLOW_UPS)]
    )
    async def teams(self, info: Info[Context, None]) -> list[Team] | None:
        teams = await info.context.services.followups.teams.all()
        return [Team.of(t) for _, t in sorted(teams.items())]

    @strawberry.field(
        description="The notification outbox (admin), newest first: every signed webhook "
        "notification, its attempts, and the dead ones to retry.",
        extensions=[Requires(Permission.MANAGE_ALERTS)],
    )
    async def notifications(
        self,
        info: Info[Context, None],
        status: DeliveryStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> NotificationConnection | None:
        if not 0 < first <= 500:
            raise InvalidInput(f"first must be between 1 and 500, not {first}")
        items, more = await info.context.services.followups.outbox.page(status, first, after)
        edges = [NotificationEdge(cursor=key, node=Notification.of(n)) for key, n in items]
        return NotificationConnection(edges=edges, page_info=PageInfo.after(edges, more))


async def _act(
    info: Info[Context, None], id: strawberry.ID, action: Action, **more: Any
) -> FollowUpResult:
    service = info.context.services.followups.service
    try:
        fu = await service.act(str(id), action, actor(info), dt.datetime.now(dt.UTC), **more)
    except C360Error as exc:
        return as_error(exc)
    return FollowUp.of(fu)


_WORK: list[FieldExtension] = [Requires(Permission.FOLLOW_UPS, refusal=ForbiddenError)]
_MANAGE: list[FieldExtension] = [Requires(Permission.MANAGE_ALERTS, refusal=ForbiddenError)]


@strawberry.type
class FollowUpMutation:
    @strawberry.mutation(description="Seen by the team: open → acknowledged.", extensions=_WORK)
    async def acknowledge_follow_up(
        self, info: Info[Context, None], id: strawberry.ID, note: str | None = None
    ) -> FollowUpResult:
        return await _act(info, id, Action.ACKNOWLEDGE, note=note)

    @strawberry.mutation(
        description="Being worked: open or acknowledged → in progress.", extensions=_WORK
    )
    async def start_follow_up(
        self, info: Info[Context, None], id: strawberry.ID, note: str | None = None
    ) -> FollowUpResult:
        return await _act(info, id, Action.START, note=note)

    @strawberry.mutation(
        description="Assign to a member of its team, or move it to another team (to one of "
        "that team's members, chosen as for new follow-ups, unless `owner` says whom).",
        extensions=_WORK,
    )
    async def assign_follow_up(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        owner: str | None = None,
        team: str | None = None,
        note: str | None = None,
    ) -> FollowUpResult:
        return await _act(info, id, Action.ASSIGN, owner=owner, team=team, note=note)

    @strawberry.mutation(
        description="Done: an outcome and a root cause from the configured list are required "
        "(NO_ACTION_NEEDED closes it as closed_no_action).",
        extensions=_WORK,
    )
    async def resolve_follow_up(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        outcome: Outcome,
        root_cause: str,
        note: str | None = None,
    ) -> FollowUpResult:
        return await _act(
            info, id, Action.RESOLVE, outcome=outcome, root_cause=root_cause, note=note
        )

    @strawberry.mutation(description="Open again a resolved or closed follow-up.", extensions=_WORK)
    async def reopen_follow_up(
        self, info: Info[Context, None], id: strawberry.ID, note: str | None = None
    ) -> FollowUpResult:
        return await _act(info, id, Action.REOPEN, note=note)

    @strawberry.mutation(
        description="Record that a piece of feedback was answered, on the channel the contact "
        "policy ranks first for purpose service (`channel`, when given, must be that one): "
        "the answer is logged as an outbound contact. Once per feedback.",
        extensions=_WORK,
    )
    async def acknowledge_feedback(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID,
        record_id: strawberry.ID,
        channel: ContactChannel | None = None,
        note: str | None = None,
    ) -> FeedbackResult:
        feedback = info.context.services.followups.feedback
        try:
            done = await feedback.acknowledge(
                str(profile_id),
                str(record_id),
                None if channel is None else channel.value,
                note,
                actor(info),
                dt.datetime.now(dt.UTC),
            )
        except C360Error as exc:
            return as_error(exc)
        return Feedback.of(done)

    @strawberry.mutation(
        description="Create or change an alert rule (admin): validated, stored as its next "
        "version (the same definition again changes nothing).",
        extensions=_MANAGE,
    )
    async def apply_alert_rule(
        self, info: Info[Context, None], rule: AlertRuleInput
    ) -> AlertRuleResult:
        rules = info.context.services.followups.rules
        try:
            [applied] = await rules.apply([rule.definition()], actor(info), dt.datetime.now(dt.UTC))
        except C360Error as exc:
            return as_error(exc)
        return AlertRule.of(applied.rule)

    @strawberry.mutation(
        description="Switch an alert rule on or off (admin): a new version.", extensions=_MANAGE
    )
    async def set_alert_rule_enabled(
        self, info: Info[Context, None], id: str, enabled: bool
    ) -> AlertRuleResult:
        rules = info.context.services.followups.rules
        try:
            rule = await rules.set_enabled(id, enabled, actor(info), dt.datetime.now(dt.UTC))
        except C360Error as exc:
            return as_error(exc)
        return AlertRule.of(rule)

    @strawberry.mutation(
        description="Set a team's members and escalation team (admin); this takes precedence "
        "over the settings. Webhooks are set in the settings only.",
        extensions=_MANAGE,
    )
    async def set_team(
        self,
        info: Info[Context, None],
        id: str,
        members: list[str],
        escalation_team: str | None = None,
    ) -> TeamResult:
        teams = info.context.services.followups.teams
        try:
            team = await teams.set(
                id, members, escalation_team, actor(info), dt.datetime.now(dt.UTC)
            )
        except C360Error as exc:
            return as_error(exc)
        return Team.of(team)

    @strawberry.mutation(
        description="Send dead notifications again (admin): these, or every dead one. Returns "
        "how many were queued.",
        extensions=[Requires(Permission.MANAGE_ALERTS)],
    )
    async def retry_notifications(
        self, info: Info[Context, None], ids: list[strawberry.ID] | None = None
    ) -> int | None:
        outbox = info.context.services.followups.outbox
        wanted = None if ids is None else [str(i) for i in ids]
        return await outbox.retry(wanted, dt.datetime.now(dt.UTC))


FOLLOW_UP_TYPES = (FollowUpEventItem,)
