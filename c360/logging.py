"""Structured logging: ``key=value`` text on a terminal, one JSON object a line in production."""

from __future__ import annotations

import enum
import logging
import re
import sys
from typing import TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from c360.observability.requests import request_id

_DROPPED = {"color_message"}  # uvicorn's duplicate of the message with terminal colours
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    *_DROPPED,
}


class _TextFormatter(logging.Formatter):
    """Human-readable lines with the structured ``extra`` fields appended as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        return line


class _RequestId(logging.Filter):
    """Adds the id of the HTTP request being answered, when there is one, to the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None:
            record.request_id = rid
        return True


_LINK_TOKENS = re.compile(r"^(/unsubscribe|/consent/confirm)/[^/?]+")


class _AccessLine(logging.Filter):
    """uvicorn's access line without what a request's target may carry about a person: its
    query string (what a GET query or a screen pop asked for: a phone number, an e-mail
    address) becomes ``?…``, and a link's token (whoever holds it unsubscribes or confirms for
    the person) ``…``. The method, the path and the status stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, query = args[2].partition("?")[::2]
            path = _LINK_TOKENS.sub(r"\1/…", path) + ("?…" if query else "")
            record.args = (*args[:2], path, *args[3:])
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a line is logged, not when logging was set up:
    a live progress bar redirects it and prints each line above itself instead of through it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


class LogFormat(enum.StrEnum):
    TEXT = "text"
    """``key=value`` lines for a person at a terminal."""
    JSON = "json"
    """One JSON object a line, for a log collector."""


class LogLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


def configure_logging(level: LogLevel, fmt: LogFormat) -> None:
    handler = _StderrHandler()
    handler.addFilter(_RequestId())
    if fmt is LogFormat.JSON:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                reserved_attrs=[*RESERVED_ATTRS, *_DROPPED],
            )
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.value)
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [f for f in access.filters if not isinstance(f, _AccessLine)]
    access.addFilter(_AccessLine())
    # The driver and the embedded server are chatty at INFO.
    for noisy in ("pymongo", "nx_27017", "neosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
