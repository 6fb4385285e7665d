"""The keyed hashes that stand for erased people, and the places that ask for them: ingest's
suppression check and the follow-ups' relay and delivery (:class:`SuppressionList`), and the
contact policy's facts (:class:`Tombstones`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from c360.privacy import rules
from c360.privacy.repository import SuppressionRepository, TombstoneRepository
from c360.profiles.types import ProfileIdentifier
from c360.records.types import Record
from schemas.records import ChangeOrigin, RecordKind

CONTACT_CHANNELS = {"email": ("email",), "phone": ("sms", "phone", "whatsapp")}
"""The channels a tombstoned contact point is opted out of, by identifier type."""


class Hasher:
    """The keyed hashes that stand for erased people: one key for suppressions, another for
    tombstones, both derived from the privacy secret."""

    def __init__(self, secret: str) -> None:
        self._suppression = rules.derived_key(secret, "suppressions")
        self._tombstone = rules.derived_key(secret, "tombstones")
        self._scope = rules.derived_key(secret, "scopes")

    def suppression(self, text: str) -> str:
        return rules.keyed_hash(self._suppression, text)

    def tombstone(self, key: str) -> str:
        return rules.keyed_hash(self._tombstone, key)

    def scope(self, body: Mapping[str, Any]) -> str:
        """A request's scope's fingerprint (what a run is acknowledged with): short, and keyed
        so that it tells nothing of the identifiers it covers."""
        return rules.keyed_hash(self._scope, rules.canonical_json(body).decode())[:16]


MetHandler = Callable[[Sequence[Collection[str]], bool], Awaitable[None]]


async def _leave(items: Sequence[Collection[str]], written: bool) -> None:
    return None


RECORD, DEAD_LETTER, PROFILE = "record:", "dead_letter:", "profile:"
"""How ingest names a record and a dead letter beside identity keys (``record:{id}``), and how
an erased profile is suppressed."""


class SuppressionList:
    """What ingest asks: which of these identity keys, record ids (``record:…``) and dead
    letter ids (``dead_letter:…``) belong to an erased person; and what it tells when it met
    some (:meth:`met`), which the privacy service handles (``when_met``, set by the wiring:
    the service is built after ingest)."""

    def __init__(self, repository: SuppressionRepository, hasher: Hasher) -> None:
        self._repository = repository
        self._hasher = hasher
        self.when_met: MetHandler = _leave

    async def suppressed(self, candidates: Iterable[str]) -> set[str]:
        by_hash = {self._hasher.suppression(c): c for c in set(candidates)}
        return {by_hash[h] for h in await self._repository.found(by_hash)}

    async def met(self, items: Sequence[Collection[str]], *, written: bool) -> None:
        """A batch left these items out (each by all its names), before writing its records
        or after."""
        await self.when_met(items, written)

    async def erased_profiles(self, profile_ids: Iterable[str]) -> set[str]:
        """Those of these profiles an erasure removed, or is removing (it suppresses them
        before it removes anything)."""
        names = {f"{PROFILE}{p}": p for p in profile_ids}
        return {names[name] for name in await self.suppressed(names)}


class Tombstones:
    """Erased people's contact points, as opt-outs dated at the erasure: folded with the rest
    of a profile's consent, so only a newer explicit opt-in (the person came back and agreed)
    lets anyone market to that address or number again."""

    def __init__(
        self, repository: TombstoneRepository, hasher: Hasher, purposes: Sequence[str]
    ) -> None:
        self._repository = repository
        self._hasher = hasher
        self._purposes = tuple(purposes)

    async def opt_outs(
        self, identities: Mapping[str, Sequence[ProfileIdentifier]]
    ) -> dict[str, list[Record]]:
        """Per profile, the consent changes its tombstoned contact points stand for."""
        points = {
            self._hasher.tombstone(identifier.key): (profile_id, identifier)
            for profile_id, held in identities.items()
            for identifier in held
            if identifier.type.value in CONTACT_CHANNELS
        }
        found = await self._repository.of(points)
        changes: dict[str, list[Record]] = {p: [] for p in identities}
        for digest, at in found.items():
            profile_id, identifier = points[digest]
            for channel in CONTACT_CHANNELS[identifier.type.value]:
                for purpose in self._purposes:
                    external_id = f"erasure:{digest[:16]}:{channel}:{purpose}"
                    changes[profile_id].append(
                        Record(
                            id=f"c360:consent_change:{external_id}",
                            kind=RecordKind.CONSENT_CHANGE,
                            source="c360",
                            external_id=external_id,
                            occurred_at=at,
                            revision=at,
                            payload={
                                "channel": channel,
                                "purpose": purpose,
                                "status": "opted_out",
                                "contact_point": identifier.value,
                                "origin": ChangeOrigin.ERASURE.value,
                            },
                            profile_id=profile_id,
                        )
                    )
        return changes
