"""What masking contact points costs: a timeline read by marketing (masked) and by an agent
(not), against the raw driver.

    python -m bench.masking [--profiles N] [--clients C] [--requests R] [--seed S] [--quick]

Loads N people (default 10 000) with about 30 records each through the connectors (as
``bench.api``), serves the app with uvicorn in this process and asks, for R profiles picked at
random (default 2 000; the same picks for every side), the first 25 timeline items with every
text field the types have — names, user agents, URLs, event properties, order numbers and line
items, tags, touchpoints, actors and evidence, identifiers — with an agent's key (nothing
masked) and with a marketing key (every e-mail address and phone number in that text found and
masked), in two rounds (half the picks by the agent, then by marketing, then the other half
likewise) so neither has the warmer store or machine. The raw driver fetches the same profiles
and their 26 newest records in the same run. Each side has a warm-up that is not counted;
marketing's answers are checked to hold no unmasked address of the profile.

Prints p50/p95/p99 latency and throughput of each side, the ratios to the raw driver, the
masking overhead (marketing minus agent, per request and per text value), and the masker alone
on the texts of those answers with its cache cleared (cold) and filled (warm). Nothing is
asserted: the figures are for comparing runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.api import (
    RECORDS_PER_PROFILE,
    Plan,
    Run,
    event_loop_factory,
    live_profiles,
    load,
    measure,
    plan_from_arguments,
    raw_fetch,
    serve,
)
from bench.common import bench_store, generate_files
from c360.api.app import create_app
from c360.auth.masking import Masker
from c360.auth.service import Role
from c360.services import Services
from c360.settings import Settings
from c360.store import Document

TIMELINE = """
query Timeline($id: ID!) {
  profile(id: $id) {
    __typename
    ... on Profile {
      id displayName emails phones
      timeline(first: 25) {
        edges { cursor node {
          __typename id source externalId occurredAt identifiers { type value source }
          ... on PersonRecord { givenName familyName fullName }
          ... on SiteEventRecord { name url referrer userAgent properties }
          ... on OrderRecord { orderNumber storeId lineItems { lineId sku title category } }
          ... on ReturnRecord { orderExternalId reason }
          ... on ServiceCaseRecord { status tags }
          ... on SurveyResponseRecord { score touchpoint }
          ... on ConsentChangeRecord { contactPoint actor evidence }
          ... on PreferenceChangeRecord { actor evidence }
          ... on ContactPointStatusRecord { point: contactPoint reason actor evidence }
          ... on OutboundContactRecord { contactPoint campaign actor }
        } }
      }
    }
  }
}
"""


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


class Timelines:
    """Fetches a profile's timeline over GraphQL; keeps the texts of the answers."""

    def __init__(self, http: httpx.AsyncClient, masked: bool) -> None:
        self.http = http
        self.masked = masked
        self.texts: list[str] = []
        self.values = 0

    async def fetch(self, profile_id: str) -> tuple[int, str | None]:
        body = {"query": TIMELINE, "variables": {"id": profile_id}}
        response = await self.http.post("/graphql", json=body)
        if response.status_code != 200:
            return 0, f"HTTP {response.status_code}: {response.text[:200]}"
        answer: Document = response.json()
        if answer.get("errors"):
            return 0, f"errors: {answer['errors']}"
        profile = answer["data"]["profile"]
        found = list(strings(profile))
        self.values += len(found)
        if not self.masked:
            self.texts.extend(found)
        elif any("@" in e and "•" not in e for e in profile["emails"]):
            return 0, "an e-mail address unmasked"
        return len(profile["timeline"]["edges"]), None


def _joined(before: Run | None, run: Run) -> Run:
    if before is None:
        return run
    joined = Run(before.latencies + run.latencies, before.seconds + run.seconds)
    joined.problems = before.problems + run.problems
    joined.items = before.items + run.items
    return joined


def masker_alone(texts: Sequence[str], region: str | None) -> tuple[float, float]:
    """Microseconds per text: the masker with an empty cache, then with it filled."""
    masker = Masker(region)
    started = time.perf_counter()
    for text in texts:
        masker.within(text)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        masker.within(text)
    warm = time.perf_counter() - started
    return cold / len(texts) * 1e6, warm / len(texts) * 1e6


