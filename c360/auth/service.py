"""API keys and roles. A key is ``c360_<id>_<secret>``; only the secret's SHA-256 is stored.

Roles: ``admin`` (everything, including merges), ``agent`` (support consoles), ``marketing``
(audiences and consent). The secret has 256 bits of randomness, so a fast hash is enough: there
is nothing to brute-force.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from c360.auth.repository import ApiKeyRepository
from c360.errors import C360Error, NotFound

PREFIX = "c360"


class Role(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    MARKETING = "marketing"


class Unauthenticated(C360Error):
    status_code = 401


class Forbidden(C360Error):
    status_code = 403


class ApiKeyNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Caller:
    key_id: str
    name: str
    role: Role

    def require(self, role: Role) -> None:
        if self.role is not Role.ADMIN and self.role is not role:
            raise Forbidden(f"this needs the {role.value} role; key {self.name!r} is {self.role}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyService:
    def __init__(self, keys: ApiKeyRepository) -> None:
        self._keys = keys

    async def create(self, role: Role, name: str, now: dt.datetime) -> tuple[str, str]:
        """A new key: returns (key id, the full key). The full key is shown only now."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        await self._keys.add(
            {
                "_id": key_id,
                "name": name,
                "role": role.value,
                "secret_hash": _hash(secret),
                "created": {"at": now},
            }
        )
        return key_id, f"{PREFIX}_{key_id}_{secret}"

    async def authenticate(self, authorization: str | None) -> Caller | None:
        """The caller an ``Authorization: Bearer <key>`` header names; None without a header."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        prefix, _, rest = token.strip().partition("_")
        key_id, _, secret = rest.partition("_")
        if scheme.lower() != "bearer" or prefix != PREFIX or not key_id or not secret:
            raise Unauthenticated("expected Authorization: Bearer c360_<id>_<secret>")
        doc = await self._keys.get(key_id)
        if doc is None or not hmac.compare_digest(doc["secret_hash"], _hash(secret)):
            raise Unauthenticated("unknown API key")
        if "revoked" in doc:
            raise Unauthenticated(f"API key {key_id} was revoked")
        return Caller(key_id=key_id, name=doc["name"], role=Role(doc["role"]))

    async def revoke(self, key_id: str, now: dt.datetime) -> None:
        if not await self._keys.revoke(key_id, now):
            raise ApiKeyNotFound(f"no active API key {key_id!r}")

    async def all(self) -> list[dict[str, object]]:
        return await self._keys.all()
