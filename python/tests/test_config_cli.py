"""`medvlm-sft validate` as the editor and users run it: exit codes, output forms, no heavy imports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
VALID = "model:\n  base: org/model\ndata:\n  sources:\n    - records: r.jsonl\n      val_limit: 5\n"
PROBLEM_KEYS = {"path", "message", "severity", "code", "line", "column", "end_line", "end_column"}


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medvlm_sft", "validate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=False,
    )


def write(tmp_path: Path, text: str, name: str = "run.sft.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_exits_0(tmp_path: Path) -> None:
    result = run_cli(str(write(tmp_path, VALID)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout
    result = run_cli(str(write(tmp_path, VALID)), "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == {"ok": True, "problems": []}


def test_errors_exit_1_with_one_line_per_problem(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "train:\n  lerning_rate: 0.1\n  epochs: -1\n")
    result = run_cli(str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"{path}:8:3: error: [unknown-key] train.lerning_rate: unknown key `lerning_rate` in `train`; "
        "did you mean `learning_rate`?"
    )
    assert re.match(rf"{re.escape(str(path))}:9:11: error: \[invalid-value\] train\.epochs: ", lines[1])
    assert lines[-1] == f"{path}: 2 errors, 0 warnings"


def test_json_output_shape(tmp_path: Path) -> None:
    result = run_cli(str(write(tmp_path, VALID + "train:\n  max_steps: 3\n  lerning_rate: 1\n")), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert set(report) == {"ok", "problems"} and report["ok"] is False
    assert all(set(p) == PROBLEM_KEYS for p in report["problems"])
    by_code = {p["code"]: p for p in report["problems"]}
    assert by_code["unknown-key"] == {
        "path": "train.lerning_rate",
        "message": "unknown key `lerning_rate` in `train`; did you mean `learning_rate`?",
        "severity": "error",
        "code": "unknown-key",
        "line": 9,
        "column": 3,
        "end_line": 9,
        "end_column": 15,
    }
    # Cross-field rules need a config that passed the schema, so they wait for the schema errors.
    assert "eval-never-runs" not in by_code


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    result = run_cli(str(write(tmp_path, VALID + "train:\n  max_steps: 3\n")))
    assert result.returncode == 0
    assert ": warning: [eval-never-runs] eval.steps:" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("0 errors, 1 warning")


def test_unreadable_config_exits_2(tmp_path: Path) -> None:
    result = run_cli(str(tmp_path / "missing.sft.yaml"))
    assert result.returncode == 2 and "no such file" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(str(tmp_path), "--json")
    assert result.returncode == 2 and "folder" in result.stderr
    assert json.loads(result.stdout)["problems"][0]["code"] == "config-unreadable"


def test_check_data_flag(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    assert run_cli(str(path)).returncode == 0
    result = run_cli(str(path), "--check-data", "--json")
    assert result.returncode == 1
    problem = json.loads(result.stdout)["problems"][0]
    assert problem["code"] == "records-file" and problem["path"] == "data.sources[0].records"
    assert str(tmp_path / "r.jsonl") in problem["message"]


def test_validate_imports_no_torch_or_transformers(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    # Enough records for the dataset sizes to read every record's volume (the split by volume).
    records = [json.dumps({"messages": [], "image": f"v{i % 3}.png"}) for i in range(8)]
    (tmp_path / "r.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    probe = (
        "import contextlib, io, json, sys\n"
        "from medvlm_sft.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['validate', {str(path)!r}, '--check-data', '--json'])\n"
        "    main(['schema'])\n"
        "heavy = {'torch', 'transformers', 'trl', 'peft', 'datasets', 'accelerate', 'numpy', 'nibabel', 'pyarrow'}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_example_configs_pass_the_cli() -> None:
    for path in sorted(CONFIGS.glob("*.sft.yaml")):
        result = run_cli(str(path), "--json")
        assert result.returncode == 0, (path.name, result.stdout)


def run_stdin(text: str | bytes, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "medvlm_sft", "validate", "--stdin", *args],
        input=text.encode("utf-8") if isinstance(text, str) else text,
        capture_output=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=False,
    )


def test_stdin_validates_unsaved_text_named_by_the_path(tmp_path: Path) -> None:
    saved = write(tmp_path, "model: {}\n")  # the file on disk is not what is checked
    result = run_stdin(VALID + "train:\n  max_steps: '5'\n", str(saved), "--json")
    assert result.returncode == 1
    (problem,) = json.loads(result.stdout)["problems"]
    assert problem["path"] == "train.max_steps"
    assert problem["message"] == "`5` is quoted text; an integer is expected here (remove the quotes)"
    result = run_stdin(VALID, str(tmp_path / "unsaved" / "new.sft.yaml"))
    assert result.returncode == 0 and result.stdout.decode().endswith(
        f"{tmp_path / 'unsaved' / 'new.sft.yaml'}: no problems\n"
    )


def test_stdin_anchors_data_paths_at_the_named_config(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "r.jsonl").write_text('{"messages": [], "image": "a.png"}\n', encoding="utf-8")
    result = run_stdin(VALID, "sub/not-saved-yet.sft.yaml", "--check-data", "--json", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["ok"] and [p["code"] for p in report["problems"]] == ["limit-above-data"]
    assert report["data"]["sources"] == [{"name": "r.jsonl", "records": 1, "train": 0, "val": 1}]
    result = run_stdin(VALID, "elsewhere.sft.yaml", "--check-data", "--json", cwd=tmp_path)
    assert json.loads(result.stdout)["problems"][0]["code"] == "records-file"


def test_stdin_has_the_file_size_limit_and_takes_one_config(tmp_path: Path) -> None:
    from medvlm_sft.config.yaml_source import MAX_FILE_BYTES

    result = run_stdin(b"#" * (MAX_FILE_BYTES + 10), "x.sft.yaml", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["problems"][0]["code"] == "yaml-too-large"
    result = run_stdin(b"model: {base: a/b}\n\xff\n", "x.sft.yaml", "--json")
    assert json.loads(result.stdout)["problems"][0]["code"] == "yaml-binary"
    result = run_stdin(VALID, "a.sft.yaml", "b.sft.yaml", "--json")
    assert result.returncode == 2 and b"exactly one CONFIG" in result.stderr and not result.stdout


def test_several_configs_give_json_lines_and_the_worst_status(tmp_path: Path) -> None:
    write(tmp_path, VALID, "good.sft.yaml")
    write(tmp_path, VALID + "train:\n  epochs: 2.0.0\n", "bad.sft.yaml")
    given = ["./good.sft.yaml", "bad.sft.yaml", "good.sft.yaml"]
    result = run_cli(*given, "--json", cwd=tmp_path)
    assert result.returncode == 1
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["config"] for r in reports] == given  # as given, not normalised
    assert [r["ok"] for r in reports] == [True, False, True]
    assert reports[0] == {"config": "./good.sft.yaml", "ok": True, "problems": []}
    assert reports[1]["problems"][0]["path"] == "train.epochs"
    result = run_cli(*given, "missing.sft.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stdout.splitlines()) == 4
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["config"] == "missing.sft.yaml" and last["problems"][0]["code"] == "config-unreadable"
    result = run_cli(*given, cwd=tmp_path)  # text: each config's problems and summary line
    assert result.returncode == 1
    assert [line for line in result.stdout.splitlines() if ": no problems" in line] == [
        "good.sft.yaml: no problems",
        "good.sft.yaml: no problems",
    ]
    assert "bad.sft.yaml: 1 error, 0 warnings" in result.stdout


def test_many_configs_in_one_process(tmp_path: Path) -> None:
    names = []
    for i in range(300):
        names.append(write(tmp_path, VALID + ("train:\n  max_steps: 2.0\n" if i % 3 else ""), f"c{i}.sft.yaml").name)
    result = run_cli(*names, "--json", cwd=tmp_path)
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["config"] for r in reports] == names
    assert [r["ok"] for r in reports] == [i % 3 == 0 for i in range(300)]
    assert result.returncode == 1
