"""The console over HTTP: signing in and out, the session cookie's flags, CSRF refusals, how a
session ends (time, idleness, sign-out, the key's revocation), the pages and their assets, and
the console's GraphQL endpoint answering with the API's own role rules. (The page in a browser:
``tests/browser/test_console.py``.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from c360.audit.types import Action
from c360.auth.service import Role
from c360.console.repository import SessionRepository, StoredSession
from c360.console.service import ACTIVITY_STEP_MS
from c360.demo import DEMO_FILE
from c360.ingest.files import import_file
from c360.services import Services
from c360.settings import Settings
from c360.store import Store
from tests.helpers import asgi_client, audit_entries, parse_options

PROFILE = """query($value: String!) {
  profileByIdentifier(type: PHONE, value: $value) {
    ... on Profile { id emails pastProblems { subject } }
  }
}"""
ASSET = re.compile(r'(?:<script[^>]* src|<link[^>]* href)="([^"]+)"')
CSRF_META = re.compile(r'<meta name="c360-csrf" content="([^"]+)">')
FORM_TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


async def new_key(services: Services, role: Role) -> str:
    _, key = await services.keys.create(
        role, f"{role.value} at the console", dt.datetime.now(dt.UTC)
    )
    return key


def set_cookies(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """Each Set-Cookie of a response: name → its value and attributes, as a browser reads them."""
    found: dict[str, dict[str, Any]] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            attributes = {k: v for k, v in morsel.items() if v}
            flags = header.lower()
            attributes["httponly"] = "httponly" in flags
            attributes["secure"] = "; secure" in flags
            found[name] = {"value": morsel.value, **attributes}
    return found


async def sign_in(
    client: httpx.AsyncClient, key: str, next_path: str = "/console"
) -> httpx.Response:
    form = await client.get(f"/console/sign-in?next={next_path}")
    assert form.status_code == 200
    token = FORM_TOKEN.search(form.text)
    assert token is not None
    return await client.post(
        "/console/sign-in",
        data={"key": key, "csrf": token[1], "next": next_path},
        headers={"origin": str(client.base_url).rstrip("/")},
    )


async def stored_session(store: Store, token: str) -> StoredSession | None:
    """The session the store keeps for a cookie's token (by the token's SHA-256)."""
    return await SessionRepository(store.db).get(hashlib.sha256(token.encode()).hexdigest())


async def csrf_of(client: httpx.AsyncClient) -> str:
    page = await client.get("/console")
    assert page.status_code == 200, page.text
    found = CSRF_META.search(page.text)
    assert found is not None
    return found[1]


async def console_gql(
    client: httpx.AsyncClient, query: str, csrf: str | None, **variables: Any
) -> httpx.Response:
    headers = {"origin": str(client.base_url).rstrip("/"), "sec-fetch-site": "same-origin"}
    if csrf is not None:
        headers["x-csrf-token"] = csrf
    return await client.post(
        "/console/graphql", json={"query": query, "variables": variables}, headers=headers
    )


@pytest.fixture
async def demo(services: Services) -> None:
    summary = await import_file(
        services.ingest, "canonical", str(DEMO_FILE), parse_options(default_region="ES")
    )
    assert summary.rejected == 0


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does."""
    async with asgi_client(app) as client:
        yield client


