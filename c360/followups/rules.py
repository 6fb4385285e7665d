"""Alert rules as data: a fixed vocabulary of conditions, validated; and what a rule says of one
customer's facts. Pure: no I/O, no clock but the ``now`` it is handed.

A rule is never code. Its conditions come from :class:`ConditionKind`, each with typed, bounded
parameters (pydantic), so a rule file or an admin's mutation can only choose among behaviours
written here — no expression language is evaluated (Apache Unomi's MVEL and OGNL rules gave it
three remote-code-execution CVEs).

Three sorts of condition:

- **events**: a record that happened (a complaint opened, a survey asking to be contacted, a
  bad rating on a solved case). They look at the records new to an evaluation only: what
  happened before was evaluated when it arrived.
- **history**: over everything the customer did (the latest answer of a survey type, the drop
  from the answer before, N cases in D days). The latest NPS answer is a *state*: it can stop
  holding when a newer answer arrives.
- **view**: the profile's computed metrics at the moment of evaluation (churn risk, lifecycle
  stage, value tier). They are states too; value tier is also a filter ("a complaint from a
  high-value customer"), read when the triggering record arrives.

A rule fires with the records that triggered it (none for view-only rules) and the reasons in
words. Whether that opens a follow-up, adds to one or withdraws one is :mod:`.episodes`' call.
"""

# Over 500 lines, kept whole: the fixed vocabulary is one closed set of condition models that
# the rule definition discriminates over; each condition is a few lines, and a reader checks the
# vocabulary (what a rule can ever do) in one place.

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from c360.profiles.lifecycle import LifecycleStage, ValueTier
from c360.records.types import Record
from schemas.records import SCORE_RANGES, SurveyType

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
TEAM_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
MAX_CONDITIONS = 10
MAX_TRIGGER_AGE_DAYS = 3650
CLOSED_CASE_STATUSES = frozenset({"solved", "closed"})
COUNTED_KINDS = frozenset({"order", "return", "service_case", "survey_response", "site_event"})
"""What a profile's metrics (and so its churn risk, lifecycle stage and tier) are made of."""


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


def raised(priority: Priority, steps: int = 1) -> Priority:
    """One (or ``steps``) levels up, at most urgent."""
    index = min(PRIORITY_ORDER.index(priority) + steps, len(PRIORITY_ORDER) - 1)
    return PRIORITY_ORDER[index]


class ConditionKind(enum.StrEnum):
    SURVEY_SCORE_AT_MOST = "survey_score_at_most"
    SURVEY_SCORE_DROP = "survey_score_drop"
    CONTACT_REQUESTED = "contact_requested"
    COMPLAINT_OPENED = "complaint_opened"
    BAD_CSAT_ON_SOLVED_CASE = "bad_csat_on_solved_case"
    CASES_IN_DAYS = "cases_in_days"
    RETURNS_IN_DAYS = "returns_in_days"
    CHURN_RISK_AT_LEAST = "churn_risk_at_least"
    ENTERED_AT_RISK = "entered_at_risk"
    VALUE_TIER_IN = "value_tier_in"


# --- Facts: what a rule is evaluated over -------------------------------------------------------


@dataclass(frozen=True, order=True)
class Trigger:
    """A record that made a rule fire."""

    at: dt.datetime
    record_id: str
    kind: str


@dataclass(frozen=True)
class SurveyFact:
    record_id: str
    at: dt.datetime
    survey_type: str
    score: int
    contact_requested: bool = False

    def trigger(self) -> Trigger:
        return Trigger(self.at, self.record_id, "survey_response")


@dataclass(frozen=True)
class CaseFact:
    record_id: str
    at: dt.datetime  # opened
    status: str
    complaint: bool = False
    satisfaction: str | None = None

    def trigger(self) -> Trigger:
        return Trigger(self.at, self.record_id, "service_case")


@dataclass(frozen=True)
class ReturnFact:
    record_id: str
    at: dt.datetime

    def trigger(self) -> Trigger:
        return Trigger(self.at, self.record_id, "return")


