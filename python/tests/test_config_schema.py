"""The committed JSON schema is the pydantic model's output, and every field is documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medvlm_sft.config.schema import build_schema, render_schema, write_schema

COMMITTED = Path(__file__).resolve().parents[2] / "media" / "run-config.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: run `npm run schema`"
    assert COMMITTED.read_text(encoding="utf-8") == render_schema(), (
        "media/run-config.schema.json is stale (the run config model changed): run `npm run schema` and commit it"
    )


def _objects(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((where, node))
        for key, value in node.items():
            found.extend(_objects(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_objects(value, f"{where}/{index}"))
    return found


def test_every_property_at_every_level_has_a_description() -> None:
    schema = build_schema()
    objects = _objects(schema)
    assert len(objects) >= 10
    missing = [
        f"{where}/properties/{name}"
        for where, obj in objects
        for name, prop in obj["properties"].items()
        if not str(prop.get("description", "")).strip()
    ]
    assert missing == []
    assert all(str(d.get("description", "")).strip() for d in schema["$defs"].values())


def test_schema_header_and_stable_rendering(tmp_path: Path) -> None:
    schema = build_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["$id"] and schema["title"]
    assert schema["additionalProperties"] is False
    assert list(schema["properties"])[:2] == ["model", "data"]  # field order is kept for the form
    text = render_schema()
    assert text.endswith("}\n") and text == render_schema()
    assert json.loads(text) == schema
    out = write_schema(tmp_path / "s.json")
    assert out is not None and out.read_text(encoding="utf-8") == text
