"""Alert rules as data: each condition, table-driven, over facts with an injected clock; rule
validation (a TOML file, the fixed vocabulary); priority, holdout. Pure: no store."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from c360.followups.defaults import DEFAULT_RULES
from c360.followups.rulebook import InvalidRules, parse_rules_file
from c360.followups.rules import (
    CaseFact,
    Facts,
    Priority,
    RuleDefinition,
    SurveyFact,
    ViewFact,
    fire,
    held_out,
    priority_for,
    raised,
)

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def day(n: int) -> dt.datetime:
    """``n`` days before NOW."""
    return NOW - dt.timedelta(days=n)


def rule(*conditions: dict[str, Any], **more: Any) -> RuleDefinition:
    return RuleDefinition.model_validate(
        {"id": "r", "name": "R", "team": "care", "conditions": list(conditions), **more}
    )


def survey(rid: str, days_ago: int, kind: str, score: int, *, asked: bool = False) -> SurveyFact:
    return SurveyFact(rid, day(days_ago), kind, score, asked)


def case(
    rid: str,
    days_ago: int,
    status: str = "open",
    *,
    complaint: bool = False,
    rating: str | None = None,
) -> CaseFact:
    return CaseFact(rid, day(days_ago), status, complaint, rating)


def view(stage: str = "repeat", churn: float = 0.1, tier: str = "low") -> ViewFact:
    return ViewFact(stage, "why", churn, ("signals",), tier, "why")


NPS_DETRACTOR = {"kind": "survey_score_at_most", "survey_type": "nps", "score": 6}
CSAT_BAD = {"kind": "survey_score_at_most", "survey_type": "csat", "score": 2}
CES_HIGH_EFFORT = {"kind": "survey_score_at_most", "survey_type": "ces", "score": 3}
NPS_DROP = {"kind": "survey_score_drop", "survey_type": "nps", "points": 3}
CONTACT = {"kind": "contact_requested"}
COMPLAINT = {"kind": "complaint_opened"}
BAD_SOLVED = {"kind": "bad_csat_on_solved_case"}
THREE_CASES_30 = {"kind": "cases_in_days", "count": 3, "days": 30}
TWO_RETURNS_60 = {"kind": "returns_in_days", "count": 2, "days": 60}
CHURN = {"kind": "churn_risk_at_least", "score": 0.6}
AT_RISK = {"kind": "entered_at_risk"}
HIGH_VALUE = {"kind": "value_tier_in", "tiers": ["top", "high"]}


# Each row: a condition, the facts, and the records it fires with (None: it does not fire).
CASES: list[tuple[str, dict[str, Any], Facts, list[str] | None]] = [
    ("nps 6 is a detractor", NPS_DETRACTOR, Facts(surveys=(survey("a", 1, "nps", 6),)), ["a"]),
    ("nps 7 is not", NPS_DETRACTOR, Facts(surveys=(survey("a", 1, "nps", 7),)), None),
    ("nps 0, the bottom", NPS_DETRACTOR, Facts(surveys=(survey("a", 1, "nps", 0),)), ["a"]),
    (
        "the latest answer decides: a later 9 after a 3",
        NPS_DETRACTOR,
        Facts(surveys=(survey("old", 10, "nps", 3), survey("new", 1, "nps", 9))),
        None,
    ),
    (
        "the latest answer decides: a later 3 after a 9",
        NPS_DETRACTOR,
        Facts(surveys=(survey("old", 10, "nps", 9), survey("new", 1, "nps", 3))),
        ["new"],
    ),
    (
        "an earlier answer arriving late does not change the latest",
        NPS_DETRACTOR,
        Facts(
            surveys=(survey("latest", 1, "nps", 9), survey("late", 30, "nps", 2)),
            fresh=frozenset({"late"}),
        ),
        None,
    ),
    (
        "other survey types are not NPS",
        NPS_DETRACTOR,
        Facts(surveys=(survey("a", 1, "csat", 1), survey("b", 2, "nps", 9))),
        None,
    ),
    ("csat 2 of 5 is bad", CSAT_BAD, Facts(surveys=(survey("a", 1, "csat", 2),)), ["a"]),
    ("csat 3 is not", CSAT_BAD, Facts(surveys=(survey("a", 1, "csat", 3),)), None),
    (
        "ces 3 of 7 is high effort",
        CES_HIGH_EFFORT,
        Facts(surveys=(survey("a", 1, "ces", 3),)),
        ["a"],
    ),
    ("ces 5 is not", CES_HIGH_EFFORT, Facts(surveys=(survey("a", 1, "ces", 5),)), None),
    (
        "a drop of 3 from the answer before",
        NPS_DROP,
        Facts(surveys=(survey("a", 20, "nps", 9), survey("b", 1, "nps", 6))),
        ["b"],
    ),
    (
        "a drop of 2 is not enough",
        NPS_DROP,
        Facts(surveys=(survey("a", 20, "nps", 9), survey("b", 1, "nps", 7))),
        None,
    ),
    ("no answer before: no drop", NPS_DROP, Facts(surveys=(survey("b", 1, "nps", 0),)), None),
    (
        "a rise is no drop",
        NPS_DROP,
        Facts(surveys=(survey("a", 20, "nps", 2), survey("b", 1, "nps", 9))),
        None,
    ),
    (
        "asked to be contacted",
        CONTACT,
        Facts(surveys=(survey("a", 1, "nps", 8, asked=True),)),
        ["a"],
    ),
    ("did not ask", CONTACT, Facts(surveys=(survey("a", 1, "nps", 8),)), None),
    (
        "an old request is not new to this evaluation",
        CONTACT,
        Facts(surveys=(survey("a", 1, "nps", 8, asked=True),), fresh=frozenset({"b"})),
        None,
    ),
    ("a complaint opened", COMPLAINT, Facts(cases=(case("c", 1, complaint=True),)), ["c"]),
    ("a case that is no complaint", COMPLAINT, Facts(cases=(case("c", 1),)), None),
    (
        "a bad rating on a solved case",
        BAD_SOLVED,
        Facts(cases=(case("c", 1, "solved", rating="bad"),)),
        ["c"],
    ),
    (
        "a bad rating on a closed case",
        BAD_SOLVED,
        Facts(cases=(case("c", 1, "closed", rating="bad"),)),
        ["c"],
    ),
    (
        "a bad rating on a case still open",
        BAD_SOLVED,
        Facts(cases=(case("c", 1, "open", rating="bad"),)),
        None,
    ),
    (
        "a good rating on a solved case",
        BAD_SOLVED,
        Facts(cases=(case("c", 1, "solved", rating="good"),)),
        None,
    ),
    (
        "three cases within 30 days",
        THREE_CASES_30,
        Facts(cases=(case("a", 40), case("b", 20), case("c", 12), case("d", 1))),
        ["b", "c", "d"],
    ),
    (
        "three cases spread over 40 days",
        THREE_CASES_30,
        Facts(cases=(case("a", 45), case("b", 20), case("c", 1))),
        None,
    ),
    (
        "an old burst with nothing new in it",
        THREE_CASES_30,
        Facts(
            cases=(case("a", 300), case("b", 299), case("c", 298), case("d", 1)),
            fresh=frozenset({"d"}),
        ),
        None,
    ),
    ("churn risk 0.6 and above", CHURN, Facts(view=view(churn=0.6)), []),
    ("churn risk below 0.6", CHURN, Facts(view=view(churn=0.59)), None),
    ("at risk", AT_RISK, Facts(view=view(stage="at_risk")), []),
    ("loyal is not at risk", AT_RISK, Facts(view=view(stage="loyal")), None),
    ("a top-value customer", HIGH_VALUE, Facts(view=view(tier="top")), []),
    ("a medium-value customer", HIGH_VALUE, Facts(view=view(tier="medium")), None),
    ("no metrics: no view condition holds", HIGH_VALUE, Facts(), None),
]


@pytest.mark.parametrize(
    ("condition", "facts", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_condition(
    condition: dict[str, Any], facts: Facts, expected: list[str] | None
) -> None:
    firing = fire(rule(condition), facts, NOW)
    if expected is None:
        assert firing is None
    else:
        assert firing is not None
        assert [t.record_id for t in firing.triggers] == expected
        assert firing.reason


def test_returns_in_days_over_returns() -> None:
    from c360.followups.rules import ReturnFact

    facts = Facts(returns=(ReturnFact("a", day(50)), ReturnFact("b", day(2))))
    firing = fire(rule(TWO_RETURNS_60), facts, NOW)
    assert firing is not None
    assert [t.record_id for t in firing.triggers] == ["a", "b"]
    assert fire(rule(TWO_RETURNS_60), Facts(returns=(ReturnFact("b", day(2)),)), NOW) is None


class TestCombinations:
    def test_all_needs_every_condition(self) -> None:
        complaint_from_vip = rule(COMPLAINT, HIGH_VALUE)
        complaint = Facts(cases=(case("c", 1, complaint=True),), view=view(tier="high"))
        firing = fire(complaint_from_vip, complaint, NOW)
        assert firing is not None
        assert [t.record_id for t in firing.triggers] == ["c"]
        assert "high-value" in firing.reason
        low = Facts(cases=(case("c", 1, complaint=True),), view=view(tier="low"))
        assert fire(complaint_from_vip, low, NOW) is None

    def test_any_needs_one(self) -> None:
        either = rule(NPS_DETRACTOR, CONTACT, match="any")
        facts = Facts(surveys=(survey("a", 1, "nps", 9, asked=True),))
        firing = fire(either, facts, NOW)
        assert firing is not None
        assert firing.reason == "asked to be contacted"

    def test_a_tier_filter_does_not_make_orders_call_for_evaluation(self) -> None:
        complaint_from_vip = rule(COMPLAINT, HIGH_VALUE)
        assert complaint_from_vip.concerns("service_case", {"complaint": True})
        assert not complaint_from_vip.concerns("service_case", {"complaint": False})
        assert not complaint_from_vip.concerns("order", {})
        assert rule(CHURN).concerns("order", {})  # a view-only rule: any counted record

    def test_states_and_events(self) -> None:
        assert rule(NPS_DETRACTOR).state
        assert rule(CHURN).state
        assert not rule(COMPLAINT).state
        assert not rule(COMPLAINT, HIGH_VALUE).state


class TestValidation:
    @pytest.mark.parametrize(
        ("condition", "problem"),
        [
            ({"kind": "survey_score_at_most", "survey_type": "nps", "score": 11}, "outside 0..10"),
            ({"kind": "survey_score_at_most", "survey_type": "csat", "score": 0}, "outside 1..5"),
            ({"kind": "survey_score_drop", "survey_type": "csat", "points": 9}, "scale"),
            ({"kind": "cases_in_days", "count": 1, "days": 30}, "greater than or equal to 2"),
            ({"kind": "churn_risk_at_least", "score": 1.5}, "less than or equal to 1"),
            ({"kind": "value_tier_in", "tiers": ["gold"]}, "tiers"),
            ({"kind": "complaint_opened", "points": 3}, "Extra inputs are not permitted"),
            ({"kind": "expression", "code": "__import__('os')"}, "does not match any"),
        ],
    )
    def test_conditions_come_from_a_fixed_vocabulary(
        self, condition: dict[str, Any], problem: str
    ) -> None:
        with pytest.raises(ValidationError, match=problem):
            rule(condition)

    def test_tiers_are_a_set_in_order(self) -> None:
        a = rule(COMPLAINT, {"kind": "value_tier_in", "tiers": ["top", "high", "top"]})
        b = rule(COMPLAINT, {"kind": "value_tier_in", "tiers": ["high", "top"]})
        assert a == b

    def test_a_rule_file(self) -> None:
        rules = parse_rules_file(
            """
            [[rule]]
            id = "ces-high-effort"
            name = "High effort"
            team = "care"
            priority = "high"
            holdout = 0.1
            sla = { first_response_hours = 24, resolution_hours = 72 }
            conditions = [{ kind = "survey_score_at_most", survey_type = "ces", score = 3 }]

            [[rule]]
            id = "repeat-callers"
            name = "Three calls in a week"
            team = "care"
            conditions = [{ kind = "cases_in_days", count = 3, days = 7 }]
            """
        )
        assert [r.id for r in rules] == ["ces-high-effort", "repeat-callers"]
        assert rules[0].sla.hours() == {"first_response": 24, "resolution": 72}
        assert rules[0].holdout == 0.1

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("[[rule]]\nid = 'x'", "rule 1 (x): name: Field required"),
            ("x = 1", "unknown top-level keys"),
            ("[[rule", "not TOML"),
            ("", "no [[rule]] table"),
            (
                "[[rule]]\nid='a'\nname='A'\nteam='t'\nconditions=[{kind='complaint_opened'}]\n"
                "[[rule]]\nid='a'\nname='B'\nteam='t'\nconditions=[{kind='complaint_opened'}]",
                "defined twice",
            ),
            (
                "[[rule]]\nid='Bad Id'\nname='A'\nteam='t'\nconditions=[{kind='complaint_opened'}]",
                "id: String should match pattern",
            ),
            (
                "[[rule]]\nid='a'\nname='A'\nteam='t'\nholdout=1\n"
                "conditions=[{kind='complaint_opened'}]",
                "holdout",
            ),
        ],
    )
    def test_a_bad_file_is_refused_whole_with_its_reasons(self, text: str, problem: str) -> None:
        with pytest.raises(
            InvalidRules, match=problem.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
        ):
            parse_rules_file(text)

    def test_the_shipped_rules(self) -> None:
        by_id = {r.id: r for r in DEFAULT_RULES}
        assert set(by_id) == {
            "nps-detractor",
            "complaint-high-value",
            "csat-bad",
            "contact-requested",
        }
        assert all(r.enabled for r in DEFAULT_RULES)
        assert by_id["nps-detractor"].team == "customer-care"
        assert by_id["nps-detractor"].sla.first_response_hours == 48
        assert by_id["complaint-high-value"].team == "vip-care"
        assert by_id["complaint-high-value"].sla.first_response_hours == 4
        assert by_id["complaint-high-value"].priority is Priority.URGENT
        assert by_id["contact-requested"].sla.first_response_hours == 24


class TestPriorityAndHoldout:
    def test_priority_rises_for_the_tiers_the_rule_names(self) -> None:
        nps = DEFAULT_RULES[0]
        assert priority_for(nps, "top") is Priority.HIGH
        assert priority_for(nps, "high") is Priority.HIGH
        assert priority_for(nps, "medium") is Priority.NORMAL
        assert priority_for(nps, None) is Priority.NORMAL
        assert raised(Priority.URGENT) is Priority.URGENT
        assert raised(Priority.LOW, 2) is Priority.HIGH

    def test_holdout_is_the_same_customers_every_time_and_about_the_share(self) -> None:
        profiles = [f"{i:024x}" for i in range(4000)]
        chosen = [p for p in profiles if held_out(p, "nps-detractor", 0.1)]
        assert chosen == [p for p in profiles if held_out(p, "nps-detractor", 0.1)]
        assert 300 < len(chosen) < 500
        assert not any(held_out(p, "nps-detractor", 0.0) for p in profiles)
        # Another rule holds out other customers.
        assert chosen != [p for p in profiles if held_out(p, "csat-bad", 0.1)]