@dataclass(frozen=True)
class ViewFact:
    """The profile's computed verdicts at the moment of evaluation."""

    stage: str
    stage_reason: str
    churn: float
    churn_reasons: tuple[str, ...]
    tier: str
    tier_reason: str


@dataclass(frozen=True)
class RecordFacts:
    """A stored record as rules see it: its id, kind, profile, time and payload."""

    record_id: str
    kind: str
    profile_id: str | None
    at: dt.datetime
    data: Mapping[str, Any]

    @classmethod
    def of(cls, record: Record) -> RecordFacts:
        return cls(record.id, record.kind, record.profile_id, record.occurred_at, record.payload)


@dataclass(frozen=True)
class Facts:
    """One customer's records that rules read, and their computed view.

    ``fresh``: the records new to this evaluation (an ingest batch's); ``None`` means every
    record counts as new (a sweep over everything, a backtest step). Event conditions look at
    fresh records only. ``surveys``, ``cases`` and ``returns`` hold the whole history when an
    evaluation needs it, else the fresh records only.
    """

    surveys: tuple[SurveyFact, ...] = ()
    cases: tuple[CaseFact, ...] = ()
    returns: tuple[ReturnFact, ...] = ()
    view: ViewFact | None = None
    fresh: frozenset[str] | None = None

    def is_fresh(self, record_id: str) -> bool:
        return self.fresh is None or record_id in self.fresh


def facts_of(
    records: Iterable[RecordFacts], fresh: frozenset[str] | None, view: ViewFact | None
) -> Facts:
    """What rules read of one customer's records (one entry per record id)."""
    surveys: list[SurveyFact] = []
    cases: list[CaseFact] = []
    returns: list[ReturnFact] = []
    for r in {r.record_id: r for r in records}.values():
        data = r.data
        if r.kind == "survey_response":
            surveys.append(
                SurveyFact(
                    r.record_id,
                    r.at,
                    data["survey_type"],
                    data["score"],
                    bool(data.get("contact_requested")),
                )
            )
        elif r.kind == "service_case":
            cases.append(
                CaseFact(
                    r.record_id,
                    r.at,
                    data["status"],
                    bool(data.get("complaint")),
                    data.get("satisfaction"),
                )
            )
        elif r.kind == "return":
            returns.append(ReturnFact(r.record_id, r.at))
    return Facts(tuple(surveys), tuple(cases), tuple(returns), view, fresh)


@dataclass(frozen=True)
class Outcome:
    """A condition that holds: the records behind it and why, in words."""

    triggers: tuple[Trigger, ...]
    reason: str


# --- Conditions ---------------------------------------------------------------------------------


class _Condition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sort: ClassVar[Literal["event", "history", "view"]]
    reads: ClassVar[frozenset[str]]
    """The record kinds whose arrival concerns the condition."""

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        """Whether a new record of this kind (its payload) may change what the condition says."""
        return kind in self.reads

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        raise NotImplementedError

    @property
    def state(self) -> bool:
        """A state that can stop holding (a newer answer, a changed view), not an event."""
        return self.sort == "view" or isinstance(self, SurveyScoreAtMost | SurveyScoreDrop)


def tier_set(tiers: Iterable[ValueTier]) -> tuple[ValueTier, ...]:
    """Tiers once each, lowest first: a rule written either way is the same rule."""
    order = list(ValueTier)
    return tuple(sorted(set(tiers), key=order.index))


def _answers(facts: Facts, survey_type: str) -> list[SurveyFact]:
    """Answers of one survey type, newest first (ties by record id, as metrics order them)."""
    return sorted(
        (s for s in facts.surveys if s.survey_type == survey_type),
        key=lambda s: (s.at, s.record_id),
        reverse=True,
    )


def _check_score(survey_type: SurveyType, score: int, what: str) -> None:
    low, high = SCORE_RANGES[survey_type]
    if not low <= score <= high:
        raise ValueError(f"{what} {score} is outside {low}..{high} for {survey_type.value}")


