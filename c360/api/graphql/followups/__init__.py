"""GraphQL for the voice of the customer: follow-ups and their queues, the agents' actions,
feedback and its acknowledgement, alert rules (read, applied, previewed), teams, and the
notification outbox.

Agents and admins read and work follow-ups (``followUps``); admins manage rules, teams and the
outbox (``manageAlerts``). Marketing and connector keys reach none of it: every field that
leads here requires ``followUps``, and the timeline shows follow-up events only to those who
hold it.
"""

from c360.api.graphql.followups.operations import (
    FOLLOW_UP_TYPES,
    FollowUpMutation,
    FollowUpQuery,
)
from c360.api.graphql.followups.types import (
    Feedback,
    FollowUp,
    feedback_of,
    follow_ups_of,
    with_follow_up_events,
)

__all__ = [
    "FOLLOW_UP_TYPES",
    "Feedback",
    "FollowUp",
    "FollowUpMutation",
    "FollowUpQuery",
    "feedback_of",
    "follow_ups_of",
    "with_follow_up_events",
]
