"""Turning source values into canonical ones: money in minor units, timestamps in UTC."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision

from schemas.quoting import shown

_AMOUNT_DIGITS = 18
"""Amounts with more integer digits are refused before they are scaled (1e999999 is finite)."""
_GROUP_SEPARATORS = {
    ".": (",", " ", "\u00a0", "\u202f"),
    ",": (".", " ", "\u00a0", "\u202f"),
}
"""What may group the thousands of an amount, by its decimal separator (spreadsheets write
``1,234.56``, ``1.234,56`` and, in French, ``1 234,56`` with a no-break space)."""


def minor_units(amount: Any, currency: str, decimal_separator: str = ".") -> int:
    """``"12.99"`` EUR → ``1299``; ``"1500"`` JPY → ``1500``. Raises ``ValueError``.

    Exact: the amount is read as a decimal, never a float, and an amount with more decimals
    than the currency has (``"1.999"`` EUR) is refused rather than rounded.
    """
    text = _ungrouped(str(amount).strip(), decimal_separator)
    if text is None:
        hint = _separator_hint(amount, decimal_separator)
        raise ValueError(f"not an amount: {shown(amount)}{hint}")
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


def major_units(amount: int, currency: str) -> str:
    """``1299`` EUR → ``"12.99 EUR"``: an amount in minor units as people write it."""
    code = currency.strip().upper()
    precision = get_currency_precision(code)
    return f"{Decimal(amount).scaleb(-precision):.{precision}f} {code}"


def _ungrouped(text: str, decimal_separator: str) -> str | None:
    """``text`` with its thousands ungrouped and a ``.`` for its decimal separator; ``None``
    when a grouping character is not between groups of three digits (``12.50`` in a file whose
    decimals are ``,`` is no amount, not 1250)."""
    groups = [sep for sep in _GROUP_SEPARATORS.get(decimal_separator, ()) if sep in text]
    if not groups:
        return text.replace(decimal_separator, ".") if decimal_separator != "." else text
    if len(groups) > 1:
        return None
    group, point = re.escape(groups[0]), re.escape(decimal_separator)
    if not re.fullmatch(rf"[+-]?\d{{1,3}}(?:{group}\d{{3}})+(?:{point}\d+)?", text):
        return None
    return text.replace(groups[0], "").replace(decimal_separator, ".")


def _separator_hint(amount: Any, decimal_separator: str) -> str:
    """Why an amount that the other decimal separator would read is refused."""
    other = "," if decimal_separator == "." else "."
    text = _ungrouped(str(amount).strip(), other)
    try:
        if text is None or not Decimal(text).is_finite():
            return ""
    except InvalidOperation:
        return ""
    return f" (the decimal separator is {decimal_separator!r})"


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
