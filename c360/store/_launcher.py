"""Entry point of the embedded MongoDB-wire server's child process.

Run as ``python -m c360.store._launcher --port N --data-dir D --log-file F [--in-memory]`` by
:class:`c360.store.embedded.EmbeddedServer` (``--in-memory``: databases held in memory, gone when
it stops; ``D`` is then not written). The parent keeps our standard input open; when the
parent exits for any reason (including ``kill -9``) the pipe closes and this process stops, so a
server is never left running without its owner.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from nx_27017.daemon import run_server_sync


def _exit_when_parent_goes() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
    os.kill(os.getpid(), signal.SIGTERM)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="c360-embedded-store")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--log-file", required=True)
    parser.add_argument("--in-memory", action="store_true")
    args = parser.parse_args()

    logging.basicConfig(
        filename=args.log_file,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s",
    )
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    threading.Thread(target=_exit_when_parent_goes, name="parent-watch", daemon=True).start()

    server_args = argparse.Namespace(
        db_path="memory" if args.in_memory else os.path.join(args.data_dir, "default.db"),
        data_dir="memory" if args.in_memory else args.data_dir,
        single_db_compat=False,
        host=args.host,
        port=args.port,
        fts5_tokenizers=None,
        journal_mode="WAL",
        threaded=False,
    )
    logging.getLogger("c360.store").warning(
        "embedded store listening on %s:%s", args.host, args.port
    )
    run_server_sync(server_args)


if __name__ == "__main__":
    main()
