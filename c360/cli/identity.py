"""``c360 identity``: identity resolution's maintenance (the matching weights, the keys of
profiles written under older rules)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys

from c360.cli.arguments import positive_int
from c360.cli.session import with_services
from c360.identity.calibration import Calibration
from c360.services import Services
from c360.settings import Settings
from c360.store import Store


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``c360 identity`` to the command line."""
    identity = commands.add_parser("identity", help="identity resolution")
    identity_sub = identity.add_subparsers(required=True, metavar="ACTION")
    calibrate = identity_sub.add_parser(
        "calibrate",
        help="estimate the m and u of the probabilistic score from the stored person records; "
        "prints a value for C360_IDENTITY_MATCH_WEIGHTS",
    )
    calibrate.add_argument(
        "--records",
        type=positive_int,
        default=200_000,
        help="person records to read (default 200 000)",
    )
    calibrate.add_argument(
        "--pairs", type=positive_int, default=200_000, help="random pairs for u (default 200 000)"
    )
    calibrate.set_defaults(handler=_calibrate)
    rekey = identity_sub.add_parser(
        "rekey",
        help="key and compare afresh the profiles keyed under an older version's rules "
        "(after an upgrade; otherwise each is when a record of it next arrives)",
    )
    rekey.set_defaults(handler=_rekey)


def _calibrate(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> Calibration:
        return await services.matcher.calibrate(args.records, args.pairs)

    result = asyncio.run(with_services(settings, work))
    print(json.dumps(result.to_setting()))
    sessions = ", ".join(
        f"{kind} {pairs:,} pairs ({result.match_rates[kind]:.1%} matches)"
        for kind, pairs in result.sessions.items()
    )
    print(f"m estimated over candidate pairs: {sessions or 'none'}", file=sys.stderr)
    if result.even_odds is not None:
        print(
            f"a score of {result.even_odds:.1f} is even odds here; 10 more is about 1000 to 1",
            file=sys.stderr,
        )
    return 0


def _rekey(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> int:
        return await services.matcher.rekey(dt.datetime.now(dt.UTC))

    done: int = asyncio.run(with_services(settings, work))
    print(f"profiles keyed afresh: {done:,}")
    return 0
