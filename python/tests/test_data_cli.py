"""`medvlm-sft format` and `medvlm-sft prepare`, run as the editor and users run them (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.data.resize import resize_rule
from medvlm_sft.train.events import read_events

GOLDEN_PATH = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "formatting" / "golden.json"
GOLDEN = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
SRC = Path(__file__).resolve().parents[1] / "src"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "medvlm_sft", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def write_sparse_nifti(path: Path, shape: tuple[int, int, int], zooms: tuple[float, float, float]) -> None:
    """A complete, valid uint8 NIfTI-1 file whose voxels are all zero, stored as a sparse file.

    `format` reads headers only, so the golden cases' large slices cost no disk or time here.
    """
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header.set_zooms(zooms)
    header["vox_offset"] = 352
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(header.binaryblock + b"\0\0\0\0")
        f.truncate(352 + int(np.prod(shape)))


REFERENCE_OPTIONS = {"detection_prompt": "reference", "box_convention": "reference"}
# Each model family with each set of formatting options that some golden case uses: one `format` call each.
COMBINATIONS = sorted(
    {(c["model_family"], json.dumps(c.get("options", REFERENCE_OPTIONS), sort_keys=True)) for c in GOLDEN["cases"]}
)


def golden_dataset(folder: Path, family: str, options: dict) -> list[dict]:
    cases = [
        c for c in GOLDEN["cases"] if c["model_family"] == family and c.get("options", REFERENCE_OPTIONS) == options
    ]
    for case in cases:
        record, header = case["record"], case["header"]
        dim, idx = record["slice_dim"], record["slice_idx"]
        shape = list(header["slice_shape_hw"])
        zooms = list(header["pixdim_hw"])
        shape.insert(dim, idx + 1)
        zooms.insert(dim, 1.0)
        write_sparse_nifti(folder / record["image_file"], tuple(shape), tuple(zooms))
    (folder / "records.jsonl").write_text("".join(json.dumps(c["record"]) + "\n" for c in cases))
    (folder / "tasks.json").write_text(json.dumps(GOLDEN["tasks"]))
    return cases


@pytest.mark.parametrize(("family", "options"), COMBINATIONS)
def test_format_prints_the_golden_vectors(tmp_path, family, options):
    options = json.loads(options)
    cases = golden_dataset(tmp_path, family, options)
    result = cli(
        "format", "--records", str(tmp_path / "records.jsonl"), "--tasks", str(tmp_path / "tasks.json"),
        "--model-family", family, "--detection-prompt", options["detection_prompt"],
        "--box-convention", options["box_convention"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(cases)
    for line, case in zip(lines, cases, strict=True):
        out = json.loads(line)
        assert list(out) == ["messages", "image_size", "model_image_size"]
        expected = case["expected"]
        assert out["messages"] == [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": expected["prompt"]}]},
            {"role": "assistant", "content": [{"type": "text", "text": expected["target"]}]},
        ]
        assert out["image_size"] == expected["image_size"]
        assert out["model_image_size"] == expected["model_image_size"]


def test_format_limit_and_no_heavy_imports(tmp_path):
    demo = make_demo_data(tmp_path / "demo")
    code = (
        "import sys\n"
        "from medvlm_sft.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'datasets', 'trl'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    args = ["format", "--records", str(demo / "records.jsonl"), "--tasks", str(demo / "tasks.json")]
    result = subprocess.run(
        [sys.executable, "-c", code, *args, "--model-family", "medgemma", "--limit", "5"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    assert all(line["image_size"] == [64, 64] and line["model_image_size"] == [896, 896] for line in lines)


def broken_demo(tmp_path: Path) -> Path:
    """The demo records with line 2 naming a missing image, 4 cut short, 5 of no task kind."""
    demo = make_demo_data(tmp_path)
    lines = (demo / "records.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    bad["image_file"] = "Images/missing.nii.gz"
    lines[1] = json.dumps(bad)
    lines[3] = '{"dataset_name": "Demo",'
    lines[4] = json.dumps({"image_file": "Images/case_000.nii.gz", "slice_dim": 2, "slice_idx": 1})
    (demo / "records.jsonl").write_text("\n".join(lines) + "\n")
    return demo


def test_format_reports_every_bad_record_on_stderr(tmp_path):
    demo = broken_demo(tmp_path)
    result = cli(
        "format", "--records", str(demo / "records.jsonl"), "--tasks", str(demo / "tasks.json"),
        "--model-family", "qwen2_5_vl", "--limit", "6",
    )  # fmt: skip
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 3  # records 1, 3 and 6 of the first six
    errors = result.stderr.splitlines()
    path = demo / "records.jsonl"
    assert errors[0].startswith(f"medvlm-sft format: {path}:2: image file not found: ")
    assert errors[1].startswith(f"medvlm-sft format: {path}:4: not valid JSON")
    assert errors[2].startswith(f"medvlm-sft format: {path}:5: cannot tell the task kind")
    assert len(errors) == 3


def test_format_with_index_gives_every_record_a_line_in_order(tmp_path):
    demo = broken_demo(tmp_path)
    result = cli(
        "format", "--records", str(demo / "records.jsonl"), "--tasks", str(demo / "tasks.json"),
        "--model-family", "qwen2_5_vl", "--with-index", "--limit", "6",
    )  # fmt: skip
    assert result.returncode == 1
    out = sorted((json.loads(line) for line in result.stdout.splitlines()), key=lambda line: line["index"])
    assert [line["index"] for line in out] == [0, 1, 2, 3, 4, 5]
    assert list(out[0]) == ["index", "messages", "image_size", "model_image_size"]
    assert "image file not found" in out[1]["error"] and "records.jsonl:2" in out[1]["error"]
    assert "not valid JSON" in out[3]["error"]
    assert "cannot tell the task kind" in out[4]["error"]
    assert "messages" in out[2] and "messages" in out[5]


def write_model_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    # As published with Qwen2.5-VL-Instruct: min/max pixels as top-level keys.
    config = {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "merge_size": 2}
    (folder / "preprocessor_config.json").write_text(json.dumps(config))
    return folder


def test_prepare_reports_progress_and_events_then_reuses_the_cache(tmp_path):
    demo = make_demo_data(tmp_path / "demo")
    write_model_folder(tmp_path / "model")
    config = tmp_path / "run.sft.yaml"
    config.write_text(
        "model:\n  base: ./model\n"
        "data:\n  sources:\n    - records: demo/records.jsonl\n      tasks: demo/tasks.json\n      val_limit: 9\n"
        "  num_workers: 1\n"
    )
    run_dir = tmp_path / "runs" / "prep1"
    first = cli("prepare", str(config), "--run-dir", str(run_dir))
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["train"], summary["val"], summary["cache_hit"], summary["skipped"]) == (27, 9, False, {})
    assert Path(summary["index"]).parent == tmp_path / ".medvlm-cache" / "prepared"
    assert "decoding 4 of 4 volumes" in first.stderr and "prepared 27 train and 9 validation" in first.stderr
    events, _ = read_events(run_dir / "events.jsonl")
    types = [e["type"] for e in events]
    assert types[:2] == ["run_started", "phase"] and types[-1] == "run_finished"
    assert events[-1]["status"] == "finished"
    assert any(e["type"] == "log" and "decoded 4/4 volumes" in e["message"] for e in events)

    second = cli("prepare", str(config))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["cache_hit"] is True
    assert "reused prepared data: 36 samples" in second.stderr
    assert demo.is_dir()


def test_prepare_failure_is_one_error_event(tmp_path):
    demo = make_demo_data(tmp_path / "demo")
    write_model_folder(tmp_path / "model")
    lines = (demo / "records.jsonl").read_text().splitlines()
    rec = json.loads(lines[2])
    rec["slice_idx"] = 40
    lines[2] = json.dumps(rec)
    (demo / "records.jsonl").write_text("\n".join(lines) + "\n")
    config = tmp_path / "run.sft.yaml"
    config.write_text(
        "model:\n  base: ./model\ndata:\n  sources:\n    - records: demo/records.jsonl\n      tasks: demo/tasks.json\n"
        "  num_workers: 1\neval:\n  strategy: 'no'\n"
    )
    result = cli("prepare", str(config), "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 1
    assert "1 bad record (1 slice index out of range)" in result.stderr
    events, _ = read_events(tmp_path / "run" / "events.jsonl")
    (error,) = [e for e in events if e["type"] == "error"]
    assert error["record"] == 2
    assert f"{demo / 'records.jsonl'}:3 (record 2): slice_idx 40 is outside 0..7" in error["message"]
    assert events[-1] == {**events[-1], "type": "run_finished", "status": "failed"}


def test_resize_rule_from_files_matches_the_loaded_processor(tmp_path):
    from transformers import AutoImageProcessor, Gemma3ImageProcessor, Qwen2VLImageProcessor

    instruct = write_model_folder(tmp_path / "instruct")
    loaded = AutoImageProcessor.from_pretrained(instruct)
    from medvlm_sft.models.family import ResizeRule

    assert resize_rule("qwen2_5_vl", instruct) == ResizeRule.from_image_processor("qwen2_5_vl", loaded)
    assert resize_rule("qwen2_5_vl", instruct) == resize_rule("qwen2_5_vl")  # the published defaults

    saved = tmp_path / "saved"
    Qwen2VLImageProcessor(size={"shortest_edge": 3136, "longest_edge": 12544}).save_pretrained(saved)
    rule = resize_rule("qwen2_5_vl", saved)
    assert rule == ResizeRule.from_image_processor("qwen2_5_vl", AutoImageProcessor.from_pretrained(saved))
    assert rule(512, 512) == (112, 112)

    gemma = tmp_path / "gemma"
    Gemma3ImageProcessor(size={"height": 56, "width": 56}).save_pretrained(gemma)
    assert resize_rule("medgemma", gemma)(300, 200) == (56, 56)
    assert resize_rule("medgemma")(300, 200) == (896, 896)


def test_records_prints_every_record_of_a_parquet_file_and_the_broken_lines_of_a_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    demo = make_demo_data(tmp_path / "demo")
    rows = [json.loads(line) for line in (demo / "records.jsonl").read_text().splitlines()[:3]]
    pq.write_table(pa.Table.from_struct_array(pa.array(rows)), demo / "r.parquet")
    result = cli("records", str(demo / "r.parquet"))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["index"], o["line"]) for o in out] == [(0, 1), (1, 2), (2, 3)]
    assert [o["record"]["slice_idx"] for o in out] == [r["slice_idx"] for r in rows]
    assert out[0]["record"]["bounding_boxes"]["min_coords"] == rows[0]["bounding_boxes"]["min_coords"]

    (demo / "broken.jsonl").write_text(json.dumps(rows[0]) + "\n{oops\n\n" + json.dumps(rows[1]) + "\n")
    out = [json.loads(line) for line in cli("records", str(demo / "broken.jsonl")).stdout.splitlines()]
    assert [o["index"] for o in out] == [0, 1, 2]
    assert "not valid JSON" in out[1]["error"] and out[2]["line"] == 4
    missing = cli("records", str(demo / "nope.parquet"))
    assert missing.returncode == 2 and "records file not found" in missing.stderr
