"""Load and check a run config: YAML, schema, cross-field rules and (optionally) the data it names.

This is what `medvlm-sft validate` runs and what the trainer calls before importing anything
heavy, so the editor, the CLI and the trainer report the same problems (design contract 7).
It must not import torch or transformers: the editor runs it on every save.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from medvlm_sft.config import data_check
from medvlm_sft.config.data_check import resolve_path
from medvlm_sft.config.model import RunConfig
from medvlm_sft.config.problems import Problem, dotted, has_errors
from medvlm_sft.config.rules import Finding, check_rules
from medvlm_sft.config.schema_problems import schema_problems
from medvlm_sft.config.yaml_source import (
    MAX_FILE_BYTES,
    YamlDocument,
    decode_config,
    load_yaml_text,
    read_config_bytes,
)

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


@dataclass
class _Analysis:
    cfg: RunConfig | None  # None when any problem is an error
    problems: list[Problem]
    data: dict[str, Any] | None = None  # dataset sizes (with the data checks, when the schema passed)


def _analyze(text: str, path: Path, with_data: bool) -> tuple[RunConfig | None, list[Problem]]:
    analysis = _analysis(text, path, with_data)
    return analysis.cfg, analysis.problems


def _analysis(text: str, path: Path, with_data: bool) -> _Analysis:
    data = None
    try:
        doc, problems = load_yaml_text(text)
        if doc is None:
            return _Analysis(None, problems)
        try:
            cfg = RunConfig.model_validate(doc.value)
        except ValidationError as err:
            return _Analysis(None, _sorted(problems + schema_problems(doc, err)))
        findings = check_rules(cfg)
        if with_data:
            data_findings, data = data_check.inspect_data(cfg, path)
            findings += [(f.code, f) for f in data_findings]
        problems += [_finding_problem(doc, code, f) for code, f in findings]
    except Exception as err:  # validate answers every input with a problem, never a traceback
        message = f"validate failed unexpectedly ({type(err).__name__}: {err}); please report this"
        return _Analysis(None, [Problem.at(None, "", message, "internal-error")])
    problems = _sorted(problems)
    return _Analysis(None if has_errors(problems) else cfg, problems, data)


def _finding_problem(doc: YamlDocument, code: str, finding: Finding) -> Problem:
    written = [p for p in (finding.path, *finding.also) if p in doc.value_spans]
    span = doc.locate(written[0] if written else finding.path)
    return Problem.at(span, dotted(finding.path), finding.message, code, finding.severity)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line, p.column, p.severity != "error", p.code))


# ---- the CLI command -------------------------------------------------------------------


def _os_message(path: Path | str, err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(err, IsADirectoryError):
        return f"{path}: is a folder, not a config file"
    return f"{path}: cannot read: {err.strerror or err}"


def run_validate_command(
    configs: Sequence[str | Path], *, check_data: bool = False, as_json: bool = False, from_stdin: bool = False
) -> int:
    """Check each config; exit 0 when none has errors (warnings allowed), 1 when one has, 2 when one
    cannot be read (the worst status of all).

    With `as_json`, one report per config: `{"ok": bool, "problems": [Problem.to_dict(), ...]}`.
    With one config it is the only output; with several, each is one line (JSON Lines) with
    `"config": <the path as given>` added. With `check_data` too, a config whose schema passed
    also gets `"data"`, the dataset sizes training will use:

        "data": {"train": int | null, "val": int | null, "exact": bool,
                 "sources": [{"name": str, "records": int | null, "train": int | null, "val": int | null}]}

    `records` is the number of records in the file (null when it cannot be read, or is too big to
    count under the data checks' caps); `train`/`val` are the samples the split takes from that
    source (after its val_limit hold-out, then its train_limit), the top-level ones after
    `data.train_limit`/`val_limit`. A source that cannot be counted has nulls, and so do the totals.
    `exact` is false when a number is an estimate or unknown: a records file past the counting
    caps (256 MiB of .jsonl, 16 MiB of .json), or one past 16 MiB where `group_by_volume` may cut a
    validation volume (exact sizes then need every record's image_file). Records that turn out
    bad at training time are not known here.

    `from_stdin` reads the (one) config's text from standard input; its path then only anchors
    relative paths and names it in messages, and need not exist.
    """
    many = len(configs) > 1
    worst = 0
    for given in configs:
        status, report = _validate_one(Path(given), check_data, as_json, from_stdin)
        worst = max(worst, status)
        if as_json:
            print(json.dumps({"config": str(given), **report} if many else report, ensure_ascii=False))
    return worst


def _validate_one(config: Path, check_data: bool, as_json: bool, from_stdin: bool) -> tuple[int, dict[str, Any]]:
    try:
        data = _read_stdin() if from_stdin else read_config_bytes(config)
    except OSError as err:
        message = _os_message("standard input" if from_stdin else config, err)
        print(f"medvlm-sft validate: {message}", file=sys.stderr)
        problem = Problem.at(None, "", message, "config-unreadable")
        return 2, {"ok": False, "problems": [problem.to_dict()]}
    text, problems = decode_config(data)
    sizes = None
    if text is not None:
        analysis = _analysis(text, config, check_data)
        problems, sizes = analysis.problems, analysis.data
    ok = not has_errors(problems)
    report: dict[str, Any] = {"ok": ok, "problems": [p.to_dict() for p in problems]}
    if check_data and sizes is not None:
        report["data"] = sizes
    if not as_json:
        for problem in problems:
            print(problem.format(str(config)))
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        summary = "no problems" if not problems else f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
        print(f"{config}: {summary}")
    return (0 if ok else 1), report


def _read_stdin() -> bytes:
    """Like `read_config_bytes`: one byte past the limit at most."""
    if sys.stdin is None:
        raise OSError("standard input is closed")
    return sys.stdin.buffer.read(MAX_FILE_BYTES + 1)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")
