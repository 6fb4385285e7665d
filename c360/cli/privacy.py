"""``c360 privacy``: data-subject requests from the command line (an operator acting as an
admin, audited as ``cli:{user}``), and ``c360 retention apply``."""

# Over 500 lines, kept whole: each ``c360 privacy`` action with the way it shows a request (its
# events, deliveries, receipt, scope and warnings), as one page of the README describes them.

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from c360.cli.arguments import CASE_INSENSITIVE, external_id
from c360.cli.session import operator, run_with_services

if TYPE_CHECKING:
    from c360.privacy.given import GivenIdentifier
    from c360.privacy.retention import Pruned
    from c360.privacy.types import Delivery, Duplicate, PrivacyRequest, Receipt, ScopePreview
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store

    Shown = tuple[PrivacyRequest, Receipt | None, list[Duplicate]]
    """A request as ``privacy status`` shows it: with its receipt and the open requests it
    duplicates."""

T = TypeVar("T")
HELP = "data-subject requests: access and erasure"
RETENTION_HELP = "records kept only for their window"


def arguments(privacy: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 privacy request|verify|scope|run|status|export|lift|public-key``,
    and their handlers."""
    from c360.audit.types import Action
    from c360.privacy.formats import FORMATS, delivery_detail
    from c360.privacy.rules import RequestType, Status

    sub = privacy.add_subparsers(required=True, metavar="ACTION")

    def audited(
        settings: Settings,
        what: str,
        detail: dict[str, Any],
        work: Callable[[Services], Awaitable[T]],
    ) -> T:
        async def run(services: Services, store: Store) -> T:
            result = await work(services)
            await services.audit.record(
                operator(),
                Action.MUTATION,
                what,
                operation="c360 privacy",
                detail=json.dumps(detail, sort_keys=True),
            )
            return result

        result: T = run_with_services(settings, run)
        return result

    def actor() -> str:
        caller = operator()
        return caller.name

    request = sub.add_parser("request", help="receive a request with the person's identifiers")
    request.add_argument("type", choices=[t.value for t in RequestType], type=CASE_INSENSITIVE)
    _identifier_options(request)
    request.add_argument("--note", help="how it arrived, what was asked")

    def _request(args: argparse.Namespace, settings: Settings) -> int:
        given = _given(args)

        async def create(s: Services) -> tuple[PrivacyRequest, list[Duplicate]]:
            doc = await s.privacy.create(
                RequestType(args.type), given, actor=actor(), now=_now(), note=args.note
            )
            return doc, await s.privacy.duplicates(doc)

        doc, duplicates = audited(
            settings,
            "privacy request",
            {"type": args.type, "identifiers": [g.value for g in given]},
            create,
        )
        _show(doc, duplicates=duplicates)
        return 0

    request.set_defaults(handler=_request)

    verify = sub.add_parser("verify", help="the person proved who they are")
    verify.add_argument("request_id")
    verify.add_argument("--note", help="how they were verified")

    def _verify(args: argparse.Namespace, settings: Settings) -> int:
        doc = audited(
            settings,
            "privacy verify",
            {"id": args.request_id},
            lambda s: s.privacy.verify(args.request_id, actor=actor(), now=_now(), note=args.note),
        )
        _show(doc)
        return 0

    verify.set_defaults(handler=_verify)

    run = sub.add_parser(
        "run", help="carry a verified request out, or continue one that failed or was cut short"
    )
    run.add_argument("request_id")
    run.add_argument(
        "--confirm-scope",
        metavar="FINGERPRINT",
        help="run past the scope's warnings (c360 privacy scope ID shows them and this "
        "fingerprint); refused if the scope has changed since",
    )

    def _run(args: argparse.Namespace, settings: Settings) -> int:
        detail = {"id": args.request_id, "confirm_scope": args.confirm_scope}
        doc = audited(
            settings,
            "privacy run",
            {k: v for k, v in detail.items() if v is not None},
            lambda s: s.privacy.run(
                args.request_id, actor=actor(), now=_now(), acknowledged=args.confirm_scope
            ),
        )
        _show(doc)
        return 0 if doc.status is Status.COMPLETED else 1

    run.set_defaults(handler=_run, resumable=True)

    scope = sub.add_parser(
        "scope",
        help="what a request covers, to review before running it: profiles, identifiers "
        "given or not, merges, records by kind, warnings",
    )
    scope.add_argument("request_id")
    scope.add_argument("--json", action="store_true", help="one JSON object")

    def _scope(args: argparse.Namespace, settings: Settings) -> int:
        async def work(services: Services, store: Store) -> ScopePreview | None:
            found = await services.privacy.scope(args.request_id)
            await services.audit.record(
                operator(),
                Action.READ,
                "privacy scope",
                operation="c360 privacy",
                profile_ids=[p.id for p in found.profiles] if found and found.profiles else [None],
                detail=json.dumps({"id": args.request_id}),
            )
            return found

        found: ScopePreview | None = run_with_services(settings, work)
        if args.json:
            print(json.dumps(_scope_json(found), default=str, sort_keys=True))
        elif found is None:
            print(f"request {args.request_id} is a completed erasure: whom it covered is forgotten")
        else:
            _show_scope(found)
        return 0

    scope.set_defaults(handler=_scope)

    status = sub.add_parser("status", help="one request, or the requests by status")
    status.add_argument("request_id", nargs="?")
    status.add_argument("--status", choices=[s.value for s in Status], type=CASE_INSENSITIVE)
    status.add_argument("--overdue", action="store_true", help="open past their deadline")
    status.add_argument("--json", action="store_true", help="one JSON object a line")

    def _status(args: argparse.Namespace, settings: Settings) -> int:
        async def work(services: Services, store: Store) -> list[Shown]:
            if args.request_id:
                docs = [await services.privacy.get(args.request_id)]
                if docs[0].status in (Status.RECEIVED, Status.VERIFIED) and not args.json:
                    scopes[docs[0].id] = await services.privacy.scope(docs[0].id)
            else:
                wanted = Status(args.status) if args.status else None
                docs = await services.privacy.page(wanted, args.overdue or None, _now())
            shown = [p.id for found in scopes.values() if found for p in found.profiles]
            await services.audit.record(
                operator(),
                Action.READ,
                "privacy status",
                operation="c360 privacy",
                profile_ids=shown or [None],  # a scope's warnings name their identifiers
            )
            return [
                (d, await services.privacy.receipt(d.id), await services.privacy.duplicates(d))
                for d in docs
            ]

        scopes: dict[str, ScopePreview | None] = {}
        found: list[Shown] = run_with_services(settings, work)
        if not found and not args.json:
            print("no privacy requests match")
        for doc, receipt, duplicates in found:
            if args.json:
                shown = _as_json(doc, receipt, duplicates)
                print(json.dumps(shown, default=str, sort_keys=True))
            else:
                _show(doc, receipt, duplicates)
                if (preview := scopes.get(doc.id)) is not None:
                    _show_scope_summary(preview)
        return 0

    status.set_defaults(handler=_status)

    export = sub.add_parser(
        "export", help="a completed access request's export: one JSON document or a zip"
    )
    export.add_argument("request_id")
    export.add_argument("--format", choices=sorted(FORMATS), default="json")
    export.add_argument("--out", required=True, metavar="FILE", help="where to write it")

    def _export(args: argparse.Namespace, settings: Settings) -> int:
        async def work(services: Services, out: BinaryIO) -> list[Delivery]:
            request, scope = await services.privacy.exportable(args.request_id)
            profile_ids: list[str | None] = [*scope.profiles] or [None]

            async def audited(what: str, detail: dict[str, Any]) -> None:
                await services.audit.record(
                    operator(),
                    Action.EXPORT,
                    what,
                    operation="c360 privacy",
                    profile_ids=profile_ids,
                    detail=json.dumps(detail),
                )

            done: list[Delivery] = []

            async def delivered(delivery: Delivery) -> None:
                done.append(delivery)
                await audited(
                    "privacy export delivered", delivery_detail(args.request_id, delivery)
                )

            await audited("privacy export", {"request": args.request_id, "format": args.format})

            async for chunk in services.privacy.deliver(
                request, scope, args.format, actor=actor(), now=_now(), delivered=delivered
            ):
                out.write(chunk)  # a local file: the store's reads are what waits
            return done

        with open(args.out, "wb") as out:
            done: list[Delivery] = run_with_services(settings, lambda s, _: work(s, out))
        for delivery in done:
            print(f"wrote {delivery.size:,} bytes to {args.out}, sha256 {delivery.sha256}")
        return 0

    export.set_defaults(handler=_export)

    lift = sub.add_parser(
        "lift", help="let an erased person's identifier be imported again (they came back)"
    )
    _identifier_options(lift)
    lift.add_argument(
        "--request",
        metavar="ID",
        help="instead: every identifier a completed erasure suppressed, whichever it found",
    )

    def _lift(args: argparse.Namespace, settings: Settings) -> int:
        if args.request is not None:
            if any((args.email, args.phone, args.loyalty, args.anonymous, args.external)):
                print(
                    "error: --request lifts a whole erasure: name no identifier with it",
                    file=sys.stderr,
                )
                raise SystemExit(2)
            return _lift_erasure(args, settings)
        given = _given(args)

        async def work(services: Services, store: Store) -> int:
            lifted = 0
            for identifier in given:
                lifted += await services.privacy.lift_suppression(identifier)
            detail = {"identifiers": [g.value for g in given]}
            await services.audit.record(
                operator(),
                Action.MUTATION,
                "privacy lift",
                operation="c360 privacy",
                detail=json.dumps(detail),
            )
            return lifted

        lifted: int = run_with_services(settings, work)
        print(f"lifted {lifted} of {len(given)} suppressions")
        return 0

    def _lift_erasure(args: argparse.Namespace, settings: Settings) -> int:
        async def work(services: Services, store: Store) -> int:
            lifted = await services.privacy.lift_erasure(args.request)
            await services.audit.record(
                operator(),
                Action.MUTATION,
                "privacy lift",
                operation="c360 privacy",
                detail=json.dumps({"request": args.request}),
            )
            return lifted

        lifted: int = run_with_services(settings, work)
        print(f"lifted {lifted} suppressions of erasure {args.request}")
        return 0

    lift.set_defaults(handler=_lift)

    key = sub.add_parser(
        "public-key",
        help="the key receipts are signed with (Ed25519, base64), for auditors to hold apart",
        description="Prints the verifying key of this install's receipts. A receipt carries "
        "its key, which proves only that the body was signed with that key: an auditor "
        "compares it with this one, obtained from the operator, not from the receipt.",
    )

    def _public_key(args: argparse.Namespace, settings: Settings) -> int:
        from c360.privacy.rules import public_key
        from c360.services import privacy_secret

        print(public_key(privacy_secret(settings)))
        return 0

    key.set_defaults(handler=_public_key)


def retention_arguments(retention: argparse.ArgumentParser) -> None:
    """The arguments of ``c360 retention apply``, and its handler."""
    sub = retention.add_subparsers(required=True, metavar="ACTION")
    apply = sub.add_parser(
        "apply", help="remove records past C360_RETENTION_DAYS now and recompute their profiles"
    )

    def _apply(args: argparse.Namespace, settings: Settings) -> int:
        async def work(services: Services, store: Store) -> Pruned:
            return await services.retention.apply(_now())

        if not settings.retention_days:
            print("no retention windows are set (C360_RETENTION_DAYS): nothing to remove")
            return 0
        pruned: Pruned = run_with_services(settings, work)
        for kind, days in sorted(settings.retention_days.items()):
            print(f"{kind}: {pruned.removed.get(kind, 0):,} removed (older than {days} days)")
        print(f"profiles recomputed: {pruned.profiles:,}")
        return 0

    apply.set_defaults(handler=_apply)


def _identifier_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--email", action="append", default=[])
    parser.add_argument("--phone", action="append", default=[])
    parser.add_argument("--loyalty", action="append", default=[])
    parser.add_argument("--anonymous", action="append", default=[])
    parser.add_argument(
        "--external",
        action="append",
        default=[],
        type=external_id,
        metavar="SOURCE:ID",
        help="the id a source gives the customer (shopify:1234)",
    )


def _given(args: argparse.Namespace) -> list[GivenIdentifier]:
    from c360.privacy.given import GivenIdentifier
    from schemas.identifiers import IdentifierType

    given = [
        GivenIdentifier(kind, value)
        for kind, values in (
            (IdentifierType.EMAIL, args.email),
            (IdentifierType.PHONE, args.phone),
            (IdentifierType.LOYALTY, args.loyalty),
            (IdentifierType.ANONYMOUS, args.anonymous),
        )
        for value in values
    ]
    for source, value in args.external:
        given.append(GivenIdentifier(IdentifierType.EXTERNAL, value, source))
    if not given:
        print("error: name at least one identifier (--email, --phone, …)", file=sys.stderr)
        raise SystemExit(2)
    return given


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _show(
    request: PrivacyRequest,
    receipt: Receipt | None = None,
    duplicates: Sequence[Duplicate] = (),
) -> None:
    from c360.privacy.erasure import STEPS
    from c360.privacy.rules import RequestType, Status

    overdue = " OVERDUE" if request.overdue(_now()) else ""
    print(
        f"{request.id}  {request.type:<8} {request.status:<11} received "
        f"{request.received_at:%Y-%m-%d}  deadline {request.deadline:%Y-%m-%d}{overdue}"
    )
    if request.completes is not None:
        print(f"  completes the erasure {request.completes}")
    if request.identifiers is not None:
        print("  identifiers: " + ", ".join(request.keys))
    for event in request.events:
        note = f" ({event.note})" if event.note else ""
        print(f"  {event.at:%Y-%m-%dT%H:%M:%SZ} {event.to:<11} by {event.actor}{note}")
    if request.type is RequestType.ERASURE and request.status is not Status.RECEIVED:
        counted = [(s.name, request.journal.count(s.name)) for s in STEPS]
        print("  " + ", ".join(f"{name}: {n}" for name, n in counted if n))
        if request.journal.current > 1:
            print(f"  passes: {request.journal.current}")
    if receipt is not None:
        print(f"  receipt signed {receipt.signature[:16]}… (key {receipt.public_key})")
    for delivery in request.deliveries:
        print(
            f"  {delivery.at:%Y-%m-%dT%H:%M:%SZ} delivered   by {delivery.actor}: {_held(delivery)}"
        )
    for duplicate in duplicates:
        print(f"  WARNING {duplicate.message}")


def _held(delivery: Delivery) -> str:
    """One delivery in a line: its format, size, checksum and what each section held."""
    kinds = ", ".join(f"{k} {n}" for k, n in delivery.records.items())
    sections = ", ".join(
        f"{name} {n}" + (f" ({kinds})" if name == "records" and kinds else "")
        for name, n in delivery.sections.items()
    )
    return f"{delivery.format}, {delivery.size:,} bytes, sha256 {delivery.sha256}; {sections}"


def _show_scope_summary(scope: ScopePreview) -> None:
    """Two lines of ``privacy status`` for a request not yet run: what it would cover."""
    identifiers = [i for p in scope.profiles for i in p.identifiers]
    not_given = sum(not i.given for i in identifiers)
    print(
        f"  scope {scope.fingerprint}: {len(scope.profiles)} profiles, {len(identifiers)} "
        f"identifiers ({not_given} not given), {len(scope.merges)} merges, "
        f"{sum(scope.records.values())} records"
    )
    for warning in scope.warnings:
        print(f"  WARNING [{warning.kind}] {warning.message}")
    if scope.warnings:
        print(f"  review: c360 privacy scope {scope.request}")


def _show_scope(scope: ScopePreview) -> None:
    state = "kept by its run" if scope.kept else "as a run would find it now"
    print(f"scope of request {scope.request} ({state}), fingerprint {scope.fingerprint}")
    print("  given: " + ", ".join(scope.given))
    if scope.unmatched:
        print("  given, held by no profile: " + ", ".join(scope.unmatched))
    for profile in scope.profiles:
        merged = f", merged into {profile.merged_into}" if profile.merged_into else ""
        how = (
            "holds an identifier given"
            if profile.holds_given
            else "reached through merge " + ", ".join(profile.through)
        )
        print(f"  profile {profile.id}{merged}: {how}")
        if profile.names:
            print("    names: " + ", ".join(profile.names))
        for identifier in profile.identifiers:
            print(f"    {identifier.key}  {'given' if identifier.given else 'NOT GIVEN'}")
        if profile.records:
            print("    records: " + ", ".join(f"{k} {n}" for k, n in profile.records.items()))
    for merge in scope.merges:
        who = f"by hand by {merge.actor}" if merge.manual else f"automatic, rule {merge.rule}"
        why = f": {merge.reason}" if merge.reason else ""
        print(
            f"  merge {merge.id}: {merge.absorbed} into {merge.survivor}, {who}, "
            f"{merge.at:%Y-%m-%d %H:%M} UTC{why}"
        )
    total = ", ".join(f"{k} {n}" for k, n in scope.records.items()) or "none"
    print(f"  records: {total}")
    if not scope.warnings:
        print("  no warnings: it covers what the requester gave")
        return
    for warning in scope.warnings:
        print(f"  WARNING [{warning.kind}] {warning.message}")
    print(
        f"  to run it as it is: c360 privacy run {scope.request} --confirm-scope "
        f"{scope.fingerprint}"
    )


def _scope_json(scope: ScopePreview | None) -> dict[str, Any] | None:
    return None if scope is None else dataclasses.asdict(scope)


def _as_json(
    request: PrivacyRequest, receipt: Receipt | None, duplicates: Sequence[Duplicate] = ()
) -> dict[str, Any]:
    """One request for a script: what ``_show`` prints, as JSON."""
    from c360.privacy.erasure import STEPS
    from c360.privacy.formats import delivery_detail
    from c360.privacy.rules import RequestType

    erasure = request.type is RequestType.ERASURE
    return {
        "id": request.id,
        "type": request.type.value,
        "status": request.status.value,
        "received_at": request.received_at.isoformat(),
        "deadline": request.deadline.isoformat(),
        "overdue": request.overdue(_now()),
        "completed_at": request.completed_at and request.completed_at.isoformat(),
        "identifiers": None if request.identifiers is None else request.keys,
        "events": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "from": e.before and e.before.value,
                "to": e.to.value,
                "note": e.note,
            }
            for e in request.events
        ],
        "extensions": [
            {"months": e.months, "reason": e.reason, "actor": e.actor, "at": e.at.isoformat()}
            for e in request.extensions
        ],
        "error": request.error,
        "completes": request.completes,
        "erasure_steps": {s.name: request.journal.count(s.name) for s in STEPS}
        if erasure
        else None,
        "passes": request.journal.current if erasure else None,
        "deliveries": [delivery_detail(None, d) for d in request.deliveries],
        "duplicates": [
            {"request": d.request, "status": d.status.value, "identifiers": list(d.keys)}
            for d in duplicates
        ],
        "receipt": None
        if receipt is None
        else {
            "body": dict(receipt.body),
            "signature": receipt.signature,
            "public_key": receipt.public_key,
        },
    }
