"""Every index c360 relies on, created idempotently at start-up.

Names are given for real MongoDB; the embedded server derives its own but honours the keys.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

INDEXES: dict[str, list[IndexModel]] = {
    # The timeline: a profile's records, newest first. timeline_key is occurred_at then _id in
    # one sortable string, so the keyset cursor is one range on one indexed field.
    "records": [
        IndexModel([("profile_id", ASCENDING), ("timeline_key", DESCENDING)], name="timeline"),
        # Returns that arrived before their order, found when the order comes.
        IndexModel([("data.order_external_id", ASCENDING)], name="return_order", sparse=True),
        # A span's records of one kind: retention's pages, an alert rule's backtest.
        IndexModel([("kind", ASCENDING), ("occurred_at", ASCENDING)], name="kind_time"),
        # Orders by the number a customer quotes (#1042): the console's search and screen pop.
        IndexModel([("data.order_number", ASCENDING)], name="order_number", sparse=True),
    ],
    # KPIs: churn counts people by when they were last seen.
    "profiles": [IndexModel([("last_seen_ms", ASCENDING)], name="last_seen")],
    # Which identifiers a profile owns (the identifier itself is the unique _id).
    "identities": [IndexModel([("profile_id", ASCENDING)], name="by_profile")],
    # Pairs an unmerge set apart, looked up by either profile.
    "separations": [IndexModel([("profiles", ASCENDING)], name="by_profile")],
    # What unmerge follows: the identity key that linked each record.
    "match_keys": [
        IndexModel([("key", ASCENDING)], name="by_key"),
        IndexModel([("profile_id", ASCENDING)], name="by_profile"),
    ],
    "merges": [
        IndexModel([("status", ASCENDING)], name="by_status"),
        IndexModel([("absorbed", ASCENDING)], name="by_absorbed"),
    ],
    # The name words of a person record, replaced when the record is amended.
    "name_terms": [IndexModel([("record", ASCENDING)], name="by_record")],
    "profile_metrics": [
        # Value tiers: LTV percentiles among buyers by an index walk.
        IndexModel([("ltv_reporting", ASCENDING)], name="ltv", sparse=True),
        # KPIs: the ledgers of the people active in a span, by the days they hold entries on.
        IndexModel([("ledger_days", ASCENDING)], name="ledger_days"),
    ],
    # Follow-ups: a customer's (evaluation, the profile's list), a queue in its order (status,
    # team, owner), the escalation alarm, what waits for the relay, a merge's to hand back.
    "follow_ups": [
        IndexModel([("profile_id", ASCENDING)], name="by_profile"),
        IndexModel([("status", ASCENDING), ("queue_key", ASCENDING)], name="queue"),
        IndexModel(
            [("team", ASCENDING), ("status", ASCENDING), ("queue_key", ASCENDING)],
            name="team_queue",
        ),
        IndexModel(
            [("owner", ASCENDING), ("status", ASCENDING), ("queue_key", ASCENDING)],
            name="owner_queue",
            sparse=True,
        ),
        IndexModel([("alarm_ms", ASCENDING)], name="alarm", sparse=True),
        IndexModel([("opened_ms", ASCENDING)], name="by_opened"),  # KPIs: a span's follow-ups
        IndexModel([("has_unsent", ASCENDING)], name="unsent", sparse=True),
        IndexModel([("merge_id", ASCENDING)], name="by_merge", sparse=True),
    ],
    # The outbox: what is due, in order; a follow-up's; pages newest first.
    "outbox": [
        IndexModel([("status", ASCENDING), ("next_ms", ASCENDING)], name="due"),
        IndexModel([("follow_up_id", ASCENDING)], name="by_follow_up"),
        IndexModel([("page_key", DESCENDING)], name="pages"),
    ],
    "feedback_acks": [IndexModel([("profile_id", ASCENDING)], name="by_profile")],
    # Rejected items by whom they name (an erasure's look for a person's dead letters).
    "dead_letters": [IndexModel([("names", ASCENDING)], name="by_name", sparse=True)],
    # Console sessions end by themselves: the TTL monitor removes them at their absolute end.
    "console_sessions": [
        IndexModel([("expires_at", ASCENDING)], name="expiry", expireAfterSeconds=0),
    ],
    # The access audit, newest first: all of it, one profile's, one key's (see audit/repository).
    "audit_log": [
        IndexModel([("seq", DESCENDING)], name="by_seq"),
        IndexModel([("profile_id", ASCENDING), ("seq", DESCENDING)], name="by_profile"),
        IndexModel([("key_id", ASCENDING), ("seq", DESCENDING)], name="by_key"),
    ],
}


# The embedded server uses only single-field indexes (not the prefix of a compound one); on
# MongoDB these would duplicate the compound indexes' prefixes, so they are made only there.
EMBEDDED_ONLY: dict[str, list[IndexModel]] = {
    "follow_ups": [
        IndexModel([("queue_key", ASCENDING)], name="queue_only"),
        IndexModel([("status", ASCENDING)], name="status_only"),
        IndexModel([("team", ASCENDING)], name="team_only"),
        IndexModel([("owner", ASCENDING)], name="owner_only", sparse=True),
    ],
    "outbox": [IndexModel([("next_ms", ASCENDING)], name="next_only")],
    "records": [
        IndexModel([("profile_id", ASCENDING)], name="by_profile"),
        IndexModel([("occurred_at", ASCENDING)], name="by_time"),
    ],
    "audit_log": [
        IndexModel([("profile_id", ASCENDING)], name="by_profile_only"),
        IndexModel([("key_id", ASCENDING)], name="by_key_only"),
    ],
}


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]], *, embedded: bool = False) -> None:
    for collection, models in INDEXES.items():
        await db[collection].create_indexes(models)
    if embedded:
        for collection, models in EMBEDDED_ONLY.items():
            await db[collection].create_indexes(models)
