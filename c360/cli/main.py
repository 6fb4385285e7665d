"""The ``c360`` command line.

A command imports what it uses when it runs: the top-level parser names every command, and only
the one asked for gets its arguments (and imports what their choices come from), so that
``c360 --help`` and a command's ``--help`` answer without loading the domains, the store's driver
or the server's stack.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from c360 import __version__
from c360.cli import alerts, audit, identity, keys, kpis, privacy
from c360.cli.arguments import port, positive_int, reason
from c360.cli.session import operator as _operator
from c360.cli.session import run_with_services as _run
from c360.cli.session import say_store as _say_store

if TYPE_CHECKING:
    from c360.auth.types import Role
    from c360.ingest.replay import ReplayResult
    from c360.ingest.repository import StoredDeadLetter
    from c360.ingest.service import IngestSummary
    from c360.services import Services
    from c360.settings import Settings
    from c360.store import Store
    from c360.sync.zendesk import SyncResult
    from connectors import ParseOptions

EXIT_STORE_UNAVAILABLE = 75  # sysexits' EX_TEMPFAIL: try again later
RESUME = "run the same command again to resume"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    from c360.errors import C360Error, StoreUnavailable
    from c360.logging import configure_logging
    from c360.settings import InvalidSettings, get_settings, unknown_variables, weak_secrets

    try:
        settings = get_settings()
    except InvalidSettings as exc:  # a usage error too: the command cannot run as configured
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    for unknown in [*unknown_variables(os.environ), *weak_secrets(settings)]:
        print(f"warning: {unknown}", file=sys.stderr)
    configure_logging(settings.log_level, settings.log_format)
    try:
        code: int = args.handler(args, settings)
    except StoreUnavailable as exc:
        # Only a command whose every step is idempotent and kept (an import, a replay, a sync,
        # an erasure's run) picks up where it stopped when run again.
        resume = f"; nothing is lost: {RESUME}" if getattr(args, "resumable", False) else ""
        print(f"error: {exc.detail}{resume}", file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
    except C360Error as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unreadable input file and the like
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return code


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The command line's parser, with the arguments of the command ``argv`` asks for (the
    first word that is no option: the top level has only ``--help`` and ``--version``)."""
    parser = argparse.ArgumentParser(
        prog="c360", description="Customer 360 and contact-preference API."
    )
    parser.add_argument("--version", action="version", version=f"c360 {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    asked = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (help_text, arguments) in COMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        if name == asked:
            arguments(command)
    return parser


def _serve_arguments(serve: argparse.ArgumentParser) -> None:
    from c360.settings import Settings

    fields = Settings.model_fields
    serve.add_argument(
        "--host", help=f"address to listen on (default: C360_HOST, {fields['host'].default})"
    )
    serve.add_argument(
        "--port",
        type=port,
        help=f"port to listen on (default: C360_PORT, {fields['port'].default})",
    )
    serve.add_argument(
        "--demo", action="store_true", help="load the bundled demo customers (idempotent)"
    )
    serve.set_defaults(handler=_serve)


def _schemas_arguments(schemas_cmd: argparse.ArgumentParser) -> None:
    schemas_sub = schemas_cmd.add_subparsers(required=True, metavar="ACTION")
    export = schemas_sub.add_parser(
        "export", help="write JSON Schema files to schemas/json/ and the GraphQL SDL"
    )
    export.set_defaults(handler=_export_schemas)


def _import_arguments(importer: argparse.ArgumentParser) -> None:
    from connectors import CONNECTORS

    importer.add_argument("connector", choices=sorted(CONNECTORS), help="source format")
    importer.add_argument("path", help="file to read, or - for standard input")
    importer.add_argument(
        "--allow-rejects", action="store_true", help="exit 0 even when items were rejected"
    )
    importer.add_argument(
        "--mapping", metavar="FILE", help="CSV connectors: a TOML column mapping (see README)"
    )
    importer.set_defaults(handler=_import, resumable=True)


def _sync_arguments(sync: argparse.ArgumentParser) -> None:
    from c360.sync.zendesk import CONNECTOR as ZENDESK

    sync.add_argument("connector", choices=[ZENDESK], help="source to pull")
    sync.add_argument("--max-pages", type=positive_int, help="stop after this many pages")
    sync.set_defaults(handler=_sync, resumable=True)


def _deadletters_arguments(letters: argparse.ArgumentParser) -> None:
    from connectors import CONNECTORS

    letters_sub = letters.add_subparsers(required=True, metavar="ACTION")
    listing = letters_sub.add_parser("list", help="the most recently rejected items")
    listing.add_argument("--connector", choices=sorted(CONNECTORS))
    listing.add_argument("--limit", type=positive_int, default=20, help="how many (default 20)")
    listing.set_defaults(handler=_list_dead_letters)
    replay = letters_sub.add_parser(
        "replay", help="run a connector's dead letters through it again (after a fix)"
    )
    replay.add_argument("connector", choices=sorted(CONNECTORS))
    replay.add_argument("--mapping", metavar="FILE", help="CSV connectors: the fixed mapping")
    replay.set_defaults(handler=_replay_dead_letters, resumable=True)
    discard = letters_sub.add_parser(
        "discard",
        help="remove dead letters that need nothing more (stored since by another delivery, "
        "or not wanted), saying why; audited",
    )
    discard.add_argument("letter_ids", nargs="+", metavar="ID", help="as `list` shows them")
    discard.add_argument("--reason", required=True, type=reason, help="why (audited)")
    discard.set_defaults(handler=_discard_dead_letters)


def _profiles_arguments(profiles: argparse.ArgumentParser) -> None:
    profiles_sub = profiles.add_subparsers(required=True, metavar="ACTION")
    recompute = profiles_sub.add_parser(
        "recompute", help="recompute activity and metrics from the records (repair)"
    )
    which = recompute.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every profile")
    which.add_argument("profile_id", nargs="?", help="one profile")
    recompute.set_defaults(handler=_recompute_profiles)


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "serve": ("run the API (embedded store unless C360_MONGODB_URI)", _serve_arguments),
    "schemas": ("canonical data contracts", _schemas_arguments),
    "import": ("import a file through a connector", _import_arguments),
    "sync": ("pull new data from a source's API", _sync_arguments),
    "keys": (keys.HELP, keys.arguments),
    "deadletters": ("rejected input items", _deadletters_arguments),
    "audit": (audit.HELP, audit.arguments),
    "profiles": ("profiles", _profiles_arguments),
    "identity": (identity.HELP, identity.arguments),
    "retention": (privacy.RETENTION_HELP, privacy.retention_arguments),
    "privacy": (privacy.HELP, privacy.arguments),
    "alerts": (alerts.HELP, alerts.arguments),
    "kpis": (kpis.HELP, kpis.arguments),
}
"""Every command, in the order ``c360 --help`` lists them: its help, and what adds its
arguments (and its handler) to its parser."""


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    # The server's stack is imported by the commands that run it: the others (import, alerts,
    # kpis, …) start in about half the time without it.
    import logging

    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from c360.api.app import create_app
    from c360.api.http_protocol import bounded_http_protocol
    from c360.cli.banner import banner
    from c360.errors import StoreUnavailable

    updates = {"host": args.host, "port": args.port, "demo_data": args.demo or None}
    settings = settings.model_copy(update={k: v for k, v in updates.items() if v is not None})
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{settings.port}"

    def announce(store: Store, demo_keys: Mapping[Role, str]) -> None:
        _say_store(settings, store)
        if store.embedded is None:
            _say_local_secrets(settings)
        print(banner(base, demo_keys), file=sys.stderr, flush=True)

    lost: list[bool] = []

    def stop_for_good() -> None:
        lost.append(True)
        server.should_exit = True

    # A store that cannot be reached at start-up is said in one line, as every command says
    # it, not with the traceback uvicorn logs for a lifespan that failed.
    unreachable: list[StoreUnavailable] = []
    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addFilter(lambda record: not unreachable)

    app = create_app(
        settings,
        on_ready=announce,
        on_store_lost=stop_for_good,
        on_store_unreachable=unreachable.append,
    )
    # The C HTTP parser (with each request's head bounded), and uvloop's event loop where it is
    # installed (not on Windows): both cut the per-request CPU of the pure-Python h11 parser and
    # asyncio's loop.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        http=bounded_http_protocol(settings.http_head_timeout_s),
        loop="auto",
        # A stop waits for the requests under way, not for ever: a client sending its body a
        # byte a minute kept c360 from stopping.
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )
    server = uvicorn.Server(config)
    # The port is taken before anything starts (uvicorn takes it after the lifespan): a second
    # ``c360 serve`` on a port in use stops here, before it loads demo data or issues (and so
    # revokes) demo keys.
    try:
        listening = _listen(config.host, config.port, config.backlog)
    except OSError as exc:
        print(f"error: cannot listen on {base}: {exc.strerror or exc}", file=sys.stderr)
        return STARTUP_FAILURE
    try:
        server.run(sockets=[listening])
    except SystemExit:
        if not unreachable:
            raise
        print(f"error: {unreachable[0].detail}", file=sys.stderr)
        return EXIT_STORE_UNAVAILABLE
    if lost:
        print(
            "error: the embedded store stopped and could not be started again; c360 stops "
            "too, so that whatever supervises it starts it anew",
            file=sys.stderr,
        )
        return 1
    return 0


