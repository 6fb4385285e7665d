"""Reading profiles: by id, by any identifier, with their identifiers and timeline."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from c360.errors import InvalidInput, NotFound
from c360.identity.repository import IdentityRepository
from c360.profiles.repository import ProfileRepository
from c360.profiles.traits import Traits, fold_traits
from c360.records.repository import RecordRepository
from c360.store import Document
from schemas.identifiers import IdentifierType, identity_key, normalize_value

MAX_PAGE_SIZE = 100


class ProfileNotFound(NotFound):
    pass


class InvalidIdentifier(InvalidInput):
    pass


class InvalidCursor(InvalidInput):
    pass


@dataclass(frozen=True)
class TimelinePage:
    items: list[tuple[str, Document]]  # (cursor, record document), newest first
    has_next_page: bool


def encode_cursor(doc: Document) -> str:
    """Opaque to clients; it is the record's timeline key, so it stays valid as records arrive."""
    return base64.urlsafe_b64encode(doc["timeline_key"].encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"malformed cursor {cursor!r}") from exc
    position, separator, record_id = key.partition("|")
    if not (separator and position.isdigit() and record_id):
        raise InvalidCursor(f"malformed cursor {cursor!r}")
    return key


Span = tuple[dt.datetime, dt.datetime]
_MAX_MERGE_HOPS = 20


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_epoch_ms(value: int | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value / 1000, dt.UTC)


class ProfileService:
    def __init__(
        self,
        profiles: ProfileRepository,
        identities: IdentityRepository,
        records: RecordRepository,
        default_region: str,
    ) -> None:
        self._profiles = profiles
        self._identities = identities
        self._records = records
        self._default_region = default_region

    async def get(self, profile_id: str) -> Document:
        """The profile, or the one it was merged into: an absorbed id keeps resolving."""
        wanted = profile_id
        for _ in range(_MAX_MERGE_HOPS):
            profile = await self._profiles.get(wanted)
            if profile is None:
                break
            if "merged_into" not in profile:
                return profile
            wanted = profile["merged_into"]
        raise ProfileNotFound(f"no profile with id {profile_id!r}")

    async def fold_activity(self, absorbed: str, survivor: str, now: dt.datetime) -> None:
        """Widen the survivor's activity span by the absorbed profile's."""
        profile = await self._profiles.get(absorbed)
        if profile is not None and "first_seen_ms" in profile:
            span = (profile["first_seen_ms"], profile["last_seen_ms"])
            await self._profiles.record_activity({survivor: span}, now)

    async def live(self, profile_ids: Iterable[str]) -> list[str]:
        """These profiles, less the ones absorbed into another."""
        ids = set(profile_ids)
        return sorted(ids - await self._profiles.merged(ids))

    async def mark_merged(self, absorbed: str, survivor: str) -> None:
        await self._profiles.mark_merged(absorbed, survivor)

    async def unmark_merged(self, absorbed: str) -> None:
        await self._profiles.unmark_merged(absorbed)

    async def recompute_activity(self, profile_id: str) -> None:
        """First and last seen from the profile's records, from scratch."""
        span = await self._records.span(profile_id)
        await self._profiles.set_activity(
            profile_id, None if span is None else (epoch_ms(span[0]), epoch_ms(span[1]))
        )

    async def by_identifier(
        self, kind: IdentifierType, value: str, source: str | None = None
    ) -> Document:
        """Find a profile by an identifier written any way ingest accepts it."""
        if (kind is IdentifierType.EXTERNAL) != (source is not None):
            raise InvalidIdentifier("source is required for external ids and only for them")
        try:
            normalized = normalize_value(kind, value, self._default_region)
        except ValueError as exc:
            raise InvalidIdentifier(str(exc)) from exc
        key = identity_key(kind, normalized, source)
        profile_id = await self._identities.owner(key)
        if profile_id is None:
            raise ProfileNotFound(f"no profile with {kind.value} {normalized!r}")
        return await self.get(profile_id)

    async def record_activity(self, spans: dict[str, Span], now: dt.datetime) -> None:
        """Create missing profiles and widen each one's first/last-seen span."""
        await self._profiles.record_activity(
            {p: (epoch_ms(first), epoch_ms(last)) for p, (first, last) in spans.items()}, now
        )

    async def identifiers(self, profile_ids: Sequence[str]) -> list[list[Document]]:
        """Each profile's identifiers, in the order asked (a DataLoader's batch function)."""
        found = await self._identities.of_profiles(profile_ids)
        return [found[profile_id] for profile_id in profile_ids]

    async def traits(self, profile_ids: Sequence[str]) -> list[Traits]:
        """Each profile's traits with provenance, in the order asked (a DataLoader's batch)."""
        people = await self._records.of_kind(profile_ids, "person")
        return [fold_traits(people[p]) for p in profile_ids]

    async def timeline(
        self,
        profile_id: str,
        *,
        first: int = 20,
        after: str | None = None,
        kinds: Sequence[str] | None = None,
    ) -> TimelinePage:
        if not 0 < first <= MAX_PAGE_SIZE:
            raise InvalidInput(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
        docs = await self._records.timeline(
            profile_id,
            limit=first + 1,
            before_key=decode_cursor(after) if after else None,
            kinds=kinds,
        )
        return TimelinePage(
            items=[(encode_cursor(doc), doc) for doc in docs[:first]],
            has_next_page=len(docs) > first,
        )
