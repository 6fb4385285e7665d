"""The pages a person opens in a browser: GraphiQL, Swagger UI and ReDoc.

Every asset they load ships inside the package (``static/vendor``, fetched from the npm
registry by ``tools/vendor_web_assets.py``, versions and licences in its ``MANIFEST.json``) and
is served by this app, so the pages work offline and behind proxies that block CDNs. Their
Content-Security-Policy allows this origin only: a page that tried to load anything from
elsewhere would fail visibly in the browser tests rather than silently in production.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PATH = "/static"
OPENAPI_URL = "/openapi.json"

# 'unsafe-inline' styles: GraphiQL and Swagger UI set style attributes from script. Workers
# from blob: ReDoc builds its search index in one.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

DEFAULT_QUERY = """\
# Paste an API key into Headers below (`make run` prints one per role),
# then run this with Ctrl-Enter.
{
  profileByIdentifier(type: PHONE, value: "0034 600 123 456") {
    __typename
    ... on Profile {
      id
      displayName
      emails
      preferredChannel { channel reason }
    }
    ... on Error { code message }
  }
}
"""

router = APIRouter(include_in_schema=False)


def mount_pages(app: FastAPI) -> None:
    """Serve the shipped assets and the documentation pages on ``app``."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)


def page(title: str, head: str, body: str) -> HTMLResponse:
    """An HTML page of this app, with its security headers. What a vendored page draws goes in a
    ``main``: its content is then a landmark a screen reader can go to."""
    html = (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" href="{_asset("vendor/swagger-ui-dist/favicon-32x32.png")}">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def graphiql_page(endpoint: str) -> HTMLResponse:
    head = _styles("vendor/graphiql/graphiql.min.css", "pages/graphiql.css")
    body = (
        f'<main><div id="graphiql" data-endpoint="{escape(endpoint)}" '
        f'data-default-query="{escape(DEFAULT_QUERY)}">Loading GraphiQL…</div></main>\n'
        + _scripts(
            "vendor/react/react.production.min.js",
            "vendor/react-dom/react-dom.production.min.js",
            "vendor/graphiql/graphiql.min.js",
            "pages/graphiql.js",
        )
    )
    return page("c360 GraphiQL", head, body)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    head = _styles("vendor/swagger-ui-dist/swagger-ui.css", "pages/swagger.css")
    body = f'<main><div id="swagger-ui" data-openapi="{OPENAPI_URL}"></div></main>\n' + _scripts(
        "vendor/swagger-ui-dist/swagger-ui-bundle.js", "pages/swagger.js"
    )
    return page("c360 API — Swagger UI", head, body)


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    body = f'<main><div id="redoc" data-openapi="{OPENAPI_URL}"></div></main>\n' + _scripts(
        "vendor/redoc/redoc.standalone.js", "pages/redoc.js"
    )
    return page("c360 API — ReDoc", _styles("pages/redoc.css"), body)


def _asset(path: str) -> str:
    return f"{STATIC_PATH}/{path}"


def _styles(*paths: str) -> str:
    return "".join(f'<link rel="stylesheet" href="{_asset(p)}">\n' for p in paths)


def _scripts(*paths: str) -> str:
    return "".join(f'<script src="{_asset(p)}"></script>\n' for p in paths)
