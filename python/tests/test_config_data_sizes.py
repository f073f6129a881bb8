"""`validate --check-data --json`'s dataset sizes agree with what the real split selects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from medvlm_sft.config import data_check, data_sizes
from medvlm_sft.config.validate import require_config
from medvlm_sft.data import dataset
from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.data.formatting import FormatOptions
from medvlm_sft.data.problems import ProblemLog
from medvlm_sft.models.family import ResizeRule

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo data plus the same records spread unevenly over 6 volumes (3 copies: 108 records),
    as .jsonl with blank lines and as .json."""
    root = make_demo_data(tmp_path_factory.mktemp("demo"), seed=0)
    records = [json.loads(line) for line in (root / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    uneven = [
        {**r, "image_file": f"Images/vol{(i * i + copy) % 11}.nii.gz", "copy": copy}
        for copy in range(3)
        for i, r in enumerate(records)
    ]
    lines = [json.dumps(r) + ("\n\n" if i % 10 == 0 else "\n") for i, r in enumerate(uneven)]
    (root / "uneven.jsonl").write_text("\n" + "".join(lines) + "  \n", encoding="utf-8")
    (root / "uneven.json").write_text(json.dumps(uneven, indent=1), encoding="utf-8")
    return root


def write_config(root: Path, sources: list[dict[str, Any]], **data: Any) -> Path:
    for source in sources:
        source.setdefault("tasks", "tasks.json")
    text = json.dumps({"model": {"base": "org/model"}, "data": {"sources": sources, **data}})  # JSON is YAML
    path = root / "run.sft.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def validate_sizes(config: Path) -> dict[str, Any]:
    return data_check.inspect_data(require_config(config), config)[1]


def real_sizes(config: Path) -> dict[str, Any]:
    """What prepare_data's split selects (before any image is opened), in the `data` shape."""
    cfg = require_config(config)
    sources = [dataset._resolve_source(s, config.parent) for s in cfg.data.sources]
    options = FormatOptions.from_config(cfg.data)
    items = dataset._read_sources(sources, ResizeRule("qwen2_5_vl"), options, ProblemLog())
    unlimited = cfg.data.model_copy(update={"train_limit": -1, "val_limit": -1})
    per_source = []
    for source, source_items in zip(sources, items, strict=True):
        train, val, _, _ = dataset._split(unlimited, [source], [source_items])
        per_source.append({"name": source.label, "train": len(train), "val": len(val)})
    train, val, _, _ = dataset._split(cfg.data, sources, items)
    return {"train": len(train), "val": len(val), "sources": per_source}


def without_records(sizes: dict[str, Any]) -> dict[str, Any]:
    sources = [{k: v for k, v in s.items() if k != "records"} for s in sizes["sources"]]
    return {"train": sizes["train"], "val": sizes["val"], "sources": sources}


CASES = [
    # group_by_volume, [(records, train_limit, val_limit)], data.train_limit, data.val_limit
    (True, [("records.jsonl", -1, 4)], -1, -1),  # the demo: one 9-slice volume is cut
    (True, [("uneven.jsonl", -1, 5), ("uneven.json", 20, 17)], -1, -1),
    (True, [("uneven.jsonl", 10, 30), ("records.jsonl", -1, 0), ("uneven.json", 1000, 1)], 25, 20),
    (True, [("uneven.json", 3, 200)], -1, -1),  # val_limit above the data: all of it is validation
    (True, [("uneven.jsonl", 500, 107)], -1, 1000),
    (False, [("uneven.jsonl", 10, 7), ("uneven.json", 3, 50), ("records.jsonl", 40, 36)], 8, 5),
    (False, [("uneven.jsonl", -1, 12)], 1000, -1),
]


@pytest.mark.parametrize(("grouped", "sources", "train_limit", "val_limit"), CASES)
def test_sizes_follow_the_real_split(demo: Path, grouped, sources, train_limit, val_limit) -> None:
    entries = [
        {"records": name, "train_limit": t, "val_limit": v, **({"name": f"s{i}"} if i else {})}
        for i, (name, t, v) in enumerate(sources)
    ]
    config = write_config(demo, entries, group_by_volume=grouped, train_limit=train_limit, val_limit=val_limit)
    sizes = validate_sizes(config)
    assert without_records(sizes) == real_sizes(config)
    assert sizes["exact"] is True
    counts = {"records.jsonl": 36, "uneven.jsonl": 108, "uneven.json": 108}
    assert [s["records"] for s in sizes["sources"]] == [counts[name] for name, _, _ in sources]
    assert sizes["sources"][0]["name"] == sources[0][0]  # a source without a name is named by its file


def test_estimates_past_the_read_caps(demo: Path, monkeypatch) -> None:
    config = write_config(
        demo, [{"records": "uneven.jsonl", "val_limit": 5}, {"records": "uneven.json", "val_limit": 2}]
    )
    real = real_sizes(config)
    # Too big to read every record's volume: the cut volume's rest is counted as training data.
    monkeypatch.setattr(data_sizes, "MAX_PARSE_BYTES", 0)
    sizes = validate_sizes(config)
    assert sizes["exact"] is False and [s["records"] for s in sizes["sources"]] == [108, 108]
    assert [s["val"] for s in sizes["sources"]] == [5, 2] and sizes["val"] == real["val"]
    assert [s["train"] for s in sizes["sources"]] == [103, 106] and sizes["train"] >= real["train"]
    # Grouping cannot change the sizes when no validation volume can be cut.
    ungrouped = write_config(
        demo, [{"records": "uneven.jsonl", "val_limit": 0}, {"records": "uneven.json", "val_limit": 108}]
    )
    assert validate_sizes(ungrouped)["exact"] is True
    assert without_records(validate_sizes(ungrouped)) == real_sizes(ungrouped)
    # Too big to count: an estimate from the first records' sizes, and no record count.
    monkeypatch.setattr(data_check, "MAX_COUNT_BYTES", 0)
    monkeypatch.setattr(data_check, "MAX_JSON_BYTES", 0)
    monkeypatch.setattr(data_check, "ESTIMATE_HEAD_BYTES", 20_000)
    config = write_config(
        demo,
        [{"records": "uneven.jsonl", "val_limit": 5}, {"records": "uneven.json", "val_limit": 2}],
        group_by_volume=False,
    )
    sizes = validate_sizes(config)
    assert sizes["exact"] is False and [s["records"] for s in sizes["sources"]] == [None, None]
    for source in sizes["sources"]:
        assert 0.7 * 108 <= source["train"] + source["val"] <= 1.3 * 108, sizes
    assert sizes["val"] == 7


def test_unknown_sources_make_the_totals_unknown(demo: Path) -> None:
    (demo / "rows.parquet").write_bytes(b"PAR1")
    config = write_config(
        demo,
        [{"records": "uneven.jsonl", "val_limit": 5}, {"records": "missing.jsonl"}, {"records": "rows.parquet"}],
    )
    cfg = require_config(config)
    findings, sizes = data_check.inspect_data(cfg, config)
    assert [f.code for f in findings] == ["records-file"]
    assert sizes["train"] is None and sizes["val"] is None and sizes["exact"] is False
    assert sizes["sources"][1:] == [
        {"name": "missing.jsonl", "records": None, "train": None, "val": None},
        {"name": "rows.parquet", "records": None, "train": None, "val": None},
    ]
    assert sizes["sources"][0]["records"] == 108 and sizes["sources"][0]["val"] == 5


def run_validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medvlm_sft", "validate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=False,
    )


def test_the_cli_reports_data_only_with_check_data_and_json(demo: Path) -> None:
    config = write_config(demo, [{"name": "demo", "records": "records.jsonl", "val_limit": 4}])
    report = json.loads(run_validate(config.name, "--check-data", "--json", cwd=demo).stdout)
    assert report == {
        "ok": True,
        "problems": [],
        "data": {
            "train": 27,
            "val": 4,
            "exact": True,
            "sources": [{"name": "demo", "records": 36, "train": 27, "val": 4}],
        },
    }
    assert "data" not in json.loads(run_validate(config.name, "--json", cwd=demo).stdout)
    text = run_validate(config.name, "--check-data", cwd=demo).stdout
    assert text == f"{config.name}: no problems\n"
    # Several configs: each line has its own sizes; none where the schema failed.
    broken = demo / "broken.sft.yaml"
    broken.write_text(
        config.read_text(encoding="utf-8").replace('"val_limit": 4', '"val_limit": "4"'), encoding="utf-8"
    )
    lines = run_validate(config.name, broken.name, "--check-data", "--json", cwd=demo).stdout.splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["data"]["train"] == 27 and first["config"] == config.name
    assert "data" not in second and second["problems"][0]["code"] == "invalid-value"
