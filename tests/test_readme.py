"""The README's examples run against the demo, as a reader would run them (see tests/readme.py).

One ``c360 serve --demo`` for the module, on a private data directory; GraphQL documents go to
it over HTTP with the role's demo key, shell blocks run in bash from the checkout with the
served store's settings and ``$KEY`` set to that key. The README's address
``http://127.0.0.1:8000`` stands for the served one, and ``PROFILE_ID`` for the demo customer
Ana's profile id (the README says to take it from the first query's answer).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readme import README, Example, examples
from tests.served import HTTP, Server, serving

ROOT = README.parent
README_BASE = "http://127.0.0.1:8000"
EXAMPLES = examples()
ANA = '{ profileByIdentifier(type: PHONE, value: "+34600123456") { ... on Profile { id } } }'


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(tmp_path_factory.mktemp("readme") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def ana_id(demo: Server) -> str:
    profile_id: str = demo.graphql(ANA)["profileByIdentifier"]["id"]
    return profile_id


def _check_output(example: Example, output: str) -> None:
    for expected in example.contains:
        assert expected in output, f"{example.name}: {expected!r} not in the answer:\n{output}"
    for unexpected in example.lacks:
        assert unexpected not in output, f"{example.name}: {unexpected!r} in the answer"


def _substitute(text: str, demo: Server, ana_id: str) -> str:
    return text.replace(README_BASE, demo.base).replace("PROFILE_ID", ana_id)


class TestReadmeExamples:
    def test_the_readme_has_examples_of_both_kinds(self) -> None:
        assert {e.language for e in EXAMPLES} == {"graphql", "sh"}
        assert {e.section for e in EXAMPLES} == {"Try it", "API"}

    @pytest.mark.parametrize(
        "example", [e for e in EXAMPLES if e.language == "graphql"], ids=lambda e: e.name
    )
    def test_graphql(self, example: Example, demo: Server, ana_id: str) -> None:
        response = HTTP.post(
            f"{demo.base}/graphql",
            json={"query": _substitute(example.text, demo, ana_id)},
            headers={"authorization": f"Bearer {demo.demo_keys[example.role]}"},
            timeout=30,
        )
        assert response.status_code == 200, f"{example.name}: {response.text}"
        body = response.json()
        assert body.get("data") is not None, f"{example.name}: {body}"
        if not example.errors_allowed:
            assert body.get("errors") is None, f"{example.name}: {body['errors']}"
        _check_output(example, json.dumps(body, ensure_ascii=False))

    @pytest.mark.parametrize(
        "example", [e for e in EXAMPLES if e.language == "sh"], ids=lambda e: e.name
    )
    def test_shell(self, example: Example, demo: Server, ana_id: str) -> None:
        # The commands name .venv/bin/c360: the checkout's, which is this interpreter's.
        c360 = str(Path(sys.executable).parent / "c360")
        script = _substitute(example.text, demo, ana_id).replace(".venv/bin/c360", c360)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env={**demo.env, "KEY": demo.demo_keys[example.role]},
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = result.stdout + result.stderr
        assert result.returncode == example.exit_status, f"{example.name}:\n{output}"
        _check_output(example, output)
