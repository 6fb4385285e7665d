"""Prometheus metrics: the one registry of the process, its series, and helpers to feed them.

Every series c360 exposes at ``/metrics`` is declared here, so what can be scraped is read in
one place. Each API process keeps its own (``c360 serve`` is one process per port, scraped as a
target of its own; Prometheus sums across targets), so there is no shared state to corrupt and
no multiprocess directory to manage.

Labels stay bounded: routes are templates (``/unsubscribe/{token}``, never the token), GraphQL
operation names beyond the first ``C360_METRICS_OPERATION_NAMES`` seen count as ``other`` and
unnamed ones as ``anonymous``, and every other label comes from a closed set or is bounded
the same way (``BoundedLabel``).

Gauges read from the store (is it up, how many dead letters wait) are declared here too and set
just before a scrape by the hooks of ``c360.api.metrics`` (``SCRAPE_HOOKS``), which read the
store through the services: a new gauge of that kind adds its hook there.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    platform_collector,
    process_collector,
)

REGISTRY: Final = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

# Seconds: from a cached GraphQL read (a few ms) to an export or import (tens of seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

OTHER = "other"
ANONYMOUS = "anonymous"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")


class BoundedLabel:
    """At most ``limit`` distinct values of a label; values after those read ``other``. A value
    that is no name (letters, digits, ``_``, ``.``, ``-``; at most 100) is ``other`` too."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # the driver's listener may run on another thread

    def configure(self, limit: int) -> None:
        """A new bound, and no value seen yet (an app starting)."""
        with self._lock:
            self.limit = limit
            self._seen = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if not _NAME.fullmatch(value):
            return OTHER
        with self._lock:
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(value)
        return value


# --- HTTP and GraphQL ------------------------------------------------------------------------

HTTP_REQUESTS: Final = Histogram(
    "c360_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_OPERATIONS: Final = Histogram(
    "c360_graphql_operation_duration_seconds",
    "Time to run a GraphQL operation (parse, validate, execute), by operation type and name.",
    ["type", "operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_ERRORS: Final = Counter(
    "c360_graphql_errors",
    "GraphQL errors answered, by extensions.code (request errors and field errors alike).",
    ["code"],
    registry=REGISTRY,
)
RATE_LIMITED: Final = Counter(
    "c360_rate_limited_requests",
    "Requests refused with 429, by bucket (requests, lookups) and role.",
    ["bucket", "role"],
    registry=REGISTRY,
)
operation_names = BoundedLabel(100)  # the limit is set from the settings when the app starts
error_codes = BoundedLabel(100)


def count_graphql_error(code: str | None) -> None:
    GRAPHQL_ERRORS.labels(error_codes(code or "InternalError")).inc()


# --- Ingest ----------------------------------------------------------------------------------

INGEST_OUTCOMES = ("inserted", "updated", "duplicate", "rejected", "ignored", "suppressed")
INGEST_ITEMS: Final = Counter(
    "c360_ingest_items",
    "Records ingested, by connector and outcome (inserted, updated, duplicate, rejected, "
    "ignored, suppressed), whatever the path (POST /ingest, webhooks, imports and pulls in "
    "this process).",
    ["connector", "outcome"],
    registry=REGISTRY,
)
DEAD_LETTERS: Final = Counter(
    "c360_dead_letters",
    "Input items dead-lettered (rejected with their raw input), by connector.",
    ["connector"],
    registry=REGISTRY,
)
DEAD_LETTERS_STORED: Final = Gauge(
    "c360_dead_letters_stored",
    "Dead letters waiting in the store (estimated count), read at scrape time.",
    registry=REGISTRY,
)
connectors = BoundedLabel(100)


def count_ingest(
    connector: str, outcomes: Iterable[str], rejected: int, ignored: int, suppressed: int = 0
) -> None:
    """One batch's records by outcome; ``rejected`` items were dead-lettered, ``suppressed``
    ones belonged to erased people."""
    name = connectors(connector)
    tally = dict.fromkeys(INGEST_OUTCOMES, 0)
    for outcome in outcomes:
        tally[outcome] += 1
    tally["rejected"] += rejected
    tally["ignored"] += ignored
    tally["suppressed"] += suppressed
    for outcome, count in tally.items():
        if count:
            INGEST_ITEMS.labels(name, outcome).inc(count)
    if rejected:
        DEAD_LETTERS.labels(name).inc(rejected)


# --- The store -------------------------------------------------------------------------------

STORE_COMMANDS: Final = Histogram(
    "c360_store_command_duration_seconds",
    "Time of each MongoDB command as the driver measured it, by command name and outcome.",
    ["command", "outcome"],
    buckets=STORE_BUCKETS,
    registry=REGISTRY,
)
STORE_UP: Final = Gauge(
    "c360_store_up",
    "1 when the store answered a ping at scrape time, else 0; by kind (embedded, mongodb).",
    ["store"],
    registry=REGISTRY,
)
commands = BoundedLabel(60)


def observe_command(name: str, seconds: float, ok: bool) -> None:
    STORE_COMMANDS.labels(commands(name), "ok" if ok else "failed").observe(seconds)


# --- The access audit ------------------------------------------------------------------------

AUDIT_ENTRIES: Final = Counter(
    "c360_audit_entries",
    "Access-audit entries appended, by action (read, lookup, export, mutation).",
    ["action"],
    registry=REGISTRY,
)


# --- Follow-ups and SLAs ---------------------------------------------------------------------

FOLLOW_UPS: Final = Gauge(
    "c360_follow_ups",
    "Follow-ups by status, team and rule (read at scrape time).",
    ["status", "team", "rule"],
    registry=REGISTRY,
)
FOLLOW_UP_SLA: Final = Gauge(
    "c360_follow_up_sla",
    "Follow-ups being worked, by SLA target and its state now (on_track, due_soon, overdue, "
    "met, missed), read at scrape time.",
    ["target", "state"],
    registry=REGISTRY,
)
NOTIFICATIONS: Final = Gauge(
    "c360_notifications",
    "Outbox entries by status (pending, delivered, dead, cancelled), read at scrape time.",
    ["status"],
    registry=REGISTRY,
)
FOLLOW_UP_EVENTS: Final = Counter(
    "c360_follow_up_events",
    "What this process did to follow-ups, by rule and event (opened, held_out, withdrawn, "
    "acknowledged, started, resolved, escalated_first_response, …).",
    ["rule", "event"],
    registry=REGISTRY,
)
NOTIFICATION_ATTEMPTS: Final = Counter(
    "c360_notification_attempts",
    "Webhook delivery attempts by this process, by outcome (delivered, failed, dead).",
    ["outcome"],
    registry=REGISTRY,
)
rule_names = BoundedLabel(100)
team_names = BoundedLabel(100)


def count_follow_up(rule: str, event: str) -> None:
    FOLLOW_UP_EVENTS.labels(rule_names(rule), event).inc()


def count_deliveries(delivered: int, failed: int, dead: int) -> None:
    for outcome, count in (("delivered", delivered), ("failed", failed), ("dead", dead)):
        if count:
            NOTIFICATION_ATTEMPTS.labels(outcome).inc(count)
