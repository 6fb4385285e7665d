"""Where each collection lives on a sharded cluster: its shard key, or unsharded, and why.

The one statement of the choice. ``deploy/sharded/shard-keys.json``, which the init step of
``docker-compose.sharded.yml`` reads, is rendered from it (``python -m c360.store.sharding``);
the README's table says the same; and the tests check both against it, check that every
collection the code uses is placed here, and check that the queries of the hot paths carry the
shard key in a form ``mongos`` routes to one shard (``tests/routing.py``).

What ``mongos`` can target: a query is sent to one shard (or to the few owning the values it
names) only when it constrains the shard key's first field by equality or ``$in`` — or, for a
ranged (not hashed) key, by a bounded range. ``_id`` alone is targeted only where ``_id`` is
that first field; on a collection sharded by anything else a query by ``_id`` goes to every
shard. Queries on an unsharded collection go to the one shard holding it (the database's
primary shard), so they never fan out.

``broadcasts`` names, per collection, the queries (by the repository method that sends them)
that go to every shard on purpose, with the reason: each is batched, rare, or an admin's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Direction = Literal[1, "hashed"]


@dataclass(frozen=True)
class Placement:
    """A collection's shard key (``None``: unsharded) and why; the queries allowed to go to
    every shard (``module:Class.method`` → why)."""

    key: tuple[tuple[str, Direction], ...] | None
    why: str
    broadcasts: Mapping[str, str] = field(default_factory=dict)

    @property
    def sharded(self) -> bool:
        return self.key is not None


_RECORDS = "c360.records.repository:RecordRepository"

SHARDING: dict[str, Placement] = {
    "records": Placement(
        key=(("profile_id", "hashed"), ("_id", 1)),
        why=(
            "A profile's records (its timeline, the facts of its contact decisions, its cases, "
            "the recomputation of its metrics) are read by profile_id, so a profile's history "
            "stays on one shard and each of those reads goes to that shard alone. Hashed, "
            "because profile ids are ObjectIds that grow with time: a ranged key would send "
            "every new person's records to the last chunk. _id after it lets a profile with "
            "very many records, and the records no profile holds yet (a missing profile_id "
            "counts as null), split into several chunks instead of one that cannot move."
        ),
        broadcasts={
            f"{_RECORDS}.revisions": (
                "Ingest: the stored revision of each record of a batch, by its source id. The "
                "id does not say the profile (merges move records), so every shard is asked: "
                "one $in per batch, answered by each shard's _id index; a batch's records "
                "belong to profiles on every shard anyway."
            ),
            f"{_RECORDS}.profile_of": (
                "Ingest of a return that names nobody: the profile of its order, by the "
                "order's source id (one $in per batch that holds such returns, and one more "
                "after writing those still unlinked)."
            ),
            f"{_RECORDS}.get": (
                "A contact logged again with the same external id: the record stored the "
                "first time, by id (a retried call)."
            ),
            "c360.contact.repository:ContactRepository.records_between": (
                "Audience pages and exports: the records of a run of consecutive profile ids, "
                "one range. The hash spreads those profiles over every shard, so each shard "
                "answers its own part from the timeline index: the work an $in of the ids "
                "would give it."
            ),
            "c360.profiles.repository:SearchRepository.by_name_prefix": (
                "Search by name: the person records the matching words point at, by id (one "
                "$in per search word)."
            ),
            "c360.lookup.repository:ReferenceRepository.orders_numbered": (
                "Finding a customer by the order number they quote (the console's search and "
                "screen pop): the number says nothing of the profile, so each shard answers "
                "from its sparse order-number index; one agent's lookup, taken from the "
                "key's lookup bucket."
            ),
            "c360.lookup.repository:ReferenceRepository.by_ids": (
                "Finding a customer by an order id or a ticket id they quote: the record ids "
                "({source}:{kind}:{id}) say nothing of the profile, so each shard answers from "
                "its _id index; one agent's lookup, taken from the key's lookup bucket."
            ),
            "c360.identity.repository:MatchRepository.person_records": (
                "c360 identity calibrate samples person records wherever they are (an admin "
                "command)."
            ),
            "c360.kpis.repository:KpiRepository.orders": (
                "KPIs: the orders the span's refunds name that their customers' ledgers do "
                "not hold (rare: an order in another profile, or in none), by id, wherever "
                "they are."
            ),
            "c360.followups.repository:RuleInputRepository.between": (
                "alertRulePreview replays the records of a time window, whoever they belong "
                "to (an admin's backtest, writing nothing)."
            ),
        },
    ),
    "profiles": Placement(
        key=(("_id", "hashed"),),
        why=(
            "One document per person, read and written by id (hashed: ids are ObjectIds, "
            "which grow with time)."
        ),
        broadcasts={
            "c360.contact.repository:ContactRepository.live_after": (
                "Audiences walk every live profile in id order: each shard returns its next "
                "page and mongos merges them; walking everyone cannot stay on one shard."
            ),
            "c360.profiles.repository:ProfileRepository.live_ids": (
                "c360 profiles recompute --all (an admin command)."
            ),
            "c360.kpis.repository:KpiRepository.churn": (
                "KPIs: churn counts people by when they were last seen, two counts a period, "
                "each a range of the last_seen index on every shard."
            ),
        },
    ),
    "profile_metrics": Placement(
        key=(("_id", "hashed"),),
        why=(
            "One aggregate per profile, _id = the profile id: every read, fold and "
            "recomputation is by id."
        ),
        broadcasts={
            "c360.metrics.repository:MetricsRepository.ltv_cutoffs": (
                "Value tiers: percentiles of lifetime value among all buyers, by the ltv "
                "index alone: at most once every five minutes per process for profile reads, "
                "once per evaluation of alert rules that read tiers and once per KPI report "
                "by segment (what those decide must follow from the stored records)."
            ),
            "c360.metrics.repository:MetricsRepository.all_ids": (
                "c360 profiles recompute --all (an admin command)."
            ),
            "c360.metrics.repository:MetricsRepository.ledgers_on": (
                "KPIs: the ledgers of the people active in a span, one range of the "
                "ledger_days index on each shard. A span's customers are spread over every "
                "shard by the hash, so every shard holds part of the answer."
            ),
        },
    ),
    "match_features": Placement(
        key=(("_id", "hashed"),),
        why="What matching compares, one document per profile, read and replaced by id.",
    ),
    "consent_tokens": Placement(
        key=(("_id", "hashed"),),
        why="Double opt-in tokens, one per request, created, used and read by their hash.",
    ),
    "identities": Placement(
        key=None,
        why=(
            "Read by identifier (linking, profileByIdentifier, search by e-mail or phone) and "
            "by profile (every agent view, contact decision, audience page and merge). Its "
            "_id is the rule 'one identifier, one profile', and MongoDB keeps _id unique "
            "across shards only when _id is the shard key, whereupon every read by profile "
            "would go to every shard. Small documents, a few per person, so one shard holds "
            "them long after records need many; MongoDB 8's moveCollection can give them a "
            "shard of their own."
        ),
    ),
    "name_terms": Placement(
        key=None,
        why=(
            "Name words of person records, read by word prefix (search) and by record (a "
            "person re-indexed at ingest): no one key serves both. Small."
        ),
    ),
    "match_keys": Placement(
        key=None,
        why=(
            "Blocking keys, read by key (candidates at ingest) and by profile (replacing a "
            "profile's keys): no one key serves both. Small."
        ),
    ),
    "merges": Placement(
        key=None,
        why="The merge ledger: read by status, by absorbed profile and by either side.",
    ),
    "separations": Placement(
        key=None,
        why="Pairs an unmerge set apart, read by either profile (an array). Few.",
    ),
    "match_suggestions": Placement(
        key=None,
        why="Pairs for review, read by either profile (an array). Few.",
    ),
    "dead_letters": Placement(
        key=None,
        why="Rejected input, read by connector and time by admins, and by whom it names (an "
        "erasure); as large as bad input.",
    ),
    "connector_state": Placement(key=None, why="One cursor per pull connector."),
    "api_keys": Placement(key=None, why="A handful of keys, read by id."),
    "ingest_batches": Placement(
        key=None,
        why=(
            "The ingest journal: one entry per batch being written, by its content key, "
            "removed once the batch's derived data is written. A handful at any time."
        ),
    ),
    "rate_limits": Placement(
        key=None, why="One small document per API key and bucket, updated by id on each request."
    ),
    "follow_ups": Placement(
        key=None,
        why=(
            "Read mostly across customers: the work queues (by status, team and owner, in "
            "priority and due order) and the escalation alarm (by due time), which no key "
            "serves on one shard, on every page an agent turns; by customer at ingest and in "
            "the profile. One per complaint or detractor episode, orders of magnitude fewer "
            "than records; MongoDB 8's moveCollection can give them a shard of their own."
        ),
    ),
    "alert_rules": Placement(
        key=None, why="A few dozen rules with their versions, read whole every few seconds."
    ),
    "teams": Placement(key=None, why="A handful of teams an admin changed, read whole."),
    "outbox": Placement(
        key=None,
        why=(
            "Notifications waiting or sent, read by the worker in due order and by admins "
            "newest first: a queue, no key serves it on one shard; pruned by nobody yet, "
            "small per follow-up."
        ),
    ),
    "feedback_acks": Placement(
        key=None,
        why=(
            "One per acknowledged survey response or complaint, read by record id (the "
            "profile's feedback). Small."
        ),
    ),
    "retention_pending": Placement(
        key=None,
        why=(
            "The profiles of a retention page being deleted, until they are recomputed: a "
            "handful at a time, empty between runs."
        ),
    ),
    "leases": Placement(
        key=None, why="One document per lease (the follow-up worker's), taken every round."
    ),
    "console_sessions": Placement(
        key=None,
        why=(
            "One document per signed-in console, read and changed by id (a hash of its "
            "token) on each of the console's requests; a few per agent, removed when they "
            "end."
        ),
    ),
    "audit_log": Placement(
        key=None,
        why=(
            "Appended once per request that reads contact points or case text, read by admins "
            "by profile, key or sequence and pruned by age: no hot read, and one key would not "
            "serve those three. MongoDB 8's moveCollection can give it a shard of its own when "
            "it grows."
        ),
    ),
    "privacy_requests": Placement(
        key=None,
        why="Data-subject requests and their erasure journals: a few a day, read by admins.",
    ),
    "suppressions": Placement(
        key=None,
        why=(
            "Keyed hashes of erased people's identifiers, records and dead letters, asked once "
            "per ingest batch by _id; small next to the records (a hash per erased record)."
        ),
    ),
    "contact_tombstones": Placement(
        key=None,
        why="Keyed hashes of erased people's contact points, read by _id with contact facts.",
    ),
    "privacy_receipts": Placement(key=None, why="One signed receipt per erasure, read by id."),
}


def shard_keys() -> dict[str, dict[str, Direction]]:
    """The sharded collections and their keys, fields in key order (what the init step reads)."""
    return {
        name: dict(placement.key)
        for name, placement in sorted(SHARDING.items())
        if placement.key is not None
    }


def render() -> str:
    """``deploy/sharded/shard-keys.json``."""
    document = {
        "comment": "Rendered from c360/store/sharding.py by `python -m c360.store.sharding`.",
        "shardKeys": shard_keys(),
        "unsharded": sorted(n for n, p in SHARDING.items() if p.key is None),
    }
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":
    print(render(), end="")
