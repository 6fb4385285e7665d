"""Console benchmark: the profile page's first render in a real browser, on the demo data.

    python -m bench.console [--loads N] [--warmup W] [--chromium PATH]

1. Serves ``c360 serve --demo`` in a child process on a free port with a fresh data directory
   (the embedded store, the demo customers, a key per role), as ``make run`` does.
2. Browser: Debian's Chromium, headless, signed in to the console with the agent key as a
   person does (the form), opens each demo customer's profile page in turn (``--loads`` in all,
   default 200, after ``--warmup`` loads not counted) and reads, from the page's own
   Performance API, the time from the start of the navigation to the profile's first render
   (the ``c360:profile-rendered`` mark: sections 1 to 5 drawn from the page's first GraphQL
   answer) and the duration of that GraphQL request as the browser saw it.
3. The same GraphQL document (read from the console's shipped ``queries.js``) over HTTP with the
   agent's API key, and the raw PyMongo reads of the same data on the same store (the profile,
   its identities, its metrics, the records traits, consent and the contact policy are folded
   from, its open and solved cases, and its three timeline pages), for the same profiles.

It prints p50/p95/p99/max of each and the ratios to the raw driver, and whether the first render
met 1 s at p95. Nothing is asserted: figures to read and compare between runs, on a machine
whose load shows in them.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright
from pymongo import MongoClient
from pymongo.database import Database

START_TIMEOUT_S = 60.0
KEY_LINE = re.compile(r"^\s+(admin|agent|marketing|connector)\s+(c360_\S+)$")
CONTACT_KINDS = [
    "person",
    "consent_change",
    "preference_change",
    "contact_point_status",
    "service_case",
    "outbound_contact",
]


class Served:
    """``c360 serve --demo`` on a free port, its banner read for the keys."""

    def __init__(self, data_dir: Path) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        env = {"C360_DATA_DIR": str(data_dir), "C360_PUBLIC_URL": self.base, "PATH": "/usr/bin"}
        data_dir.mkdir(parents=True)
        self.log = data_dir / "serve.log"
        with self.log.open("w") as out:  # a file: a pipe nobody reads would block the server
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "c360.cli.main",
                    "serve",
                    "--demo",
                    "--port",
                    str(self.port),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.keys: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            lines = self.log.read_text().splitlines()
            self.keys = {m[1]: m[2] for m in map(KEY_LINE.match, lines) if m}
            if "agent" in self.keys and any("Uvicorn running" in line for line in lines):
                break
            time.sleep(0.2)
        if "agent" not in self.keys:
            self.stop()
            raise SystemExit("c360 serve --demo did not start:\n" + self.log.read_text())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(q * len(ordered)) - 1, 0))]


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/console")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Find a customer").wait_for()


def demo_profiles(base: str, key: str) -> list[str]:
    query = '{ a: findProfiles(text: "%s") { matches { profile { id } } } }'
    found: list[str] = []
    for text in ("ana", "becker", "li.wei@example.net"):
        response = httpx.post(
            f"{base}/graphql",
            json={"query": query % text},
            headers={"authorization": f"Bearer {key}"},
        )
        found += [m["profile"]["id"] for m in response.json()["data"]["a"]["matches"]]
    return sorted(set(found))


def render_once(page: Page, base: str, profile_id: str) -> tuple[float, float]:
    """(first render, the page's GraphQL request) in ms, from the page's Performance API."""
    page.goto(f"{base}/console/profile/{profile_id}")
    page.locator('main[data-rendered="profile"]').wait_for(state="attached", timeout=30_000)
    timing: dict[str, float] = page.evaluate(
        """() => {
          const mark = performance.getEntriesByName("c360:profile-rendered")[0];
          const request = performance.getEntriesByType("resource")
            .filter((r) => r.name.endsWith("/console/graphql"))[0];
          return { render: mark.startTime, request: request ? request.duration : NaN };
        }"""
    )
    return timing["render"], timing["request"]


def timed_loads(
    load: Callable[[str], object], profiles: list[str], loads: int, warmup: int
) -> list[float]:
    """Each load's wall time in ms, the profiles in turn; the first ``warmup`` not kept."""
    took: list[float] = []
    for i in range(warmup + loads):
        started = time.perf_counter()
        load(profiles[i % len(profiles)])
        if i >= warmup:
            took.append((time.perf_counter() - started) * 1000)
    return took


def raw_reads(db: Database[dict[str, Any]], profile_id: str) -> None:
    """What the page's first query reads, as plain driver calls, one after another."""
    records = db["records"]
    db["profiles"].find_one({"_id": profile_id})
    list(db["identities"].find({"profile_id": profile_id}))
    db["profile_metrics"].find_one({"_id": profile_id})
    list(records.find({"profile_id": profile_id, "kind": {"$in": CONTACT_KINDS}}))
    for kinds in (["order", "return"], ["survey_response"]):
        page = records.find({"profile_id": profile_id, "kind": {"$in": kinds}})
        list(page.sort("timeline_key", -1).limit(6))
    list(records.find({"profile_id": profile_id}).sort("timeline_key", -1).limit(21))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=200, help="page loads counted (200)")
    parser.add_argument("--warmup", type=int, default=10, help="loads not counted (10)")
    parser.add_argument(
        "--chromium",
        default=shutil.which("chromium") or shutil.which("chromium-browser"),
        help="the Chromium binary (default: chromium on PATH)",
    )
    args = parser.parse_args()
    if not args.chromium:
        raise SystemExit("no Chromium: install Debian's 'chromium' or pass --chromium PATH")
    with tempfile.TemporaryDirectory(prefix="c360-bench-console-") as tmp:
        served = Served(Path(tmp) / "data")
        try:
            run(served, args.loads, args.warmup, args.chromium)
        finally:
            served.stop()


