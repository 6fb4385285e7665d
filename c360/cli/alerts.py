"""``c360 alerts``: alert rules from a file, the follow-up worker's round, a sweep of the
rules over stored customers, and the notification outbox."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from c360.cli.arguments import CASE_INSENSITIVE, positive_int
from c360.cli.session import operator
from c360.cli.session import run_with_services as _run

if TYPE_CHECKING:
    from c360.followups.evaluation import EvaluationReport
    from c360.followups.rulebook import Applied
    from c360.followups.rules import Rule
    from c360.followups.worker import TickReport
    from c360.notifications.repository import Notification
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

HELP = "alert rules, follow-ups and notifications"
SWEEP_BATCH = 200


def arguments(alerts: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 alerts``, and their handlers."""
    from c360.notifications.repository import DeliveryStatus

    sub = alerts.add_subparsers(required=True, metavar="ACTION")

    rules = sub.add_parser("rules", help="the alert rules")
    rules_sub = rules.add_subparsers(required=True, metavar="ACTION")
    apply = rules_sub.add_parser(
        "apply", help="validate a TOML file of [[rule]] tables and store each rule's next version"
    )
    apply.add_argument("file", help="the rule file (TOML)")
    apply.set_defaults(handler=_apply)
    listing = rules_sub.add_parser("list", help="the rules and their versions")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(handler=_list)

    tick = sub.add_parser(
        "tick",
        help="one round of the follow-up worker: escalate what is overdue, warn of what is due "
        "soon, relay and deliver notifications (c360 serve runs it every C360_ALERTS_TICK_S)",
    )
    tick.set_defaults(handler=_tick)

    evaluate = sub.add_parser(
        "evaluate",
        help="evaluate the enabled rules for stored customers (after enabling or changing a "
        "rule); states only, unless --every-record",
    )
    who = evaluate.add_mutually_exclusive_group(required=True)
    who.add_argument("--all", action="store_true", help="every customer")
    who.add_argument("--profile", action="append", metavar="ID", help="this customer (repeat)")
    evaluate.add_argument(
        "--every-record",
        action="store_true",
        help="count every stored record as new: event rules open follow-ups for the past too "
        "(those no older than their rule's max_trigger_age_days)",
    )
    evaluate.set_defaults(handler=_evaluate)

    outbox = sub.add_parser("outbox", help="the notification outbox, newest first")
    outbox.add_argument(
        "--status", choices=[s.value for s in DeliveryStatus], type=CASE_INSENSITIVE
    )
    outbox.add_argument("--limit", type=positive_int, default=20, help="how many (default 20)")
    outbox.set_defaults(handler=_outbox)
    outbox_sub = outbox.add_subparsers(metavar="ACTION")
    retry = outbox_sub.add_parser("retry", help="send dead notifications again (these, or all)")
    retry.add_argument("ids", nargs="*", metavar="ID")
    retry.set_defaults(handler=_retry)


def _apply(args: argparse.Namespace, settings: Settings) -> int:
    from c360.audit.types import Action
    from c360.followups.rulebook import parse_rules_file

    definitions = parse_rules_file(Path(args.file).read_text(encoding="utf-8"))

    async def work(services: Services, store: Store) -> list[Applied]:
        caller = operator()
        applied = await services.followups.rules.apply(
            definitions, caller.name, dt.datetime.now(dt.UTC)
        )
        await services.audit.record(
            caller,
            Action.MUTATION,
            "c360 alerts rules apply",
            operation="c360 alerts rules apply",
            detail=json.dumps([d.model_dump(mode="json") for d in definitions]),
        )
        return applied

    for item in _run(settings, work):
        print(f"{item.rule.id}: {item.change} (version {item.rule.version})")
    return 0


def _rule_line(rule: Rule) -> str:
    d = rule.definition
    state = "enabled" if d.enabled else "disabled"
    kinds = ", ".join(c.kind.value for c in d.conditions)
    return f"{d.id:<24} v{rule.version:<3} {state:<8} {d.priority.value:<7} {d.team:<16} {kinds}"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> list[Rule]:
        return await services.followups.rules.all()

    for rule in _run(settings, work):
        if args.json:
            line = {"version": rule.version, **rule.definition.model_dump(mode="json")}
            print(json.dumps(line, sort_keys=True))
        else:
            print(_rule_line(rule))
    return 0


