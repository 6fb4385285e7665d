"""The image and the compose files read as Docker reads them: what the API container keeps
across a rebuild, and the settings it is given."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from c360.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.sharded.yml"]


def runtime_stage() -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    last = max(i for i, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last:]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in runtime_stage():
        if line.startswith("ENV "):
            for word in shlex.split(line[4:]):
                name, _, value = word.partition("=")
                env[name] = value
    return env


def api(compose_file: str) -> tuple[dict[str, Any], dict[str, Any]]:
    compose = yaml.safe_load((ROOT / compose_file).read_text())
    return compose, compose["services"]["api"]


class TestTheImage:
    def test_keeps_its_data_directory_in_a_place_of_its_own_that_its_user_owns(self) -> None:
        data_dir = image_env().get("C360_DATA_DIR")
        assert data_dir, "C360_DATA_DIR is set in the image"
        stage = runtime_stage()
        user = next(line.split()[1] for line in stage if line.startswith("USER "))
        made = [line for line in stage if line.startswith("RUN ") and data_dir in line]
        assert made, f"the image makes {data_dir}"
        # A named volume mounted there starts as a copy of it, owner included: owned by root,
        # the unprivileged user could not write its secrets into it.
        assert any(f"chown {user}" in line for line in made), made
        assert stage.index(made[-1]) < stage.index(f"USER {user}")

    def test_listens_and_checks_its_health_where_c360_host_and_c360_port_say(self) -> None:
        """A port given on the command line overrode C360_PORT, and the health check asked
        port 8000 whatever it was: a container set to another port was never healthy."""
        stage = runtime_stage()
        env = image_env()
        assert (env.get("C360_HOST"), env.get("C360_PORT")) == ("0.0.0.0", "8000")
        (command,) = [line for line in stage if line.startswith("CMD ")]
        assert "--port" not in command, command
        assert "--host" not in command, command
        (health,) = [line for line in stage if line.startswith("HEALTHCHECK ")]
        assert "C360_PORT" in health, health
        assert ":8000" not in health, health


@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
class TestTheApiService:
    def test_keeps_the_data_directory_in_a_named_volume(self, compose_file: str) -> None:
        """The secrets c360 generates there key the suppression list and the tombstones:
        in the container's own layer, a rebuild or a new container forgot every erasure."""
        compose, service = api(compose_file)
        data_dir = image_env()["C360_DATA_DIR"]
        mounts = dict(volume.rsplit(":", 1)[::-1] for volume in service.get("volumes", []))
        assert data_dir in mounts, service
        assert mounts[data_dir] in (compose.get("volumes") or {}), compose.get("volumes")

    def test_sets_only_settings_that_exist(self, compose_file: str) -> None:
        _, service = api(compose_file)
        known = {f"C360_{name.upper()}" for name in Settings.model_fields}
        assert set(service["environment"]) <= known