class SurveyScoreAtMost(_Condition):
    """The customer's latest answer of a survey type is at or below ``score``: an NPS
    detractor (≤ 6), a bad CSAT (≤ 2 of 5), a high-effort CES (≤ 3 of 7, where 7 is "very
    easy")."""

    kind: Literal[ConditionKind.SURVEY_SCORE_AT_MOST] = ConditionKind.SURVEY_SCORE_AT_MOST
    survey_type: SurveyType
    score: int = Field(strict=True)

    sort: ClassVar[Literal["event", "history", "view"]] = "history"
    reads: ClassVar[frozenset[str]] = frozenset({"survey_response"})

    @model_validator(mode="after")
    def _in_range(self) -> SurveyScoreAtMost:
        _check_score(self.survey_type, self.score, "score")
        return self

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        return kind == "survey_response" and data.get("survey_type") == self.survey_type.value

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        answers = _answers(facts, self.survey_type.value)
        if not answers or answers[0].score > self.score:
            return None
        latest = answers[0]
        label = self.survey_type.value.upper()
        return Outcome((latest.trigger(),), f"latest {label} answer {latest.score} ≤ {self.score}")


class SurveyScoreDrop(_Condition):
    """The latest answer of a survey type is at least ``points`` below the one before."""

    kind: Literal[ConditionKind.SURVEY_SCORE_DROP] = ConditionKind.SURVEY_SCORE_DROP
    survey_type: SurveyType
    points: int = Field(strict=True, ge=1)

    sort: ClassVar[Literal["event", "history", "view"]] = "history"
    reads: ClassVar[frozenset[str]] = frozenset({"survey_response"})

    @model_validator(mode="after")
    def _in_range(self) -> SurveyScoreDrop:
        low, high = SCORE_RANGES[self.survey_type]
        if self.points > high - low:
            raise ValueError(
                f"a drop of {self.points} points is more than {self.survey_type.value}'s scale"
            )
        return self

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        return kind == "survey_response" and data.get("survey_type") == self.survey_type.value

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        answers = _answers(facts, self.survey_type.value)
        if len(answers) < 2 or answers[1].score - answers[0].score < self.points:
            return None
        latest, before = answers[0], answers[1]
        label = self.survey_type.value.upper()
        return Outcome(
            (latest.trigger(),),
            f"{label} fell {before.score - latest.score} points, from {before.score} to "
            f"{latest.score} (≥ {self.points})",
        )


class ContactRequested(_Condition):
    """A survey answer asking to be contacted (of one survey type, or any)."""

    kind: Literal[ConditionKind.CONTACT_REQUESTED] = ConditionKind.CONTACT_REQUESTED
    survey_type: SurveyType | None = None

    sort: ClassVar[Literal["event", "history", "view"]] = "event"
    reads: ClassVar[frozenset[str]] = frozenset({"survey_response"})

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        return (
            kind == "survey_response"
            and bool(data.get("contact_requested"))
            and (self.survey_type is None or data.get("survey_type") == self.survey_type.value)
        )

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        asked = [
            s
            for s in facts.surveys
            if s.contact_requested
            and facts.is_fresh(s.record_id)
            and (self.survey_type is None or s.survey_type == self.survey_type.value)
        ]
        if not asked:
            return None
        return Outcome(tuple(sorted(s.trigger() for s in asked)), "asked to be contacted")


class ComplaintOpened(_Condition):
    """A complaint case (tagged or typed as one, see ``C360_COMPLAINT_TAGS``)."""

    kind: Literal[ConditionKind.COMPLAINT_OPENED] = ConditionKind.COMPLAINT_OPENED

    sort: ClassVar[Literal["event", "history", "view"]] = "event"
    reads: ClassVar[frozenset[str]] = frozenset({"service_case"})

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        return kind == "service_case" and bool(data.get("complaint"))

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        found = [c for c in facts.cases if c.complaint and facts.is_fresh(c.record_id)]
        if not found:
            return None
        what = "a complaint" if len(found) == 1 else f"{len(found)} complaints"
        return Outcome(tuple(sorted(c.trigger() for c in found)), f"{what} opened")


