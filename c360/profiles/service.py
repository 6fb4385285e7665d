"""Reading profiles: by id, by any identifier, with their identifiers and timeline."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from c360.errors import InvalidInput, NotFound
from c360.identity.repository import IdentityRepository
from c360.instants import zoned
from c360.metrics.service import MetricsService
from c360.profiles.repository import ProfileRepository, SearchRepository
from c360.profiles.search import email_prefix, intersect, name_terms, phone_prefix, words
from c360.profiles.traits import Traits, fold_traits
from c360.profiles.types import Profile, ProfileIdentifier, Span
from c360.records.repository import RecordRepository, TimelineQuery
from c360.records.types import Record
from schemas.identifiers import IdentifierType, identity_key, normalize_value
from schemas.quoting import shown

MAX_PAGE_SIZE = 100


class ProfileNotFound(NotFound):
    pass


class InvalidIdentifier(InvalidInput):
    pass


class InvalidCursor(InvalidInput):
    pass


@dataclass(frozen=True)
class SearchPage:
    profiles: list[Profile]  # ordered by id: the cursor is the last id
    has_next_page: bool


MAX_SEARCH_RESULTS = 50
MAX_SEARCH_WORDS = 12
_SEARCH_CANDIDATES = 1000


@dataclass(frozen=True)
class TimelinePage:
    items: list[tuple[str, Record]]  # (cursor, record), newest first
    has_next_page: bool


def encode_cursor(record: Record) -> str:
    """Opaque to clients; it is the record's timeline position, so it stays valid as records
    arrive."""
    return position_cursor(record.position)


def position_cursor(position: str) -> str:
    """The cursor of a timeline position (a record's, or a follow-up event's beside them)."""
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:  # ValueError: not ASCII
        raise InvalidCursor(f"malformed cursor {shown(cursor)}") from exc
    position, separator, record_id = key.partition("|")
    # isdigit alone takes '²' and other Unicode digits, which int() and the store refuse.
    if not (separator and position.isascii() and position.isdigit() and record_id):
        raise InvalidCursor(f"malformed cursor {shown(cursor)}")
    return key


_PROFILE_ID = re.compile(r"[0-9a-f]{24}")


def check_profile_cursor(cursor: str | None) -> str | None:
    """A cursor of a connection ordered by profile id (search, audiences): a profile id, or
    refused (any other string would silently be a position among the ids)."""
    if cursor is not None and not _PROFILE_ID.fullmatch(cursor):
        raise InvalidCursor(f"malformed cursor {shown(cursor)}")
    return cursor


_MAX_MERGE_HOPS = 20


class ProfileService:
    def __init__(
        self,
        profiles: ProfileRepository,
        identities: IdentityRepository,
        records: RecordRepository,
        default_region: str,
        metrics: MetricsService,
        search: SearchRepository,
    ) -> None:
        self.metrics = metrics
        self._search = search
        self._profiles = profiles
        self._identities = identities
        self._records = records
        self._default_region = default_region

    async def get(self, profile_id: str) -> Profile:
        """The profile, or the one it was merged into: an absorbed id keeps resolving."""
        wanted = profile_id
        for _ in range(_MAX_MERGE_HOPS):
            profile = await self._profiles.get(wanted)
            if profile is None:
                break
            if profile.merged_into is None:
                return profile
            wanted = profile.merged_into
        raise ProfileNotFound(f"no profile with id {shown(profile_id)}")

    async def get_many(self, profile_ids: Sequence[str]) -> list[Profile | None]:
        """Like :meth:`get` for many ids, in the order asked, None for unknown ones (a
        DataLoader's batch function): one round trip, one more per merge hop."""
        profiles: dict[str, Profile] = {}
        wanted = set(profile_ids)
        for _ in range(_MAX_MERGE_HOPS):
            if not wanted:
                break
            found = {p.id: p for p in await self._profiles.get_many(wanted)}
            profiles.update(found)
            wanted = {p.merged_into for p in found.values() if p.merged_into} - set(profiles)

        def final(profile_id: str) -> Profile | None:
            for _ in range(_MAX_MERGE_HOPS):
                profile = profiles.get(profile_id)
                if profile is None or profile.merged_into is None:
                    return profile
                profile_id = profile.merged_into
            return None

        return [final(p) for p in profile_ids]

    async def fold_activity(self, moves: Mapping[str, str], now: dt.datetime) -> None:
        """Widen each survivor's activity span by its absorbed profiles' (``moves``: absorbed →
        survivor); the survivors' metrics from their records, which now include the absorbed
        ones."""
        spans: dict[str, Span] = {}
        for profile in await self._profiles.get_many(moves):
            if profile.first_seen_at and profile.last_seen_at:
                survivor = moves[profile.id]
                first, last = spans.get(survivor, (profile.first_seen_at, profile.last_seen_at))
                spans[survivor] = (
                    min(first, profile.first_seen_at),
                    max(last, profile.last_seen_at),
                )
        if spans:
            await self._profiles.record_activity(spans, now)
        await self.metrics.recompute(set(moves.values()))

    async def live(self, profile_ids: Iterable[str]) -> list[str]:
        """These profiles, less the ones absorbed into another."""
        ids = set(profile_ids)
        return sorted(ids - await self._profiles.merged(ids))

    async def mark_merged(self, moves: Mapping[str, str]) -> None:
        """Mark absorbed profiles merged into their survivors (absorbed → survivor)."""
        await self._profiles.mark_merged(moves)
        await self.metrics.recompute(moves)  # an absorbed profile keeps no aggregate

    async def unmark_merged(self, absorbed: str) -> None:
        await self._profiles.unmark_merged(absorbed)

    async def recompute_activity(self, profile_id: str) -> None:
        """First and last seen, and the metrics, from the profile's records, from scratch."""
        await self._profiles.set_activity(profile_id, await self._records.span(profile_id))
        await self.metrics.recompute([profile_id])

    async def index_names(self, people: Sequence[Record], first: Collection[str] = ()) -> None:
        """Make these (new or amended) person records findable by their names' words;
        ``first``: the ids of those stored for the first time (no earlier words to replace)."""
        await self._search.index_names({r.id: name_terms(r.payload) for r in people}, first)

    async def recompute_all(self) -> int:
        """Activity and metrics of every live profile from its records; returns how many."""
        live = set()
        async for profile_id in self._profiles.live_ids():
            await self.recompute_activity(profile_id)
            live.add(profile_id)
        # Aggregates of profiles absorbed since (an interrupted merge) are removed.
        await self.metrics.recompute(set(await self.metrics.stored_ids()) - live)
        return len(live)

    async def by_identifier(
        self, kind: IdentifierType, value: str, source: str | None = None
    ) -> Profile:
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
            raise ProfileNotFound(f"no profile with {kind.value} {shown(normalized)}")
        return await self.get(profile_id)

    async def search(
        self,
        text: str,
        *,
        first: int = 20,
        after: str | None = None,
        whole_contact_points: bool = False,
    ) -> SearchPage:
        """Profiles by a name, e-mail or phone prefix (see :mod:`c360.profiles.search`).

        ``whole_contact_points`` (callers who read contact points masked): an e-mail address or
        phone number matches only whole and normalised, never by its beginning — else a mask's
        hidden digits could be recovered one query at a time, and a guess at an address
        confirmed by a shorter prefix. Names keep prefix search.
        """
        if not 0 < first <= MAX_SEARCH_RESULTS:
            raise InvalidInput(f"first must be between 1 and {MAX_SEARCH_RESULTS}, not {first}")
        text = text.strip()
        if len(text) < 2:
            raise InvalidInput("search text needs at least two characters")
        if "@" in text:
            if whole_contact_points:
                found = await self._whole(IdentifierType.EMAIL, text)
            else:
                key = email_prefix(text)
                found = await self._search.by_identity_prefix(key, _SEARCH_CANDIDATES)
        elif prefix := phone_prefix(text, self._default_region):
            if whole_contact_points:
                found = await self._whole(IdentifierType.PHONE, text)
            else:
                found = await self._search.by_identity_prefix(prefix, _SEARCH_CANDIDATES)
        else:
            # A store read per distinct word: a word said again is read once, and a name has
            # a dozen words at most (each read waits for the one before).
            terms = list(dict.fromkeys(words(text)))
            if not terms:
                raise InvalidInput(f"nothing to search for in {shown(text)}")
            if len(terms) > MAX_SEARCH_WORDS:
                raise InvalidInput(
                    f"a name search takes at most {MAX_SEARCH_WORDS} words, not {len(terms)}"
                )
            found = intersect(
                [await self._search.by_name_prefix(t, _SEARCH_CANDIDATES) for t in terms]
            )
        # A hit merged away meanwhile (a write racing a merge) shows as its survivor.
        live = {p.id: p for p in await self.get_many(sorted(found)) if p is not None}
        check_profile_cursor(after)
        ordered = [live[p] for p in sorted(live) if after is None or p > after]
        return SearchPage(profiles=ordered[:first], has_next_page=len(ordered) > first)

    async def _whole(self, kind: IdentifierType, text: str) -> set[str]:
        """The owner of a whole e-mail address or phone number, normalised as at ingest."""
        try:
            normalized = normalize_value(kind, text, self._default_region)
        except ValueError as exc:
            raise InvalidInput(
                f"keys that read contact points masked search by a whole {kind.value} "
                f"{'address' if kind is IdentifierType.EMAIL else 'number'}, not a beginning: "
                f"{exc}"
            ) from exc
        owner = await self._identities.owner(identity_key(kind, normalized))
        return set() if owner is None else {owner}

    async def record_activity(self, spans: Mapping[str, Span | None], now: dt.datetime) -> None:
        """Create missing profiles and widen each one's first/last-seen span (None: create)."""
        await self._profiles.record_activity(spans, now)

    async def identifiers(self, profile_ids: Sequence[str]) -> list[list[ProfileIdentifier]]:
        """Each profile's identifiers, in the order asked (a DataLoader's batch function)."""
        found = await self._profiles.identifiers(profile_ids)
        return [found[profile_id] for profile_id in profile_ids]

    async def traits(self, profile_ids: Sequence[str]) -> list[Traits]:
        """Each profile's traits with provenance, in the order asked (a DataLoader's batch)."""
        people = await self._records.of_kind(profile_ids, "person")
        return [fold_traits(people[p]) for p in profile_ids]

    async def records_held(self, keys: Sequence[tuple[str, str]]) -> list[Record | None]:
        """The record of each (profile id, record id), in the order asked; None where that
        profile holds no such record (a DataLoader's batch function: a timeline page's returns
        read their orders together)."""
        wanted: dict[str, set[str]] = {}
        for profile_id, record_id in keys:
            wanted.setdefault(profile_id, set()).add(record_id)
        found = await self._records.held(wanted)
        return [found.get(key) for key in keys]

    def timeline_query(
        self,
        profile_id: str,
        *,
        first: int = 20,
        after: str | None = None,
        kinds: Sequence[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> TimelineQuery:
        """A checked request for one timeline page (one more record than asked: is there a
        next page)."""
        if not 0 < first <= MAX_PAGE_SIZE:
            raise InvalidInput(f"first must be between 1 and {MAX_PAGE_SIZE}, not {first}")
        since = None if since is None else zoned(since)
        until = None if until is None else zoned(until)
        if since is not None and until is not None and since > until:
            raise InvalidInput("since is later than until")
        return TimelineQuery(
            profile_id=profile_id,
            limit=first + 1,
            before_key=decode_cursor(after) if after else None,
            kinds=tuple(sorted(set(kinds or ()))),
            since=since,
            until=until,
        )

    async def timelines(self, queries: Sequence[TimelineQuery]) -> list[TimelinePage]:
        """Several timeline pages in one round trip (a DataLoader's batch function)."""
        pages = await self._records.timelines(queries)
        return [
            TimelinePage(
                items=[(encode_cursor(r), r) for r in records[: query.limit - 1]],
                has_next_page=len(records) >= query.limit,
            )
            for query, records in zip(queries, pages, strict=True)
        ]

    async def timeline(self, profile_id: str, **page: Any) -> TimelinePage:
        (found,) = await self.timelines([self.timeline_query(profile_id, **page)])
        return found
