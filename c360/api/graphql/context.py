"""The per-request GraphQL context: services and DataLoaders (one batch per field per request)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from c360.auth.service import Caller
from c360.consent.state import ConsentState
from c360.profiles.traits import Traits
from c360.services import Services
from c360.store import Document


@dataclass
class Context(BaseContext):
    services: Services
    caller: Caller | None = None
    identifiers: DataLoader[str, list[Document]] = field(init=False)
    traits: DataLoader[str, Traits] = field(init=False)
    consents: DataLoader[str, list[ConsentState]] = field(init=False)

    def __post_init__(self) -> None:
        super().__init__()
        self.identifiers = DataLoader(load_fn=self.services.profiles.identifiers)
        self.traits = DataLoader(load_fn=self.services.profiles.traits)
        self.consents = DataLoader(load_fn=self.services.consent.states)


async def get_context(request: Request) -> Context:
    """Services, and the caller named by the API key (an unknown key is a 401)."""
    services: Services = request.app.state.services
    caller = await services.keys.authenticate(request.headers.get("authorization"))
    return Context(services=services, caller=caller)
