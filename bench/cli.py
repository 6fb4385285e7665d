"""Command-line start-up benchmark: how long ``c360`` takes to start and answer, against the
interpreter alone and the raw driver's import, in the same run.

    python -m bench.cli [--runs N]

Runs each command below N times (default 20) as a process, in rounds (each round runs every
command once, so that the machine's load weighs on all alike), and prints for each the median
wall time of the process and the median CPU it spent (user and system, from the children's
rusage), beside the baselines measured in the same rounds: ``python -c pass`` (the interpreter
alone) and ``python -c "import pymongo"`` (the raw driver), with the ratios to them.

The commands: ``--version`` and ``--help``, two subcommands' ``--help`` (``import``, the
connectors' names; ``privacy status``, the requests' states), and two that work on the store,
``keys list`` and ``deadletters list`` (settings read, the store opened, a read, the store
closed), on a fresh database of ``C360_MONGODB_URI`` when set, else of a private embedded server
(in memory) started once for the run. ``c360`` is run as ``python -m c360.cli.main``, the
command of this checkout, with its bytecode cached as an installed c360 has it (the round not
counted writes ``__pycache__``, whatever ``PYTHONDONTWRITEBYTECODE`` says: compiling c360's
modules afresh at every start would cost it more than it costs the driver, whose cache the
installation wrote). Nothing is asserted: figures to read and compare between runs, on a
machine whose load shows in them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.common import positive
from c360.store.embedded import EmbeddedServer

START_TIMEOUT_S = 60.0
C360 = (sys.executable, "-m", "c360.cli.main")
BASELINES = {
    "python -c pass": (sys.executable, "-c", "pass"),
    "python -c 'import pymongo'": (sys.executable, "-c", "import pymongo"),
}
COMMANDS = {
    "c360 --version": (*C360, "--version"),
    "c360 --help": (*C360, "--help"),
    "c360 import --help": (*C360, "import", "--help"),
    "c360 privacy status --help": (*C360, "privacy", "status", "--help"),
    "c360 keys list (store)": (*C360, "keys", "list"),
    "c360 deadletters list (store)": (*C360, "deadletters", "list"),
}


@dataclass
class Timings:
    """One command's starts: wall and CPU seconds of each."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: tuple[str, ...], env: dict[str, str], timings: Timings) -> None:
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    timings.wall.append(time.perf_counter() - started)
    timings.cpu.append(_children_cpu() - cpu)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}")


def measure(runs: int, env: dict[str, str]) -> dict[str, Timings]:
    """Every command and baseline ``runs`` times, in rounds, after one round not counted (the
    files read into the page cache, the store's database and indexes made)."""
    everything = {**BASELINES, **COMMANDS}
    for command in everything.values():
        _run(command, env, Timings())
    timings = {name: Timings() for name in everything}
    for _ in range(runs):
        for name, command in everything.items():
            _run(command, env, timings[name])
    return timings


def report(timings: dict[str, Timings], runs: int) -> None:
    bare = timings["python -c pass"]
    driver = timings["python -c 'import pymongo'"]
    bare_wall, driver_wall = statistics.median(bare.wall), statistics.median(driver.wall)
    driver_cpu = statistics.median(driver.cpu)
    print(f"median of {runs} starts each")
    print(
        f"{'':<32}{'wall ms':>9}{'cpu ms':>9}{'wall/pymongo':>14}{'cpu/pymongo':>13}"
        f"{'wall/pass':>11}"
    )
    for name, each in timings.items():
        wall, cpu = statistics.median(each.wall), statistics.median(each.cpu)
        print(
            f"{name:<32}{wall * 1000:>9.1f}{cpu * 1000:>9.1f}{wall / driver_wall:>13.2f}x"
            f"{cpu / driver_cpu:>12.2f}x{wall / bare_wall:>10.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=positive, default=20, help="starts of each (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="c360-bench-cli-") as work:
        server = None
        uri = os.environ.get("C360_MONGODB_URI")
        if not uri:
            server = EmbeddedServer.ensure(Path(work) / "store", START_TIMEOUT_S, in_memory=True)
            uri = server.uri
        database = f"bench_cli_{uuid.uuid4().hex[:8]}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("C360_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(
            C360_MONGODB_URI=uri,
            C360_DATABASE=database,
            C360_DATA_DIR=str(Path(work) / "data"),
            C360_LOG_LEVEL="WARNING",
        )
        try:
            timings = measure(args.runs, env)
        finally:
            client: MongoClient[dict[str, Any]]
            with MongoClient(uri) as client:
                client.drop_database(database)
            if server is not None:
                server.stop()
    report(timings, args.runs)


if __name__ == "__main__":
    main()
