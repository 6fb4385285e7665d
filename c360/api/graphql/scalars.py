"""Custom scalars, mapped to their Python types in the schema's config."""

from __future__ import annotations

import re
from typing import NewType

import strawberry

from schemas.records import PURPOSE_PATTERN

_PURPOSE = re.compile(PURPOSE_PATTERN)


def _purpose(value: object) -> str:
    text = str(value)
    if not _PURPOSE.match(text):
        raise ValueError(f"{text!r} is not a purpose: lower-case letters, digits and _")
    return text


Purpose = NewType("Purpose", str)
SERVICE = Purpose("service")
PURPOSE_SCALAR = strawberry.scalar(
    name="Purpose",
    serialize=str,
    parse_value=_purpose,
    description="What a contact is for: one of the configured purposes (C360_CONTACT_PURPOSES; "
    "by default service, transactional, marketing, surveys).",
)
