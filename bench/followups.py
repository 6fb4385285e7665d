"""Follow-ups benchmark: ingest with the default alert rules on against off, the ``followUps``
queue page against the raw driver, and webhook delivery against raw HTTP posts.

    python -m bench.followups [--people N] [--records R] [--follow-ups F] [--requests Q]
                              [--notifications W] [--seed S] [--quick]

1. Ingest: generates every connector's file for N people (default 2 000) with about R records
   (default 60 000; ``bench/generate.py``, whose surveys hold detractors, complaints and requests
   to be contacted) and imports them through the whole pipeline (``import_file``) twice, each
   into a fresh database: once with the default rules (the rules' ingest stage evaluating every
   batch, follow-ups and their outbox entries written), once with every rule disabled (the stage
   finds nothing to do). Records/s of each and the ratio on/off (the target is ≥ 0.9).
2. Queue: F follow-ups (default 100 000, one per profile) as the service stores them, written
   in bulk through the follow-ups repository into a fresh database, spread over three teams,
   four statuses and four priorities; the plan of a page's query is printed. Then Q requests
   (default 400, each followed by its raw read) of ``followUps(filter: {team, status},
   first: 20) { totalCount edges { node { id status priority team owner rule { id } sla {
   state } } } }`` over GraphQL in this process (ASGI, an agent's key), each for a random team
   and status. Raw driver: the same read — ``find`` on the same filter sorted by ``queue_key``,
   limit 21, and a ``$count`` after the same ``$match`` — with the same filters; every answer
   of the API is checked equal to the driver's (the same ids, the same total). p50/p99 of each
   and the ratios.
3. Delivery: W outbox entries (default 2 000) delivered by the worker's ``Deliverer`` to a local
   receiver (uvicorn, in this process) that checks every signature and answers 200; raw: the same
   bodies POSTed with httpx at the same concurrency, signed the same way, no store. Deliveries/s
   and the ratio.

The store is ``C360_MONGODB_URI`` when set, else a private embedded server (much slower than
mongod: compare the ratios, not the absolute figures). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.common import bench_store, generate_files, import_written
from c360.api.app import create_app
from c360.auth.service import Role
from c360.followups.model import Episode, Event, EventType, FollowUp, Status, Target
from c360.followups.repository import FollowUpRepository, QueueFilter, Stored
from c360.followups.rules import Priority, Trigger
from c360.notifications.delivery import USER_AGENT, Deliverer
from c360.notifications.repository import DeliveryStatus, Notification, notification_doc
from c360.notifications.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
    verify,
)
from c360.services import Services, followups_config

TEAMS = ("customer-care", "vip-care", "care-leads")
STATUSES = (Status.OPEN, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED)
SECRET = "bench-webhook-secret-0123456789"
QUEUE = """query($filter: FollowUpFilter) { followUps(filter: $filter, first: 20) {
  totalCount edges { node { id status priority team owner rule { id } sla { state } } } } }"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, seconds: list[float]) -> str:
    return (
        f"{name:<22} p50 {_pct(seconds, 0.5) * 1000:8.2f} ms  "
        f"p99 {_pct(seconds, 0.99) * 1000:8.2f} ms  n={len(seconds)}"
    )


# --- 1. Ingest, rules on and off ------------------------------------------------------------


async def ingest_rate(work: Path, files: list[Any], rules_on: bool) -> tuple[float, int, int]:
    async with bench_store(work, 1000) as (store, settings):
        services = Services.build(store.db, settings)
        if not rules_on:
            now = dt.datetime.now(dt.UTC)
            for rule in await services.followups.rules.all():
                await services.followups.rules.set_enabled(rule.id, False, "bench", now)
        records, seconds = 0, 0.0
        for written in files:
            done = await import_written(services, written, settings.parse_options())
            records += done.summary.read
            seconds += done.seconds
        follow_ups = await store.db["follow_ups"].count_documents({})
        return records / seconds, records, follow_ups


# --- 2. The queue ---------------------------------------------------------------------------