class BadCsatOnSolvedCase(_Condition):
    """A solved (or closed) case the customer rated bad."""

    kind: Literal[ConditionKind.BAD_CSAT_ON_SOLVED_CASE] = ConditionKind.BAD_CSAT_ON_SOLVED_CASE

    sort: ClassVar[Literal["event", "history", "view"]] = "event"
    reads: ClassVar[frozenset[str]] = frozenset({"service_case"})

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        return (
            kind == "service_case"
            and data.get("satisfaction") == "bad"
            and data.get("status") in CLOSED_CASE_STATUSES
        )

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        found = [
            c
            for c in facts.cases
            if c.satisfaction == "bad"
            and c.status in CLOSED_CASE_STATUSES
            and facts.is_fresh(c.record_id)
        ]
        if not found:
            return None
        return Outcome(tuple(sorted(c.trigger() for c in found)), "rated a solved case bad")


def _burst(
    moments: Sequence[tuple[dt.datetime, Trigger]], count: int, days: int, facts: Facts
) -> tuple[Trigger, ...] | None:
    """The latest run of at least ``count`` records within ``days`` days that holds a fresh
    one: the records of that window, oldest first."""
    ordered = sorted(moments, key=lambda m: (m[0], m[1].record_id))
    span = dt.timedelta(days=days)
    for end in range(len(ordered) - 1, -1, -1):
        window = [m for m in ordered[: end + 1] if ordered[end][0] - m[0] < span]
        if len(window) >= count and any(facts.is_fresh(t.record_id) for _, t in window):
            return tuple(t for _, t in window)
    return None


class CasesInDays(_Condition):
    """At least ``count`` cases opened within ``days`` days."""

    kind: Literal[ConditionKind.CASES_IN_DAYS] = ConditionKind.CASES_IN_DAYS
    count: int = Field(strict=True, ge=2, le=1000)
    days: int = Field(strict=True, ge=1, le=3650)

    sort: ClassVar[Literal["event", "history", "view"]] = "history"
    reads: ClassVar[frozenset[str]] = frozenset({"service_case"})

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        found = _burst([(c.at, c.trigger()) for c in facts.cases], self.count, self.days, facts)
        if found is None:
            return None
        return Outcome(found, f"{len(found)} cases within {self.days} days (≥ {self.count})")


class ReturnsInDays(_Condition):
    """At least ``count`` returns within ``days`` days."""

    kind: Literal[ConditionKind.RETURNS_IN_DAYS] = ConditionKind.RETURNS_IN_DAYS
    count: int = Field(strict=True, ge=1, le=1000)
    days: int = Field(strict=True, ge=1, le=3650)

    sort: ClassVar[Literal["event", "history", "view"]] = "history"
    reads: ClassVar[frozenset[str]] = frozenset({"return"})

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        found = _burst([(r.at, r.trigger()) for r in facts.returns], self.count, self.days, facts)
        if found is None:
            return None
        return Outcome(found, f"{len(found)} returns within {self.days} days (≥ {self.count})")


class ChurnRiskAtLeast(_Condition):
    """Churn risk (0..1, see the profile's churnRisk) at or above ``score``."""

    kind: Literal[ConditionKind.CHURN_RISK_AT_LEAST] = ConditionKind.CHURN_RISK_AT_LEAST
    score: float = Field(gt=0, le=1)

    sort: ClassVar[Literal["event", "history", "view"]] = "view"
    reads: ClassVar[frozenset[str]] = COUNTED_KINDS

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        view = facts.view
        if view is None or view.churn < self.score:
            return None
        signals = "; ".join(view.churn_reasons)
        return Outcome((), f"churn risk {view.churn:.2f} ≥ {self.score:.2f} ({signals})")


