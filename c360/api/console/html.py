"""The console's HTML: the page shell the console's script fills, the sign-in form and the
error page. Every value put in is escaped; no inline script or style (the pages' CSP allows
scripts from this origin only)."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

from c360.api.pages import CONTENT_SECURITY_POLICY, STATIC_PATH
from c360.auth.service import GRANTS
from c360.console.service import ConsoleSession

ASSETS = f"{STATIC_PATH}/console"
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send "Origin: null" on the page's own form posts,
    # and the origin check needs the real one. Other sites still learn nothing.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # a page that holds a session's CSRF token
}


def _document(title: str, head: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" href="{ASSETS}/icon.svg" type="image/svg+xml">\n'
        f'<link rel="stylesheet" href="{ASSETS}/console.css">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


def shell(session: ConsoleSession, purposes: list[str], query: str) -> HTMLResponse:
    """The page every console URL serves; ``app.js`` reads the URL and fills ``main``."""
    caller = session.caller
    permissions = " ".join(sorted(p.value for p in GRANTS[caller.role]))
    meta = {
        "c360-csrf": session.csrf_token,
        "c360-role": caller.role.value,
        "c360-key": caller.name,
        "c360-key-id": caller.key_id,
        "c360-permissions": permissions,
        "c360-purposes": " ".join(purposes),
        "c360-session-ends": session.expires_at.isoformat(),
    }
    head = "".join(
        f'<meta name="{name}" content="{escape(value)}">\n' for name, value in meta.items()
    )
    head += f'<script type="module" src="{ASSETS}/app.js"></script>\n'
    body = f"""\
<a class="skip-link" href="#main">Skip to the main content</a>
<header class="topbar">
  <a class="brand" href="/console">c360 <span>console</span></a>
  <form class="search" role="search" action="/console" method="get">
    <label for="q" class="visually-hidden">Find a customer</label>
    <input id="q" name="q" type="search" value="{escape(query)}" autocomplete="off"
      placeholder="Phone, e-mail, name, order number or ticket id" spellcheck="false">
    <button type="submit">Find</button>
  </form>
  <div class="who">
    <span>Signed in as <strong>{escape(caller.name)}</strong>
      <span class="role role-{escape(caller.role.value)}">{escape(caller.role.value)}</span></span>
    <form method="post" action="/console/sign-out">
      <input type="hidden" name="csrf" value="{escape(session.csrf_token)}">
      <button type="submit" class="link">Sign out</button>
    </form>
  </div>
</header>
<div id="notices" class="notices" aria-live="polite"></div>
<main id="main" tabindex="-1">
  <p class="loading" role="status">Loading…</p>
  <noscript><p class="notice error">The console needs JavaScript, from this site only.</p>
  </noscript>
</main>
"""
    return HTMLResponse(_document("c360 console", head, body), headers=HEADERS)


def _sentence(message: str) -> str:
    """A message as the page shows it: a sentence, with its capital letter."""
    return message[:1].upper() + message[1:]


def sign_in_page(
    token: str, next_path: str, message: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in form; ``message`` says why it is shown again (role=alert: read out). The key
    field has the focus when the page opens, again after a refusal, and is described by the
    message; a key refused (401, 403) marks it invalid."""
    notice = (
        f'<p id="key-error" class="notice error" role="alert">{escape(_sentence(message))}</p>\n'
        if message
        else ""
    )
    described = "key-error key-help" if message else "key-help"
    invalid = ' aria-invalid="true"' if status_code in (401, 403) else ""
    body = f"""\
<main id="main" class="sign-in">
  <h1>c360 <span>console</span></h1>
  <p>Sign in with your API key. It is checked once and kept by the server only: this browser
  holds a session cookie no script can read, which ends when you sign out, after a time, or
  when the key is revoked.</p>
  {notice}<form method="post" action="/console/sign-in">
    <input type="hidden" name="csrf" value="{escape(token)}">
    <input type="hidden" name="next" value="{escape(next_path)}">
    <label for="key">API key</label>
    <input id="key" name="key" type="password" autocomplete="off" required autofocus
      spellcheck="false" placeholder="c360_…" aria-describedby="{described}"{invalid}>
    <p id="key-help" class="help">An agent, admin or marketing key: <code>c360 keys create
    --role agent --name "your name"</code>, or the one <code>make run</code> printed.</p>
    <button type="submit">Sign in</button>
  </form>
</main>
"""
    return HTMLResponse(
        _document("Sign in — c360 console", "", body), status_code=status_code, headers=HEADERS
    )


def message_page(title: str, message: str, status_code: int) -> HTMLResponse:
    """What went wrong, as a page (never a blank one), with a way back."""
    body = f"""\
<main id="main" class="sign-in">
  <h1>{escape(title)}</h1>
  <p class="notice error" role="alert">{escape(message)}</p>
  <p><a class="own-line" href="/console">Back to the console</a></p>
</main>
"""
    return HTMLResponse(
        _document(f"{title} — c360 console", "", body), status_code=status_code, headers=HEADERS
    )
