"""Fetch the web pages' third-party assets from the npm registry into the package (and the test
suite's own, which are not shipped).

GraphiQL, Swagger UI and ReDoc ship inside c360 (``c360/api/static/vendor/``) so the pages work
without internet: nothing is loaded from a third-party host at run time. This script is how
those files got there, and how they are upgraded: change a version below, run it, commit the
result. Each package keeps its licence next to its files, and ``MANIFEST.json`` records where
every file came from with its SHA-256 (``tests/api/test_pages.py`` checks the files against it).

    python tools/vendor_web_assets.py          # needs npm
    python tools/vendor_web_assets.py --tests  # only the browser suite's (axe-core)

The browser suite's accessibility check runs axe-core, which is kept the same way in
``tests/browser/vendor/`` (with its own ``MANIFEST.json``): it runs offline, and ships with no
package.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "c360" / "api" / "static" / "vendor"
TEST_TARGET = ROOT / "tests" / "browser" / "vendor"

# package, version, files inside the package (the licence is added to each)
PACKAGES: list[tuple[str, str, list[str]]] = [
    ("react", "18.3.1", ["umd/react.production.min.js"]),
    ("react-dom", "18.3.1", ["umd/react-dom.production.min.js"]),
    ("graphiql", "3.8.3", ["graphiql.min.js", "graphiql.min.css"]),
    (
        "swagger-ui-dist",
        "5.32.0",
        [
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt",  # the bundled libraries' licences
            "swagger-ui.css",
            "favicon-32x32.png",
        ],
    ),
    ("redoc", "2.5.2", ["bundles/redoc.standalone.js", "bundles/redoc.standalone.js.LICENSE.txt"]),
]
# The browser suite's: the accessibility engine its checks inject into the console's pages.
TEST_PACKAGES: list[tuple[str, str, list[str]]] = [
    ("axe-core", "4.14.1", ["axe.min.js"]),
]
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "license")
# Changes to a shipped file, each made exactly once, and recorded in the manifest with why: a
# package's own request to another host at run time (the pages' policy refuses it, and the
# browser logs the refusal).
PATCHES: dict[tuple[str, str], list[tuple[str, str, str]]] = {
    ("redoc", "redoc.standalone.js"): [
        (
            '"https://cdn.redoc.ly/redoc/logo-mini.svg"',
            '"data:,"',
            "the footer's logo, fetched from Redocly's CDN: an empty image instead, which the "
            "footer hides as it does any logo that fails to load",
        )
    ],
}


def main() -> int:
    if "--tests" not in sys.argv[1:]:
        vendor(PACKAGES, TARGET)
    vendor(TEST_PACKAGES, TEST_TARGET)
    return 0


def vendor(packages: list[tuple[str, str, list[str]]], target: Path) -> None:
    manifest: dict[str, dict[str, object]] = {}
    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory() as work:
        for name, version, files in packages:
            spec = f"{name}@{version}"
            tgz = subprocess.run(
                ["npm", "pack", "--silent", spec],
                cwd=work,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
            unpacked = Path(work) / name.replace("/", "__")
            with tarfile.open(Path(work) / tgz) as archive:
                archive.extractall(unpacked, filter="data")
            package = unpacked / "package"
            licence = next((n for n in LICENCE_NAMES if (package / n).exists()), None)
            if licence is None:
                raise SystemExit(f"{spec} ships no licence file")
            folder = target / name.replace("/", "__")
            shipped: dict[str, str] = {}
            patched: list[str] = []
            for relative in [*files, licence]:
                source = package / relative
                destination = folder / Path(relative).name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
                patched += apply_patches(name, destination)
                shipped[destination.name] = hashlib.sha256(destination.read_bytes()).hexdigest()
            license_id = json.loads((package / "package.json").read_text()).get("license")
            manifest[folder.name] = {
                "package": name,
                "version": version,
                "license": license_id,
                "origin": f"npm registry, {spec}",
                "files": shipped,
                **({"patched": patched} if patched else {}),
            }
            print(f"{spec}: {', '.join(shipped)}")
    (target / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


def apply_patches(package: str, path: Path) -> list[str]:
    """Make this file's changes (``PATCHES``); returns what each changed, for the manifest."""
    changes = PATCHES.get((package, path.name), [])
    if not changes:
        return []
    content = path.read_bytes()  # as published, but for the changes: no decoding, no newlines
    for before, after, _ in changes:
        if content.count(before.encode()) != 1:
            raise SystemExit(f"{package}/{path.name}: expected {before} once, to patch")
        content = content.replace(before.encode(), after.encode())
    path.write_bytes(content)
    return [f"{path.name}: {why}" for _, _, why in changes]


if __name__ == "__main__":
    sys.exit(main())
