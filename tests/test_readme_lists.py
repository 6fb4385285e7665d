"""The README's and the docstrings' lists of what the code has stay true: the connectors, the
CSV exports' modules and the ingest stages, each compared with what registers or runs them (the
README's "Adding a GraphQL field, an ingest stage or a connector" says to update them)."""

from __future__ import annotations

import re
from pathlib import Path

import connectors.csv
from c360.ingest import stages as stages_package
from c360.services import Services
from connectors.registry import CONNECTORS
from tests.readme import README

ROOT = README.parent
TEXT = README.read_text(encoding="utf-8")
FILE = r"`((?:c360|connectors|schemas|tests)/[\w/.-]+\.(?:py|md|toml))`"


def _section(heading: str) -> str:
    start = TEXT.index(f"\n## {heading}\n")
    end = TEXT.find("\n## ", start + 1)
    return TEXT[start : end if end != -1 else None]


def _csv_modules() -> set[str]:
    folder = ROOT / "connectors" / "csv"
    return {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}


class TestConnectors:
    def test_the_table_names_every_registered_connector_and_no_other(self) -> None:
        rows = re.findall(r"^\| `([a-z0-9-]+)` \|", _section("Connectors"), re.MULTILINE)

        assert sorted(rows) == sorted(CONNECTORS)
        assert len(rows) == len(set(rows))

    def test_the_csv_exports_modules_are_listed_where_their_fields_are_said_to_be(self) -> None:
        said = _section("Connectors").split("docstring of its module in", 1)[1].split(".\n")[0]
        listed = set(re.findall(r"`([a-z_]+)\.py`", said))

        assert listed == _csv_modules()

    def test_the_csv_package_docstring_names_every_module(self) -> None:
        docstring = connectors.csv.__doc__ or ""
        named = set(re.findall(r":mod:`\.([a-z_]+)`", docstring.split("What they share")[0]))

        assert named == _csv_modules()


def _own(services: Services) -> list[str]:
    """The stages of the ingest package itself, in the order they run."""
    package = stages_package.__name__ + "."
    return [s.name for s in services.ingest.stages if type(s).__module__.startswith(package)]


class TestIngestStages:
    def test_the_design_decision_lists_the_stages_in_the_order_they_run(
        self, services: Services
    ) -> None:
        sentence = TEXT.split("**The ingest pipeline is a list of stages** (", 1)[1]
        listed = sentence.split("one module each:", 1)[1].split(") over", 1)[0]

        assert [" ".join(n.split()) for n in listed.split(",")] == _own(services)

    def test_the_stages_the_wiring_adds_are_named_in_the_readme(self, services: Services) -> None:
        own = _own(services)
        added = [s.name for s in services.ingest.stages if s.name not in own]

        assert added  # the alert rules' stage, at least
        for name in added:
            assert f"`{name}`" in TEXT, name

    def test_the_packages_diagram_is_the_order_they_run_in(self, services: Services) -> None:
        docstring = stages_package.__doc__ or ""
        diagram = docstring.split("So the order is::", 1)[1].split("\n\n", 2)[1]
        named = [" ".join(n.split()) for n in re.split(r"→|\|", diagram)]

        # ``journal`` marks where the loop enters the batch in the journal: not a stage.
        assert [n for n in named if n != "journal"] == _own(services)


def test_every_readme_file_named_in_the_adding_guide_exists() -> None:
    guide = TEXT.split("### Adding a GraphQL field, an ingest stage or a connector", 1)[1]
    guide = guide.split("\n## ", 1)[0]
    paths = set(re.findall(FILE, guide))

    assert paths
    missing = sorted(p for p in paths if "<" not in p and not Path(ROOT, p).exists())
    assert missing == []


def test_the_readme_says_what_each_field_of_the_profile_is() -> None:
    sdl = (ROOT / "schemas" / "schema.graphql").read_text(encoding="utf-8")
    body = sdl.split("\ntype Profile {", 1)[1].split("\n}", 1)[0]
    fields = re.findall(r"^  ([a-zA-Z]+)[(:]", body, re.MULTILINE)
    api = _section("API")

    assert len(fields) > 20
    said = set(re.findall(r"`(?:Profile\.)?([a-zA-Z]+)[`( ]", api))
    assert [f for f in fields if f not in said] == []
