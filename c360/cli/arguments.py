"""Argument types the commands share: argparse calls them on the text given, and a refusal is a
usage error (one ``error:`` line naming the option, exit 2) before any store is opened."""

from __future__ import annotations

import argparse
import datetime as dt

from c360.errors import InvalidInput


def positive_int(text: str) -> int:
    """A count or a limit: 1 or more (0 would mean no limit to some and nothing to others)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def port(text: str) -> int:
    """A TCP port to listen on: 1 to 65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {value}")
    return value


def external_id(text: str) -> tuple[str, str]:
    """``SOURCE:ID``, the id a source system gives a customer (``shopify:1234``): both parts
    named. Returns the source and the id."""
    source, colon, value = text.partition(":")
    if not colon or not source.strip() or not value.strip():
        raise argparse.ArgumentTypeError(
            f"expected SOURCE:ID, a source and its customer id (e.g. shopify:1234), not {text!r}"
        )
    return source, value


def instant(text: str) -> dt.datetime:
    """An ISO 8601 time; without an offset, UTC."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def iso(at: dt.datetime) -> str:
    """A stored time as the commands print it: ISO 8601 in UTC, to the microsecond, with Z."""
    return f"{at.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S.%fZ}"


CASE_INSENSITIVE = str.lower
"""The ``type`` of an option whose choices are an enum's values (lower case): the same choice
in GraphQL's spelling (``NPS``, ``ORDER_CHANNEL``) is accepted too."""


def reason(text: str) -> str:
    """Why an operator did something, kept in the access audit: one line of 1 000 characters at
    most."""
    from c360.lines import one_line  # imports the records' schemas: only when one is given

    try:
        return one_line(text, "a reason", 1000)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
