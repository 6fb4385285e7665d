"""The privacy tests' client: an admin's key, the one role that handles privacy requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from c360.auth.service import Role
from c360.services import Services
from tests import factories as f
from tests.helpers import asgi_client


@pytest.fixture
async def admin(app: FastAPI, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app, await f.api_key(services, Role.ADMIN)) as client:
        yield client
