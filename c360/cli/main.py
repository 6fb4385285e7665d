"""The ``c360`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import uvicorn

from c360.api.app import create_app
from c360.api.graphql.export import write_sdl
from c360.cli.progress import import_progress
from c360.errors import C360Error
from c360.ingest.files import import_file
from c360.ingest.service import IngestSummary
from c360.logging import configure_logging
from c360.services import Services
from c360.settings import Settings, get_settings
from c360.store import Store
from connectors import CONNECTORS
from schemas.export import write_json_schemas

MAX_ERRORS_SHOWN = 20


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        code: int = args.handler(args, settings)
    except C360Error as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unreadable input file and the like
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="c360", description="Customer 360 and contact-preference API."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve", help="run the API (embedded store unless C360_MONGODB_URI)"
    )
    serve.add_argument("--host", help="address to listen on (default: C360_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: C360_PORT, 8000)")
    serve.add_argument(
        "--demo", action="store_true", help="load the bundled demo customers (idempotent)"
    )
    serve.set_defaults(handler=_serve)

    schemas_cmd = commands.add_parser("schemas", help="canonical data contracts")
    schemas_sub = schemas_cmd.add_subparsers(required=True, metavar="ACTION")
    export = schemas_sub.add_parser(
        "export", help="write JSON Schema files to schemas/json/ and the GraphQL SDL"
    )
    export.set_defaults(handler=_export_schemas)

    importer = commands.add_parser("import", help="import a file through a connector")
    importer.add_argument("connector", choices=sorted(CONNECTORS), help="source format")
    importer.add_argument("path", help="file to read, or - for standard input")
    importer.add_argument(
        "--allow-rejects", action="store_true", help="exit 0 even when items were rejected"
    )
    importer.set_defaults(handler=_import)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    updates = {"host": args.host, "port": args.port, "demo_data": args.demo or None}
    settings = settings.model_copy(update={k: v for k, v in updates.items() if v is not None})
    base = f"http://{settings.host}:{settings.port}"

    def announce() -> None:
        print(
            f"\n  c360 is up.\n  GraphiQL: {base}/graphql\n  Health:   {base}/health\n"
            f"  API docs: {base}/docs\n",
            file=sys.stderr,
            flush=True,
        )

    app = create_app(settings, on_ready=announce)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None)
    return 0


def _export_schemas(args: argparse.Namespace, settings: Settings) -> int:
    for path in [*write_json_schemas(), write_sdl()]:
        print(f"wrote {path}")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    summary = asyncio.run(_run_import(args.connector, args.path, settings))
    counts = summary.counts()
    print(", ".join(f"{name}: {value:,}" for name, value in counts.items()))
    for error in summary.errors[:MAX_ERRORS_SHOWN]:
        print(f"  rejected {error.position}: {error.reason}", file=sys.stderr)
    if summary.rejected > MAX_ERRORS_SHOWN:
        print(
            f"  … and {summary.rejected - MAX_ERRORS_SHOWN:,} more (see dead letters)",
            file=sys.stderr,
        )
    return 1 if summary.rejected and not args.allow_rejects else 0


async def _run_import(connector: str, path: str, settings: Settings) -> IngestSummary:
    store = await Store.open(settings)
    try:
        services = Services.build(store.db, settings)
        with import_progress(f"{connector} {path}") as progress:
            return await import_file(
                services.ingest, connector, path, settings.parse_options(), progress=progress
            )
    finally:
        await store.close()


if __name__ == "__main__":
    sys.exit(main())
