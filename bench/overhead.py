"""What metrics, the access audit and rate limits cost the hot query: the agent view over HTTP
with all three, without them, and the raw driver's calls for the same data.

    python -m bench.overhead [--profiles N] [--clients C] [--requests R] [--seed S] [--quick]

Loads N people (default 10 000) as ``bench.api`` does, then has C concurrent clients (default
16) fetch R agent views (default 2 000) with an agent key from three sides, each after a
warm-up that is not counted, in two rounds (bare, full, bare, full) so that a drift of the
machine shows:

- **full**: the application as ``c360 serve`` runs it — every request timed into the metrics
  with its route and operation, its request id made, a token taken from the key's
  store-backed bucket (limits set high enough that nothing is refused: the cost is the
  bucket's update, not a 429), the contact points it reads in full gathered per profile and
  appended to the audit in one write, every store command timed by the driver's listener;
- **bare**: the same application with those four switched off in this process (the request
  middleware removed, the GraphQL extensions, the audit's write and the command listener made
  no-ops, no limits);
- **raw driver**: the PyMongo calls that fetch the same data (``bench.api``'s).

It prints p50/p95/p99, throughput and store commands per request of each, the ratios
full/bare and full/raw, and what one full request sent to the store that a bare one did not.
The store is ``C360_MONGODB_URI`` when set, else a private embedded server. Nothing is
asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from fastapi import FastAPI
from pymongo import monitoring
from strawberry.extensions import SchemaExtension

from bench.api import (
    CommandCounter,
    Plan,
    Run,
    agent_view_query,
    event_loop_factory,
    graphql_fetch,
    live_profiles,
    load,
    measure,
    plan_from_arguments,
    raw_fetch,
    report_errors,
    serve_with_client,
)
from bench.common import bench_store, generate_files
from c360.api.app import create_app
from c360.api.graphql import access
from c360.api.graphql.extensions import LookupLimiter, OperationAudit, OperationMetrics
from c360.audit.service import AuditService
from c360.auth.service import Role
from c360.observability.requests import RequestContext
from c360.services import Services
from c360.settings import RateLimit, Settings
from c360.store.client import CommandTimes

RECORDS_PER_PROFILE = 30
# High enough that no request is refused: each still takes its token from the store.
GENEROUS = RateLimit(per_minute=10_000_000, burst=1_000_000)
ROLES = ("admin", "agent", "marketing", "connector")


@contextlib.contextmanager
def bare() -> Iterator[None]:
    """Metrics, the audit and the request context switched off in this process."""
    saved: list[tuple[Any, str, Any]] = []

    def swap(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    async def no_flush(*args: Any, **kwargs: Any) -> None:
        return None

    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    swap(OperationMetrics, "on_operation", SchemaExtension.on_operation)
    swap(LookupLimiter, "on_execute", SchemaExtension.on_execute)
    swap(OperationAudit, "on_execute", SchemaExtension.on_execute)
    swap(access, "_audit", nothing)
    swap(AuditService, "flush", no_flush)
    swap(CommandTimes, "succeeded", nothing)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def application(settings: Settings, full: bool) -> FastAPI:
    limits = {role: GENEROUS if full else None for role in ROLES}
    app = create_app(settings.model_copy(update={"rate_limits": limits}))
    if not full:
        kept = [m for m in app.user_middleware if cast(object, m.cls) is not RequestContext]
        app.user_middleware = kept
    return app


async def side(
    settings: Settings,
    key: str,
    plan: Plan,
    query: str,
    warmup: list[str],
    picked: list[str],
    counter: CommandCounter,
    full: bool,
) -> Run:
    with contextlib.ExitStack() as stack:
        if not full:
            stack.enter_context(bare())
        async with serve_with_client(
            application(settings, full), key, plan.clients, request_timeout_s=120.0
        ) as (_, http):
            fetch = graphql_fetch(http, query)
            await measure(fetch, warmup, plan.clients)
            counter.commands.clear()
            counter.micros.clear()
            counter.on = True
            result = await measure(fetch, picked, plan.clients)
            counter.on = False
            return result


async def run(plan: Plan, batch_size: int) -> None:
    counter = CommandCounter()
    monitoring.register(counter)  # before the applications' clients exist
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        files = generate_files(
            Path(tmp), plan.profiles * RECORDS_PER_PROFILE, plan.profiles, plan.seed
        )
        async with bench_store(Path(tmp), batch_size) as (store, settings):
            print(f"store       {store.kind}, database {settings.database}, batch {batch_size}")
            services = Services.build(store.db, settings)
            await load(services, store, settings, files)
            live = await live_profiles(store.db)
            rng = random.Random(plan.seed)
            warmup = [rng.choice(live) for _ in range(plan.warmup)]
            picked = [rng.choice(live) for _ in range(plan.requests)]
            query, _ = agent_view_query()
            _, key = await services.keys.create(Role.AGENT, "bench", dt.datetime.now(dt.UTC))
            print(
                f"requests    {plan.requests:,} agent views by {plan.clients} clients per side "
                f"and round, after {plan.warmup:,} not counted"
            )
            sides: list[tuple[str, Run, float]] = []
            for round_ in (1, 2):
                for full in (False, True):
                    measured = await side(settings, key, plan, query, warmup, picked, counter, full)
                    name = f"{'full' if full else 'bare'} (round {round_})"
                    sides.append((name, measured, sum(counter.commands.values()) / plan.requests))
                    if full:
                        full_commands = dict(counter.commands)
                    else:
                        bare_commands = dict(counter.commands)
            fetch = raw_fetch(store.db)
            await measure(fetch, warmup, plan.clients)
            raw = await measure(fetch, picked, plan.clients)
            audited = await store.db["audit_log"].estimated_document_count()
    report(sides, raw, bare_commands, full_commands, plan.requests, audited)


def report(
    sides: list[tuple[str, Run, float]],
    raw: Run,
    bare_commands: dict[str, int],
    full_commands: dict[str, int],
    requests: int,
    audited: int,
) -> None:
    print()
    header = f"{'':20}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}{'commands':>10}"
    print(header)
    for name, measured, commands in [*sides, ("raw driver", raw, 0.0)]:
        cells = [measured.percentile(q) * 1000 for q in (0.50, 0.95, 0.99)]
        print(
            f"{name:<20}"
            + "".join(f"{c:9.2f}" for c in cells)
            + f"{measured.throughput:9,.0f}"
            + (f"{commands:10.2f}" if name != "raw driver" else f"{'':>10}")
        )
    print()
    for round_ in (1, 2):
        bare_run = sides[2 * (round_ - 1)][1]
        full_run = sides[2 * (round_ - 1) + 1][1]
        p50 = full_run.percentile(0.5) / bare_run.percentile(0.5)
        p99 = full_run.percentile(0.99) / bare_run.percentile(0.99)
        rate = full_run.throughput / bare_run.throughput
        print(f"full/bare   round {round_}: p50 {p50:.2f}x, p99 {p99:.2f}x, throughput {rate:.2f}x")
    last_full = sides[-1][1]
    print(
        f"full/raw    p50 {last_full.percentile(0.5) / raw.percentile(0.5):.2f}x, "
        f"p99 {last_full.percentile(0.99) / raw.percentile(0.99):.2f}x"
    )
    added = {
        name: (full_commands.get(name, 0) - bare_commands.get(name, 0)) / requests
        for name in set(full_commands) | set(bare_commands)
    }
    print("added       store commands per request, full minus bare:")
    for name, count in sorted(added.items()):
        if abs(count) >= 0.005:
            print(f"  {name:<30} {count:+.2f}")
    print(f"audit       {audited:,} entries written in all (one per request and profile read)")
    report_errors([(name, measured) for name, measured, _ in sides] + [("raw driver", raw)])


def main() -> None:
    plan = plan_from_arguments(__doc__)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run(plan, Settings(_env_file=None).ingest_batch_size))


if __name__ == "__main__":
    main()
