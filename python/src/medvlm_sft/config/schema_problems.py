"""Schema errors (pydantic's) as `Problem`s at YAML paths, with messages that say how to fix them.

Types are strict, as the JSON schema the editor checks is: a quoted number, a `2.0` for an
integer or a quoted `true` is an error, and the message says how to write the value instead.
"""

from __future__ import annotations

import difflib
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from medvlm_sft.config.model import RunConfig
from medvlm_sft.config.problems import Problem, YamlPath, dotted
from medvlm_sft.config.yaml_source import YamlDocument, plain_scalar_kind


def schema_problems(doc: YamlDocument, err: ValidationError) -> list[Problem]:
    grouped: dict[tuple[YamlPath, str], list[dict[str, Any]]] = {}
    for error in err.errors(include_url=False):
        path = _data_path(doc.value, error["loc"], error["type"])
        if any(path[:n] in doc.reported for n in range(len(path) + 1)):
            continue  # already reported while loading the YAML
        grouped.setdefault((path, _code(error["type"])), []).append(error)
    problems = []
    for (path, code), errors in grouped.items():
        if code == "unknown-key":
            span = doc.locate(path, key=True)
            message = _unknown_key_message(path)
        elif code == "missing-key":
            span = doc.locate_parent(path)
            message = _missing_key_message(path)
        else:
            span = doc.locate(path)
            message = _value_message(path, errors)
        problems.append(Problem.at(span, dotted(path), message, code))
    return problems


def _code(error_type: str) -> str:
    if error_type == "extra_forbidden":
        return "unknown-key"
    if error_type == "missing":
        return "missing-key"
    if error_type in ("literal_error", "enum"):
        return "invalid-choice"
    if error_type in ("model_type", "model_attributes_type", "dict_type"):
        return "not-a-mapping"
    return "invalid-value"


def _data_path(value: Any, loc: tuple[Any, ...], error_type: str) -> YamlPath:
    """Follow pydantic's `loc` through the data, dropping union-member tags such as `list[str]`."""
    path: list[str | int] = []
    current = value
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, dict) and isinstance(part, str) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and last and error_type == "missing":
            path.append(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            path.append(part)
            current = current[part]
    return tuple(path)


def _model_at(path: YamlPath) -> type[BaseModel] | None:
    model: type[BaseModel] | None = RunConfig
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        model = _find_model(field.annotation) if field else None
    return model


def _find_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _find_model(arg)
        if found:
            return found
    return None


@cache
def _sections_with_field() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            out.setdefault(name, []).append(prefix)
            sub = _find_model(field.annotation)
            if sub is not None:
                walk(sub, f"{prefix}.{name}" if prefix else name)

    walk(RunConfig, "")
    return out


def _unknown_key_message(path: YamlPath) -> str:
    key = str(path[-1])
    parent = dotted(path[:-1])
    where = f" in `{parent}`" if parent else " at the top level"
    model = _model_at(path[:-1])
    known = list(model.model_fields) if model else []
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key `{key}`{where}; did you mean `{close[0]}`?"
    elsewhere = [s for s in _sections_with_field().get(key, []) if s]
    if elsewhere:
        return f"unknown key `{key}`{where}; it belongs in `{elsewhere[0]}`"
    return f"unknown key `{key}`{where}; known keys: {', '.join(known)}"


def _missing_key_message(path: YamlPath) -> str:
    model = _model_at(path[:-1])
    field = model.model_fields.get(str(path[-1])) if model else None
    hint = ""
    if field and field.description:
        hint = " (" + field.description.split("; ")[0].split(". ")[0].rstrip(".") + ")"
    parent = dotted(path[:-1])
    where = f" in `{parent}`" if parent else " at the top level"
    return f"missing required key `{path[-1]}`{where}{hint}"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    else:
        text = str(value)
    if not text:
        return "an empty value"
    return f"`{text}`" if len(text) <= 40 else f"`{text[:37]}...`"


def _value_message(path: YamlPath, errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    got = _show(first.get("input"))
    if first["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of `key: value` settings here, got {got}"
    if first["type"] == "string_pattern_mismatch":
        form = "`owner/name`" if path[-1:] == ("repo_id",) else f"`{first.get('ctx', {}).get('pattern')}`"
        return f"{got} should have the form {form}"
    if len(errors) == 1 and first["type"] in _TYPE_WORDS:
        return _type_message(first["type"], first.get("input"), got)
    parts: list[str] = []
    for error in errors:
        msg = error["msg"]
        part = _TYPE_WORDS.get(error["type"]) or msg.removeprefix("Input should be ")
        if part not in parts:
            parts.append(part)
    if all(e["msg"].startswith("Input should be ") for e in errors):
        message = f"{got} should be " + " or ".join(parts)
    else:
        scalar = not isinstance(first.get("input"), (list, dict))
        message = "; ".join(parts) + (f" (got {got})" if scalar else "")
    if first["type"] == "literal_error" and isinstance(first.get("input"), str):
        expected = str(first.get("ctx", {}).get("expected", ""))
        choices = [c.strip("'") for c in expected.replace(" or ", ", ").split(", ")]
        close = difflib.get_close_matches(first["input"], choices, n=1, cutoff=0.6)
        if close:
            message += f"; did you mean `{close[0]}`?"
    return message


# What a strict type error expects, in the config's terms (JSON schema types, as the editor has them).
_TYPE_WORDS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
}
_YAML_1_1_BOOLS = {"yes", "no", "on", "off", "y", "n"}


def _type_message(error_type: str, value: Any, got: str) -> str:
    """A value of the wrong type. Types are strict (as in the JSON schema), so say how to write it instead."""
    expected = _TYPE_WORDS[error_type]
    if isinstance(value, str):
        kind = plain_scalar_kind(value.strip())
        if (error_type == "int_type" and kind == "int") or (error_type == "float_type" and kind in ("int", "float")):
            return f"{got} is quoted text; {expected} is expected here (remove the quotes)"
        if error_type == "bool_type" and kind == "bool":
            return f"{got} is quoted text; write true or false without quotes"
        if error_type == "bool_type" and value.strip().lower() in _YAML_1_1_BOOLS:
            return f"{got} is text, not a boolean (YAML 1.2 reads yes/no/on/off as text); write true or false"
    if error_type == "int_type" and isinstance(value, float) and value.is_integer():
        return f"{got} should be a whole number such as `{int(value)}`"
    if error_type == "string_type" and isinstance(value, (int, float)):
        return f"{got} should be text; put it in quotes to use it as text"
    return f"{got} should be {expected}"
