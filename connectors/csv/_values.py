"""Turning a CSV item's strings into canonical values, collecting every problem."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pycountry
from babel.numbers import get_currency_symbol
from pydantic import ValidationError

from connectors._values import minor_units, utc_timestamp
from connectors.base import ParseOptions
from schemas import Identifier, IdentifierType
from schemas.quoting import shown

IDENTIFIER_FIELDS = ("email", "phone", "customer_id", "loyalty_id")
"""The conventional identifier columns; ``customer_id`` is scoped by the connector's source."""
PERSON_IDENTIFIERS = ("email", "phone", "customer_id")
"""The identifier columns of surveys and consent exports (no loyalty card)."""

_IDENTIFIER_TYPES = {
    "email": IdentifierType.EMAIL,
    "phone": IdentifierType.PHONE,
    "customer_id": IdentifierType.EXTERNAL,
    "loyalty_id": IdentifierType.LOYALTY,
}
_WHOLE_RE = re.compile(r"^[+-]?\d+$")
_SYMBOL_LOCALES = ("en", "en_US", "en_GB", "de", "fr", "es", "it", "nl", "pt", "ja", "sv")
"""Where a currency's symbols are looked up: those spreadsheets write in formatted cells."""
_COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
_PLAIN_AMOUNT = re.compile(r"[\d\s.,+-]*")

TRUE_SPELLINGS = frozenset({"true", "yes", "y", "1", "t"})
FALSE_SPELLINGS = frozenset({"false", "no", "n", "0", "f"})


@dataclass
class Values:
    """One item's values converted to canonical ones; problems are collected, not raised.

    Each converter returns ``None`` (and records ``field: why``) when the value is unusable,
    so an item reports all its bad fields at once. ``values`` may be a :class:`Row`'s or an
    order's merged values.
    """

    values: Mapping[str, str]
    options: ParseOptions
    source: str
    problems: list[str] = field(default_factory=list)

    def fail(self, name: str, message: str) -> None:
        column = self.options.mapping.get(name, name)
        label = name if column == name else f"{name} (column {column!r})"
        self.problems.append(f"{label}: {message}")

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.values.get(name)
        if value is None and required:
            self.fail(name, "missing")
        return value

    def whole(self, name: str, *, required: bool = False) -> int | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        if not _WHOLE_RE.match(value):
            self.fail(name, f"not a whole number: {shown(value)}")
            return None
        return int(value)

    def flag(self, name: str) -> bool | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in TRUE_SPELLINGS:
            return True
        if value.lower() in FALSE_SPELLINGS:
            return False
        self.fail(name, f"expected true/false, yes/no or 1/0, not {shown(value)}")
        return None

    def timestamp(self, name: str, *, required: bool = False) -> dt.datetime | None:
        """A UTC timestamp; read in the ``time_zone`` option (UTC) when it has no offset."""
        value = self.text(name, required=required)
        if value is None:
            return None
        settings = self.options.settings
        try:
            return utc_timestamp(
                value,
                assume_zone=settings.get("time_zone", "UTC"),
                fmt=settings.get("timestamp_format"),
            )
        except ValueError as exc:
            self.fail(name, str(exc))
            return None

    def date(self, name: str) -> dt.date | None:
        """An ISO 8601 date, or in the ``date_format`` option."""
        value = self.text(name)
        if value is None:
            return None
        fmt = self.options.settings.get("date_format")
        try:
            if fmt:
                return dt.datetime.strptime(value, fmt).date()
            return dt.date.fromisoformat(value)
        except ValueError:
            self.fail(
                name, f"date {shown(value)} is not {f'format {fmt!r}' if fmt else 'ISO 8601'}"
            )
            return None

    def country(self) -> str | None:
        """The ``country`` column's value when it is an ISO 3166-1 alpha-2 code, upper-cased
        (a value that is none is the record's problem, said by its validation)."""
        value = self.values.get("country")
        if value is None or not _COUNTRY_RE.match(value):
            return None
        return value.upper() if pycountry.countries.get(alpha_2=value.upper()) else None

    def currency(self) -> str | None:
        """The ``currency`` column's value, else the ``currency`` option."""
        value = self.values.get("currency") or self.options.settings.get("currency")
        if value is None:
            self.fail("currency", "missing (no currency column value and no currency option)")
        return value

    def money(
        self, name: str, currency: str | None, *, required: bool = False
    ) -> dict[str, Any] | None:
        """An amount in major units as written (``decimal_separator`` option) → Money data."""
        value = self.text(name, required=required)
        if value is None or currency is None:
            return None
        separator = self.options.settings.get("decimal_separator", ".")
        try:
            # Only an amount with more than digits, signs and separators is looked at for a
            # currency's symbol: the symbols' locale data is loaded for files that have them.
            plain = _PLAIN_AMOUNT.fullmatch(value) is not None
            text = value if plain else _without_symbol(value, currency)
            amount = minor_units(text, currency, separator)
        except ValueError as exc:
            self.fail(name, str(exc))
            return None
        return {"amount": amount, "currency": currency}

    def identifiers(
        self,
        names: tuple[str, ...] = IDENTIFIER_FIELDS,
        *,
        required: bool = True,
        region: str | None = None,
    ) -> list[Identifier]:
        """The identifiers among ``names``; invalid ones are dropped while another remains.

        Phone numbers without a country code are read in ``region`` (the item's own country),
        else the default region. With none left and ``required``, the problem names what was
        missing or invalid.
        """
        found: dict[str, Identifier] = {}
        dropped: list[str] = []
        context = {"default_region": region or self.options.default_region}
        for name in names:
            value = self.values.get(name)
            if value is None:
                continue
            kind = _IDENTIFIER_TYPES[name]
            data: dict[str, Any] = {"type": kind, "value": value}
            if kind is IdentifierType.EXTERNAL:
                data["source"] = self.source
            try:
                identifier = Identifier.model_validate(data, context=context)
            except ValidationError as exc:
                messages = (e["msg"].removeprefix("Value error, ") for e in exc.errors())
                dropped.append(f"{name}: {'; '.join(messages)}")
                continue
            found.setdefault(identifier.key, identifier)
        if not found and required:
            listed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
            if dropped:
                self.problems.append(f"no valid {listed} ({'; '.join(dropped)})")
            else:
                self.problems.append(f"no {listed}")
        return list(found.values())


@functools.lru_cache(maxsize=512)
def _symbols(currency: str) -> tuple[str, ...]:
    """A currency's code and symbols (``EUR``, ``€``), longest first."""
    code = currency.strip().upper()
    try:
        found = {get_currency_symbol(code, locale) for locale in _SYMBOL_LOCALES}
    except (ValueError, LookupError):
        found = set()
    return tuple(sorted(found | {code}, key=len, reverse=True))


def _without_symbol(value: str, currency: str) -> str:
    """An amount without the symbol or code of its own currency before or after it (``€12``,
    ``-€5``, ``12,00 €``, ``12.00 EUR``), as a spreadsheet writes a cell formatted as money; a
    symbol of another currency stays, and the amount is refused."""
    text = value.strip()
    sign, rest = (text[0], text[1:].lstrip()) if text[:1] in "+-" else ("", text)
    for symbol in _symbols(currency):
        if rest != symbol and rest.startswith(symbol):
            return sign + rest[len(symbol) :].strip()
        if rest != symbol and rest.endswith(symbol):
            return sign + rest[: -len(symbol)].strip()
    return value