class EnteredAtRisk(_Condition):
    """The lifecycle stage is ``at_risk``: once per stay in it."""

    kind: Literal[ConditionKind.ENTERED_AT_RISK] = ConditionKind.ENTERED_AT_RISK

    sort: ClassVar[Literal["event", "history", "view"]] = "view"
    reads: ClassVar[frozenset[str]] = COUNTED_KINDS

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        view = facts.view
        if view is None or view.stage != LifecycleStage.AT_RISK.value:
            return None
        return Outcome((), f"at risk: {view.stage_reason}")


class ValueTierIn(_Condition):
    """The customer's value tier is one of ``tiers`` (with another condition: "a complaint from
    a high-value customer")."""

    kind: Literal[ConditionKind.VALUE_TIER_IN] = ConditionKind.VALUE_TIER_IN
    tiers: tuple[ValueTier, ...] = Field(min_length=1, max_length=len(ValueTier))

    sort: ClassVar[Literal["event", "history", "view"]] = "view"
    reads: ClassVar[frozenset[str]] = frozenset({"order", "return"})

    @field_validator("tiers")
    @classmethod
    def _ordered(cls, tiers: tuple[ValueTier, ...]) -> tuple[ValueTier, ...]:
        return tier_set(tiers)

    def check(self, facts: Facts, now: dt.datetime) -> Outcome | None:
        view = facts.view
        if view is None or view.tier not in self.tiers:
            return None
        return Outcome((), f"a {view.tier}-value customer")


Condition = Annotated[
    SurveyScoreAtMost
    | SurveyScoreDrop
    | ContactRequested
    | ComplaintOpened
    | BadCsatOnSolvedCase
    | CasesInDays
    | ReturnsInDays
    | ChurnRiskAtLeast
    | EnteredAtRisk
    | ValueTierIn,
    Field(discriminator="kind"),
]


# --- Rules --------------------------------------------------------------------------------------


class SlaTargets(BaseModel):
    """Hours from opening to the first response (acknowledged, started or resolved) and to the
    resolution. A target left out is not tracked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_response_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    resolution_hours: float | None = Field(default=None, gt=0, le=24 * 365)

    @model_validator(mode="after")
    def _ordered(self) -> SlaTargets:
        first, last = self.first_response_hours, self.resolution_hours
        if first is not None and last is not None and last < first:
            raise ValueError("resolution_hours is shorter than first_response_hours")
        return self

    def hours(self) -> dict[str, float]:
        """Target name → hours, for the targets set."""
        found = {"first_response": self.first_response_hours, "resolution": self.resolution_hours}
        return {name: hours for name, hours in found.items() if hours is not None}


class RuleDefinition(BaseModel):
    """An alert rule as an admin writes it (a TOML table, a GraphQL input)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=RULE_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    match: Literal["all", "any"] = Field(
        default="all", description="all: every condition must hold; any: one is enough."
    )
    conditions: tuple[Condition, ...] = Field(min_length=1, max_length=MAX_CONDITIONS)
    priority: Priority = Priority.NORMAL
    raise_priority_for_tiers: tuple[ValueTier, ...] = Field(
        default=(),
        max_length=len(ValueTier),
        description="The priority is one level higher for customers of these value tiers.",
    )
    team: str = Field(pattern=TEAM_PATTERN)
    sla: SlaTargets = Field(default_factory=SlaTargets)
    dedupe: bool = Field(
        default=True,
        description="At most one open follow-up per customer for this rule: new triggers join "
        "it. Off: every triggering record opens its own.",
    )
    holdout: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="The share of customers whose follow-ups are recorded as held out and not "
        "actioned (the same customers every time: a hash of profile and rule).",
    )
    max_trigger_age_days: int | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_TRIGGER_AGE_DAYS,
        description="Records older than this many days when evaluated open no follow-up (an "
        "import of history keeps them in the customer's timeline, not in a queue); left out: "
        "C360_FOLLOWUP_MAX_TRIGGER_AGE_DAYS.",
    )

    @field_validator("raise_priority_for_tiers")
    @classmethod
    def _tiers(cls, tiers: tuple[ValueTier, ...]) -> tuple[ValueTier, ...]:
        return tier_set(tiers)

    @model_validator(mode="after")
    def _triggerable(self) -> RuleDefinition:
        tier = ConditionKind.VALUE_TIER_IN
        if self.match == "any" and any(c.kind is tier for c in self.conditions):
            raise ValueError("value_tier_in is a filter: use it with match = 'all'")
        return self

    @property
    def trigger_conditions(self) -> tuple[_Condition, ...]:
        """The conditions whose records' arrival calls for an evaluation: the event and history
        ones when there are any (a tier filter alone does not re-evaluate a complaint on every
        order), else the view ones."""
        conditions: tuple[_Condition, ...] = self.conditions
        own = tuple(c for c in conditions if c.sort != "view")
        if self.match == "any" or not own:
            return conditions
        return own

    def concerns(self, kind: str, data: Mapping[str, Any]) -> bool:
        return any(c.concerns(kind, data) for c in self.trigger_conditions)

    @property
    def needs_history(self) -> bool:
        return any(c.sort == "history" for c in self.conditions)

    @property
    def needs_view(self) -> bool:
        return any(c.sort == "view" for c in self.conditions)

    @property
    def state(self) -> bool:
        """Whether what it fires on can stop holding (every condition a state): an open
        follow-up nobody has acted on is then withdrawn when it does."""
        return all(c.state for c in self.conditions)

    @property
    def history_kinds(self) -> frozenset[str]:
        kinds: set[str] = set()
        for c in self.conditions:
            if c.sort == "history":
                kinds |= c.reads
        return frozenset(kinds)