async def run(plan: Plan, batch_size: int) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as tmp:
        files = generate_files(
            Path(tmp), plan.profiles * RECORDS_PER_PROFILE, plan.profiles, plan.seed
        )
        async with bench_store(Path(tmp), batch_size) as (store, settings):
            print(f"store       {store.kind}, database {settings.database}")
            services = Services.build(store.db, settings)
            await load(services, store, settings, files)
            live = await live_profiles(store.db)
            rng = random.Random(plan.seed)
            warmup = [rng.choice(live) for _ in range(plan.warmup)]
            picked = [rng.choice(live) for _ in range(plan.requests)]
            print(
                f"requests    {plan.requests:,} per side by {plan.clients} clients for "
                f"{len(set(picked)):,} distinct profiles, after {plan.warmup:,} not counted"
            )
            now = dt.datetime.now(dt.UTC)
            keys = {
                role: (await services.keys.create(role, f"bench {role.value}", now))[1]
                for role in (Role.AGENT, Role.MARKETING)
            }
            sides: dict[str, Run] = {}
            fetchers: dict[str, Timelines] = {}
            async with serve(create_app(settings)) as base_url:
                for role, key in keys.items():
                    http = httpx.AsyncClient(
                        base_url=base_url,
                        headers={"Authorization": f"Bearer {key}"},
                        limits=httpx.Limits(max_connections=plan.clients),
                        timeout=120.0,
                        trust_env=False,
                    )
                    fetchers[role.value] = Timelines(http, masked=role is Role.MARKETING)
                    await measure(fetchers[role.value].fetch, warmup, plan.clients)
                # Two rounds in turn, so neither side has the warmer store or machine.
                for timelines in fetchers.values():
                    timelines.texts.clear()
                    timelines.values = 0
                halves = (picked[: len(picked) // 2], picked[len(picked) // 2 :])
                for half in halves:
                    for name, timelines in fetchers.items():
                        run = await measure(timelines.fetch, half, plan.clients)
                        sides[name] = _joined(sides.get(name), run)
                for timelines in fetchers.values():
                    await timelines.http.aclose()
            raw = raw_fetch(store.db)
            await measure(raw, warmup, plan.clients)
            sides["raw driver"] = await measure(raw, picked, plan.clients)
    report(sides, fetchers, settings)


def report(sides: dict[str, Run], fetchers: dict[str, Timelines], settings: Settings) -> None:
    raw = sides["raw driver"]
    print()
    print(f"{'':22}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>9}{'p50/raw':>9}{'p99/raw':>9}")
    for name, side in (
        ("agent (unmasked)", sides["agent"]),
        ("marketing (masked)", sides["marketing"]),
        ("raw driver", raw),
    ):
        cells = [side.percentile(q) * 1000 for q in (0.50, 0.95, 0.99)]
        ratios = [side.percentile(q) / raw.percentile(q) for q in (0.50, 0.99)]
        print(
            f"{name:<22}"
            + "".join(f"{c:9.2f}" for c in cells)
            + f"{side.throughput:9,.0f}"
            + "".join(f"{r:8.2f}x" for r in ratios)
        )
    agent, marketing = sides["agent"], sides["marketing"]
    values = fetchers["marketing"].values / max(len(marketing.latencies), 1)
    overhead = (marketing.percentile(0.5) - agent.percentile(0.5)) * 1000
    p50, p99 = (marketing.percentile(q) / agent.percentile(q) for q in (0.5, 0.99))
    print(
        f"masking     marketing/agent p50 {p50:.2f}x, p99 {p99:.2f}x; "
        f"{overhead:+.2f} ms per request at p50 for {values:.0f} text values "
        f"({overhead * 1000 / max(values, 1):+.1f} µs each)"
    )
    texts = fetchers["agent"].texts
    if texts:
        cold, warm = masker_alone(texts, settings.default_region)
        print(
            f"masker      alone, on the {len(texts):,} texts the agent read: {cold:.1f} µs per "
            f"text with an empty cache, {warm:.2f} µs once cached"
        )
    for name, side in sides.items():
        failed = sum(side.problems.values())
        print(f"errors      {name}: {failed:,} of {len(side.latencies):,}")
        for problem, count in side.problems.most_common(3):
            print(f"  {count:>6,}  {problem}")


def main() -> None:
    plan = plan_from_arguments(__doc__)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run(plan, Settings(_env_file=None).ingest_batch_size))


if __name__ == "__main__":
    main()
