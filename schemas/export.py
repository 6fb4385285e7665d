"""JSON Schema export of the canonical contracts, for people writing connectors in any language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.records import CANONICAL_RECORD_ADAPTER, RECORD_MODELS

JSON_SCHEMA_DIR = Path(__file__).parent / "json"
_ID_BASE = "urn:c360:schemas:"


def build_json_schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema: one per record kind, plus the union of all kinds."""
    schemas: dict[str, dict[str, Any]] = {}
    union = CANONICAL_RECORD_ADAPTER.json_schema(mode="validation")
    union["title"] = "CanonicalRecord"
    schemas["canonical-record.schema.json"] = union
    for kind, model in RECORD_MODELS.items():
        schemas[f"{kind.value.replace('_', '-')}.schema.json"] = model.model_json_schema(
            mode="validation"
        )
    for name, schema in schemas.items():
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = _ID_BASE + name
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json_schemas(directory: Path = JSON_SCHEMA_DIR) -> list[Path]:
    """Write every schema file (and remove stale ones); return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = build_json_schemas()
    for stale in directory.glob("*.schema.json"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, schema in wanted.items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
