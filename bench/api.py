"""API benchmark: the agent view over GraphQL and HTTP, against the raw driver calls.

    python -m bench.api [--profiles N] [--clients C] [--requests R] [--seed S] [--quick]

1. Load: generates every connector's file for N people (default 10 000) with about 30 records
   each (``bench/generate.py``, timed apart) and imports them through the whole pipeline
   (``import_file``) into a fresh database; prints the load time.
2. GraphQL over HTTP: serves the real application (``create_app``) with uvicorn in this process
   on a free port of 127.0.0.1, as ``c360 serve`` does (httptools; uvloop's event loop, which
   the whole run uses where it is installed), creates an API key with the agent role, and has
   C concurrent clients (default 16, ``httpx``) send R requests in all (default 2 000) of the
   agent view — profile, contact points, metrics, lifecycle stage, churn risk, the preferred
   channel when the schema (``schemas/schema.graphql``) has it, and the first 25 timeline
   items — each for a profile picked at random (seeded) among the live ones (not merged into
   another). Every response is checked: status 200, no ``errors``, a profile.
3. Raw driver: for the same profiles, with the same concurrency, the PyMongo calls that fetch
   the same data, concurrently per profile: the profile by ``_id``, its identities by
   ``profile_id``, its ``profile_metrics`` by ``_id``, its records the display name and the
   preferred channel are folded from (people, consent and preference changes, contact-point
   statuses, cases, the contact log: one query) and its 26 newest records by ``timeline_key``.

Both sides get a warm-up that is not counted. It prints p50/p95/p99 and max latency and the
throughput of each, the ratios GraphQL/raw of p50 and p99 next to the targets (p50 at most 3x,
p99 at most 5x), and the store commands the application sent per request (counted with a
PyMongo command listener, which sees only the application's client). Clients and server share
this process and its event loop, so the HTTP figures include the clients' own work.

The store is ``C360_MONGODB_URI`` when set in the environment, else a private embedded server in
a temporary directory; the database is dropped at the end. Nothing is asserted: the figures are
for people to read and compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import random
import socket
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import graphql
import httpx
import uvicorn
from fastapi import FastAPI
from pymongo import monitoring

from bench.common import bench_store, generate_files, import_written, positive
from bench.generate import Written
from c360.api.app import create_app
from c360.api.graphql.export import SDL_PATH
from c360.auth.service import Role
from c360.services import Services
from c360.settings import Settings
from c360.store import Database, Document, Store

RECORDS_PER_PROFILE = 30
TIMELINE_PAGE = 25
QUICK_PROFILES = 300
QUICK_REQUESTS = 200
HEALTH_TIMEOUT_S = 30.0

AGENT_VIEW = """
query AgentView($id: ID!) {
  profile(id: $id) {
    __typename
    ... on Profile {
      id
      displayName
      emails
      phones
      metrics {
        orderCount
        lifetimeValue { amount currency }
        openCases
        averageCsat
        lastNps
      }
      lifecycleStage { stage reason }
      churnRisk { score }
      %(preferred_channel)s
      timeline(first: %(page)d) {
        edges { cursor node { __typename id occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""


# --- The query -----------------------------------------------------------------------------------


def preferred_channel_selection(sdl: str) -> str | None:
    """``preferredChannel`` with its leaf fields, if the schema's ``Profile`` has the field.

    Arguments that need a value get the first value of their enum; optional ones are left out.
    """
    schema = graphql.build_schema(sdl)
    profile = schema.get_type("Profile")
    if not isinstance(profile, graphql.GraphQLObjectType):
        return None
    found = profile.fields.get("preferredChannel")
    if found is None:
        return None
    arguments = [
        f"{name}: {_first_value(argument)}"
        for name, argument in found.args.items()
        if graphql.is_required_argument(argument)
    ]
    selected = "preferredChannel" + (f"({', '.join(arguments)})" if arguments else "")
    return selected + _leaf_selection(found.type)


def _first_value(argument: graphql.GraphQLArgument) -> str:
    kind = graphql.get_named_type(argument.type)
    if not isinstance(kind, graphql.GraphQLEnumType):
        raise SystemExit(f"preferredChannel needs a {kind} argument: teach bench/api.py about it")
    return next(iter(kind.values))


def _leaf_selection(output: graphql.GraphQLOutputType) -> str:
    named = graphql.get_named_type(output)
    if graphql.is_leaf_type(named):
        return ""
    leaves = []
    if isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        leaves = [
            name
            for name, child in named.fields.items()
            if graphql.is_leaf_type(graphql.get_named_type(child.type))
            and not any(graphql.is_required_argument(a) for a in child.args.values())
        ]
    return " { " + " ".join(["__typename", *leaves]) + " }"


def agent_view_query() -> tuple[str, str | None]:
    """The agent view's document, and the preferred-channel selection it has (if any)."""
    preferred = preferred_channel_selection(SDL_PATH.read_text(encoding="utf-8"))
    query = AGENT_VIEW % {"preferred_channel": preferred or "", "page": TIMELINE_PAGE}
    return query, preferred


# --- Measuring -----------------------------------------------------------------------------------


@dataclass
class Run:
    """Latencies of one side, in seconds, and the wall-clock time of all its requests."""

    latencies: list[float]
    seconds: float
    problems: Counter[str] = field(default_factory=Counter)
    items: int = 0
    """Timeline items (or newest records) received in all."""

    def percentile(self, q: float) -> float:
        """Nearest rank."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(math.ceil(q * len(ordered)) - 1, 0))]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds


Fetch = Callable[[str], Awaitable[tuple[int, str | None]]]
"""Fetches one profile's agent view: (items received, what was wrong or None)."""


async def measure(fetch: Fetch, profile_ids: Sequence[str], clients: int) -> Run:
    """``clients`` workers share the ids, each sending one request after another."""
    pending = iter(profile_ids)
    run = Run([], 0.0)

    async def client() -> None:
        for profile_id in pending:
            started = time.perf_counter()
            items, problem = await fetch(profile_id)
            run.latencies.append(time.perf_counter() - started)
            run.items += items
            if problem is not None:
                run.problems[problem[:200]] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    run.seconds = time.perf_counter() - started
    return run


def graphql_fetch(http: httpx.AsyncClient, query: str) -> Fetch:
    async def fetch(profile_id: str) -> tuple[int, str | None]:
        body = {"query": query, "variables": {"id": profile_id}, "operationName": "AgentView"}
        response = await http.post("/graphql", json=body)
        if response.status_code != 200:
            return 0, f"HTTP {response.status_code}: {response.text}"
        answer: Document = response.json()
        if answer.get("errors"):
            return 0, f"errors: {answer['errors']}"
        profile = (answer.get("data") or {}).get("profile") or {}
        if profile.get("__typename") != "Profile":
            return 0, f"not a profile: {profile}"
        return len(profile["timeline"]["edges"]), None

    return fetch


# What the display name and the preferred channel are folded from: people, consent,
# preferences, contact-point status, cases and the contact log (one read holds them all).
CONTACT_KINDS = [
    "person",
    "consent_change",
    "preference_change",
    "contact_point_status",
    "service_case",
    "outbound_contact",
]


def raw_fetch(db: Database) -> Fetch:
    profiles, identities = db["profiles"], db["identities"]
    metrics, records = db["profile_metrics"], db["records"]
    person = {"source": 1, "occurred_at": 1, "revision": 1, "data": 1, "profile_id": 1}

    async def fetch(profile_id: str) -> tuple[int, str | None]:
        profile, _, _, _, newest = await asyncio.gather(
            profiles.find_one({"_id": profile_id}),
            identities.find({"profile_id": profile_id}).to_list(),
            metrics.find_one({"_id": profile_id}),
            records.find(
                {"profile_id": profile_id, "kind": {"$in": CONTACT_KINDS}}, person
            ).to_list(),
            records.find({"profile_id": profile_id})
            .sort("timeline_key", -1)
            .limit(TIMELINE_PAGE + 1)
            .to_list(),
        )
        return min(len(newest), TIMELINE_PAGE), None if profile else "no profile"

    return fetch


class CommandCounter(monitoring.CommandListener):
    """Counts the commands of the clients created after it is registered, while ``on``, per
    command and collection, with the time each took as the client saw it (queueing included)."""

    def __init__(self) -> None:
        self.on = False
        self.commands: Counter[str] = Counter()
        self.micros: Counter[str] = Counter()
        self._names: dict[int, str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on:
            target = event.command.get(event.command_name)
            name = (
                f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
            )
            self._names[event.request_id] = name
            self.commands[name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._ended(event.request_id, event.duration_micros)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._ended(event.request_id, event.duration_micros)

    def _ended(self, request_id: int, micros: int) -> None:
        name = self._names.pop(request_id, None)
        if name is not None:
            self.micros[name] += micros


# --- The server ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn in this event loop on a free port; yields its base URL once
    ``/health`` answers."""
    # IPPROTO_TCP said out loud: asyncio sets TCP_NODELAY on the connections a socket accepts
    # only then; without it Nagle and delayed ACKs add 40 ms to every response.
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", http="httptools"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    base_url = f"http://127.0.0.1:{port}"
    try:
        await _healthy(base_url, task)
        yield base_url
    finally:
        server.should_exit = True
        await task
        listening.close()


@contextlib.asynccontextmanager
async def serve_with_client(
    app: FastAPI, key: str, clients: int, request_timeout_s: float
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """The app served (``serve``) and an HTTP client that sends ``key``, at most ``clients``
    connections at once."""
    async with (
        serve(app) as base_url,
        httpx.AsyncClient(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {key}",
                "Accept": "application/graphql-response+json",
            },
            limits=httpx.Limits(max_connections=clients),
            timeout=request_timeout_s,
            trust_env=False,
        ) as http,
    ):
        yield base_url, http


async def _healthy(base_url: str, server: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
        while time.monotonic() < deadline:
            if server.done():
                server.result()  # raises what stopped it
                raise SystemExit("the server stopped before answering /health")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise SystemExit(f"no healthy answer from {base_url}/health in {HEALTH_TIMEOUT_S:.0f} s")


# --- The run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    profiles: int
    clients: int
    requests: int
    warmup: int
    seed: int


async def run(plan: Plan, batch_size: int) -> None:
    counter = CommandCounter()
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        records = plan.profiles * RECORDS_PER_PROFILE
        files = generate_files(Path(tmp), records, plan.profiles, plan.seed)
        async with bench_store(Path(tmp), batch_size) as (store, settings):
            print(f"store       {store.kind}, database {settings.database}, batch {batch_size}")
            services = Services.build(store.db, settings)
            await load(services, store, settings, files)
            live = await live_profiles(store.db)
            rng = random.Random(plan.seed)
            warmup = [rng.choice(live) for _ in range(plan.warmup)]
            picked = [rng.choice(live) for _ in range(plan.requests)]
            query, preferred = agent_view_query()
            print(
                f"requests    {plan.requests:,} by {plan.clients} clients for "
                f"{len(set(picked)):,} distinct profiles, after {plan.warmup:,} not counted"
            )
            print(f"preferred   {preferred or 'channel: not in schemas/schema.graphql, left out'}")

            _, key = await services.keys.create(Role.AGENT, "bench", dt.datetime.now(dt.UTC))
            monitoring.register(counter)  # before the application's client exists
            async with serve_with_client(
                create_app(settings), key, plan.clients, request_timeout_s=120.0
            ) as (base_url, http):
                loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
                print(f"server      {base_url}, uvicorn in this process ({loop}), an agent key")
                fetch = graphql_fetch(http, query)
                await measure(fetch, warmup, plan.clients)
                counter.on = True
                over_http = await measure(fetch, picked, plan.clients)
                counter.on = False

            fetch = raw_fetch(store.db)
            await measure(fetch, warmup, plan.clients)
            raw = await measure(fetch, picked, plan.clients)
    report(over_http, raw, counter, plan.requests)


async def load(services: Services, store: Store, settings: Settings, files: list[Written]) -> None:
    options = settings.parse_options()
    imports = [await import_written(services, written, options) for written in files]
    seconds = sum(i.seconds for i in imports)
    read = sum(i.summary.read for i in imports)
    rejected = sum(i.summary.rejected for i in imports)
    profiles = await store.db["profiles"].count_documents({})
    live = await store.db["profiles"].count_documents({"merged_into": {"$exists": False}})
    stored = await store.db["records"].count_documents({})
    print(
        f"loaded      {read:,} records ({rejected:,} rejected) in {seconds:.1f} s "
        f"({read / seconds:,.0f} records/s) through the pipeline"
    )
    print(
        f"profiles    {live:,} live ({profiles - live:,} merged into others), "
        f"{stored / max(live, 1):.1f} records each on average"
    )


async def live_profiles(db: Database) -> list[str]:
    """Ids of the profiles not merged into another, in a stable order."""
    cursor = db["profiles"].find({"merged_into": {"$exists": False}}, {"_id": 1}).sort("_id", 1)
    return [doc["_id"] async for doc in cursor]


def report(over_http: Run, raw: Run, counter: CommandCounter, requests: int) -> None:
    print()
    print(f"{'':22}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}{'items':>8}")
    for name, side in (("GraphQL over HTTP", over_http), ("raw driver", raw)):
        cells = [side.percentile(q) * 1000 for q in (0.50, 0.95, 0.99, 1.0)]
        print(
            f"{name:<22}"
            + "".join(f"{c:9.2f}" for c in cells)
            + f"{side.throughput:9,.0f}{side.items / len(side.latencies):8.1f}"
        )
    p50 = over_http.percentile(0.50) / raw.percentile(0.50)
    p99 = over_http.percentile(0.99) / raw.percentile(0.99)
    print(f"ratio GraphQL/raw     p50 {p50:.2f}x (target ≤ 3x), p99 {p99:.2f}x (target ≤ 5x)")
    per_request = sum(counter.commands.values()) / requests
    print(
        f"store       {per_request:.2f} commands per GraphQL request; per command, as the "
        "application's client saw it (queueing included):"
    )
    for name, count in sorted(counter.commands.items()):
        mean_ms = counter.micros[name] / count / 1000
        print(f"  {name:<30} {count / requests:5.2f} per request {mean_ms:9.2f} ms mean")
    report_errors((("GraphQL over HTTP", over_http), ("raw driver", raw)))


def report_errors(sides: Sequence[tuple[str, Run]]) -> None:
    for name, side in sides:
        failed = sum(side.problems.values())
        print(f"errors      {name}: {failed:,} of {len(side.latencies):,} responses")
        for problem, count in side.problems.most_common(3):
            print(f"  {count:>6,}  {problem}")


def plan_from_arguments(doc: str | None, what: str = "requests") -> Plan:
    """The run a benchmark's command line asks for (shared by bench.api and bench.contact)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument(
        "--profiles", type=positive, metavar="N", help="people to load (default: 10 000)"
    )
    parser.add_argument(
        "--clients", type=positive, default=16, metavar="C", help="concurrent clients (default 16)"
    )
    parser.add_argument(
        "--requests", type=positive, metavar="R", help=f"{what} in all (default: 2 000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="of the data and the picks (default 7)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_PROFILES} profiles and {QUICK_REQUESTS} requests by default",
    )
    args = parser.parse_args()
    profiles = args.profiles or (QUICK_PROFILES if args.quick else 10_000)
    requests = args.requests or (QUICK_REQUESTS if args.quick else 2_000)
    warmup = max(args.clients, min(requests // 10, 200))
    return Plan(profiles, args.clients, requests, warmup, args.seed)


def main() -> None:
    plan = plan_from_arguments(__doc__)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run(plan, Settings(_env_file=None).ingest_batch_size))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's, where it is installed, as under ``c360 serve``; else asyncio's (None)."""
    try:
        import uvloop
    except ImportError:  # Windows
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
