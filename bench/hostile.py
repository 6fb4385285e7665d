"""Hostile-request benchmark: how long refusing each costs, and whether others wait meanwhile.

    python -m bench.hostile [--levels 10,16,20,23,26,30] [--repeat N]

Serves the real application (``create_app``, uvicorn with httptools, as ``c360 serve`` does) in a
child process on a free port of 127.0.0.1, on a fresh database of the store (``C360_MONGODB_URI``
when set, else a private embedded server), with an agent key. A prober in this process asks
``/health`` every 10 ms throughout. Then, one at a time, it sends:

- the fan-out document (``tests/hostile.py``: fragments that each spread the next twice) at each
  number of levels;
- a document of 450 fields of one response name with different arguments (graphql-core's
  overlapping-fields rule would compare 100,000 pairs of them: refused before it runs);
- a fragment chain past the interpreter's stack;
- a document with a string of 500 KB (parsed in a worker thread).

and prints, per document, the status and error code, the time to the answer (median of
``--repeat``), and the slowest and median ``/health`` answers while it was in flight. The
server is its own process, so the figures are the server's and not this client's. Nothing is
asserted: the figures are for people to read (the tests assert the refusals and that
``/health`` answers within 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import bench_store, positive
from c360.auth.service import Role
from c360.services import Services
from tests.hostile import fan_out, fragment_chain

START_TIMEOUT_S = 60.0
PROBE_EVERY_S = 0.01


@dataclass
class Probe:
    """``/health`` answers: when each was asked and how long it took."""

    answers: list[tuple[float, float]]

    def during(self, start: float, end: float) -> list[float]:
        return [took for asked, took in self.answers if asked + took >= start and asked <= end]


async def _probe(base_url: str, probe: Probe, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as http:
        while not stop.is_set():
            asked = time.perf_counter()
            await http.get("/health")
            probe.answers.append((asked, time.perf_counter() - asked))
            await asyncio.sleep(PROBE_EVERY_S)


@contextlib.asynccontextmanager
async def _served(uri: str, database: str) -> AsyncIterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_")}
    env |= {"C360_MONGODB_URI": uri, "C360_DATABASE": database, "C360_LOG_LEVEL": "WARNING"}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "c360.cli.main", "serve", "--port", str(port), env=env
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/health")).status_code == 200:
                        break
                if child.returncode is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not answer /health")
                await asyncio.sleep(0.1)
        yield base_url
    finally:
        child.terminate()
        await child.wait()


def _documents(levels: list[int]) -> list[tuple[str, str]]:
    aliases = "{" + "".join(f' a: profile(id: "{i}") {{ __typename }}' for i in range(450)) + "}"
    long_string = '{ __typename profile(id: "' + "x" * 500_000 + '") @skip(if: true) { id } }'
    return [
        *((f"fan-out, {n} levels", fan_out(n)) for n in levels),
        ("450 fields of one name", aliases),
        ("fragment chain of 550", fragment_chain(550)),
        ("a string of 500 KB", long_string),
    ]


async def run(levels: list[int], repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="c360-bench-") as work:
        async with bench_store(Path(work), 500) as (store, settings):
            services = Services.build(store.db, settings)
            _, key = await services.keys.create(Role.AGENT, "bench", dt.datetime.now(dt.UTC))
            uri = settings.mongodb_uri or (store.embedded.uri if store.embedded else "")
            async with _served(uri, settings.database) as base_url:
                print(f"server      {base_url}, a child process; /health probed every 10 ms")
                probe, stop = Probe([]), asyncio.Event()
                prober = asyncio.create_task(_probe(base_url, probe, stop))
                headers = {"Authorization": f"Bearer {key}"}
                async with httpx.AsyncClient(
                    base_url=base_url, headers=headers, trust_env=False, timeout=600
                ) as http:
                    print(f"{'document':26} {'answer':>24} {'time':>10} {'health max':>11} p50")
                    for name, query in _documents(levels):
                        times, health = [], []
                        for _ in range(repeat):
                            start = time.perf_counter()
                            response = await http.post("/graphql", json={"query": query})
                            end = time.perf_counter()
                            times.append(end - start)
                            await asyncio.sleep(3 * PROBE_EVERY_S)  # a probe after it, too
                            health += probe.during(start, end)
                        errors = response.json().get("errors") or [{}]
                        code = (errors[0].get("extensions") or {}).get("code", "-")
                        answer = f"{response.status_code} {code}"
                        slowest = f"{max(health) * 1000:.1f} ms" if health else "-"
                        median = f"{statistics.median(health) * 1000:.1f} ms" if health else "-"
                        took = statistics.median(times) * 1000
                        print(f"{name:26} {answer:>24} {took:8.1f} ms {slowest:>11} {median}")
                stop.set()
                await prober


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="10,16,20,23,26,30")
    parser.add_argument("--repeat", type=positive, default=5)
    args = parser.parse_args()
    asyncio.run(run([int(n) for n in args.levels.split(",")], args.repeat))


if __name__ == "__main__":
    main()
