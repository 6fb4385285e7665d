"""The follow-up lifecycle, pure: SLA states per target with an injected clock, the allowed
transitions, what a firing does to a customer's episodes, and assignment. No store."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from c360.errors import InvalidInput
from c360.followups import sla
from c360.followups.assignment import (
    Opening,
    TeamLoad,
    assign_in_turn,
    opening_order,
    owner_for,
)
from c360.followups.episodes import Join, Open, Release, Withdraw, plan
from c360.followups.model import Episode, EventType, FollowUp, Outcome, Status, Target
from c360.followups.rules import Firing, Priority, RuleDefinition, Trigger
from c360.followups.states import Action, TransitionRefused, transition

OPENED = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)  # a Monday


def hours(n: float) -> dt.datetime:
    return OPENED + dt.timedelta(hours=n)


def follow_up(**changes: object) -> FollowUp:
    base = FollowUp(
        id="fu_1",
        profile_id="p1",
        rule_id="nps-detractor",
        rule_version=1,
        rule_name="NPS detractor",
        episode=Episode("p1", 1),
        status=Status.OPEN,
        priority=Priority.NORMAL,
        team="care",
        owner="ana",
        held_out=False,
        triggers=(Trigger(hours(-1), "r1", "survey_response"),),
        reason="latest NPS answer 3 ≤ 6",
        opened_at=OPENED,
        due={Target.FIRST_RESPONSE: hours(48), Target.RESOLUTION: hours(168)},
    )
    return replace(base, **changes)  # type: ignore[arg-type] # keyword overrides of the test's base


# --- SLA ----------------------------------------------------------------------------------------

SOON = 0.25  # the last quarter of a window is "due soon"


@pytest.mark.parametrize(
    ("now_h", "done_h", "expected"),
    [
        (0, None, sla.SlaState.ON_TRACK),
        (35.9, None, sla.SlaState.ON_TRACK),
        (36, None, sla.SlaState.DUE_SOON),  # 12 of 48 hours left: the last quarter
        (47.9, None, sla.SlaState.DUE_SOON),
        (48, None, sla.SlaState.DUE_SOON),  # due at 48: not yet overdue
        (48.01, None, sla.SlaState.OVERDUE),
        (500, None, sla.SlaState.OVERDUE),
        (60, 10, sla.SlaState.MET),
        (60, 48, sla.SlaState.MET),  # done exactly at the due time
        (60, 48.5, sla.SlaState.MISSED),
        (1, 0.5, sla.SlaState.MET),  # done: the clock no longer matters
    ],
)
def test_sla_state_of_a_target(now_h: float, done_h: float | None, expected: sla.SlaState) -> None:
    clock = sla.Clock(
        Target.FIRST_RESPONSE, OPENED, hours(48), None if done_h is None else hours(done_h)
    )
    assert sla.state(clock, hours(now_h), SOON) is expected


class TestClocks:
    def test_each_target_from_the_follow_up(self) -> None:
        fu = follow_up(first_response_at=hours(2))
        clocks = {c.target: c for c in sla.clocks(fu)}
        assert clocks[Target.FIRST_RESPONSE].done_at == hours(2)
        assert clocks[Target.RESOLUTION].done_at is None
        states = {c.target: sla.state(c, hours(150), SOON) for c in sla.clocks(fu)}
        assert states == {
            Target.FIRST_RESPONSE: sla.SlaState.MET,
            Target.RESOLUTION: sla.SlaState.DUE_SOON,
        }

    def test_due_times_from_rule_hours(self) -> None:
        due = sla.due_times(OPENED, {"first_response": 4, "resolution": 48})
        assert due == {Target.FIRST_RESPONSE: hours(4), Target.RESOLUTION: hours(48)}

    def test_held_out_follow_ups_have_no_clock(self) -> None:
        assert sla.clocks(follow_up(held_out=True, due={})) == []

    def test_next_due_alarm_and_overdue(self) -> None:
        fu = follow_up()
        assert sla.next_due(fu) == hours(48)
        assert sla.alarm(fu) == hours(48)
        assert sla.overdue(fu, hours(47)) == []
        assert sla.overdue(fu, hours(49)) == [Target.FIRST_RESPONSE]
        assert sla.overdue(fu, hours(200)) == [Target.FIRST_RESPONSE, Target.RESOLUTION]
        escalated = replace(fu, escalated={Target.FIRST_RESPONSE: hours(49)})
        assert sla.overdue(escalated, hours(50)) == []  # once per target
        assert sla.alarm(escalated) == hours(168)
        assert sla.next_due(escalated) == hours(48)  # still overdue for the queue's filter
        responded = replace(fu, first_response_at=hours(1))
        assert sla.alarm(responded) == hours(168)
        assert sla.next_due(replace(fu, status=Status.RESOLVED)) is None

    def test_due_soon_once_per_target_before_its_due_time(self) -> None:
        due = {Target.FIRST_RESPONSE: hours(48), Target.RESOLUTION: hours(168)}
        soon_at = sla.due_soon_times(OPENED, due, 0.25)
        assert soon_at == {Target.FIRST_RESPONSE: hours(36), Target.RESOLUTION: hours(126)}
        fu = follow_up(due_soon_at=soon_at)
        assert sla.alarm(fu) == hours(36)  # the worker's next round for it
        assert sla.next_due_soon(fu) == hours(36)
        assert sla.due_soon(fu, hours(35.9)) == []
        assert sla.due_soon(fu, hours(36)) == [Target.FIRST_RESPONSE]
        assert sla.due_soon(fu, hours(49)) == []  # overdue: escalated, not warned
        warned = replace(fu, warned={Target.FIRST_RESPONSE: hours(36)})
        assert sla.due_soon(warned, hours(40)) == []  # once per target
        assert sla.alarm(warned) == hours(48)  # then its escalation
        responded = replace(fu, first_response_at=hours(10))
        assert sla.due_soon(responded, hours(40)) == []  # met: nothing to warn of
        assert sla.alarm(responded) == hours(126)
        reopened = replace(
            warned,
            first_response_at=hours(40),
            warned={**warned.warned, Target.RESOLUTION: hours(126)},
            resolved_at=None,
        )
        assert sla.due_soon(reopened, hours(130)) == []  # a reopening does not warn again
        # The state follows the kept time, whatever the fraction given now.
        [first, _] = sla.clocks(fu)
        assert sla.state(first, hours(36), 0.01) is sla.SlaState.DUE_SOON
        assert sla.state(first, hours(35), 0.9) is sla.SlaState.ON_TRACK


# --- Transitions --------------------------------------------------------------------------------

ROOT_CAUSES = ("delivery", "other")


@pytest.mark.parametrize(
    ("status", "action", "after", "event"),
    [
        (Status.OPEN, Action.ACKNOWLEDGE, Status.ACKNOWLEDGED, EventType.ACKNOWLEDGED),
        (Status.OPEN, Action.START, Status.IN_PROGRESS, EventType.STARTED),
        (Status.ACKNOWLEDGED, Action.START, Status.IN_PROGRESS, EventType.STARTED),
        (Status.IN_PROGRESS, Action.ASSIGN, Status.IN_PROGRESS, EventType.ASSIGNED),
        (Status.OPEN, Action.RESOLVE, Status.RESOLVED, EventType.RESOLVED),
        (Status.IN_PROGRESS, Action.RESOLVE, Status.RESOLVED, EventType.RESOLVED),
        (Status.RESOLVED, Action.REOPEN, Status.OPEN, EventType.REOPENED),
        (Status.CLOSED_NO_ACTION, Action.REOPEN, Status.OPEN, EventType.REOPENED),
    ],
)
def test_allowed_transitions(
    status: Status, action: Action, after: Status, event: EventType
) -> None:
    change = transition(
        follow_up(status=status),
        action,
        outcome=Outcome.CONTACTED_RESOLVED,
        root_cause="delivery",
        root_causes=ROOT_CAUSES,
    )
    assert (change.status, change.event) == (after, event)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.ACKNOWLEDGED, Action.ACKNOWLEDGE),
        (Status.IN_PROGRESS, Action.ACKNOWLEDGE),
        (Status.RESOLVED, Action.START),
        (Status.RESOLVED, Action.RESOLVE),
        (Status.OPEN, Action.REOPEN),
        (Status.HELD_OUT, Action.ACKNOWLEDGE),
        (Status.WITHDRAWN, Action.START),
        (Status.MERGED, Action.RESOLVE),
        (Status.CLOSED_NO_ACTION, Action.ASSIGN),
    ],
)
def test_refused_transitions(status: Status, action: Action) -> None:
    with pytest.raises(TransitionRefused, match=status.value):
        transition(follow_up(status=status), action, root_causes=ROOT_CAUSES)


class TestResolving:
    def test_needs_an_outcome_and_a_known_root_cause(self) -> None:
        fu = follow_up()
        with pytest.raises(InvalidInput, match="outcome"):
            transition(fu, Action.RESOLVE, root_cause="delivery", root_causes=ROOT_CAUSES)
        with pytest.raises(InvalidInput, match="root cause 'weather'"):
            transition(
                fu,
                Action.RESOLVE,
                outcome=Outcome.CONTACTED_RESOLVED,
                root_cause="weather",
                root_causes=ROOT_CAUSES,
            )

    def test_no_action_needed_closes_it(self) -> None:
        change = transition(
            follow_up(),
            Action.RESOLVE,
            outcome=Outcome.NO_ACTION_NEEDED,
            root_cause="other",
            root_causes=ROOT_CAUSES,
        )
        assert change.status is Status.CLOSED_NO_ACTION
        assert change.resolves
        assert change.responds

    def test_a_long_note_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="note"):
            transition(follow_up(), Action.ACKNOWLEDGE, note="x" * 5000)


# --- Episodes -----------------------------------------------------------------------------------

NPS = RuleDefinition.model_validate(
    {
        "id": "nps-detractor",
        "name": "NPS",
        "team": "care",
        "conditions": [{"kind": "survey_score_at_most", "survey_type": "nps", "score": 6}],
    }
)
COMPLAINTS = RuleDefinition.model_validate(
    {
        "id": "nps-detractor",
        "name": "C",
        "team": "care",
        "conditions": [{"kind": "complaint_opened"}],
    }
)
CHURN = RuleDefinition.model_validate(
    {
        "id": "nps-detractor",
        "name": "Churn",
        "team": "care",
        "conditions": [{"kind": "churn_risk_at_least", "score": 0.5}],
    }
)


def trig(rid: str, h: float) -> Trigger:
    return Trigger(hours(h), rid, "survey_response")


def firing(*triggers: Trigger) -> Firing:
    return Firing(tuple(triggers), ("why",))


class TestEpisodes:
    def test_a_first_firing_opens_episode_one(self) -> None:
        [step] = plan(NPS, "p1", firing(trig("r1", 0)), [])
        assert isinstance(step, Open)
        assert step.episode == Episode("p1", 1)

    def test_the_same_trigger_again_changes_nothing(self) -> None:
        existing = follow_up(triggers=(trig("r1", 0),))
        assert plan(NPS, "p1", firing(trig("r1", 0)), [existing]) == []

    def test_a_late_earlier_trigger_changes_nothing_even_after_resolution(self) -> None:
        resolved = follow_up(status=Status.RESOLVED, triggers=(trig("r2", 10),))
        assert plan(NPS, "p1", firing(trig("r1", 5)), [resolved]) == []

    def test_a_newer_trigger_joins_the_open_episode(self) -> None:
        existing = follow_up(triggers=(trig("r1", 0),))
        [step] = plan(NPS, "p1", firing(trig("r2", 5)), [existing])
        assert isinstance(step, Join)
        assert [t.record_id for t in step.triggers] == ["r2"]

    def test_a_newer_trigger_after_resolution_opens_the_next_episode(self) -> None:
        resolved = follow_up(status=Status.RESOLVED, triggers=(trig("r1", 0),))
        [step] = plan(NPS, "p1", firing(trig("r2", 5)), [resolved])
        assert isinstance(step, Open)
        assert step.episode == Episode("p1", 2)

    def test_a_state_that_stops_holding_withdraws_an_untouched_episode(self) -> None:
        existing = follow_up()
        [step] = plan(NPS, "p1", None, [existing])
        assert isinstance(step, Withdraw)
        assert plan(NPS, "p1", None, [replace(existing, touched=True)]) == []

    def test_an_event_never_withdraws(self) -> None:
        assert plan(COMPLAINTS, "p1", None, [follow_up()]) == []

    def test_a_withdrawn_episode_is_revived_not_followed(self) -> None:
        withdrawn = follow_up(status=Status.WITHDRAWN, triggers=(trig("r1", 0),))
        [step] = plan(NPS, "p1", firing(trig("r1", 0)), [withdrawn])
        assert isinstance(step, Open)
        assert step.revive == withdrawn
        assert step.episode == withdrawn.episode

    def test_a_view_only_rule_opens_once_per_stay(self) -> None:
        [step] = plan(CHURN, "p1", firing(), [])
        assert isinstance(step, Open)
        assert step.holding
        resolved = follow_up(status=Status.RESOLVED, holding=True, triggers=())
        assert plan(CHURN, "p1", firing(), [resolved]) == []  # still in the state
        [release] = plan(CHURN, "p1", None, [resolved])
        assert isinstance(release, Release)
        left = replace(resolved, holding=False)
        [again] = plan(CHURN, "p1", firing(), [left])
        assert isinstance(again, Open)
        assert again.episode == Episode("p1", 2)

    def test_without_dedupe_each_trigger_opens_its_own(self) -> None:
        each = COMPLAINTS.model_copy(update={"dedupe": False})
        steps = plan(each, "p1", firing(trig("a", 1), trig("b", 2)), [])
        assert [s.episode.record_id for s in steps if isinstance(s, Open)] == ["a", "b"]

    def test_other_rules_and_merged_episodes_are_not_this_rules(self) -> None:
        other = follow_up(rule_id="csat-bad", triggers=(trig("r1", 0),))
        folded = follow_up(status=Status.MERGED, triggers=(trig("r1", 0),))
        [step] = plan(NPS, "p1", firing(trig("r1", 0)), [other, folded])
        assert isinstance(step, Open)


# --- Assignment ---------------------------------------------------------------------------------


class TestAssignment:
    def test_the_account_owner_first(self) -> None:
        team = TeamLoad(["ana", "luis"])
        assert owner_for("marta", team) == "marta"
        assert owner_for("marta", team, escalation=True) == "ana"

    @pytest.mark.parametrize(
        ("open_counts", "last", "expected"),
        [
            ({"ana": 3, "luis": 1, "eva": 2}, {}, "luis"),
            ({"ana": 1, "luis": 1, "eva": 1}, {"ana": 30, "luis": 10, "eva": 20}, "luis"),
            ({"ana": 1, "luis": 1, "eva": 1}, {"ana": 30, "luis": 20}, "eva"),  # never given one
            ({}, {}, "ana"),  # all equal: the team's order
        ],
    )
    def test_fewest_open_then_in_turn(
        self, open_counts: dict[str, int], last: dict[str, int], expected: str
    ) -> None:
        assert TeamLoad(["ana", "luis", "eva"], open_counts, last).choose() == expected

    def test_a_batch_spreads_its_work(self) -> None:
        team = TeamLoad(["ana", "luis", "eva"])
        chosen = []
        for at in range(6):
            member = team.choose()
            assert member is not None
            team.took(member, at)
            chosen.append(member)
        assert chosen == ["ana", "luis", "eva", "ana", "luis", "eva"]

    def test_a_team_without_members_assigns_nobody(self) -> None:
        assert TeamLoad([]).choose() is None

    @staticmethod
    def opening(day: int, **more: Any) -> Opening:
        at = dt.datetime(2024, 5, day, tzinfo=dt.UTC)
        trigger = Trigger(at, f"surveys:survey_response:{day}", "survey_response")
        return Opening(opening_order((trigger,), "nps-detractor", f"fu_{day}"), "care", **more)

    def test_a_batch_in_the_order_of_its_records(self) -> None:
        openings = [self.opening(3), self.opening(1), self.opening(2, account_owner="marta")]
        owners = assign_in_turn(openings, {"care": TeamLoad(["ana", "luis"])}, 1000)
        assert owners == ["luis", "ana", "marta"]

    @pytest.mark.parametrize("kept", [(1,), (2,), (3,), (1, 3), (2, 3)])
    def test_a_run_again_keeps_what_was_opened_and_gives_the_rest_the_same_owners(
        self, kept: tuple[int, ...]
    ) -> None:
        def load() -> dict[str, TeamLoad]:  # what the batch found: Luis assigned less recently
            return {"care": TeamLoad(["ana", "luis"], {"ana": 1, "luis": 1}, {"ana": 9, "luis": 5})}

        first = assign_in_turn([self.opening(d) for d in (1, 2, 3, 4)], load(), 1000)
        assert first == ["luis", "ana", "ana", "luis"]
        again = [
            self.opening(d, opened=True, owner=first[d - 1]) if d in kept else self.opening(d)
            for d in (1, 2, 3, 4)
        ]
        assert assign_in_turn(again, load(), 1000) == first
