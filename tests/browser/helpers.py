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


# WCAG 2.2's target size (minimum, SC 2.5.8): 24 by 24 CSS pixels.
TARGET_PX = 24


def small_targets(page: Page) -> list[dict[str, object]]:
    """Every target on the page a person can click or tap that is smaller than 24 by 24 CSS px,
    with its size. Measured as the browser lays it out: a checkbox or a radio button with the
    label that toggles it too; a link in a sentence is exempt (SC 2.5.8's inline exception), as
    is what is not shown (hidden, or moved off the page until it has the focus)."""
    found: list[dict[str, object]] = page.evaluate(
        """(least) => {
          const targets = 'a[href], button, input:not([type=hidden]), select, textarea, summary,'
            + ' [role=button], [role=link], [tabindex]:not([tabindex="-1"])';
          const shown = (e) => {
            const r = e.getBoundingClientRect();
            if (!r.width || !r.height || r.right <= 0 || r.bottom <= -window.scrollY) return false;
            return getComputedStyle(e).visibility !== "hidden";
          };
          const box = (e) => {
            let { left, top, right, bottom } = e.getBoundingClientRect();
            if (["checkbox", "radio"].includes(e.type)) {
              for (const label of e.labels || []) {
                const r = label.getBoundingClientRect();
                left = Math.min(left, r.left); top = Math.min(top, r.top);
                right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
              }
            }
            return { width: right - left, height: bottom - top };
          };
          const inSentence = (e) => {
            if (e.tagName !== "A" || getComputedStyle(e).display !== "inline") return false;
            let block = e.parentElement;
            while (block && getComputedStyle(block).display.startsWith("inline")) {
              block = block.parentElement;
            }
            const own = e.textContent.trim().length;
            return block !== null && block.textContent.trim().length > own;
          };
          return [...document.querySelectorAll(targets)]
            .filter((e) => shown(e) && !inSentence(e))
            .map((e) => ({
              target: e.outerHTML.slice(0, 100),
              ...box(e),
            }))
            .filter((t) => t.width < least - 0.01 || t.height < least - 0.01)
            .map((t) => ({ ...t, width: +t.width.toFixed(1), height: +t.height.toFixed(1) }));
        }""",
        TARGET_PX,
    )
    return found
