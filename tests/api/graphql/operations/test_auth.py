"""API keys over GraphQL (admin): a key's name is who or what uses it, one line of at most 100
characters; a longer one, or one with control characters, is refused and nothing is stored."""

from __future__ import annotations

import httpx
import pytest

from c360.auth.service import MAX_KEY_NAME, Role
from c360.services import Services
from tests import factories as f
from tests.helpers import gql

CREATE = """mutation($name: String!) { createApiKey(role: AGENT, name: $name) {
  __typename ... on NewApiKey { apiKey { name } } ... on Error { code message } } }"""
KEYS = "{ apiKeys { name } }"


@pytest.fixture
async def admin(services: Services) -> dict[str, str]:
    return await f.api_key(services, Role.ADMIN)


class TestKeyNames:
    async def test_a_name_up_to_the_limit_is_kept_trimmed(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        name = "crm-sync (eu-west) " + "x" * (MAX_KEY_NAME - 19)
        created = (await gql(client, CREATE, admin, name=f"  {name}  "))["createApiKey"]
        assert created == {"__typename": "NewApiKey", "apiKey": {"name": name}}

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("n" * 5000, f"a key's name is at most {MAX_KEY_NAME} characters, not 5,000"),
            ("x" * (MAX_KEY_NAME + 1), f"at most {MAX_KEY_NAME} characters, not 101"),
            ("ana\nadmin", "one line of text, without control characters (U+000A)"),
            ("   ", "a key needs a name"),
        ],
    )
    async def test_a_name_too_long_or_not_one_line_is_refused(
        self, client: httpx.AsyncClient, admin: dict[str, str], name: str, reason: str
    ) -> None:
        before = (await gql(client, KEYS, admin))["apiKeys"]
        refused = (await gql(client, CREATE, admin, name=name))["createApiKey"]
        assert refused["__typename"] == "InvalidInputError"
        assert refused["code"] == "InvalidInput"
        assert reason in refused["message"]
        assert len(refused["message"]) < 250  # a long name is quoted cut
        assert (await gql(client, KEYS, admin))["apiKeys"] == before  # nothing stored