def _say_local_secrets(settings: Settings) -> None:
    """On MongoDB, the secrets generated into this machine's data directory: every other c360
    on the store (another container, a host behind the same load balancer) generates its own,
    and then reads none of this one's suppressions, tombstones or links."""
    from c360.settings import secrets_of

    for secret in secrets_of(settings):
        if secret.value is None:
            print(
                f"warning: {secret.variable} is unset: the one kept in "
                f"{(settings.data_dir / secret.file).resolve()} is this machine's only; set "
                "it, the same for every c360 on this MongoDB",
                file=sys.stderr,
            )


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    """A socket bound to ``host:port`` (IPv6 when the host is an IPv6 address) and listening,
    as uvicorn's ``Config.bind_socket`` makes one (which exits the process on a port in use),
    for it to serve on."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now, not once the lifespan has run: until a socket listens, another bound
        # with SO_REUSEADDR to the same port does not conflict with it.
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _export_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from c360.api.graphql.export import write_sdl  # the server's stack: see _serve
    from schemas.export import write_json_schemas

    for path in [*write_json_schemas(), write_sdl()]:
        print(f"wrote {path}")
    return 0


def _options(settings: Settings, mapping_file: str | None) -> ParseOptions:
    from c360.errors import InvalidInput
    from connectors import parse_mapping

    if mapping_file is None:
        return settings.parse_options()
    try:
        columns, csv_settings = parse_mapping(Path(mapping_file).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidInput(f"{mapping_file}: {exc}") from exc
    return settings.parse_options(columns, csv_settings)


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from c360.cli.progress import import_progress, print_summary
    from c360.ingest.files import import_file

    options = _options(settings, args.mapping)

    async def work(services: Services, store: Store) -> IngestSummary:
        with import_progress(f"{args.connector} {args.path}") as progress:
            return await import_file(
                services.ingest, args.connector, args.path, options, progress=progress
            )

    summary = _run(settings, work)
    print_summary(summary)
    return 1 if summary.rejected and not args.allow_rejects else 0


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from c360.cli.progress import print_summary
    from c360.sync.zendesk import sync_zendesk

    async def work(services: Services, store: Store) -> SyncResult:
        return await sync_zendesk(services, store, settings, max_pages=args.max_pages)

    result = _run(settings, work)
    print(f"pages: {result.pages}, cursor: {result.cursor}")
    print_summary(result.summary)
    return 0


def _list_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> list[StoredDeadLetter]:
        return await services.dead_letters.recent(args.connector, args.limit)

    letters = _run(settings, work)
    if not letters:
        which = f" from {args.connector}" if args.connector else ""
        print(f"no dead letters{which}: nothing has been rejected")
    for letter in letters:
        last = letter.last_rejection
        print(
            f"{letter.id}  {letter.connector}  {last.origin} {last.position}  "
            f"attempts={letter.attempts}\n  reason: {last.reason}\n"
            f"  raw:    {letter.raw[:200]}"
        )
    return 0


def _discard_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from c360.audit.types import Action

    async def work(services: Services, store: Store) -> list[StoredDeadLetter]:
        gone = await services.dead_letters.discard(args.letter_ids)
        if gone:
            detail = {
                "reason": args.reason,
                "letters": [
                    {
                        "id": letter.id,
                        "connector": letter.connector,
                        "origin": letter.last_rejection.origin,
                        "position": letter.last_rejection.position,
                    }
                    for letter in gone
                ],
            }
            await services.audit.record(
                _operator(),
                Action.MUTATION,
                "deadletters discard",
                operation="c360 deadletters",
                detail=json.dumps(detail, sort_keys=True),
            )
        return gone

    gone = _run(settings, work)
    for letter in gone:
        last = letter.last_rejection
        print(f"discarded {letter.id}  {letter.connector}  {last.origin} {last.position}")
    missing = [i for i in dict.fromkeys(args.letter_ids) if i not in {g.id for g in gone}]
    for letter_id in missing:
        print(f"error: no dead letter {letter_id} (c360 deadletters list)", file=sys.stderr)
    return 1 if missing else 0


def _replay_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from c360.cli.progress import MAX_ERRORS_SHOWN

    options = _options(settings, args.mapping)

    async def work(services: Services, store: Store) -> ReplayResult:
        return await services.dead_letters.replay(args.connector, options)

    result = _run(settings, work)
    print(
        f"replayed: {result.replayed:,}, recovered: {result.recovered:,}, "
        f"still failing: {result.still_failing:,}"
    )
    summary = result.summary
    if result.recovered:
        outcomes = ", ".join(
            f"{name}: {getattr(summary, name):,}"
            for name in ("inserted", "updated", "duplicates", "suppressed")
        )
        print(f"records of the recovered items: {summary.read - summary.rejected:,} ({outcomes})")
    for failure in result.failures[:MAX_ERRORS_SHOWN]:
        print(
            f"  still failing {failure.origin} {failure.position}: {failure.reason}",
            file=sys.stderr,
        )
    if result.still_failing > MAX_ERRORS_SHOWN:
        print(
            f"  … and {result.still_failing - MAX_ERRORS_SHOWN:,} more (c360 deadletters list)",
            file=sys.stderr,
        )
    return 1 if result.still_failing else 0


def _recompute_profiles(args: argparse.Namespace, settings: Settings) -> int:
    async def work(services: Services, store: Store) -> int:
        if args.all:
            return await services.profiles.recompute_all()
        # An unknown id is an error, not a no-op; an absorbed one means its survivor.
        live = await services.profiles.get(args.profile_id)
        await services.profiles.recompute_activity(live.id)
        return 1

    print(f"recomputed: {_run(settings, work)} profiles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
