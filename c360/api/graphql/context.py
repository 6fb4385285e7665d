"""The per-request GraphQL context: services and DataLoaders (one batch per field per request)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from c360.audit.service import AuditTrail
from c360.auth.service import Caller
from c360.contact.consent import ConsentState
from c360.contact.facts import ContactFacts
from c360.metrics.aggregate import Aggregate
from c360.metrics.service import ProfileView
from c360.profiles.service import TimelinePage
from c360.profiles.traits import Traits
from c360.profiles.types import Profile, ProfileIdentifier
from c360.records.repository import TimelineQuery
from c360.records.types import Record
from c360.services import Services
from c360.store.epoch import as_stored

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Context(BaseContext):
    services: Services
    caller: Caller | None = None
    audit: AuditTrail = field(default_factory=AuditTrail)
    profiles: DataLoader[str, Profile | None] = field(init=False)
    identifiers: DataLoader[str, list[ProfileIdentifier]] = field(init=False)
    traits: DataLoader[str, Traits] = field(init=False)
    consents: DataLoader[str, list[ConsentState]] = field(init=False)
    contact_facts: DataLoader[str, ContactFacts] = field(init=False)
    aggregates: DataLoader[str, Aggregate] = field(init=False)
    open_cases: DataLoader[str, list[Record]] = field(init=False)
    past_problems: DataLoader[str, list[Record]] = field(init=False)
    timelines: DataLoader[TimelineQuery, TimelinePage] = field(init=False)
    # To the millisecond, as the store keeps it: a change answered now reads the same later.
    now: dt.datetime = field(default_factory=lambda: as_stored(dt.datetime.now(dt.UTC)))
    # Computed once per profile per request: the fields that need one await the same task.
    views: dict[str, asyncio.Task[ProfileView]] = field(default_factory=dict)
    # Other domains' loaders, made on first use (see loader).
    _loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        super().__init__()
        self.profiles = DataLoader(load_fn=self.services.profiles.get_many)
        self.identifiers = DataLoader(load_fn=self.services.profiles.identifiers)
        self.traits = DataLoader(load_fn=self.services.profiles.traits)
        self.consents = DataLoader(load_fn=self._consents)
        self.contact_facts = DataLoader(load_fn=self._contact_facts)
        metrics = self.services.profiles.metrics
        self.aggregates = DataLoader(load_fn=metrics.aggregates)
        self.open_cases = DataLoader(load_fn=metrics.open_cases)
        self.past_problems = DataLoader(load_fn=metrics.past_problems)
        self.timelines = DataLoader(load_fn=self.services.profiles.timelines)

    @property
    def actor(self) -> str:
        """Who did it, for the ledger and the change records: the API key."""
        caller = self.caller
        assert caller is not None  # only keyed requests run operations
        return f"key:{caller.key_id} ({caller.name})"

    def loader(
        self, name: str, load: Callable[[list[K]], Awaitable[Sequence[V]]]
    ) -> DataLoader[K, V]:
        """A per-request DataLoader by name, made on first use: how a field that each profile
        of a page asks for (a search's, a queue's) reads the store once for all of them, through
        a service method taking many keys and answering in their order."""
        if name not in self._loaders:
            self._loaders[name] = DataLoader(load_fn=load)
        return self._loaders[name]

    async def _contact_facts(self, profile_ids: list[str]) -> list[ContactFacts]:
        """Contact facts, with the identities the request loads anyway (one read less)."""
        identities = await self._identities_of(profile_ids)
        return await self.services.contact.facts(profile_ids, self.now, identities=identities)

    async def _consents(self, profile_ids: list[str]) -> list[list[ConsentState]]:
        """Consent in force, with the identities the request loads anyway (the tombstones of an
        erased person are found by them)."""
        identities = await self._identities_of(profile_ids)
        return await self.services.contact.states(profile_ids, identities=identities)

    async def _identities_of(self, profile_ids: list[str]) -> dict[str, list[ProfileIdentifier]]:
        loaded = await self.identifiers.load_many(profile_ids)
        return dict(zip(profile_ids, loaded, strict=True))


async def get_context(request: Request) -> Context:
    """Services and loaders. The caller is set by the endpoint once the key is checked (the
    GraphiQL page needs none), see ``GraphQLEndpoint``."""
    return Context(services=request.app.state.services)
