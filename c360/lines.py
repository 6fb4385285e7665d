"""A name people read on one line (an API key's, a team member's): trimmed, not too long, and
without control characters, which would break the lines of lists, logs and notifications it
is shown in."""

from __future__ import annotations

import unicodedata

from c360.errors import InvalidInput
from schemas.quoting import shown


def one_line(name: str, what: str, most: int) -> str:
    """``name`` trimmed; refused (``InvalidInput``, saying ``what`` it is) when empty, longer
    than ``most`` characters, or holding a control character."""
    name = name.strip()
    if not name:
        raise InvalidInput(f"{what} is empty")
    if len(name) > most:
        raise InvalidInput(f"{what} is at most {most} characters, not {len(name):,}: {shown(name)}")
    control = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise InvalidInput(
            f"{what} is one line of text, without control characters "
            f"(U+{ord(control):04X}): {shown(name)}"
        )
    return name
