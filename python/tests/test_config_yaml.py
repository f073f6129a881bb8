"""Hostile and unusual YAML: every input gets a positioned problem, never an exception."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from medvlm_sft.config.validate import load_config, validate_text
from medvlm_sft.config.yaml_source import MAX_NODES, load_yaml_text

SRC = Path(__file__).resolve().parents[1] / "src"
VALID_HEAD = "model:\n  base: org/model\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def bomb_line(levels: int = 9, width: int = 9) -> int:
    """1-based line of the first entry whose expansion crosses MAX_NODES."""
    total = 0
    for level in range(levels):
        total += sum(width**k for k in range(1, level + 2)) + 1
        if total > MAX_NODES:
            return level + 1
    raise AssertionError("the bomb is too small to trip the limit")


# name -> (text or bytes, expected code, expected 1-based line, expected column or None)
HOSTILE: dict[str, tuple[str | bytes, str, int, int | None]] = {
    "alias-bomb": (alias_bomb(), "yaml-too-many-values", bomb_line(), 1),
    "deep-flow-seq": (VALID_HEAD + "deep: " + "[" * 3000 + "]" * 3000 + "\n", "yaml-too-deep", 3, None),
    "deep-flow-map": (VALID_HEAD + "a: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "yaml-too-deep", 3, None),
    "deep-block-map": (
        VALID_HEAD + "".join(" " * i + "a:\n" for i in range(200)) + " " * 200 + "1\n",
        "yaml-too-deep",
        2 + 65,
        None,
    ),
    "huge-value": (VALID_HEAD + "x: " + "y" * (5 * 1024 * 1024) + "\n", "yaml-too-large", 1, 1),
    "long-value": (VALID_HEAD + "x: " + "y" * 70_000 + "\n", "yaml-value-too-long", 3, 4),
    "invalid-utf8": (VALID_HEAD.encode() + b"data: \xff\xfe\n", "yaml-binary", 3, 7),
    "random-binary": (random.Random(0).randbytes(4096), "yaml-binary", 0, None),
    "nul": (VALID_HEAD + "data: a\x00b\n", "yaml-binary", 3, 8),
    "duplicate-nested": (VALID_HEAD + "  family: auto\n  base: other/model\n", "yaml-duplicate-key", 4, 3),
    "tab-indent": ("model:\n\tbase: org/model\n", "yaml-tab", 2, 1),
    "top-level-list": ("- model\n- data\n", "yaml-not-mapping", 1, 1),
    "top-level-scalar": ("just some words\n", "yaml-not-mapping", 1, 1),
    "empty": ("", "yaml-empty", 1, 1),
    "only-comments": ("# nothing here\n\n", "yaml-empty", 1, 1),
    "unclosed-flow": (VALID_HEAD + "data: [1, 2\ntrain: {}\n", "yaml-syntax", 4, None),
    "two-documents": (VALID_HEAD + "---\nmodel: {}\n", "yaml-syntax", 3, 1),
    "undefined-alias": (VALID_HEAD + "data: *nothing\n", "yaml-syntax", 3, 7),
    "recursive-alias": (VALID_HEAD + "data: &d [*d]\n", "yaml-too-deep", 3, 1),
    "recursive-merge": (VALID_HEAD + "data: &d {<<: *d}\n", "yaml-too-deep", 3, 1),
    "python-tag": (VALID_HEAD + "data: !!python/object/apply:os.system [ls]\n", "yaml-tag", 3, 7),
    "huge-int": (VALID_HEAD + "train: {seed: " + "9" * 5000 + "}\n", "yaml-bad-number", 3, 15),
}


def _load(raw: str | bytes, tmp_path: Path):
    path = tmp_path / "hostile.sft.yaml"
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8"))
    return load_config(path)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_gives_positioned_problem(name: str, tmp_path: Path) -> None:
    raw, code, line, column = HOSTILE[name]
    cfg, problems = _load(raw, tmp_path)
    assert cfg is None
    matching = [p for p in problems if p.code == code]
    assert matching, f"expected {code}, got {[p.format('x') for p in problems]}"
    problem = matching[0]
    assert problem.severity == "error"
    if line:
        assert problem.line == line, problem
    if column is not None:
        assert problem.column == column, problem
    assert problem.end_line >= problem.line and problem.message


def test_hostile_messages_say_what_to_do(tmp_path: Path) -> None:
    messages = {
        name: next(p.message for p in _load(raw, tmp_path)[1] if p.code == code)
        for name, (raw, code, *_) in HOSTILE.items()
    }
    assert "spaces, not tabs" in messages["tab-indent"]
    assert "binary or non-UTF-8" in messages["nul"]
    assert "binary or non-UTF-8" in messages["invalid-utf8"]
    assert "first defined on line 2" in messages["duplicate-nested"]
    assert "alias" in messages["alias-bomb"]
    assert "1024 KiB" in messages["huge-value"]
    assert "mapping" in messages["top-level-list"]
    assert "empty" in messages["empty"]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_cli_survives_hostile_input(name: str, tmp_path: Path) -> None:
    """In a subprocess with a memory cap and a timeout, so a hang or a blow-up fails the test."""
    raw = HOSTILE[name][0]
    path = tmp_path / "hostile.sft.yaml"
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8"))

    def cap_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    result = subprocess.run(
        [sys.executable, "-m", "medvlm_sft", "validate", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        preexec_fn=cap_memory if sys.platform != "win32" else None,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert HOSTILE[name][1] in [p["code"] for p in report["problems"]]


def test_duplicate_key_reports_both_positions_and_no_schema_noise() -> None:
    text = "model:\n  base: org/model\ndata:\n  sources:\n    - records: a.jsonl\n      records: b.jsonl\n"
    problems = validate_text(text)
    dup = [p for p in problems if p.code == "yaml-duplicate-key"]
    assert len(dup) == 1
    assert (dup[0].path, dup[0].line, dup[0].column) == ("data.sources[0].records", 6, 7)
    assert "line 5" in dup[0].message


def test_duplicate_top_level_key() -> None:
    problems = validate_text("model:\n  base: a/b\nmodel:\n  base: c/d\ndata: {sources: [{records: r.jsonl}]}\n")
    dup = [p for p in problems if p.code == "yaml-duplicate-key"]
    assert [(p.path, p.line) for p in dup] == [("model", 3)]


def test_scalars_follow_yaml_1_2_core_schema() -> None:
    doc, problems = load_yaml_text(
        "a: no\nb: on\nc: 24:00:00\nd: 2e-4\ne: 0o17\nf: 010\ng: true\nh: ~\ni: 2024-01-01\nj: .inf\nk: '5'\n"
    )
    assert not problems and doc is not None
    assert doc.value == {
        "a": "no",
        "b": "on",
        "c": "24:00:00",
        "d": 2e-4,
        "e": 15,
        "f": 10,
        "g": True,
        "h": None,
        "i": "2024-01-01",
        "j": float("inf"),
        "k": "5",
    }


def test_anchors_aliases_and_merge_keys_work_in_a_normal_config() -> None:
    text = (
        "model: {base: org/model}\n"
        "data:\n"
        "  sources:\n"
        "    - &src {records: a.jsonl, tasks: t.json, val_limit: 5, train_limit: 100}\n"
        "    - <<: *src\n"
        "      records: b.jsonl\n"
        "    - *src\n"
    )
    doc, problems = load_yaml_text(text)
    assert not problems and doc is not None
    sources = doc.value["data"]["sources"]
    assert sources[1] == {"records": "b.jsonl", "tasks": "t.json", "val_limit": 5, "train_limit": 100}
    assert sources[2] == sources[0]
    assert validate_text(text) == []


def test_spans_of_keys_and_values() -> None:
    doc, _ = load_yaml_text("model:\n  base: org/model   # the base\ntrain:\n  epochs: 3\n\n# trailing\n")
    assert doc is not None
    base = doc.value_spans[("model", "base")]
    assert (base.line, base.column, base.end_line, base.end_column) == (1, 8, 1, 17)
    key = doc.key_spans[("model", "base")]
    assert (key.line, key.column, key.end_column) == (1, 2, 6)
    # A block mapping ends at its last content line, not at the blank and comment lines after it.
    train = doc.value_spans[("train",)]
    assert (train.line, train.end_line, train.end_column) == (3, 3, 11)
