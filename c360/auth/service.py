"""API keys, roles and what each role may do. A key is ``c360_<id>_<secret>``; only the
secret's SHA-256 is stored.

The secret has 256 bits of randomness, so a fast hash is enough: there is nothing to
brute-force. Endpoints and GraphQL fields name the ``Permission`` they need; ``GRANTS`` is the
one table of which role holds which.

A key that was verified is trusted for ``VERIFIED_KEY_TTL_S`` without asking the store again
(``VerifiedKeys``, one per process): a revocation made in this process takes effect at once,
one made by another process (``c360 keys revoke``, another server) within that time.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from c360.auth.repository import ApiKeyRepository
from c360.auth.types import ApiKey, Role
from c360.errors import C360Error, InvalidInput, NotFound
from c360.lines import one_line
from schemas.quoting import shown

PREFIX = "c360"
NOT_A_KEY = "this is not a c360 API key: one reads c360_<id>_<secret>"


def looks_like_key(text: str) -> bool:
    """Whether ``text`` has an API key's shape (``c360_<id>_<secret>``): what a person typed
    in a sign-in form, before it is looked up."""
    prefix, _, rest = text.strip().partition("_")
    key_id, _, secret = rest.partition("_")
    return prefix == PREFIX and bool(key_id) and bool(secret)


# Seconds a verified key is trusted without a store round trip: every request of a busy client
# would otherwise read its key. Also how late another process's revocation is noticed.
VERIFIED_KEY_TTL_S = 5.0
VERIFIED_KEYS_MAX = 1024  # callers remembered at once; the oldest go first
MAX_KEY_NAME = 100
"""Characters of a key's name: a person, a team or a system (``crm-sync (eu-west)``)."""


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
    READ_AUDIT = "readAudit"  # the access audit: auditLog, c360 audit
    PRIVACY = "privacyRequests"  # data-subject requests: access, erasure, suppressions
    METRICS = "metrics"  # GET /metrics from another host
    READ_KPIS = "readKpis"  # the loyalty scorecard: KPIs across customers, never a person
    FOLLOW_UPS = "followUps"  # read and work follow-ups, acknowledge feedback
    MANAGE_ALERTS = "manageAlerts"  # alert rules, teams, the notification outbox


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.AGENT: frozenset(
        {
            Permission.READ_PROFILES,
            Permission.CONTACT_POINTS,
            Permission.CASE_TEXT,
            Permission.IDENTITY_HISTORY,
            Permission.CHANGE_CONTACT,
            Permission.READ_KPIS,
            Permission.FOLLOW_UPS,
        }
    ),
    # Segments, metrics and preferences (and the preference centre's changes): no case text,
    # contact points masked but for the one a contact decision hands out.
    Role.MARKETING: frozenset(
        {Permission.READ_PROFILES, Permission.CHANGE_CONTACT, Permission.READ_KPIS}
    ),
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
                f"{self.role} keys lack the {permission} permission (key {shown(self.name)}); "
                f"it is held by: {', '.join(roles_with(permission))}"
            )


def _checked_name(name: str) -> str:
    """A key's name, trimmed: who or what uses it, on one line of at most ``MAX_KEY_NAME``
    characters (it is shown in key lists, the access audit and log lines)."""
    if not name.strip():
        raise InvalidInput("a key needs a name: who or what uses it")
    return one_line(name, "a key's name", MAX_KEY_NAME)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class _Verified:
    secret_hash: str
    caller: Caller
    until: float


class VerifiedKeys:
    """Callers whose key the store confirmed lately, by key collection and key id, each until
    ``ttl_s`` after the check. Only successes are kept: a refused key is asked about again.
    A key revoked here is never kept again, even if a check that began before the revocation
    ends after it."""

    def __init__(
        self,
        ttl_s: float = VERIFIED_KEY_TTL_S,
        maxsize: int = VERIFIED_KEYS_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.maxsize = maxsize
        self._clock = clock
        self._entries: dict[tuple[str, str], _Verified] = {}
        self._revoked: dict[tuple[str, str], None] = {}  # an ordered set, oldest first

    def get(self, collection: str, key_id: str, secret_hash: str) -> Caller | None:
        entry = self._entries.get((collection, key_id))
        if entry is None or entry.until <= self._clock():
            return None
        if not hmac.compare_digest(entry.secret_hash, secret_hash):
            return None  # not the key's secret: the store decides (and refuses)
        return entry.caller

    def add(self, collection: str, secret_hash: str, caller: Caller) -> None:
        name = (collection, caller.key_id)
        if name in self._revoked:
            return
        self._entries.pop(name, None)  # re-inserted last: the newest
        self._entries[name] = _Verified(secret_hash, caller, self._clock() + self.ttl_s)
        _bound(self._entries, self.maxsize)

    def revoked(self, collection: str, key_id: str) -> None:
        name = (collection, key_id)
        self._entries.pop(name, None)
        self._revoked[name] = None
        _bound(self._revoked, self.maxsize)


def _bound(entries: dict[Any, Any], maxsize: int) -> None:
    """Drops the oldest entries (first inserted) beyond ``maxsize``."""
    while len(entries) > maxsize:
        del entries[next(iter(entries))]


# Shared by every ApiKeyService of the process, so a revocation through any of them (the
# GraphQL mutation, the demo's key rotation) is seen by all at once.
_verified = VerifiedKeys()


class ApiKeyService:
    def __init__(self, keys: ApiKeyRepository, verified: VerifiedKeys | None = None) -> None:
        self._keys = keys
        self._verified = _verified if verified is None else verified

    async def create(self, role: Role, name: str, now: dt.datetime) -> tuple[ApiKey, str]:
        """A new key for ``name`` (who or what uses it): returns it and the full key, which is
        shown only now."""
        name = _checked_name(name)
        key = ApiKey(id=secrets.token_hex(6), name=name, role=role, created_at=now)
        secret = secrets.token_urlsafe(32)
        await self._keys.add(key, _hash(secret))
        return key, f"{PREFIX}_{key.id}_{secret}"

    async def authenticate(self, authorization: str | None) -> Caller | None:
        """The caller an ``Authorization: Bearer <key>`` header names; None without a header."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        prefix, _, rest = token.strip().partition("_")
        key_id, _, secret = rest.partition("_")
        if scheme.lower() != "bearer" or prefix != PREFIX or not key_id or not secret:
            raise Unauthenticated("expected Authorization: Bearer c360_<id>_<secret>")
        secret_hash = _hash(secret)
        cached = self._verified.get(self._keys.collection, key_id, secret_hash)
        if cached is not None:
            return cached
        stored = await self._keys.get(key_id)
        if stored is None or not hmac.compare_digest(stored.secret_hash, secret_hash):
            raise Unauthenticated("unknown API key")
        if stored.key.revoked_at is not None:
            raise Unauthenticated(f"API key {key_id} was revoked")
        caller = Caller(key_id=key_id, name=stored.key.name, role=stored.key.role)
        self._verified.add(self._keys.collection, secret_hash, caller)
        return caller

    async def revoke(self, key_id: str, now: dt.datetime) -> None:
        self._verified.revoked(self._keys.collection, key_id)
        if not await self._keys.revoke(key_id, now):
            raise ApiKeyNotFound(f"no active API key {shown(key_id)}")

    async def all(self) -> list[ApiKey]:
        return await self._keys.all()

    async def get(self, key_id: str) -> ApiKey | None:
        """One key's description (never its hash)."""
        stored = await self._keys.get(key_id)
        return None if stored is None else stored.key
