"""API keys, roles and what each role may do. A key is ``c360_<id>_<secret>``; only the
secret's SHA-256 is stored.

The secret has 256 bits of randomness, so a fast hash is enough: there is nothing to
brute-force. Endpoints and GraphQL fields name the ``Permission`` they need; ``GRANTS`` is the
one table of which role holds which.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from c360.auth.repository import ApiKeyRepository
from c360.errors import C360Error, NotFound

PREFIX = "c360"


class Role(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    MARKETING = "marketing"
    CONNECTOR = "connector"


class Permission(enum.StrEnum):
    """Something a caller may do or read. Values appear in the GraphQL schema's directives."""

    READ_PROFILES = "readProfiles"  # the GraphQL API: profiles, timelines, metrics, consent
    CONTACT_POINTS = "contactPoints"  # e-mails, phones, identifier values, addresses unmasked
    CASE_TEXT = "caseText"  # service-case subjects and descriptions, survey comments
    IDENTITY_HISTORY = "identityHistory"  # merges and match suggestions of a profile
    CHANGE_CONTACT = "changeContact"  # consent, preferences, do-not-contact, the contact log
    MERGE = "merge"  # merge, unmerge, resolve match suggestions
    MANAGE_KEYS = "manageKeys"
    INGEST = "ingest"  # POST /ingest/{connector}


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.AGENT: frozenset(
        {
            Permission.READ_PROFILES,
            Permission.CONTACT_POINTS,
            Permission.CASE_TEXT,
            Permission.IDENTITY_HISTORY,
            Permission.CHANGE_CONTACT,
        }
    ),
    # Segments, metrics and preferences (and the preference centre's changes): no case text,
    # contact points masked but for the one a contact decision hands out.
    Role.MARKETING: frozenset({Permission.READ_PROFILES, Permission.CHANGE_CONTACT}),
    Role.CONNECTOR: frozenset({Permission.INGEST}),
}


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in Role if permission in GRANTS[role]]


class Unauthenticated(C360Error):
    status_code = 401
    headers: ClassVar[Mapping[str, str]] = {"WWW-Authenticate": 'Bearer realm="c360"'}


class Forbidden(C360Error):
    status_code = 403


class ApiKeyNotFound(NotFound):
    pass


@dataclass(frozen=True)
class Caller:
    key_id: str
    name: str
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            raise Forbidden(
                f"{self.role} keys lack the {permission} permission (key {self.name!r}); "
                f"it is held by: {', '.join(roles_with(permission))}"
            )


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

    async def get(self, key_id: str) -> dict[str, object] | None:
        """One key's description (never its hash)."""
        doc = await self._keys.get(key_id)
        return None if doc is None else {k: v for k, v in doc.items() if k != "secret_hash"}
