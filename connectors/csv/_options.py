"""CSV mapping files and options: which columns hold which fields, and how values are written.

Columns are resolved as ``mapping.get(field, field)``: a file whose header already uses the
canonical field names needs no mapping.
"""

from __future__ import annotations

import io
import re
import tomllib
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

import pycountry

from schemas.quoting import shown

OPTION_KEYS = (
    "source",
    "time_zone",
    "timestamp_format",
    "date_format",
    "currency",
    "decimal_separator",
    "delimiter",
    "encoding",
)
"""What the ``[options]`` table of a mapping file (and ``ParseOptions.settings``) may set."""

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def parse_mapping(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Read a TOML mapping file into ``(columns, options)``. Raises ``ValueError``.

    ``[columns]`` maps canonical field names to the file's column headers; ``[options]`` sets
    any of :data:`OPTION_KEYS`. Both tables are optional; anything else is refused, so a typo
    never silently falls back to a default::

        [columns]
        order_id = "ticket"
        ordered_at = "fecha"

        [options]
        delimiter = ";"
        decimal_separator = ","
        time_zone = "Europe/Madrid"
        timestamp_format = "%d/%m/%Y %H:%M"
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"mapping file is not valid TOML: {exc}") from None
    unknown = sorted(set(document) - {"columns", "options"})
    if unknown:
        raise ValueError(
            f"mapping file has unknown keys {quoted_names(unknown)}; "
            "expected [columns] and [options]"
        )
    columns = _string_table(document, "columns")
    options = _string_table(document, "options")
    unknown = sorted(set(options) - set(OPTION_KEYS))
    if unknown:
        raise ValueError(
            f"unknown option {quoted_names(unknown)} in [options]; known: {', '.join(OPTION_KEYS)}"
        )
    problems = check_options(options)
    if problems:
        raise ValueError("invalid [options]: " + "; ".join(problems))
    return columns, options


def _string_table(document: dict[str, Any], name: str) -> dict[str, str]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ValueError(f"{name} must be a table ([{name}]), not a {type(table).__name__}")
    result: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str):
            raise ValueError(f"{name}.{key} must be a string, not {type(value).__name__}")
        if not value.strip():
            raise ValueError(f"{name}.{key} is empty")
        result[key] = value if name == "options" else value.strip()
    return result


def check_options(settings: Mapping[str, str]) -> list[str]:
    """Every problem with CSV options (``ParseOptions.settings``), as ``key: why`` strings."""
    problems = [f"{key}: unknown option" for key in sorted(set(settings) - set(OPTION_KEYS))]
    source = settings.get("source")
    if source is not None and not SOURCE_NAME.match(source):
        problems.append(f"source: {shown(source)} is not a lower-case source name")
    zone = settings.get("time_zone")
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            problems.append(f"time_zone: unknown IANA time zone {shown(zone)}")
    currency = settings.get("currency")
    if currency is not None and pycountry.currencies.get(alpha_3=currency.upper()) is None:
        problems.append(f"currency: unknown ISO 4217 currency code {shown(currency)}")
    separator = settings.get("decimal_separator")
    if separator is not None and separator not in (".", ","):
        problems.append(f"decimal_separator: {shown(separator)} is neither '.' nor ','")
    delimiter = settings.get("delimiter")
    if delimiter not in (None, "auto") and (len(delimiter) != 1 or delimiter in '"\r\n'):
        problems.append(f"delimiter: {shown(delimiter)} is not one character or 'auto'")
    encoding = settings.get("encoding")
    if encoding is not None:
        try:
            io.TextIOWrapper(io.BytesIO(), encoding=encoding).detach()
        except LookupError:  # unknown, or not a text encoding (base64)
            problems.append(f"encoding: unknown text encoding {shown(encoding)}")
    for key in ("timestamp_format", "date_format"):
        if key in settings and "%" not in settings[key]:
            problems.append(f"{key}: {shown(settings[key])} has no strftime directive")
    return problems


def quoted_names(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in names)
