"""The browser pages over HTTP: served from the package's own assets, with nothing from
elsewhere. (What they do in a browser is in ``tests/browser/``.)"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest

from c360.api.pages import STATIC_DIR

PAGES = ("/graphql", "/docs", "/redoc")
ASSET = re.compile(r'(?:src|href)="([^"]+)"')


class TestPages:
    @pytest.mark.parametrize("path", PAGES)
    async def test_loads_only_assets_of_this_app(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        response = await client.get(path, headers={"accept": "text/html"})

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy
        assets = ASSET.findall(response.text)
        assert assets, "a page without scripts"
        for asset in assets:
            assert asset.startswith("/static/"), asset
            loaded = await client.get(asset)
            assert loaded.status_code == 200, asset
            assert loaded.content, asset
        assert "http://" not in response.text
        assert "https://" not in response.text

    async def test_graphiql_page_needs_no_key(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/graphql", headers={"accept": "text/html"})
        assert response.status_code == 200
        assert 'data-endpoint="/graphql"' in response.text

    async def test_an_unknown_asset_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/static/vendor/nothing.js")).status_code == 404

    async def test_the_openapi_document_is_still_served(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert response.json()["info"]["title"] == "c360"


class TestShippedAssets:
    """The vendored files are the ones the manifest names, each package with its licence."""

    MANIFEST = json.loads((STATIC_DIR / "vendor" / "MANIFEST.json").read_text())

    @pytest.mark.parametrize("folder", sorted(MANIFEST))
    def test_files_match_the_manifest(self, folder: str) -> None:
        entry = self.MANIFEST[folder]
        directory = STATIC_DIR / "vendor" / folder
        assert entry["version"]
        assert entry["license"]
        assert entry["origin"].startswith("npm")
        assert any(name.upper().startswith("LICENSE") for name in entry["files"])
        assert sorted(p.name for p in directory.iterdir()) == sorted(entry["files"])
        for name, digest in entry["files"].items():
            assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest, name

    def test_every_vendored_folder_is_in_the_manifest(self) -> None:
        folders = {p.name for p in (STATIC_DIR / "vendor").iterdir() if p.is_dir()}
        assert folders == set(self.MANIFEST)

    def test_no_shipped_script_loads_from_a_cdn(self) -> None:
        ours = list(Path(STATIC_DIR / "pages").glob("*"))
        assert ours
        for path in ours:
            # The SVG namespace names a vocabulary (elements are made in it), not a place to load.
            text = path.read_text().replace('"http://www.w3.org/2000/svg"', "")
            assert "http" not in text, path  # no absolute address: this origin only
