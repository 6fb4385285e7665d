"""The rules c360 ships, enabled: stored as version 1 the first time follow-ups run on a store
(an admin may change or disable them; their ids stay)."""

from __future__ import annotations

from c360.followups.rules import (
    BadCsatOnSolvedCase,
    ComplaintOpened,
    ContactRequested,
    Priority,
    RuleDefinition,
    SlaTargets,
    SurveyScoreAtMost,
    ValueTierIn,
)
from c360.profiles.lifecycle import ValueTier
from schemas.records import SurveyType

DEFAULT_RULES: tuple[RuleDefinition, ...] = (
    RuleDefinition(
        id="nps-detractor",
        name="NPS detractor",
        conditions=(SurveyScoreAtMost(survey_type=SurveyType.NPS, score=6),),
        priority=Priority.NORMAL,
        raise_priority_for_tiers=(ValueTier.HIGH, ValueTier.TOP),
        team="customer-care",
        sla=SlaTargets(first_response_hours=48, resolution_hours=168),
    ),
    RuleDefinition(
        id="complaint-high-value",
        name="Complaint from a high-value customer",
        conditions=(ComplaintOpened(), ValueTierIn(tiers=(ValueTier.HIGH, ValueTier.TOP))),
        priority=Priority.URGENT,
        team="vip-care",
        sla=SlaTargets(first_response_hours=4, resolution_hours=48),
    ),
    RuleDefinition(
        id="csat-bad",
        name="Bad rating of a solved case",
        conditions=(BadCsatOnSolvedCase(),),
        priority=Priority.NORMAL,
        team="customer-care",
        sla=SlaTargets(first_response_hours=48, resolution_hours=168),
    ),
    RuleDefinition(
        id="contact-requested",
        name="Asked to be contacted",
        conditions=(ContactRequested(),),
        priority=Priority.HIGH,
        team="customer-care",
        sla=SlaTargets(first_response_hours=24, resolution_hours=72),
    ),
)
