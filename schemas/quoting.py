"""How an error message quotes a value it was given: every message that repeats a client's or a
source's value (an address, a code, a cursor, a name) quotes it through :func:`shown`, so a
megabyte of input is never a megabyte of error — in an API answer, a log line or a dead
letter's reason. The lowest package of the repository, so connectors, schemas and the service
quote alike."""

from __future__ import annotations

from decimal import Decimal

SHOWN_CHARACTERS = 100
"""How much of a value a message quotes: enough to recognise it, never the whole of a long one."""


def shown(value: object) -> str:
    """``value`` as a message quotes it: ``repr`` of a string (``'ana@example.com'``) or of
    anything else but a decimal number, written as a number (``1.5``, as JSON readers give
    fractions, never ``Decimal('1.5')``), cut after its first ``SHOWN_CHARACTERS`` characters
    with ``…`` (and, for a string, its length) when longer."""
    if isinstance(value, str):
        if len(value) <= SHOWN_CHARACTERS:
            return repr(value)
        return f"{value[:SHOWN_CHARACTERS]!r}… ({len(value):,} characters)"
    try:
        text = str(value) if isinstance(value, Decimal) else repr(value)
    except ValueError:  # an integer past int()'s limit on digits
        return "a number too long to show"
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:SHOWN_CHARACTERS]}…"


def cut(text: str) -> str:
    """A reason a library wrote (which may list what it found wrong), as a message repeats it:
    whole, or its first ``SHOWN_CHARACTERS`` characters and ``…``."""
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:SHOWN_CHARACTERS]}…"
