"""Reading Shopify values: ids, texts, times, currencies and exact money, each refused with
the path of the field it came from; and a record's identifiers, deduplicated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pycountry
from pydantic import ValidationError

from connectors._values import minor_units, utc_timestamp
from connectors.base import Rejected
from schemas import CanonicalRecord, describe_errors, parse_record
from schemas.identifiers import IdentifierType, identity_key, normalize_email, normalize_phone
from schemas.quoting import shown

DEFAULT_SOURCE = "shopify"

# ISO 4217 codes that are no money a shop is paid in: "no currency", testing, metals, funds.
_NOT_PAYMENT_CURRENCIES = frozenset(
    {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU", "XUA"}
)

# The keys of an ``orders/delete`` or ``customers/delete`` body: the id, and nothing else read.
DELETED_KEYS = frozenset({"id", "admin_graphql_api_id"})

Json = dict[str, Any]


class Identifiers:
    """Valid identifiers of a record, deduplicated; invalid e-mails and phones are dropped."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._keys: set[str] = set()
        self.items: list[Json] = []
        self.dropped: list[str] = []

    def email(self, value: Any, path: str) -> str | None:
        """Add an e-mail address if there is a valid one; return it normalised."""
        return self._try(IdentifierType.EMAIL, value, path, normalize_email)

    def phone(self, value: Any, path: str) -> str | None:
        """Add a phone number if there is a valid one; return it in E.164."""
        return self._try(
            IdentifierType.PHONE, value, path, lambda v: normalize_phone(v, self._region)
        )

    def external(self, source: str, value: str) -> None:
        self.add(IdentifierType.EXTERNAL, value, source)

    def _try(
        self, kind: IdentifierType, value: Any, path: str, normalize: Callable[[str], str]
    ) -> str | None:
        text = text_of(value, path)
        if text is None:
            return None
        try:
            normalized = normalize(text)
        except ValueError as exc:
            self.dropped.append(f"{path}: {exc}")
            return None
        self.add(kind, normalized)
        return normalized

    def add(self, kind: IdentifierType, value: str, source: str | None = None) -> None:
        """Add a normalised identifier unless the record has it already."""
        key = identity_key(kind, value, source)
        if key in self._keys:
            return
        self._keys.add(key)
        item: Json = {"type": kind.value, "value": value}
        if source is not None:
            item["source"] = source
        self.items.append(item)


def validate(data: Json, region: str, where: str = "") -> CanonicalRecord:
    try:
        return parse_record(data, default_region=region)
    except ValidationError as exc:
        reason = describe_errors(exc)
        raise Rejected(f"{where}: {reason}" if where else reason) from None


def as_object(value: Any, path: str) -> Json:
    if not isinstance(value, dict):
        raise Rejected(f"{path}: expected an object, got {_json_type(value)}")
    return value


def optional_object(value: Any, path: str) -> Json | None:
    return None if value is None else as_object(value, path)


def as_list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Rejected(f"{path}: expected a list, got {_json_type(value)}")
    return value


def required_id(value: Any, path: str) -> str:
    found = optional_id(value, path)
    if found is None:
        raise Rejected(f"{path}: missing")
    return found


_ID_DIGITS = 40


def optional_id(value: Any, path: str) -> str | None:
    """Shopify ids are numbers (REST) or strings (GraphQL ids, exports); never fractions."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    # A whole Decimal (12e2) short enough to be an id, not 1e999999.
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and 0 <= value.adjusted() < _ID_DIGITS
        and value == value.to_integral_value()
    ):
        return str(int(value))
    raise Rejected(f"{path}: not an id: {shown(value)}")


def text_of(value: Any, path: str) -> str | None:
    """A non-empty trimmed string, or None; numbers are read as their text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise Rejected(f"{path}: expected text, got {_json_type(value)}")


def required_time(value: Any, path: str) -> dt.datetime:
    found = optional_time(value, path)
    if found is None:
        raise Rejected(f"{path}: missing")
    return found


def optional_time(value: Any, path: str) -> dt.datetime | None:
    text = text_of(value, path)
    if text is None:
        return None
    try:
        return utc_timestamp(text)
    except ValueError as exc:
        raise Rejected(f"{path}: {exc}") from None


def payment_currency(value: Any, path: str) -> str:
    text = text_of(value, path)
    if text is None:
        raise Rejected(f"{path}: missing")
    code = text.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise Rejected(f"{path}: unknown ISO 4217 currency code {shown(text)}")
    if code in _NOT_PAYMENT_CURRENCIES:
        raise Rejected(f"{path}: {shown(text)} is not a currency anything is paid in")
    return code


def minor_amount(value: Any, currency: str, path: str) -> int:
    """Exact minor units of an amount (a string like ``"12.99"`` or a JSON number)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejected(f"{path}: missing")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise Rejected(f"{path}: not an amount: {_json_type(value)}")
    try:
        return minor_units(value, currency)
    except ValueError as exc:
        raise Rejected(f"{path}: {exc}") from None


def iso_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _json_type(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | Decimal():
            return "a number"
        case str():
            return "a string"
        case list():
            return "a list"
        case dict():
            return "an object"
    return type(value).__name__