def run(served: Served, loads: int, warmup: int, chromium: str) -> None:
    key = served.keys["agent"]
    profiles = demo_profiles(served.base, key)
    print(f"server      {served.base}, c360 serve --demo in a child process (embedded store)")
    print(f"profiles    {len(profiles)} demo customers, {loads} loads after {warmup} not counted")
    renders: list[float] = []
    in_browser: list[float] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        sign_in(page, served.base, key)
        document = page.evaluate("async () => (await import('/static/console/queries.js')).PROFILE")
        for i in range(warmup + loads):
            render, request = render_once(page, served.base, profiles[i % len(profiles)])
            if i >= warmup:
                renders.append(render)
                in_browser.append(request)
        browser.close()

    with httpx.Client(base_url=served.base, headers={"authorization": f"Bearer {key}"}) as http:

        def over_http_once(profile_id: str) -> None:
            body = {"query": document, "variables": {"id": profile_id}}
            http.post("/graphql", json=body).raise_for_status()

        over_http = timed_loads(over_http_once, profiles, loads, warmup)

    port = json.loads((served.data_dir / "server.json").read_text())["port"]
    client: MongoClient[dict[str, Any]]
    with MongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true") as client:
        db: Database[dict[str, Any]] = client["c360"]
        raw = timed_loads(lambda profile_id: raw_reads(db, profile_id), profiles, loads, warmup)
    report(renders, in_browser, over_http, raw)


def report(
    renders: list[float], in_browser: list[float], over_http: list[float], raw: list[float]
) -> None:
    print()
    print(f"{'':40}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    rows = [
        ("first render (navigation to drawn)", renders),
        ("  its GraphQL request, in the browser", in_browser),
        ("same document over HTTP, API key", over_http),
        ("raw driver, the same reads", raw),
    ]
    for name, values in rows:
        cells = [percentile(values, q) for q in (0.50, 0.95, 0.99, 1.0)]
        print(f"{name:<40}" + "".join(f"{c:9.1f}" for c in cells))

    def ratios(values: list[float]) -> str:
        p50 = percentile(values, 0.50) / percentile(raw, 0.50)
        p95 = percentile(values, 0.95) / percentile(raw, 0.95)
        return f"p50 {p50:.1f}x, p95 {p95:.1f}x"

    print(f"ratio to raw    first render {ratios(renders)}; GraphQL over HTTP {ratios(over_http)}")
    p95 = percentile(renders, 0.95)
    verdict = "met" if p95 <= 1000 else "NOT met"
    print(f"target          first render within 1 s at p95: {verdict} ({p95:.0f} ms)")


if __name__ == "__main__":
    main()
