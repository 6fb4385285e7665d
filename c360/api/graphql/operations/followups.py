"""Queries and mutations of follow-ups: the queues, the agents' actions, acknowledging
feedback, and admins' rules, teams and outbox."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from c360.api.graphql.access import Requires
from c360.api.graphql.context import Context
from c360.api.graphql.types.followups import (
    Feedback,
    FeedbackResult,
    FollowUp,
    FollowUpConnection,
    FollowUpEdge,
    FollowUpEventItem,
    FollowUpFilter,
    FollowUpResult,
)
from c360.api.graphql.types.followups_admin import (
    AlertRule,
    AlertRuleInput,
    AlertRulePreview,
    AlertRuleResult,
    Notification,
    NotificationConnection,
    NotificationEdge,
    PreviewResult,
    Team,
    TeamResult,
)
from c360.api.graphql.values import PageInfo
from c360.auth.service import Permission
from c360.errors import Conflict, InvalidInput
from c360.followups.documents import queue_key
from c360.followups.model import Outcome, Status
from c360.followups.repository import QueueFilter
from c360.followups.rulebook import RuleNotFound
from c360.followups.states import Action
from c360.notifications.repository import DeliveryStatus
from schemas.records import ContactChannel

# --- Operations ---------------------------------------------------------------------------------


def _queue(filter: FollowUpFilter | None, now: dt.datetime) -> QueueFilter:
    f = filter or FollowUpFilter()
    if f.unassigned and f.owner:
        raise InvalidInput("unassigned: true and owner ask for none: give one of them")
    if f.due_soon and f.overdue:
        raise InvalidInput(
            "dueSoon: true and overdue: true ask for none (a target due soon is not overdue "
            "yet): give one of them"
        )
    return QueueFilter(
        statuses=tuple(f.status)
        if f.status
        else (Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS),
        teams=tuple(f.team or ()),
        owners=tuple(f.owner or ()),
        owned=None if f.unassigned is None else not f.unassigned,
        rules=tuple(f.rule or ()),
        priorities=tuple(f.priority or ()),
        overdue_at=now if f.overdue else None,
        due_soon_at=now if f.due_soon else None,
        not_overdue_at=now if f.overdue is False else None,
        not_due_soon_at=now if f.due_soon is False else None,
        profile_id=None if f.profile_id is None else str(f.profile_id),
    )


@strawberry.type
class FollowUpQuery:
    @strawberry.field(
        description="A queue of follow-ups (agents, admins): by default the work — open, "
        "acknowledged and in progress — most urgent first, then soonest due. `overdue: true` "
        "keeps those with an SLA target past due, `dueSoon: true` those at risk of it.",
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
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def follow_up(self, info: Info[Context, None], id: strawberry.ID) -> FollowUpResult:
        return FollowUp.of(await info.context.services.followups.service.get(str(id)))

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
        except RuleNotFound:  # an unknown rule has no versions
            return []
        return [AlertRule.of(r) for r in versions]

    @strawberry.field(
        description="Backtest (admin): what a rule, new or changed, would have opened over "
        "the records of [from, to) — how many follow-ups, by team and week, and a sample of "
        "customers. Writes nothing.",
        extensions=[Requires(Permission.MANAGE_ALERTS)],
    )
    async def alert_rule_preview(
        self,
        info: Info[Context, None],
        rule: AlertRuleInput,
        from_: Annotated[dt.datetime, strawberry.argument(name="from")],
        to: dt.datetime,
    ) -> PreviewResult:
        definition = rule.definition()
        service = info.context.services.followups.service
        preview = await service.preview(definition, from_, to, info.context.now)
        return AlertRulePreview.of(preview)

    @strawberry.field(
        description="Teams follow-ups go to: those configured, and those only an alert rule "
        "or an escalation names (no members: their follow-ups wait unassigned).",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def teams(self, info: Info[Context, None]) -> list[Team] | None:
        teams = await info.context.services.followups.service.every_team()
        return [Team.of(t) for _, t in sorted(teams.items())]

    @strawberry.field(
        description="The root causes a follow-up may be resolved with "
        "(`C360_FOLLOWUP_ROOT_CAUSES`, in their configured order): `resolveFollowUp` takes one "
        "of these.",
        extensions=[Requires(Permission.FOLLOW_UPS)],
    )
    async def follow_up_root_causes(self, info: Info[Context, None]) -> list[str] | None:
        return list(info.context.services.followups.service.config.root_causes)

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
        fu = await service.act(str(id), action, info.context.actor, info.context.now, **more)
    except (Conflict, InvalidInput):  # refused, yet tried on their follow-up: in their audit
        held = await service.get(str(id))
        info.context.audit.acts_on(str(info.path.key), held.profile_id)
        raise
    info.context.audit.acts_on(str(info.path.key), fu.profile_id)
    return FollowUp.of(fu)


_WORK: list[FieldExtension] = [Requires(Permission.FOLLOW_UPS)]
_MANAGE: list[FieldExtension] = [Requires(Permission.MANAGE_ALERTS)]


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
        "that team's members, chosen as for new follow-ups, unless `owner` says whom). A team "
        "is one configured or set by an admin, one they escalate to, or one an alert rule "
        "sends follow-ups to; another is refused (InvalidInputError). `owner` is a member of "
        "the team when it has members (or the customer's account owner), and always a name "
        "on one line of at most 200 characters (InvalidInputError otherwise).",
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

    @strawberry.mutation(
        description="A note on the follow-up, its status as it is: what was said, what was "
        "tried, what comes next (at most 4 000 characters; one without text is "
        "InvalidInputError). Open, worked and closed follow-ups take one; withdrawn and merged "
        "ones do not.",
        extensions=_WORK,
    )
    async def add_follow_up_note(
        self, info: Info[Context, None], id: strawberry.ID, note: str
    ) -> FollowUpResult:
        return await _act(info, id, Action.NOTE, note=note)

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
        done = await feedback.acknowledge(
            str(profile_id),
            str(record_id),
            None if channel is None else channel.value,
            note,
            info.context.actor,
            info.context.now,
        )
        return Feedback.of(done)

    @strawberry.mutation(
        description="Close the loop without contact, for a customer the contact policy allows "
        "no channel for purpose service (not now, nor once quiet hours or caps lift): "
        "recorded with who, when and why, nothing sent, and it counts as acknowledged. "
        "Refused (InvalidInputError) while a channel is allowed: answer there. Once per "
        "feedback.",
        extensions=_WORK,
    )
    async def acknowledge_feedback_without_contact(
        self,
        info: Info[Context, None],
        profile_id: strawberry.ID,
        record_id: strawberry.ID,
        note: str | None = None,
    ) -> FeedbackResult:
        feedback = info.context.services.followups.feedback
        done = await feedback.acknowledge_without_contact(
            str(profile_id), str(record_id), note, info.context.actor, info.context.now
        )
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
        [applied] = await rules.apply([rule.definition()], info.context.actor, info.context.now)
        return AlertRule.of(applied.rule)

    @strawberry.mutation(
        description="Switch an alert rule on or off (admin): a new version.", extensions=_MANAGE
    )
    async def set_alert_rule_enabled(
        self, info: Info[Context, None], id: str, enabled: bool
    ) -> AlertRuleResult:
        rules = info.context.services.followups.rules
        rule = await rules.set_enabled(id, enabled, info.context.actor, info.context.now)
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
        team = await teams.set(id, members, escalation_team, info.context.actor, info.context.now)
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
        return await outbox.retry(wanted, info.context.now)


FOLLOW_UP_TYPES = (FollowUpEventItem,)
