"""What the browser tests and their fixtures share: screenshots kept as artifacts, typing into
GraphiQL's editors."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


def save_screenshot(page: Page, name: str) -> Path:
    """Keep a picture of the page as a test artifact (the README's screenshots come from it)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def replace_editor_text(page: Page, editor: str, text: str) -> None:
    """Type into a CodeMirror editor as a person pastes: select all, then insert the text."""
    page.locator(f"{editor} .CodeMirror >> visible=true").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