def synthetic(n: int, rng: random.Random, now: dt.datetime) -> FollowUp:
    profile = f"{n:024x}"
    opened = now - dt.timedelta(hours=rng.uniform(0, 24 * 14))
    team = rng.choice(TEAMS)
    status = rng.choice(STATUSES)
    return FollowUp(
        id=f"fu_{n:024x}",
        profile_id=profile,
        rule_id="nps-detractor",
        rule_version=1,
        rule_name="NPS detractor",
        episode=Episode(profile, 1),
        status=status,
        priority=rng.choice(list(Priority)),
        team=team,
        owner=f"{team}.agent{rng.randrange(8)}",
        held_out=False,
        triggers=(Trigger(opened, f"surveys:survey_response:{n}", "survey_response"),),
        reason="latest NPS answer 3 ≤ 6",
        opened_at=opened,
        due={
            Target.FIRST_RESPONSE: opened + dt.timedelta(hours=48),
            Target.RESOLUTION: opened + dt.timedelta(hours=168),
        },
        events=(Event(1, EventType.OPENED, opened, "c360", Status.OPEN),),
    )


async def timed(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    seconds = []
    for call in calls:
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return seconds


async def queue_latency(work: Path, follow_ups: int, requests: int, seed: int) -> None:
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    async with bench_store(work, 1000) as (store, settings):
        collection = store.db["follow_ups"]
        repository = FollowUpRepository(store.db)
        started = time.perf_counter()
        for start in range(0, follow_ups, 5000):
            items = [
                Stored(synthetic(n, rng, now)) for n in range(start, min(follow_ups, start + 5000))
            ]
            await repository.insert(items)  # what the service writes, in bulk
        print(
            f"queue       {follow_ups:,} follow-ups written in "
            f"{time.perf_counter() - started:.1f} s (not counted)"
        )
        filters = [(rng.choice(TEAMS), rng.choice(STATUSES)) for _ in range(requests)]
        sample = QueueFilter(statuses=(filters[0][1],), teams=(filters[0][0],)).query()
        plan = await collection.find(sample).sort("queue_key", 1).limit(21).explain()
        print(f"queue       a page's plan: {plan_of(plan)}")
        answers: dict[str, list[tuple[list[str], int]]] = {"api": [], "raw": []}
        app = create_app(settings.model_copy(update={"alerts_tick_s": 0}))  # reads only
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            _, secret = await services.keys.create(Role.AGENT, "bench", now)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"authorization": f"Bearer {secret}"},
            ) as client:

                def graphql(team: str, status: Status) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        variables = {"filter": {"team": [team], "status": [status.name]}}
                        answer = await client.post(
                            "/graphql", json={"query": QUEUE, "variables": variables}
                        )
                        body = answer.json()
                        assert answer.status_code == 200, body
                        assert not body.get("errors"), body
                        found = body["data"]["followUps"]
                        ids = [edge["node"]["id"] for edge in found["edges"]]
                        answers["api"].append((ids, found["totalCount"]))

                    return call

                def raw(team: str, status: Status) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        # The read FollowUpRepository.page and .count make: the queue's
                        # filter in queue order (one more, to know of a next page), and a
                        # $count after the same $match.
                        query = QueueFilter(statuses=(status,), teams=(team,)).query()
                        cursor = collection.find(query).sort("queue_key", 1).limit(21)
                        docs = await cursor.to_list()
                        counted: list[dict[str, Any]] = [{"$match": query}, {"$count": "n"}]
                        total = await (await collection.aggregate(counted)).to_list()
                        ids = [doc["_id"] for doc in docs[:20]]
                        answers["raw"].append((ids, total[0]["n"] if total else 0))

                    return call

                await timed([graphql(*f) for f in filters[:20]])  # warm-up, not counted
                await timed([raw(*f) for f in filters[:20]])
                api, driver = [], []
                for f in filters:  # interleaved: both sides see the same load on the machine
                    api += await timed([graphql(*f)])
                    driver += await timed([raw(*f)])
    assert answers["api"] == answers["raw"], "the API and the driver read different pages"
    print(_row("followUps (GraphQL)", api))
    print(_row("raw driver", driver))
    print(
        f"{'ratio GraphQL/raw':<22} p50 {_pct(api, 0.5) / _pct(driver, 0.5):8.2f}x    "
        f"p99 {_pct(api, 0.99) / _pct(driver, 0.99):8.2f}x"
    )


def plan_of(explain: dict[str, Any]) -> str:
    """The winning plan in one line: SQLite's steps on the embedded server, the stages (with
    their index) on MongoDB."""
    winning = explain.get("queryPlanner", {}).get("winningPlan", {})
    if isinstance(winning, list):
        return "; ".join(str(step.get("detail", step)) for step in winning)
    stages = []
    node = winning.get("queryPlan", winning)  # the slot-based engine wraps the plan
    while node:
        index = node.get("indexName")
        stages.append(node.get("stage", "?") + (f" ({index})" if index else ""))
        node = node.get("inputStage") or (node.get("inputStages") or [None])[0]
    return " > ".join(stages)


