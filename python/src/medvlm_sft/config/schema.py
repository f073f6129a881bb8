"""The run config's JSON schema, generated from the pydantic model (design contract 1).

`media/run-config.schema.json` is this module's output, committed; the editor's structural
diagnostics, hovers and form come from it, and a test fails when it is stale
(regenerate with `npm run schema`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from medvlm_sft.config.model import RunConfig

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:medvlm-studio:run-config"


def build_schema() -> dict[str, Any]:
    schema = RunConfig.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema.get("$defs", {})
    # A section's own schema has no description (the models have no docstrings); hovers on a
    # section key look it up through the $ref, so lend each one the description of its field.
    for owner in [schema, *defs.values()]:
        for prop in owner.get("properties", {}).values():
            ref = _ref_of(prop)
            if ref and ref in defs and "description" not in defs[ref] and prop.get("description"):
                defs[ref]["description"] = prop["description"]
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = SCHEMA_ID
    return _normalise(schema)


def _ref_of(prop: dict[str, Any]) -> str | None:
    for candidate in (prop, prop.get("items", {}), *prop.get("anyOf", [])):
        ref = candidate.get("$ref") if isinstance(candidate, dict) else None
        if ref:
            return ref.rsplit("/", 1)[-1]
    return None


def _normalise(value: Any, *, keep_order: bool = False) -> Any:
    """Sort keywords for stable diffs, but keep `properties` in field order (the form's order)."""
    if isinstance(value, dict):
        keys = list(value) if keep_order else sorted(value)
        return {k: _normalise(value[k], keep_order=(k == "properties" and not keep_order)) for k in keys}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(out: Path | None) -> Path | None:
    """Write the schema to `out` (only when it changed, so file watchers stay quiet) or to stdout."""
    text = render_schema()
    if out is None:
        sys.stdout.write(text)
        return None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        out.write_text(text, encoding="utf-8")
    return out