@dataclass(frozen=True)
class Rule:
    """A stored rule: its definition and version (each follow-up keeps the version that opened
    it)."""

    definition: RuleDefinition
    version: int
    updated_at: dt.datetime | None = None
    updated_by: str | None = None

    @property
    def id(self) -> str:
        return self.definition.id


@dataclass(frozen=True)
class Firing:
    """A rule that holds for a customer: the records behind it (none for a view-only rule) and
    why."""

    triggers: tuple[Trigger, ...]
    reasons: tuple[str, ...] = field(default=())

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def fire(rule: RuleDefinition, facts: Facts, now: dt.datetime) -> Firing | None:
    """What ``rule`` says of these facts: a firing, or None."""
    outcomes = [c.check(facts, now) for c in rule.conditions]
    held = [o for o in outcomes if o is not None]
    if not held or (rule.match == "all" and len(held) < len(outcomes)):
        return None
    triggers: dict[str, Trigger] = {}
    for outcome in held:
        for trigger in outcome.triggers:
            triggers[trigger.record_id] = trigger
    return Firing(tuple(sorted(triggers.values())), tuple(o.reason for o in held))


def actionable_since(rule: RuleDefinition, now: dt.datetime, default_days: int) -> dt.datetime:
    """The oldest a trigger may be to open a follow-up of ``rule`` at ``now``: its
    ``max_trigger_age_days``, else ``default_days`` (the setting)."""
    return now - dt.timedelta(days=rule.max_trigger_age_days or default_days)


def priority_for(rule: RuleDefinition, tier: str | None) -> Priority:
    """The rule's priority, one level up for the value tiers it names."""
    if tier is not None and tier in rule.raise_priority_for_tiers:
        return raised(rule.priority)
    return rule.priority


def held_out(profile_id: str, rule_id: str, share: float) -> bool:
    """Whether this customer's follow-ups of this rule are held out: a hash of both ids, so the
    same customers are held out every time (and by every process)."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"{profile_id}\0{rule_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def definitions_equal(a: RuleDefinition, b: RuleDefinition) -> bool:
    """Same rule, whatever order its sets were written in."""
    return a.model_dump(mode="json") == b.model_dump(mode="json")


def normalised(rules: Iterable[RuleDefinition]) -> dict[str, RuleDefinition]:
    """Rules by id; a repeated id is refused."""
    found: dict[str, RuleDefinition] = {}
    for rule in rules:
        if rule.id in found:
            raise ValueError(f"rule {rule.id!r} is defined twice")
        found[rule.id] = rule
    return found
