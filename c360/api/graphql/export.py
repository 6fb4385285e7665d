"""The committed GraphQL schema snapshot, ``schemas/schema.graphql``, kept in sync by a test."""

from __future__ import annotations

from pathlib import Path

import schemas
from c360.api.graphql.schema import render_sdl

SDL_PATH = Path(schemas.__file__).parent / "schema.graphql"


def write_sdl(path: Path = SDL_PATH) -> Path:
    path.write_text(render_sdl(), encoding="utf-8")
    return path
