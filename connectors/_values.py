"""Turning source values into canonical ones: money in minor units, timestamps in UTC."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision

from schemas.quoting import shown

_AMOUNT_DIGITS = 18
"""Amounts with more integer digits are refused before they are scaled (1e999999 is finite)."""


def minor_units(amount: Any, currency: str, decimal_separator: str = ".") -> int:
    """``"12.99"`` EUR → ``1299``; ``"1500"`` JPY → ``1500``. Raises ``ValueError``.

    Exact: the amount is read as a decimal, never a float, and an amount with more decimals
    than the currency has (``"1.999"`` EUR) is refused rather than rounded.
    """
    text = str(amount).strip()
    if decimal_separator != ".":
        text = text.replace(".", "").replace(decimal_separator, ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {shown(amount)}") from None
    if not value.is_finite():
        raise ValueError(f"not an amount: {shown(amount)}")
    if value.adjusted() >= _AMOUNT_DIGITS:
        raise ValueError(f"{shown(text)} is too large an amount")
    code = currency.strip().upper()
    scaled = value.scaleb(get_currency_precision(code))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{shown(amount)} has more decimals than {code} allows")
    return int(scaled)


def utc_timestamp(
    value: Any, *, assume_zone: str | None = None, fmt: str | None = None
) -> dt.datetime:
    """Parse an ISO 8601 (or ``fmt``) timestamp into an aware UTC datetime. Raises ``ValueError``.

    A timestamp without an offset is read in ``assume_zone``; with no zone to assume, it is
    refused, since guessing would shift every event by hours.
    """
    text = str(value).strip()
    if not text:
        raise ValueError("empty timestamp")
    try:
        parsed = (
            dt.datetime.strptime(text, fmt)
            if fmt
            else dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        )
    except ValueError:
        expected = f"format {fmt!r}" if fmt else "ISO 8601"
        raise ValueError(f"timestamp {shown(text)} is not {expected}") from None
    if parsed.tzinfo is None:
        if assume_zone is None:
            raise ValueError(f"timestamp {shown(text)} has no time zone")
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(assume_zone))
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise ValueError(f"timestamp {shown(text)} is outside years 1 to 9999 in UTC") from None


def stable_id(*parts: object) -> str:
    """An external id for an item that has none, derived from what it says: the same content
    always gives the same id, so importing it again is a duplicate."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
