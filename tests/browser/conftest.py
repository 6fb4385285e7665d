"""The real-browser suite: headless Chromium (Debian's ``chromium``) driven by Playwright against
``c360 serve --demo`` in its own process.

Fixtures to build on:
- ``demo``: the served app with the demo data and a key per role (``demo.demo_keys``);
- ``page``: a fresh browser page at 1280 px that may reach this machine only — any request to
  another host is blocked and fails the test, as do uncaught script errors — and is
  screenshotted into ``test-artifacts/browser/`` when its test fails;
- ``graphiql``: a page signed in to GraphiQL with a role's key, through its headers editor.

Without a Chromium the suite is skipped, and the run's summary says so in plain words.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Route, sync_playwright

from tests.browser.helpers import ARTIFACTS, replace_editor_text
from tests.served import Server, serving

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# As the machine's own checks start it: no background connections to vendors' services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_BROWSER = (
    "browser tests skipped: no Chromium found ({where}); install Debian's 'chromium' "
    "(apt-get install chromium), as .ci/run does, or set C360_TEST_CHROMIUM to a Chromium binary"
)

_skipped_for_no_browser: list[str] = []


def chromium_path() -> str | None:
    configured = os.environ.get("C360_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


# One driver, Chromium and served demo for this folder, closed when its tests are done: the sync
# driver keeps an event loop running while it is open, which would stop the async tests run
# after this folder from starting theirs. (Under ``pytest -n`` one worker runs the folder:
# tests/scheduling.py.)
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        where = os.environ.get("C360_TEST_CHROMIUM") or "no 'chromium' on PATH"
        _skipped_for_no_browser.append(where)
        pytest.skip(NO_BROWSER.format(where=where))
    launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("browser") / "data") as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked: list[str] = []
    script_errors: list[str] = []

    def only_this_machine(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", only_this_machine)
    opened = context.new_page()
    opened.on("pageerror", lambda error: script_errors.append(str(error)))
    # What the page's policy refused never reaches the route above: the browser says so here.
    refused: list[str] = []

    def note_refusal(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(message.text)

    opened.on("console", note_refusal)
    try:
        yield opened
        assert blocked == [], "the page tried to load from another host"
        assert refused == [], "the page did what its Content-Security-Policy refuses"
        assert script_errors == [], "uncaught script errors"
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()


@pytest.fixture
def graphiql(page: Page, demo: Server) -> Callable[[str], Page]:
    """Open GraphiQL and put ``role``'s key into its headers editor, as the README says."""

    def sign_in(role: str) -> Page:
        page.goto(f"{demo.base}/graphql")
        page.locator(".graphiql-editor-tool .CodeMirror >> visible=true").first.wait_for()
        headers = json.dumps({"Authorization": f"Bearer {demo.demo_keys[role]}"}, indent=2)
        replace_editor_text(page, ".graphiql-editor-tool", headers)
        return page

    return sign_in


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped_for_no_browser:
        where = _skipped_for_no_browser[0]
        terminalreporter.write_line(NO_BROWSER.format(where=where), yellow=True, bold=True)