class TestSignIn:
    async def test_pages_send_to_the_sign_in_form_and_back(
        self, browser: httpx.AsyncClient
    ) -> None:
        for path in ("/console", "/console/profile/abc", "/console/lookup?phone=%2B34600123456"):
            response = await browser.get(path)
            assert response.status_code == 303, path
            location = response.headers["location"]
            assert location.startswith("/console/sign-in?next=%2Fconsole"), location
        response = await browser.get("/console/lookup?phone=%2B34600123456")
        assert "next=%2Fconsole%2Flookup%3Fphone%3D%252B34600123456" in response.headers["location"]

    async def test_the_form_is_a_page_of_this_app_with_its_own_token(
        self, browser: httpx.AsyncClient
    ) -> None:
        response = await browser.get("/console/sign-in")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert 'type="password"' in response.text
        cookies = set_cookies(response)
        [pairing] = cookies.values()
        assert pairing["httponly"]
        assert pairing["samesite"] == "strict"
        assert FORM_TOKEN.search(response.text)[1] == pairing["value"]  # type: ignore[index]  # found

    async def test_a_good_key_gets_a_session_cookie_and_no_script_reads_it(
        self, browser: httpx.AsyncClient, services: Services, store: Store, settings: Settings
    ) -> None:
        key = await new_key(services, Role.AGENT)
        response = await sign_in(browser, key, "/console/profile/abc")
        assert response.status_code == 303
        assert response.headers["location"] == "/console/profile/abc"
        cookie = set_cookies(response)["c360_console"]
        assert cookie["httponly"]
        assert cookie["samesite"] == "strict"
        assert cookie["path"] == "/"
        assert not cookie["secure"]  # plain HTTP here: see the HTTPS test
        assert int(cookie["max-age"]) == settings.console_session_ttl_s
        token = cookie["value"]
        assert key not in token
        assert token not in key
        # The store keeps the token's hash and the key's id, never either secret.
        [stored] = await store.db.console_sessions.find().to_list()
        assert token not in str(stored)
        _, key_id, secret = key.split("_", 2)  # the secret may hold "_" itself
        assert secret not in str(stored)
        assert stored["key_id"] == key_id
        # The page: the CSRF token and the role, never the key.
        page = await browser.get("/console")
        assert page.status_code == 200
        assert key not in page.text
        assert '<meta name="c360-role" content="agent">' in page.text

    async def test_over_https_the_cookie_is_secure_and_host_only(
        self, app: FastAPI, services: Services
    ) -> None:
        key = await new_key(services, Role.AGENT)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://c360.test") as client:
            response = await sign_in(client, key)
            assert response.status_code == 303
            cookie = set_cookies(response)["__Host-c360_console"]
            assert cookie["secure"]
            assert cookie["httponly"]
            assert cookie["samesite"] == "strict"
            assert cookie["path"] == "/"
            assert "domain" not in cookie
            assert (await client.get("/console")).status_code == 200

    async def test_a_wrong_or_revoked_key_is_refused_with_the_reason(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        response = await sign_in(browser, "c360_nothing_here")
        assert response.status_code == 401
        assert "Unknown API key" in response.text
        assert "c360_console" not in set_cookies(response)
        key = await new_key(services, Role.AGENT)
        await services.keys.revoke(key.split("_")[1], dt.datetime.now(dt.UTC))
        response = await sign_in(browser, key)
        assert response.status_code == 401
        assert "revoked" in response.text

    async def test_a_connector_key_cannot_use_the_console(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        response = await sign_in(browser, await new_key(services, Role.CONNECTOR))
        assert response.status_code == 403
        assert "Connector keys cannot use the console" in response.text

    async def test_a_sign_in_posted_from_elsewhere_is_refused(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        key = await new_key(services, Role.AGENT)
        # No form token (another site's form cannot read ours):
        response = await browser.post(
            "/console/sign-in", data={"key": key, "csrf": "guess", "next": "/console"}
        )
        assert response.status_code == 403
        assert "c360_console" not in set_cookies(response)
        # The right token, but sent from another origin:
        form = await browser.get("/console/sign-in")
        token = FORM_TOKEN.search(form.text)[1]  # type: ignore[index]  # the form has one
        response = await browser.post(
            "/console/sign-in",
            data={"key": key, "csrf": token, "next": "/console"},
            headers={"origin": "https://evil.example"},
        )
        assert response.status_code == 403

    @pytest.mark.parametrize(
        "target", ["https://evil.example/", "//evil.example", "/graphql", "/console/sign-out"]
    )
    async def test_it_never_sends_anywhere_but_the_console(
        self, browser: httpx.AsyncClient, services: Services, target: str
    ) -> None:
        response = await sign_in(browser, await new_key(services, Role.AGENT), target)
        assert response.headers["location"] == "/console"

    async def test_a_body_that_is_no_form_is_415_with_the_reason(
        self, browser: httpx.AsyncClient
    ) -> None:
        response = await browser.post("/console/sign-in", json={"key": "x"})
        assert response.status_code == 415
        assert "A form is sent as" in response.text


@pytest.mark.usefixtures("demo")
class TestConsoleGraphQL:
    async def test_the_page_reads_through_graphql_with_its_token(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        await sign_in(browser, await new_key(services, Role.AGENT))
        csrf = await csrf_of(browser)
        response = await console_gql(browser, PROFILE, csrf, value="0034 600 123 456")
        assert response.status_code == 200, response.text
        profile = response.json()["data"]["profileByIdentifier"]
        assert profile["emails"] == ["ana.garcia@example.com"]
        assert profile["pastProblems"][0]["subject"] == "Shoes too small, want to exchange"

    async def test_role_rules_are_the_apis_own(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        await sign_in(browser, await new_key(services, Role.MARKETING))
        response = await console_gql(browser, PROFILE, await csrf_of(browser), value="+34600123456")
        body = response.json()
        profile = body["data"]["profileByIdentifier"]
        assert profile["emails"] == ["a•••@example.com"]
        assert profile["pastProblems"][0]["subject"] is None
        assert {e["extensions"]["code"] for e in body["errors"]} == {"Forbidden"}

    async def test_without_the_token_or_with_another_nothing_runs(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        await sign_in(browser, await new_key(services, Role.AGENT))
        mutation = 'mutation { setDoNotContact(profileId: "x", active: true) { __typename } }'
        for token in (None, "not-the-token"):
            response = await console_gql(browser, mutation, token)
            assert response.status_code == 403, token
            assert response.json()["errors"][0]["extensions"]["code"] == "CsrfRefused"
        assert await audit_entries(services, action=Action.MUTATION) == []

    async def test_a_request_from_another_site_is_refused_even_with_the_token(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        await sign_in(browser, await new_key(services, Role.AGENT))
        csrf = await csrf_of(browser)
        for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
            response = await browser.post(
                "/console/graphql",
                json={"query": "{ __typename }"},
                headers={"x-csrf-token": csrf, **headers},
            )
            assert response.status_code == 403, headers

    async def test_the_api_key_endpoint_ignores_the_cookie(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        await sign_in(browser, await new_key(services, Role.AGENT))
        csrf = await csrf_of(browser)
        response = await browser.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"x-csrf-token": csrf}
        )
        assert response.status_code == 401

    async def test_changes_are_audited_under_the_sessions_key(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        key = await new_key(services, Role.AGENT)
        await sign_in(browser, key)
        csrf = await csrf_of(browser)
        ana = (await console_gql(browser, PROFILE, csrf, value="+34600123456")).json()["data"]
        mutation = """mutation($input: RecordContactInput!) {
          recordContact(input: $input) { __typename ... on ContactRecorded { contact { actor } } }
        }"""
        response = await console_gql(
            browser,
            mutation,
            csrf,
            input={
                "profileId": ana["profileByIdentifier"]["id"],
                "channel": "PHONE",
                "purpose": "service",
                "outcome": "ANSWERED",
            },
        )
        contact = response.json()["data"]["recordContact"]["contact"]
        key_id = key.split("_")[1]
        assert contact["actor"] == f"key:{key_id} (agent at the console)"
        audited = await audit_entries(services, action=Action.MUTATION)
        assert [(e.key_id, e.what) for e in audited] == [(key_id, ("recordContact",))]


class TestSessionEnds:
    async def test_sign_out_ends_it_here_and_in_the_store(
        self, browser: httpx.AsyncClient, services: Services, store: Store
    ) -> None:
        signed_in = await sign_in(browser, await new_key(services, Role.AGENT))
        token = set_cookies(signed_in)["c360_console"]["value"]
        csrf = await csrf_of(browser)
        refused = await browser.post(
            "/console/sign-out", data={"csrf": "wrong"}, headers={"origin": "http://c360.test"}
        )
        assert refused.status_code == 403
        assert await stored_session(store, token) is not None
        response = await browser.post(
            "/console/sign-out", data={"csrf": csrf}, headers={"origin": "http://c360.test"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/console/sign-in?signed_out=1"
        cleared = set_cookies(response)["c360_console"]
        assert cleared["value"] == ""
        assert int(cleared["max-age"]) == 0
        assert await stored_session(store, token) is None
        assert (await browser.get("/console")).status_code == 303
        assert (await console_gql(browser, "{ __typename }", csrf)).status_code == 401

    @pytest.mark.parametrize("field", ["expires_ms", "active_ms"])
    async def test_past_its_end_or_idle_too_long_it_is_over(
        self, browser: httpx.AsyncClient, services: Services, store: Store, field: str
    ) -> None:
        await sign_in(browser, await new_key(services, Role.AGENT))
        csrf = await csrf_of(browser)
        days_ago = int((dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).timestamp() * 1000)
        await store.db.console_sessions.update_many({}, {"$set": {field: days_ago}})
        page = await browser.get("/console/profile/abc")
        assert page.status_code == 303
        assert page.headers["location"].endswith("&ended=1")  # it says why
        form = await browser.get(page.headers["location"])
        assert "Your session ended" in form.text
        response = await console_gql(browser, "{ __typename }", csrf)
        assert response.status_code == 401
        assert "sign in again" in response.json()["errors"][0]["message"]

    async def test_revoking_the_key_ends_its_sessions(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        key = await new_key(services, Role.AGENT)
        await sign_in(browser, key)
        csrf = await csrf_of(browser)
        await services.keys.revoke(key.split("_")[1], dt.datetime.now(dt.UTC))
        assert (await console_gql(browser, "{ __typename }", csrf)).status_code == 401

    async def test_the_clock_of_a_session(self, services: Services, settings: Settings) -> None:
        sessions = services.console
        start = dt.datetime.now(dt.UTC)
        token, _ = await sessions.sign_in(await new_key(services, Role.AGENT), start)
        idle = dt.timedelta(seconds=settings.console_session_idle_s)
        ttl = dt.timedelta(seconds=settings.console_session_ttl_s)
        assert await sessions.resume(token, start + idle - dt.timedelta(seconds=1)) is not None
        # That request moved its activity on: it is not idle at start + idle any more…
        assert await sessions.resume(token, start + idle) is not None
        # …but it ends at its absolute end however active it is.
        step = idle - dt.timedelta(seconds=1)
        moment = start
        while moment + step < start + ttl:
            moment += step
            assert await sessions.resume(token, moment) is not None, moment - start
        assert await sessions.resume(token, start + ttl) is None
        assert await sessions.resume("not-a-token", start) is None
        assert await sessions.resume(None, start) is None

    async def test_activity_is_written_at_most_once_a_minute(
        self, services: Services, store: Store
    ) -> None:
        start = dt.datetime.now(dt.UTC)
        token, _ = await services.console.sign_in(await new_key(services, Role.AGENT), start)
        signed_in = await stored_session(store, token)
        assert signed_in is not None
        await services.console.resume(token, start + dt.timedelta(seconds=5))
        soon = await stored_session(store, token)
        assert soon is not None
        assert soon.active_ms == signed_in.active_ms
        later = start + dt.timedelta(milliseconds=ACTIVITY_STEP_MS + 1)
        await services.console.resume(token, later)
        stored = await stored_session(store, token)
        assert stored is not None
        assert stored.active_ms == int(later.timestamp() * 1000)


class TestPages:
    async def test_the_shell_loads_only_assets_of_this_app(
        self, browser: httpx.AsyncClient, services: Services
    ) -> None:
        await sign_in(browser, await new_key(services, Role.AGENT))
        page = await browser.get("/console")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assets = ASSET.findall(page.text)
        assert "/static/console/app.js" in assets
        for asset in assets:
            assert asset.startswith("/static/"), asset
            assert (await browser.get(asset)).status_code == 200, asset
        assert "<script>" not in page.text  # no inline script: the CSP would refuse it
        assert "http://" not in page.text
        assert "https://" not in page.text

    async def test_every_module_the_page_imports_is_shipped(
        self, client: httpx.AsyncClient
    ) -> None:
        pending, seen = ["app.js"], set()
        while pending:
            name = pending.pop()
            seen.add(name)
            response = await client.get(f"/static/console/{name}")
            assert response.status_code == 200, name
            assert "javascript" in response.headers["content-type"], name
            imported = re.findall(r'from "\./([\w.]+)"', response.text)
            pending += [m for m in imported if m not in seen]
        assert {"api.js", "profile.js", "followups.js", "search.js"} <= seen

    async def test_the_openapi_document_does_not_list_the_console(
        self, client: httpx.AsyncClient
    ) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert not [p for p in paths if p.startswith("/console")]