# --- 3. Delivery ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []

    async def handle(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        ok = verify(
            SECRET, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), body, time.time()
        )
        if not ok:
            return Response("bad signature", status_code=401)
        seen.append(headers.get(IDEMPOTENCY_HEADER, ""))
        return Response("{}", media_type="application/json")

    app = Starlette(routes=[Route("/hook", handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the receiver did not start")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", seen
    finally:
        server.should_exit = True
        await task


async def delivery_rate(work: Path, count: int, concurrency: int) -> None:
    now = dt.datetime.now(dt.UTC)
    async with bench_store(work, 1000) as (store, settings), receiver() as (url, seen):
        services = Services.build(store.db, settings)
        bodies = [f'{{"id":"n{i}","type":"follow_up.opened","n":{i}}}' for i in range(count)]
        entries = [
            Notification(
                id=f"n{i}",
                follow_up_id=f"fu_{i}",
                event=1,
                type="follow_up.opened",
                team="customer-care",
                url=url,
                body=body,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_at=now,
                created_at=now,
            )
            for i, body in enumerate(bodies)
        ]
        await store.db["outbox"].insert_many([notification_doc(e) for e in entries])
        # Each entry's follow-up as far as the delivery's question reads it (who it is about):
        # the production delivery asks it before each pass.
        await store.db["follow_ups"].insert_many(
            [{"_id": e.follow_up_id, "profile_id": f"p{i}"} for i, e in enumerate(entries)]
        )
        config = replace(followups_config(settings).delivery, concurrency=concurrency, batch=200)
        async with httpx.AsyncClient(timeout=10) as client:
            deliverer = Deliverer(
                services.followups.outbox,
                lambda team: SECRET,
                config,
                client,
                withheld=services.followups.service.relay.withheld,
            )
            started = time.perf_counter()
            delivered = 0
            while delivered < count:
                report = await deliverer.deliver_due(dt.datetime.now(dt.UTC))
                if report.attempted == 0:
                    break
                delivered += report.delivered
            worker_s = time.perf_counter() - started

            gate = asyncio.Semaphore(concurrency)

            async def post(i: int, body: str) -> None:
                async with gate:
                    sent = int(time.time())
                    headers = {
                        "Content-Type": "application/json",
                        "User-Agent": USER_AGENT,
                        IDEMPOTENCY_HEADER: f"raw{i}",
                        TIMESTAMP_HEADER: str(sent),
                        SIGNATURE_HEADER: signature(SECRET, sent, body.encode()),
                    }
                    answer = await client.post(url, content=body.encode(), headers=headers)
                    assert answer.status_code == 200

            started = time.perf_counter()
            await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
            raw_s = time.perf_counter() - started
    assert delivered == count, delivered
    assert len(seen) == 2 * count, len(seen)
    worker_rate, raw_rate = count / worker_s, count / raw_s
    print(f"{'delivery (outbox)':<22} {worker_rate:10,.0f} notifications/s  ({count:,})")
    print(f"{'raw HTTP posts':<22} {raw_rate:10,.0f} posts/s          ({count:,})")
    print(f"{'ratio outbox/raw':<22} {worker_rate / raw_rate:10.2f}x")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-followups-") as tmp:
        work = Path(tmp)
        (work / "files").mkdir()
        files = generate_files(work / "files", args.records, args.people, args.seed)
        off = await ingest_rate(work, files, rules_on=False)
        on = await ingest_rate(work, files, rules_on=True)
        print(f"{'ingest, rules off':<22} {off[0]:10,.0f} records/s  ({off[1]:,} records)")
        print(
            f"{'ingest, rules on':<22} {on[0]:10,.0f} records/s  ({on[1]:,} records, "
            f"{on[2]:,} follow-ups)"
        )
        print(f"{'ratio on/off':<22} {on[0] / off[0]:10.2f}   (target ≥ 0.9)")
        await queue_latency(work, args.follow_ups, args.requests, args.seed)
        await delivery_rate(work, args.notifications, args.concurrency)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--records", type=int, default=60_000)
    parser.add_argument("--follow-ups", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="small sizes, to try it out")
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.records, args.follow_ups = 300, 6000, 5000
        args.requests, args.notifications = 100, 300
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
