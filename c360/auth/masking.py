"""How contact points look to a caller without the ``contactPoints`` permission.

Enough is left to tell two of a person's addresses apart and to count by country or region
(``a•••@example.com``, ``+34•••••••56``, postcode ``28•••``), never enough to contact anyone.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

HIDDEN = "•••"
_E164 = re.compile(r"\+\d{6,15}")
# Keys of free-form event properties whose values are contact points (Segment traits, forms).
_CONTACT_KEYS = re.compile(r"e-?mail|phone|mobile|address|street|postal|zip", re.IGNORECASE)


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


_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
_PHONE_IN_TEXT = re.compile(r"\+?\d[\d ().-]{6,}\d")


def mask_within(value: str) -> str:
    """Free text (a bounce message, a URL, a return reason) with every e-mail address and
    phone number in it masked, and the rest left readable."""
    value = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group().replace("%40", "@")), value)
    return _PHONE_IN_TEXT.sub(_masked_number, value)


def _masked_number(match: re.Match[str]) -> str:
    """A number with a country code, or of nine digits or more, reads as a phone number (a
    status code or a date does not)."""
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    return mask_text(text) if digits >= 9 or (text.startswith("+") and digits >= 7) else text


def mask_properties(value: Any) -> Any:
    """Free-form properties with every value under a contact-point key masked, at any depth."""
    if isinstance(value, dict):
        return {
            key: _mask_all(item) if _CONTACT_KEYS.search(key) else mask_properties(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_properties(item) for item in value]
    return value


def _mask_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mask_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask_all(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    return mask_contact_point(str(value))  # numbers too: a postcode or phone sent as a number
