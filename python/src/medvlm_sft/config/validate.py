"""Load and check a run config: YAML, schema, cross-field rules and (optionally) the data it names.

This is what `medvlm-sft validate` runs and what the trainer calls before importing anything
heavy, so the editor, the CLI and the trainer report the same problems (design contract 7).
It must not import torch or transformers: the editor runs it on every save.
"""

from __future__ import annotations

import difflib
import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from medvlm_sft.config import data_check
from medvlm_sft.config.data_check import resolve_path
from medvlm_sft.config.model import RunConfig
from medvlm_sft.config.problems import Problem, YamlPath, dotted, has_errors
from medvlm_sft.config.rules import Finding, check_rules
from medvlm_sft.config.yaml_source import YamlDocument, decode_config, load_yaml_text, read_config_bytes

__all__ = [
    "ConfigError",
    "config_dir",
    "load_config",
    "require_config",
    "resolve_path",
    "run_validate_command",
    "validate_text",
]


class ConfigError(Exception):
    """A config that cannot be used; `problems` holds every diagnostic, `str()` lists them."""

    def __init__(self, config_path: Path | str, problems: list[Problem]) -> None:
        self.config_path = Path(config_path)
        self.problems = problems
        lines = [p.format(str(config_path)) for p in problems if p.severity == "error"]
        super().__init__("invalid run config:\n" + "\n".join(lines))


def config_dir(config_path: Path | str) -> Path:
    """The folder relative paths in the config resolve against."""
    return Path(config_path).absolute().parent


def load_config(
    path: Path | str, *, check_data: bool = False, base_dir: Path | str | None = None
) -> tuple[RunConfig | None, list[Problem]]:
    """Read and check a config file. The config is None when any problem is an error.

    Paths inside the config stay as written; resolve them with `resolve_path(path, value)`.
    `base_dir` replaces the config's folder as the anchor of relative paths: a run folder
    holds a copy of the config whose paths are relative to the original's folder.
    """
    try:
        data = read_config_bytes(Path(path))
    except OSError as err:
        return None, [Problem.at(None, "", _os_message(path, err), "config-unreadable")]
    text, problems = decode_config(data)
    if text is None:
        return None, problems
    anchor = Path(base_dir) / Path(path).name if base_dir is not None else Path(path)
    return _analyze(text, anchor, check_data)


def require_config(path: Path | str, *, check_data: bool = False, base_dir: Path | str | None = None) -> RunConfig:
    """`load_config` for callers that stop on errors: raises `ConfigError`, ignores warnings."""
    cfg, problems = load_config(path, check_data=check_data, base_dir=base_dir)
    if cfg is None:
        raise ConfigError(path, problems)
    return cfg


def validate_text(text: str, path: Path | str | None = None, *, check_data: bool = False) -> list[Problem]:
    """Problems of config text; `path` (default: ./config.sft.yaml) anchors relative data paths."""
    return _analyze(text, Path(path) if path is not None else Path("config.sft.yaml"), check_data)[1]


def _analyze(text: str, path: Path, with_data: bool) -> tuple[RunConfig | None, list[Problem]]:
    try:
        doc, problems = load_yaml_text(text)
        if doc is None:
            return None, problems
        try:
            cfg = RunConfig.model_validate(doc.value)
        except ValidationError as err:
            return None, _sorted(problems + _schema_problems(doc, err))
        findings = check_rules(cfg)
        if with_data:
            findings += [(f.code, f) for f in data_check.check_data(cfg, path)]
        problems += [_finding_problem(doc, code, f) for code, f in findings]
    except Exception as err:  # validate answers every input with a problem, never a traceback
        message = f"validate failed unexpectedly ({type(err).__name__}: {err}); please report this"
        return None, [Problem.at(None, "", message, "internal-error")]
    problems = _sorted(problems)
    return (None if has_errors(problems) else cfg), problems


def _finding_problem(doc: YamlDocument, code: str, finding: Finding) -> Problem:
    written = [p for p in (finding.path, *finding.also) if p in doc.value_spans]
    span = doc.locate(written[0] if written else finding.path)
    return Problem.at(span, dotted(finding.path), finding.message, code, finding.severity)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column, p.severity != "error", p.code))


# ---- pydantic errors -> YAML paths -------------------------------------------------------


def _schema_problems(doc: YamlDocument, err: ValidationError) -> list[Problem]:
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
    parts: list[str] = []
    for error in errors:
        msg = error["msg"]
        part = msg.removeprefix("Input should be ")
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


# ---- the CLI command -------------------------------------------------------------------


def _os_message(path: Path | str, err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(err, IsADirectoryError):
        return f"{path}: is a folder, not a config file"
    return f"{path}: cannot read: {err.strerror or err}"


def run_validate_command(config: Path, check_data: bool, as_json: bool) -> int:
    """Exit 0 when there are no errors (warnings allowed), 1 with errors, 2 when the file cannot be read."""
    try:
        data = read_config_bytes(config)
    except OSError as err:
        message = _os_message(config, err)
        if as_json:
            problem = Problem.at(None, "", message, "config-unreadable")
            print(json.dumps({"ok": False, "problems": [problem.to_dict()]}))
        print(f"medvlm-sft validate: {message}", file=sys.stderr)
        return 2
    text, problems = decode_config(data)
    if text is not None:
        problems = _analyze(text, config, check_data)[1]
    ok = not has_errors(problems)
    if as_json:
        print(json.dumps({"ok": ok, "problems": [p.to_dict() for p in problems]}, ensure_ascii=False))
    else:
        for problem in problems:
            print(problem.format(str(config)))
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        summary = "no problems" if not problems else f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        print(f"{config}: {summary}")
    return 0 if ok else 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
