"""The runtime install, as the Docker image makes it: only the package and its pinned runtime
dependencies in a fresh virtualenv (``tools/install-runtime.sh``, the very script the Dockerfile
runs). Then the installed ``c360`` is used as an operator would: version, serve, health, a
GraphQL query with a key, an import into the served store, and a clean stop.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.served import HTTP, Server, alive, run_c360, serving, wait_until

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "tools" / "install-runtime.sh"
PACKAGES = ("c360", "connectors", "schemas")
INSTALL_TIMEOUT_S = 600
# The uv `make` installed beside this interpreter (the script takes `uv` from PATH otherwise).
UV = Path(sys.executable).parent / "uv"


def _runtime_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(spec).name.lower().replace("_", "-") for spec in project["dependencies"]}


def _imported_modules() -> set[str]:
    """Top-level names of every module the shipped packages import, at any depth."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(PACKAGES) - set(sys.stdlib_module_names) - {"__future__"}


class TestDeclaredDependencies:
    def test_every_imported_library_is_a_runtime_dependency(self) -> None:
        distributions = importlib.metadata.packages_distributions()
        declared = _runtime_requirements()
        undeclared = {
            module: distributions.get(module, ["?"])
            for module in _imported_modules()
            if not {d.lower().replace("_", "-") for d in distributions.get(module, [])} & declared
        }
        assert undeclared == {}, "imported but not in [project] dependencies"


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    result = subprocess.run(
        ["sh", str(INSTALL), str(venv), str(ROOT)],
        env={**os.environ, "UV": str(UV)},
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


@pytest.fixture
def served(runtime_venv: Path, tmp_path: Path) -> Iterator[Server]:
    # Run from an empty folder, so nothing of the checkout can be imported by accident.
    work = tmp_path / "elsewhere"
    work.mkdir()
    with serving(
        tmp_path / "data", command=[str(runtime_venv / "bin" / "c360")], cwd=work
    ) as server:
        yield server


class TestRuntimeInstall:
    def test_has_no_development_tools(self, runtime_venv: Path) -> None:
        for dev_only in ("pytest", "mypy", "ruff", "playwright"):
            assert not (runtime_venv / "bin" / dev_only).exists(), dev_only

    def test_version(self, runtime_venv: Path) -> None:
        result = subprocess.run(
            [str(runtime_venv / "bin" / "c360"), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"c360 {importlib.metadata.version('c360')}"

    def test_serves_answers_imports_and_stops(
        self, runtime_venv: Path, served: Server, tmp_path: Path
    ) -> None:
        health = HTTP.get(f"{served.base}/health", timeout=5)
        assert health.status_code == 200
        assert health.json()["store"]["reachable"] is True

        # The pages' assets are package data of the installed package.
        page = HTTP.get(f"{served.base}/graphql", headers={"accept": "text/html"}, timeout=5)
        assert page.status_code == 200
        for asset in ("vendor/graphiql/graphiql.min.js", "pages/graphiql.js"):
            assert HTTP.get(f"{served.base}/static/{asset}", timeout=5).status_code == 200

        ana = served.graphql(
            '{ profileByIdentifier(type: PHONE, value: "+34 600 12 34 56") '
            "{ ... on Profile { emails } } }"
        )
        assert ana["profileByIdentifier"]["emails"] == ["ana.garcia@example.com"]

        events = tmp_path / "events.jsonl"
        events.write_text(
            '{"type": "identify", "userId": "u-77", "messageId": "m-1", '
            '"timestamp": "2024-05-01T10:00:00Z", "traits": {"email": "new.person@example.com"}}\n'
        )
        imported = run_c360(
            "import",
            "segment",
            str(events),
            env=served.env,
            command=[str(runtime_venv / "bin" / "c360")],
            cwd=tmp_path,
        )
        assert imported.returncode == 0, imported.stderr
        assert "items read: 1," in imported.stdout
        assert "rejected: 0" in imported.stdout
        assert f"store: embedded store at {served.data_dir.resolve()}" in imported.stderr
        found = served.graphql(
            '{ profileByIdentifier(type: EMAIL, value: "new.person@example.com") { __typename } }'
        )
        assert found["profileByIdentifier"]["__typename"] == "Profile"

        store_pid = served.store_pid
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert wait_until(lambda: not alive(store_pid)), "the embedded store outlived the API"
