"""Identifiers: the keys that tie a source's record to a person.

Values are normalised during validation, so two spellings of one e-mail address or phone number
become the same identifier. Phone numbers without a country code are read in the caller's default
region, passed as validation context: ``Identifier.model_validate(data, context={"default_region":
"ES"})``. Without it they are read as US numbers, like most telephony libraries do.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Self

import email_validator
import phonenumbers
from email_validator.rfc_constants import ATEXT_INTL
from pydantic import Field, ValidationInfo, field_validator, model_validator

from schemas.common import SOURCE_PATTERN, Contract
from schemas.quoting import cut, shown

DEFAULT_REGION = "US"


class IdentifierType(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL = "external"
    LOYALTY = "loyalty"
    ANONYMOUS = "anonymous"


# Short prefixes of the identity key, e.g. ``email:ana@example.com``, ``ext:shopify:123``.
_KEY_PREFIX = {
    IdentifierType.EMAIL: "email",
    IdentifierType.PHONE: "phone",
    IdentifierType.EXTERNAL: "ext",
    IdentifierType.LOYALTY: "loyalty",
    IdentifierType.ANONYMOUS: "anon",
}
_TYPE_OF_PREFIX = {prefix: kind for kind, prefix in _KEY_PREFIX.items()}


@functools.lru_cache(maxsize=65_536)  # the same people's addresses recur across sources
def normalize_email(value: str) -> str:
    """Trim, validate the syntax and lower-case an e-mail address. Raises ``ValueError``."""
    try:
        checked = email_validator.validate_email(value.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"invalid e-mail address {shown(value)}: {cut(str(exc))}") from exc
    return checked.normalized.lower()


@functools.lru_cache(maxsize=65_536)
def normalize_phone(value: str, default_region: str | None = None) -> str:
    """Parse a phone number into E.164 (``+34600123456``). Raises ``ValueError``.

    Numbers without a country code are read in ``default_region``. The ITU international prefix
    ``00`` is accepted everywhere, so ``0034 600…`` parses even where the local prefix differs.
    """
    region = (default_region or DEFAULT_REGION).upper()
    text = value.strip()
    try:
        number = phonenumbers.parse(text, region)
        if not phonenumbers.is_valid_number(number) and text.startswith("00"):
            number = phonenumbers.parse("+" + text[2:], region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"unparseable phone number {shown(value)}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"invalid phone number {shown(value)} (read in region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_value(kind: IdentifierType, value: str, default_region: str | None = None) -> str:
    """Normalise an identifier value of the given type the way ingest does."""
    match kind:
        case IdentifierType.EMAIL:
            return normalize_email(value)
        case IdentifierType.PHONE:
            return normalize_phone(value, default_region)
        case _:
            text = value.strip()
            if not text:
                raise ValueError(f"empty {kind.value} identifier")
            if len(text) > 256:
                raise ValueError(f"{kind.value} identifier longer than 256 characters")
            return text


def identity_key(kind: IdentifierType, value: str, source: str | None = None) -> str:
    """The store key of a normalised identifier: ``{type}:{value}``, scoped by source for ext."""
    prefix = _KEY_PREFIX[kind]
    if kind is IdentifierType.EXTERNAL:
        return f"{prefix}:{source}:{value}"
    return f"{prefix}:{value}"


# E-mail addresses in free text: from each "@" (or a URL's "%40"), a host name after it, and
# before it the longest local part of the characters RFC 5322 allows (those email-validator
# accepts, so any address stored as an identifier is found from its first character), or a
# quoted one. Searching back a bounded way from each "@" keeps the scan linear in the text.
_LOCAL_MAX = 256  # RFC 5321 says 64; longer ones exist
_LOCAL = re.compile(f"[{ATEXT_INTL}]+(?:\\.[{ATEXT_INTL}]+)*\\Z")
_LOCAL_IN_URL = re.compile(r"[\w.+-]+\Z")  # before a %40: what a URL carries unencoded
_QUOTED_LOCAL = re.compile(r'"[^"\r\n]{1,64}"\Z')
_DOMAIN = re.compile(r"[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*")
_AT = re.compile(r"@|%40")


@dataclass(frozen=True, slots=True)
class EmailInText:
    """An e-mail address written in free text: where (``text[start:end]``) and its parts."""

    start: int
    end: int
    local: str
    domain: str

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


def emails_in_text(text: str) -> Iterator[EmailInText]:
    """The e-mail addresses written in free text, in order, none overlapping (what masking
    hides and the suppression of erased people looks up). By shape only: a host without a dot
    counts too; checking them is the caller's."""
    done = 0
    for at in _AT.finditer(text):
        if at.start() < done:
            continue
        domain = _DOMAIN.match(text, at.end())
        if domain is None:
            continue
        head = text[max(done, at.start() - _LOCAL_MAX) : at.start()]
        local = (_LOCAL_IN_URL if at.group() == "%40" else _LOCAL).search(head)
        if local is None:
            local = _QUOTED_LOCAL.search(head)
        if local is None:
            continue
        yield EmailInText(
            at.start() - len(local.group()), domain.end(), local.group(), domain.group()
        )
        done = domain.end()


