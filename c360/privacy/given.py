"""The identifiers a person gives with a request, read as ingest reads them: normalised in the
default region, keyed as records are keyed (``ext:{source}:{id}`` for an external id), so that
what they name can be found. Pure: no store."""

from __future__ import annotations

import re
from dataclasses import dataclass

from c360.errors import InvalidInput
from c360.privacy.types import Identifier
from schemas.common import SOURCE_PATTERN
from schemas.identifiers import IdentifierType, identity_key, normalize_value, split_identity_key
from schemas.quoting import shown


@dataclass(frozen=True)
class GivenIdentifier:
    type: IdentifierType
    value: str
    source: str | None = None


def normalized(given: GivenIdentifier, region: str) -> Identifier:
    """``given`` as records hold it, or :class:`InvalidInput` saying why it cannot be."""
    if (given.type is IdentifierType.EXTERNAL) != (given.source is not None):
        raise InvalidInput("source is required for external ids and only for them")
    source = given.source
    if source is not None:
        # Named as records name it (the key ext:{source}:{id}), or nothing could match.
        source = source.strip().lower()
        if not re.fullmatch(SOURCE_PATTERN, source):
            raise InvalidInput(
                f"external: {shown(given.source)} is not a source's name (lower-case letters, "
                "digits, _ . and -, e.g. shopify)"
            )
    try:
        value = normalize_value(given.type, given.value, region)
    except ValueError as exc:
        raise InvalidInput(f"{given.type.value}: {exc}") from exc
    return Identifier(given.type, value, identity_key(given.type, value, source), source)


def identifier_of(key: str) -> Identifier:
    """The identifier an identity key stands for."""
    kind, value, source = split_identity_key(key)
    return Identifier(kind, value, key, source)
