"""How contact points look to a caller without the ``contactPoints`` permission.

Enough is left to tell two of a person's addresses apart and to count by country or region
(``a•••@example.com``, ``+34•••••••56``, postcode ``28•••``), never enough to contact anyone.

A field that *is* a contact point is masked whole. Free text (a name, a campaign, a tag, an
event's properties, a bounce message) keeps what it says, with every e-mail address and phone
number found in it masked: found by what they look like, never by the key they came under.

- **E-mail addresses**: the characters RFC 5322 allows in a local part (those email-validator
  accepts, so any address c360 stores as an identifier is found from its first character, even
  ``=cmd|'/Ccalc'!A0@example.com``), an ``@`` and a host name; ``%40`` for an ``@`` in a URL,
  with the characters a URL leaves unencoded (``schemas.identifiers.emails_in_text``, which the
  suppression of erased people reads rejected lines with too).
- **Phone numbers**: libphonenumber's ``PhoneNumberMatcher`` with the default region
  (``C360_DEFAULT_REGION``, the one ingest reads national numbers in) at leniency ``VALID``:
  numbers that can be dialled, written any way, and not dates, versions or prices. A national
  number of another region is not valid in the default one, so any other run of nine digits or
  more (spaces, dots, dashes and brackets between them) is masked too, unless it is part of a
  word or a path, or a date.

The matcher is slow (tens of microseconds a call), so it only sees the runs of digits long
enough to be a number, with a character of context either side; strings without an ``@`` or
such a run cost a regular-expression scan. Results are cached: the same user agent, campaign
or tag comes back on every page.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable
from typing import Any

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberFormat, PhoneNumberMatcher

from schemas.identifiers import emails_in_text

HIDDEN = "•••"
_E164 = re.compile(r"\+\d{6,15}")
# Keys of free-form event properties whose values are postal addresses: a street cannot be
# recognised by its shape, so these are masked whole (e-mails and phones are found anywhere).
_ADDRESS_KEYS = re.compile(r"address|street|postal|zip|postcode", re.IGNORECASE)

# Digits with what people write between them; a leading + or ( belongs to the number.
_RUN = r"[+(]?\d(?:[\s().\-/\u00a0]{{0,3}}\d){{{more},}}"
_DATE = re.compile(r"\(?\d{4}[-/.]\d{1,2}[-/.]\d{1,2}")
_BACKSTOP_DIGITS = 9  # a national number of any region written without its country code
_INTERNATIONAL_MIN = 5  # a country code and the shortest national numbers (4 digits)
_CACHED_MAX_LENGTH = 512  # user agents, campaigns, tags: what repeats
_CACHE_SIZE = 16384  # texts remembered: a few MB at most


def mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    return f"{local[:1]}{HIDDEN}@{domain}"


def mask_phone(value: str) -> str:
    """The country code and the last two digits; one dot per hidden digit."""
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return mask_text(value)
    national = str(number.national_number)
    return f"+{number.country_code}{'•' * max(len(national) - 2, 1)}{national[-2:]}"


def mask_text(value: str) -> str:
    """The first character only, and a fixed-length tail that does not reveal the length."""
    return f"{value[:1]}{HIDDEN}" if value else value


def mask_postal_code(value: str) -> str:
    """The first two characters: the region, for counting; not the street."""
    return f"{value[:2]}{HIDDEN}" if value else value


def mask_contact_point(value: str) -> str:
    """An e-mail address, a phone number in E.164, or any other identifier value."""
    if "@" in value:
        return mask_email(value)
    if _E164.fullmatch(value):
        return mask_phone(value)
    return mask_text(value)


class Mask(enum.StrEnum):
    """How a field is masked; the names appear in the schema's ``@masked`` directives."""

    VALUE = "value"  # the field is a contact point or identifier value: masked whole
    FIRST_LETTER = "firstLetter"  # an address line: its first letter
    POSTAL_CODE = "postalCode"  # its first two characters
    IN_TEXT = "inText"  # free text: the e-mail addresses and phone numbers found in it
    PROPERTIES = "properties"  # JSON: in text at any depth, keys too; address keys whole


