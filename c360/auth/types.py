"""Values of the auth domain: the roles keys have, and an API key as its readers see it (never
its secret, of which only a hash is stored)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    MARKETING = "marketing"
    CONNECTOR = "connector"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str  # who or what uses it
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


@dataclass(frozen=True)
class StoredKey:
    """A key as the store holds it: with its secret's SHA-256, for checking a caller."""

    key: ApiKey
    secret_hash: str