def _tick(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> TickReport:
        return await services.followups.worker.once()

    report: TickReport = _run(settings, work)
    if not report.ran:
        print(f"another process holds the worker's lease ({report.holder}): nothing done")
        return 0
    delivery = report.delivery
    print(
        f"escalated: {report.escalated}, "
        f"relayed to the outbox: {report.relayed}, "
        f"delivered: {delivery.delivered if delivery else 0}, "
        f"failed (to retry): {delivery.failed if delivery else 0}, "
        f"dead: {delivery.dead if delivery else 0}, "
        f"withheld (erased): {delivery.withheld if delivery else 0}, "
        # Last: the line's earlier fields keep their places for the scripts that read them.
        f"warned (due soon): {report.warned}"
    )
    return 0


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from c360.followups.evaluation import EvaluationReport
    from c360.profiles.service import ProfileNotFound

    async def work(services: Services, store: Store) -> EvaluationReport | None:
        now = dt.datetime.now(dt.UTC)
        evaluation = services.followups.service.evaluation
        if not args.all:
            # An unknown id is an error, as for c360 profiles recompute; an absorbed one means
            # its survivor.
            found = await services.profiles.get_many(args.profile)
            unknown = [
                repr(p) for p, profile in zip(args.profile, found, strict=True) if not profile
            ]
            if unknown:
                ids = "id" if len(unknown) == 1 else "ids"
                raise ProfileNotFound(f"no profile with {ids} {', '.join(unknown)}")
        if not await evaluation.rules.enabled():
            return None  # nothing to evaluate: said so, rather than "customers: 0"
        if not args.all:
            return await evaluation.evaluate_profiles(
                args.profile, now, every_record=args.every_record
            )
        total = EvaluationReport()
        batch: list[str] = []
        async for profile_id in evaluation.live_profiles():
            batch.append(profile_id)
            if len(batch) >= SWEEP_BATCH:
                _add(
                    total,
                    await evaluation.evaluate_profiles(batch, now, every_record=args.every_record),
                )
                batch = []
        if batch:
            _add(
                total,
                await evaluation.evaluate_profiles(batch, now, every_record=args.every_record),
            )
        return total

    report: EvaluationReport | None = _run(settings, work)
    if report is None:
        print("no alert rule is enabled: nothing to evaluate (c360 alerts rules list)")
        return 0
    print(
        f"customers: {report.profiles:,}, opened: {report.opened:,}, held out: "
        f"{report.held_out:,}, joined: {report.joined:,}, withdrawn: {report.withdrawn:,}"
    )
    return 0


def _add(total: EvaluationReport, more: EvaluationReport) -> None:
    total.profiles += more.profiles
    total.opened += more.opened
    total.held_out += more.held_out
    total.joined += more.joined
    total.withdrawn += more.withdrawn


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    from c360.notifications.repository import DeliveryStatus

    status = None if args.status is None else DeliveryStatus(args.status)

    async def work(services: Services, store: Store) -> list[tuple[str, Notification]]:
        items, _ = await services.followups.outbox.page(status, args.limit, None)
        return items

    items = _run(settings, work)
    if not items:
        print("no notifications")
    for _, n in items:
        last = n.log[-1] if n.log else None
        outcome = "" if last is None else f" last: {last.status_code or last.error}"
        print(
            f"{n.created_at:%Y-%m-%dT%H:%M:%SZ}  {n.status.value:<9} {n.attempts} attempt(s)  "
            f"{n.type:<28} {n.team}  {n.id}{outcome}"
        )
    return 0


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> int:
        return await services.followups.outbox.retry(args.ids or None, dt.datetime.now(dt.UTC))

    count = _run(settings, work)
    print(f"{count} dead notification(s) queued again", file=sys.stdout)
    return 0
