"""``c360 audit``: the access audit, newest first, as text or JSON lines, and ``audit prune``."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

from c360.cli.arguments import CASE_INSENSITIVE, instant, iso, positive_int
from c360.cli.session import operator
from c360.cli.session import run_with_services as _run

if TYPE_CHECKING:
    from c360.audit.service import AuditPage
    from c360.audit.types import AuditEntry
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

HELP = "the access audit: who read, looked up, exported or changed what"


def arguments(audit: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 audit`` and ``audit prune``, and their handlers."""
    from c360.audit.types import Action

    audit.add_argument("--profile", help="entries about this profile id")
    audit.add_argument("--key", help="entries of this API key id")
    audit.add_argument("--action", choices=[a.value for a in Action], type=CASE_INSENSITIVE)
    audit.add_argument("--since", type=instant, help="from this time (ISO 8601, inclusive)")
    audit.add_argument("--until", type=instant, help="up to this time (ISO 8601, inclusive)")
    audit.add_argument(
        "--limit", type=positive_int, default=50, help="entries to show (default 50)"
    )
    audit.add_argument("--after", help="the cursor a previous page ended with")
    audit.add_argument("--json", action="store_true", help="one JSON object a line")
    audit.set_defaults(handler=_audit)
    audit_sub = audit.add_subparsers(metavar="ACTION")
    prune = audit_sub.add_parser(
        "prune", help="remove entries past C360_AUDIT_RETENTION_DAYS (the API does it hourly)"
    )
    prune.set_defaults(handler=_prune)


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from c360.audit.repository import AuditQuery
    from c360.audit.types import Action

    query = AuditQuery(
        profile_id=args.profile,
        key_id=args.key,
        action=args.action,
        since=args.since,
        until=args.until,
    )
    asked = {
        name: iso(value) if isinstance(value, dt.datetime) else value
        for name, value in dataclasses.asdict(query).items()
        if value is not None
    }

    async def work(services: Services, store: Store) -> AuditPage:
        page = await services.audit.page(query, first=args.limit, after=args.after)
        await services.audit.record(
            operator(),
            Action.READ,
            "c360 audit",
            operation="c360 audit",
            detail=json.dumps(asked, sort_keys=True),
        )
        return page

    page: AuditPage = _run(settings, work)
    if not page.entries and not args.json:
        print("no audit entries match")
    for entry in page.entries:
        if args.json:
            print(json.dumps(as_json(entry), sort_keys=True, ensure_ascii=False))
            continue
        who = f"{entry.key_id} ({entry.role}, {entry.key_name})"
        profile = entry.profile_id or "-"
        print(
            f"{iso(entry.at)}  {entry.action:<8} {who}  profile {profile}"
            f"\n  {entry.operation}: {', '.join(entry.what)}"
            + (f"\n  detail: {entry.detail[:200]}" if entry.detail else "")
        )
    if page.has_next_page and page.entries:
        print(f"more: --after {page.entries[-1].seq}", file=sys.stderr)
    return 0


def as_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry for a script: its time in ISO 8601, and its detail as the JSON object it holds
    (a change's arguments, what a command was asked) or else as its text (what was searched)."""
    fields = {k: v for k, v in dataclasses.asdict(entry).items() if v is not None}
    fields["at"] = iso(entry.at)
    if entry.detail is not None:
        fields["detail"] = _detail(entry.detail)
    return fields


def _detail(text: str) -> Any:
    if text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            pass  # cut at the audit's length limit, or a search for such text
    return text


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> int:
        await services.audit.prepare()
        return await services.audit.prune(dt.datetime.now(dt.UTC))

    removed = _run(settings, work)
    print(f"removed {removed:,} audit entries older than {settings.audit_retention_days} days")
    return 0
