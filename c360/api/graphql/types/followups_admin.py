"""GraphQL types of what admins manage: alert rules (read, applied, previewed), teams and the
notification outbox."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from c360.api.graphql.access import in_text, public
from c360.api.graphql.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from c360.api.graphql.types.followups import ADMINS, IDS, MADE, RULES, TEAMS
from c360.api.graphql.values import PageInfo
from c360.followups.backtest import Preview
from c360.followups.rulebook import validated
from c360.followups.rules import ConditionKind, Priority, Rule
from c360.followups.teams import Team as TeamValue
from c360.notifications.repository import Attempt, DeliveryStatus
from c360.notifications.repository import Notification as NotificationValue
from c360.profiles.lifecycle import ValueTier
from schemas.records import SurveyType

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
    id: str = strawberry.field(metadata=RULES)
    name: str = strawberry.field(metadata=RULES)
    version: int
    enabled: bool
    match: str = strawberry.field(
        description="all: every condition; any: one is enough.", metadata=public("all or any")
    )
    conditions: list[AlertCondition]
    priority: Priority
    raise_priority_for_tiers: list[ValueTier]
    team: str = strawberry.field(metadata=TEAMS)
    sla: SlaTargets
    dedupe: bool
    holdout: float
    max_trigger_age_days: int | None = strawberry.field(
        description="Records older than this many days open no follow-up (null: "
        "C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS applies)."
    )
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
            max_trigger_age_days=d.max_trigger_age_days,
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
    max_trigger_age_days: int | None = strawberry.field(
        default=None,
        description="Records older than this many days open no follow-up (null: "
        "C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS).",
    )

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
                "max_trigger_age_days": self.max_trigger_age_days,
            }
        )


AlertRuleResult = Annotated[
    AlertRule | ForbiddenError | NotFoundError | ConflictError | InvalidInputError,
    strawberry.union("AlertRuleResult"),
]


@strawberry.type(description="Follow-ups a previewed rule would have opened in one week.")
class PreviewBucket:
    team: str = strawberry.field(metadata=TEAMS)
    week_start: dt.date = strawberry.field(description="The Monday of the ISO week (UTC).")
    count: int


@strawberry.type(description="A customer the previewed rule would have opened a follow-up for.")
class PreviewSample:
    profile_id: strawberry.ID = strawberry.field(metadata=IDS)
    at: dt.datetime
    reason: str = strawberry.field(metadata=MADE)
    held_out: bool
    too_old: bool = strawberry.field(
        description="Its records are older than the rule's max trigger age: evaluated now (an "
        "import of them), they open nothing."
    )


@strawberry.type(
    description="What a rule would have done over stored history (nothing was written). "
    "Metrics-based conditions (churn risk, lifecycle stage, value tier) use today's metrics."
)
class AlertRulePreview:
    would_open: int = strawberry.field(description="Follow-ups, held-out ones included.")
    held_out: int
    too_old: int = strawberry.field(
        description="Of wouldOpen, those whose records are older than the rule's max trigger "
        "age: evaluated now (an import of this history), they would not open."
    )
    customers: int = strawberry.field(description="Distinct customers with at least one.")
    evaluated: int = strawberry.field(description="Customers whose records the rule read.")
    by_week: list[PreviewBucket]
    sample: list[PreviewSample]

    @classmethod
    def of(cls, preview: Preview) -> AlertRulePreview:
        return cls(
            would_open=preview.would_open,
            held_out=preview.held_out,
            too_old=preview.too_old,
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
                    too_old=s.too_old,
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
    id: str = strawberry.field(metadata=TEAMS)
    members: list[str] = strawberry.field(extensions=in_text())
    escalation_team: str | None = strawberry.field(metadata=TEAMS)
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
    error: str | None = strawberry.field(metadata=ADMINS)
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
        description="Also the Idempotency-Key the receiver sees.", metadata=ADMINS
    )
    follow_up_id: strawberry.ID = strawberry.field(metadata=ADMINS)
    type: str = strawberry.field(metadata=ADMINS)
    team: str = strawberry.field(metadata=ADMINS)
    url: str = strawberry.field(metadata=ADMINS)
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
    cursor: str = strawberry.field(metadata=ADMINS)
    node: Notification


@strawberry.type(description="Outbox entries, newest first.")
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