# Beside an address as found, the candidates looked up for it: what follows a character that
# commonly joins it to the text before (``?email=``, ``C-9|``), and the address without the
# letter of a JSON escape before it (``\\nana@…``).
_JOINERS = frozenset("=/|'?&!#$%*^`{}~")
_ESCAPED = frozenset("nrtbf")
_MAX_CANDIDATES = 1000  # a text's addresses checked at most (each check costs tens of µs)


def _emails_in(text: str) -> set[str]:
    found: set[str] = set()
    checked = 0
    for email in emails_in_text(text):
        if checked >= _MAX_CANDIDATES:
            break
        run = email.local
        candidates = {run}
        candidates.update(run[i + 1 :] for i, c in enumerate(run) if c in _JOINERS)
        if email.start > 0 and text[email.start - 1] == "\\" and run[0] in _ESCAPED:
            candidates.add(run[1:])
        checked += len(candidates)
        for candidate in candidates:
            try:
                found.add(normalize_email(f"{candidate}@{email.domain}"))
            except ValueError:
                continue
    return found


def contact_keys_in(text: str, default_region: str | None = None) -> set[str]:
    """The identity keys of the e-mail addresses and phone numbers written anywhere in free
    text (an input that could not be read as a record): addresses by their shape, numbers by
    libphonenumber's matcher (numbers that can be dialled, in ``default_region`` when written
    without a country code), each normalised as an identifier's value is."""
    keys = {identity_key(IdentifierType.EMAIL, email) for email in _emails_in(text)}
    region = (default_region or DEFAULT_REGION).upper()
    for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
        number = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        keys.add(identity_key(IdentifierType.PHONE, number))
    return keys


def split_identity_key(key: str) -> tuple[IdentifierType, str, str | None]:
    """An identity key's type, normalised value and (external ids) source: the inverse of
    :func:`identity_key`. Raises ``ValueError`` for what is not an identity key."""
    prefix, _, rest = key.partition(":")
    kind = _TYPE_OF_PREFIX.get(prefix)
    if kind is None or not rest:
        raise ValueError(f"not an identity key: {shown(key)}")
    if kind is IdentifierType.EXTERNAL:
        source, _, value = rest.partition(":")
        if not value:
            raise ValueError(f"not an external id's key: {shown(key)}")
        return kind, value, source
    return kind, rest, None


class Identifier(Contract):
    """An identifier a record carries; ``source`` scopes external ids (shopify ≠ zendesk)."""

    type: IdentifierType
    value: str = Field(min_length=1, max_length=320)
    source: str | None = Field(default=None, pattern=SOURCE_PATTERN)

    @field_validator("value")
    @classmethod
    def _normalize(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        if kind is None:  # the type itself failed validation; that error is reported
            return value
        context: dict[str, Any] = info.context or {}
        return normalize_value(kind, value, context.get("default_region"))

    @model_validator(mode="after")
    def _source_scopes_external_ids(self) -> Self:
        if self.type is IdentifierType.EXTERNAL and self.source is None:
            raise ValueError("an external identifier needs the source that issued it")
        if self.type is not IdentifierType.EXTERNAL and self.source is not None:
            raise ValueError(f"only external identifiers carry a source, not {self.type.value}")
        return self

    @property
    def key(self) -> str:
        return identity_key(self.type, self.value, self.source)
