"""Value types used across record kinds: UTC timestamps, money, ISO codes."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from decimal import Decimal
from typing import Annotated, Any

import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from schemas.quoting import shown


def _to_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise ValueError(
            f"timestamp {value.isoformat()} is outside years 1 to 9999 in UTC"
        ) from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware timestamp, normalised to UTC. Naive timestamps are rejected."""

# Clocks drift and sources batch; anything later than this is a broken timestamp, not the future.
MAX_CLOCK_SKEW = dt.timedelta(days=1)


def _not_in_the_future(value: dt.datetime) -> dt.datetime:
    if value > dt.datetime.now(dt.UTC) + MAX_CLOCK_SKEW:
        raise ValueError(f"timestamp {value.isoformat()} is in the future")
    return value


ObservedAt = Annotated[UtcDatetime, AfterValidator(_not_in_the_future)]
"""When something was observed to happen: a UTC timestamp that is not in the future."""

Count = Annotated[int, Field(strict=True, gt=0, le=1_000_000)]
"""A positive whole quantity; strict, so ``1.5``, ``"2"`` and ``true`` are refused."""


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown ISO 4217 currency code {shown(value)}")
    return code


def _country_code(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"unknown ISO 3166-1 alpha-2 country code {shown(value)}")
    return code


def _language_tag(value: str) -> str:
    # BCP 47 tag such as "es" or "pt-BR": the primary subtag must be a real ISO 639 language.
    primary, _, rest = value.strip().replace("_", "-").partition("-")
    primary = primary.lower()
    known = (
        pycountry.languages.get(alpha_2=primary)
        if len(primary) == 2
        else pycountry.languages.get(alpha_3=primary)
    )
    if known is None:
        raise ValueError(f"unknown language tag {shown(value)}")
    return f"{primary}-{rest.upper()}" if rest else primary


def _time_zone(value: str) -> str:
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a folder
        raise ValueError(f"unknown IANA time zone {shown(value)}") from exc
    return name


CurrencyCode = Annotated[str, AfterValidator(_currency_code)]
CountryCode = Annotated[str, AfterValidator(_country_code)]
LanguageTag = Annotated[str, AfterValidator(_language_tag)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
NonEmptyStr = Annotated[str, Field(min_length=1, max_length=1000)]
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
"""A source system's name: lower-case letters, digits, ``_``, ``.`` and ``-``."""


INT64 = 2**63
"""Integers the store holds are 64-bit: -INT64 ≤ n < INT64."""


def json_safe(value: Any) -> Any:
    """Plain JSON values that the store can hold, as a JavaScript ``JSON.stringify`` sees them.

    Decimals from a parser become ints when whole and within 64 bits, else floats; ints past
    64 bits become floats; ``NaN`` and infinities, which JSON cannot express, become ``None``.
    """
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value() and value.adjusted() < 19:
            value = int(value)
        else:
            number = float(value)
            return number if math.isfinite(number) else None
    if isinstance(value, int):
        if -INT64 <= value < INT64:
            return value
        try:
            return float(value)
        except OverflowError:
            return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plain_numbers(value: Any) -> Any:
    """JSON numbers as Python's own: the streaming JSON reader gives ``Decimal``, which the
    store cannot encode; a whole one within 64 bits becomes an int, any other a float (which
    may be infinite). Nothing else is changed: what the store cannot hold (an integer past 64
    bits, ``NaN``) is refused at ingest as its item's error, not rewritten."""
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and value.adjusted() < 19:
            whole = int(value)
            if -INT64 <= whole < INT64:
                return whole
        return float(value)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_plain_numbers)]
"""A free-form JSON object (an event's properties), its numbers plain."""


class Contract(BaseModel):
    """Base of every canonical model: strict about unknown fields, whitespace-trimmed strings."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


MAX_AMOUNT = 10**13
"""The largest amount, in minor units: a hundred billion euros, ten trillion yen. Sums of
hundreds of thousands of them (a customer's lifetime value) still fit the store's 64-bit
integers."""


class Money(Contract):
    """An amount in integer minor units (cents) of an ISO 4217 currency. Never a float."""

    amount: int = Field(
        strict=True,
        ge=0,
        le=MAX_AMOUNT,
        description="Amount in minor units, e.g. 1999 for 19.99.",
    )
    currency: CurrencyCode