class Masker:
    """Masks contact points for one deployment (its default region)."""

    def __init__(self, region: str | None) -> None:
        self.region = (region or "ZZ").upper()
        metadata = PhoneMetadata.metadata_for_region(self.region)
        general = metadata.general_desc if metadata is not None else None
        lengths = general.possible_length if general is not None else ()
        # A run of digits shorter than any national number of the region is no number of it.
        self._national_min = min(lengths, default=_INTERNATIONAL_MIN)
        # Runs too short to be any number are skipped by the pattern itself, not in Python.
        shortest = min(self._national_min, _INTERNATIONAL_MIN)
        self._digit_run = re.compile(_RUN.format(more=shortest - 1))
        self._cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._within)
        self._masks: dict[Mask, Callable[[Any], Any]] = {
            # A phone number is parsed to be masked: the same ones come back on every page.
            Mask.VALUE: functools.lru_cache(maxsize=_CACHE_SIZE)(mask_contact_point),
            Mask.FIRST_LETTER: mask_text,
            Mask.POSTAL_CODE: mask_postal_code,
            Mask.IN_TEXT: self.within,
            Mask.PROPERTIES: self.properties,
        }

    def mask(self, how: Mask, value: Any) -> Any:
        return self._masks[how](value)

    def within(self, text: str) -> str:
        """Free text with every e-mail address and phone number in it masked."""
        if len(text) > _CACHED_MAX_LENGTH:
            return self._within(text)
        return self._cached(text)

    def _within(self, text: str) -> str:
        if "@" in text or "%40" in text:
            text = _mask_emails(text)
        return self._mask_phones(text)

    def properties(self, value: Any) -> Any:
        """Free-form properties (an event's): every key and text masked within, numbers
        that read as phone numbers too, values under address keys masked whole."""
        if isinstance(value, dict):
            return {
                self.within(key): _mask_all(item)
                if _ADDRESS_KEYS.search(key)
                else self.properties(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.properties(item) for item in value]
        if isinstance(value, str):
            return self.within(value)
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            masked = self.within(text)
            return value if masked == text else masked
        return value

    def _mask_phones(self, text: str) -> str:
        pieces: list[str] = []
        done = 0
        for run in self._digit_run.finditer(text):
            start, end = run.span()
            masked = self._masked_run(text, start, end)
            if masked is not None:
                pieces.append(text[done:start])
                pieces.append(masked)
                done = end
        if not pieces:
            return text
        pieces.append(text[done:])
        return "".join(pieces)

    def _masked_run(self, text: str, start: int, end: int) -> str | None:
        """The run ``text[start:end]`` with the phone numbers in it masked, or None."""
        run = text[start:end]
        digits = sum(c.isdigit() for c in run)
        bare = run.lstrip("+(")
        international = run.startswith("+") or bare.startswith("00")
        if digits < (_INTERNATIONAL_MIN if international else self._national_min):
            return None
        before = max(start - 1, 0)
        window = text[before : end + 1]
        found = [
            match
            for match in PhoneNumberMatcher(window, self.region, Leniency.VALID)
            if before + match.start >= start - 1  # the match lies in the run
        ]
        if found:
            masked, done = [], start
            for match in found:
                match_start = max(before + match.start, start)
                match_end = min(before + match.end, end)
                number = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
                masked.append(text[done:match_start])
                masked.append(mask_phone(number))
                done = match_end
            masked.append(text[done:end])
            return "".join(masked)
        if digits >= _BACKSTOP_DIGITS and not _in_a_word(text, start, end) and not _DATE.match(run):
            return mask_text(run)
        return None


def _in_a_word(text: str, start: int, end: int) -> bool:
    """Digits glued to letters, a path or a version (``v2.120.0.6099``, ``/orders/…``)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or before in "_./" or after.isalnum() or after == "_"


def _mask_emails(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for email in emails_in_text(text):
        pieces.append(text[done : email.start])
        pieces.append(mask_email(email.address))
        done = email.end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_all(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    return mask_contact_point(str(value))  # numbers too: a postcode or phone sent as a number
