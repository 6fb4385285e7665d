"""``c360 identity``: identity resolution's maintenance (the matching weights; the keys and
the automatic merges of profiles matched under older rules)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

from c360.cli.arguments import positive_int
from c360.cli.session import operator
from c360.cli.session import run_with_services as _run

if TYPE_CHECKING:
    from c360.identity.calibration import Calibration
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

HELP = "identity resolution"


def arguments(identity: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 identity``, and their handlers."""
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
    recheck = identity_sub.add_parser(
        "recheck",
        help="weigh every automatic merge again under today's rules and list those they would "
        "not make (after an upgrade); --unmerge undoes them",
    )
    recheck.add_argument(
        "--unmerge",
        action="store_true",
        help="undo the merges today's rules would not make (as unmergeProfile does: the pair "
        "is kept apart from then on)",
    )
    recheck.set_defaults(handler=_recheck)


def _calibrate(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> Calibration:
        return await services.matcher.calibrate(args.records, args.pairs)

    result = _run(settings, work)
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

    done: int = _run(settings, work)
    print(f"profiles keyed afresh: {done:,}")
    return 0


def _recheck(args: argparse.Namespace, settings: Settings) -> int:
    from c360.audit.types import Action

    async def work(services: Services, store: Store) -> tuple[int, int, int]:
        weighed = failing = unjudged = 0
        async for found in services.matcher.recheck():
            weighed += 1
            entry = found.entry
            if found.score is None:
                unjudged += 1
                print(f"{entry.id}: not weighed: {found.unjudged}")
                continue
            if found.refused is None:
                continue
            failing += 1
            print(
                f"{entry.id}: {entry.absorbed} merged into {entry.survivor} on "
                f"{entry.started_at:%Y-%m-%d}; today's rules would not: {found.refused}\n"
                f"  then: {entry.reason or 'no reason kept'}\n  now:  {found.score.explain()}"
            )
            if args.unmerge:
                reason = f"today's rules would not merge them: {found.refused}"
                now = dt.datetime.now(dt.UTC)
                caller = operator()
                await services.merges.unmerge(entry.id, now, actor=caller.name, reason=reason)
                detail = json.dumps({"merge": entry.id, "reason": reason}, sort_keys=True)
                await services.audit.record(
                    caller,
                    Action.MUTATION,
                    "unmerge",
                    operation="c360 identity",
                    profile_ids=(entry.survivor, entry.absorbed),
                    detail=detail,
                )
                print("  unmerged")
        return weighed, failing, unjudged

    weighed, failing, unjudged = _run(settings, work)
    outcome = "unmerged" if args.unmerge else "to unmerge: c360 identity recheck --unmerge"
    print(
        f"automatic merges weighed: {weighed:,}; today's rules would not make {failing:,}"
        + (f" ({outcome})" if failing else "")
        + (f"; not weighed: {unjudged:,}" if unjudged else "")
    )
    return 0
