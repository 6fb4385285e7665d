"""What the browser tests and their fixtures share: screenshots kept as artifacts, typing into
GraphiQL's editors, the contrast of two colours."""

from __future__ import annotations

import re
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


def contrast(foreground: str, background: str) -> float:
    """WCAG's contrast ratio of two CSS ``rgb(…)`` colours (a translucent foreground laid over
    the background, as the browser paints it)."""

    def channels(colour: str) -> list[float]:
        return [float(c) for c in re.findall(r"[\d.]+", colour)]

    under = channels(background)[:3]
    over = channels(foreground)
    alpha = over[3] if len(over) > 3 else 1.0
    painted = [alpha * f + (1 - alpha) * b for f, b in zip(over[:3], under, strict=True)]

    def luminance(rgb: list[float]) -> float:
        r, g, b = (
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (v / 255 for v in rgb)
        )
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lighter, darker = sorted((luminance(painted), luminance(under)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
