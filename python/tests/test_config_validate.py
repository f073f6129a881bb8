"""Schema problems mapped to YAML paths and ranges, example configs, loading and data checks."""

from __future__ import annotations

import json
import os
import shutil
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from medvlm_sft.config.model import RunConfig
from medvlm_sft.config.problems import Problem
from medvlm_sft.config.validate import (
    ConfigError,
    config_dir,
    load_config,
    require_config,
    resolve_path,
    validate_text,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MINIMAL = "model:\n  base: org/model\ndata:\n  sources:\n    - records: r.jsonl\n      val_limit: 5\n"


def only(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, [p.format("x") for p in problems]
    return found[0]


def test_minimal_config_is_valid() -> None:
    assert validate_text(MINIMAL) == []


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.sft.yaml")), ids=lambda p: p.name)
def test_example_configs_validate_without_errors(path: Path) -> None:
    cfg, problems = load_config(path)
    assert [p.format(path.name) for p in problems if p.severity == "error"] == []
    assert isinstance(cfg, RunConfig)
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and " train " in first and path.name in first, "header must be the run command"


def test_example_configs_exist() -> None:
    names = {p.name for p in CONFIGS.glob("*.sft.yaml")}
    assert {
        "demo.sft.yaml",
        "medgemma-27b-medvision.sft.yaml",
        "qwen2_5_vl-32b-medvision.sft.yaml",
        "medgemma-4b-qlora.sft.yaml",
    } <= names


def test_medvision_configs_match_the_reference_scripts() -> None:
    # Our MedGemma config turns checkpointing on (the reference has it off, with flash attention):
    # eager attention's probabilities over 4096 image patches would not fit an 80 GB GPU.
    for name, checkpointing in (("medgemma-27b-medvision", True), ("qwen2_5_vl-32b-medvision", True)):
        cfg = require_config(CONFIGS / f"{name}.sft.yaml")
        t = cfg.train
        assert (t.epochs, t.per_device_batch_size, t.gradient_accumulation_steps) == (10, 1, 12)
        assert (t.learning_rate, t.lr_scheduler, t.warmup_ratio, t.max_grad_norm) == (2e-4, "linear", 0.03, 0.3)
        assert t.optimizer == "adamw_torch_fused" and cfg.launch.num_processes == 2
        assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.lora.target_modules) == (16, 16, 0.05, "all-linear")
        assert (cfg.eval.steps, cfg.checkpoints.save_steps, cfg.logging.steps) == (50, 50, 10)
        assert cfg.model.gradient_checkpointing is checkpointing
        limits = [(s.train_limit, s.val_limit) for s in cfg.data.sources]
        assert limits == [(5500, 45), (11000, 105), (5500, 50)]


def test_unknown_key_suggests_the_closest_and_points_at_the_key() -> None:
    problem = only(validate_text(MINIMAL + "train:\n  lerning_rate: 0.1\n"), "unknown-key")
    assert problem.path == "train.lerning_rate"
    assert "did you mean `learning_rate`?" in problem.message
    assert (problem.line, problem.column, problem.end_line, problem.end_column) == (8, 3, 8, 15)


def test_unknown_key_in_the_wrong_section_names_its_section() -> None:
    problem = only(validate_text(MINIMAL + "lora:\n  max_steps: 10\n"), "unknown-key")
    assert "belongs in `train`" in problem.message


def test_unknown_key_without_a_close_match_lists_the_known_keys() -> None:
    problem = only(validate_text(MINIMAL + "zzz: 1\n"), "unknown-key")
    assert problem.path == "zzz" and "known keys: model, data, train" in problem.message


def test_wrong_types_point_at_the_value_with_a_yaml_path() -> None:
    text = MINIMAL + "    - records: b.jsonl\n      train_limit: many\ntrain:\n  epochs: abc\n"
    problems = validate_text(text)
    limit = [p for p in problems if p.path == "data.sources[1].train_limit"]
    assert len(limit) == 1 and limit[0].code == "invalid-value"
    assert (limit[0].line, limit[0].column, limit[0].end_column) == (8, 20, 24)
    assert limit[0].message == "`many` should be an integer"
    epochs = [p for p in problems if p.path == "train.epochs"]
    assert len(epochs) == 1 and (epochs[0].line, epochs[0].column) == (10, 11)


def test_union_type_errors_merge_into_one_problem() -> None:
    problems = validate_text(MINIMAL + "lora:\n  target_modules: 5\n")
    problem = only(problems, "invalid-value")
    assert problem.path == "lora.target_modules"
    assert problem.message == "`5` should be text or a list"


def test_invalid_choice_suggests_the_closest() -> None:
    problem = only(validate_text(MINIMAL + "eval:\n  strategy: step\n"), "invalid-choice")
    assert problem.path == "eval.strategy" and "did you mean `steps`?" in problem.message


def test_section_that_is_not_a_mapping() -> None:
    problem = only(validate_text(MINIMAL + "train: 5\n"), "not-a-mapping")
    assert problem.path == "train" and problem.line == 7


def test_missing_keys_point_at_the_parent() -> None:
    problems = validate_text("train:\n  epochs: 1\n")
    assert {p.path for p in problems if p.code == "missing-key"} == {"model", "data"}
    problems = validate_text("model:\n  base: a/b\ndata:\n  sources:\n    - name: x\n      val_limit: 1\n")
    problem = only(problems, "missing-key")
    assert problem.path == "data.sources[0].records"
    assert (problem.line, problem.column, problem.end_line) == (5, 7, 5)
    problem = only(validate_text("model:\n  family: auto\ndata: {sources: [{records: r.jsonl}]}\n"), "missing-key")
    assert problem.path == "model.base" and (problem.line, problem.column, problem.end_column) == (1, 1, 6)


def test_yaml_1_2_words_are_strings() -> None:
    assert validate_text(MINIMAL + "eval:\n  strategy: no\nlaunch:\n  slurm:\n    time: 24:00:00\n") == []


# ---- strict types (JSON-schema semantics, as the editor checks them) ----------------------


def all_models(model: type[BaseModel] = RunConfig) -> set[type[BaseModel]]:
    found = {model}
    for field in model.model_fields.values():
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in found:
                    found |= all_models(inner)
    return found


def test_every_section_is_strict() -> None:
    models = all_models()
    assert RunConfig in models and len(models) > 10
    for model in models:
        config = model.model_config
        assert (config.get("strict"), config.get("extra"), config.get("allow_inf_nan")) == (True, "forbid", False)


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        (
            'train:\n  max_steps: "5"\n',
            "train.max_steps",
            "`5` is quoted text; an integer is expected here (remove the quotes)",
        ),
        ("train:\n  max_steps: 2.0\n", "train.max_steps", "`2.0` should be a whole number such as `2`"),
        ("train:\n  max_steps: 1e3\n", "train.max_steps", "`1000.0` should be a whole number such as `1000`"),
        ("train:\n  max_steps: 2.5\n", "train.max_steps", "`2.5` should be an integer"),
        ("train:\n  max_steps: true\n", "train.max_steps", "`true` should be an integer"),
        (
            "train:\n  epochs: '2e-4'\n",
            "train.epochs",
            "`2e-4` is quoted text; a number is expected here (remove the quotes)",
        ),
        ("train:\n  epochs: abc\n", "train.epochs", "`abc` should be a number"),
        ("train:\n  epochs: false\n", "train.epochs", "`false` should be a number"),
        ("train:\n  max_grad_norm: .inf\n", "train.max_grad_norm", "`inf` should be a finite number"),
        ('train:\n  use_cpu: "true"\n', "train.use_cpu", "`true` is quoted text; write true or false without quotes"),
        (
            "train:\n  use_cpu: yes\n",
            "train.use_cpu",
            "`yes` is text, not a boolean (YAML 1.2 reads yes/no/on/off as text); write true or false",
        ),
        ("train:\n  use_cpu: 1\n", "train.use_cpu", "`1` should be true or false"),
        ("hub:\n  private:\n", "hub.private", "`null` should be true or false"),
        ("lora:\n  target_modules: 5\n", "lora.target_modules", "`5` should be text or a list"),
        ("lora:\n  modules_to_save: q_proj\n", "lora.modules_to_save", "`q_proj` should be a list"),
        (
            'launch:\n  gpus: [0, "1"]\n',
            "launch.gpus[1]",
            "`1` is quoted text; an integer is expected here (remove the quotes)",
        ),
        (
            "launch:\n  slurm:\n    partition: 7\n",
            "launch.slurm.partition",
            "`7` should be text; put it in quotes to use it as text",
        ),
        (
            "data:\n  sources: [{records: r.jsonl}]\n  image: {window: {center: '40', width: 400}}\n",
            "data.image.window.center",
            "`40` is quoted text; a number is expected here (remove the quotes)",
        ),
    ],
)
def test_strict_types_say_how_to_write_the_value(extra: str, path: str, message: str) -> None:
    text = "model:\n  base: org/model\n" + extra if extra.startswith("data:") else MINIMAL + extra
    problem = only(validate_text(text), "invalid-value")
    assert (problem.path, problem.message) == (path, message)


def test_strict_types_still_take_an_integer_for_a_number() -> None:
    cfg = RunConfig.model_validate(
        {"model": {"base": "a/b"}, "data": {"sources": [{"records": "r.jsonl"}]}, "train": {"epochs": 2}}
    )
    assert cfg.train.epochs == 2
    assert validate_text(MINIMAL + "train:\n  epochs: 2\n  learning_rate: 1\n  warmup_ratio: 0\n") == []
    with pytest.raises(ValidationError):
        cfg.train.max_steps = "5"  # assignments are validated strictly too


def test_load_config_returns_config_with_warnings_only(tmp_path: Path) -> None:
    path = tmp_path / "run.sft.yaml"
    path.write_text(MINIMAL + "train:\n  max_steps: 3\n", encoding="utf-8")
    cfg, problems = load_config(path)
    assert cfg is not None and cfg.train.max_steps == 3
    assert [p.severity for p in problems] == ["warning"]


def test_load_config_errors_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.sft.yaml"
    path.write_text("model: {}\n", encoding="utf-8")
    cfg, problems = load_config(path)
    assert cfg is None and problems
    cfg, problems = load_config(tmp_path / "missing.sft.yaml")
    assert cfg is None and problems[0].code == "config-unreadable" and "no such file" in problems[0].message
    with pytest.raises(ConfigError) as err:
        require_config(path)
    assert "bad.sft.yaml:1:" in str(err.value) and err.value.problems


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir("/")
    config = tmp_path / "sub" / "run.sft.yaml"
    assert config_dir(config) == tmp_path / "sub"
    assert resolve_path(config, "data/r.jsonl") == tmp_path / "sub" / "data" / "r.jsonl"
    assert resolve_path(config, "../r.jsonl") == tmp_path / "r.jsonl"
    assert resolve_path(config, "/abs/r.jsonl") == Path("/abs/r.jsonl")
    assert resolve_path(config, "~/r.jsonl") == Path(os.path.expanduser("~")) / "r.jsonl"
    monkeypatch.chdir(tmp_path)
    assert resolve_path(Path("sub/run.sft.yaml"), "x") == tmp_path / "sub" / "x"


# ---- --check-data ------------------------------------------------------------------------

MEDVISION_RECORD = {"dataset_name": "D", "taskID": "01", "taskType": "Box-Size", "bounding_boxes": {}}


def make_workspace(root: Path, records: list[dict] | None = None) -> Path:
    (root / "demo-data").mkdir(parents=True)
    lines = [json.dumps(r) for r in (records or [MEDVISION_RECORD] * 10)]
    (root / "demo-data" / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "demo-data" / "tasks.json").write_text("{}", encoding="utf-8")
    (root / "tiny-qwen2_5_vl").mkdir()
    (root / "tiny-qwen2_5_vl" / "config.json").write_text("{}", encoding="utf-8")
    shutil.copy(CONFIGS / "demo.sft.yaml", root / "demo.sft.yaml")
    return root / "demo.sft.yaml"


def check(config: Path, text: str | None = None) -> list[Problem]:
    if text is not None:
        config.write_text(text, encoding="utf-8")
    return load_config(config, check_data=True)[1]


def test_demo_config_passes_data_checks_in_its_workspace(tmp_path: Path, monkeypatch) -> None:
    config = make_workspace(tmp_path / "demo-workspace")
    monkeypatch.chdir(tmp_path)  # relative paths must not depend on the working directory
    assert check(config) == []


def test_missing_records_and_tasks_files_are_named(tmp_path: Path) -> None:
    config = make_workspace(tmp_path)
    (tmp_path / "demo-data" / "records.jsonl").unlink()
    (tmp_path / "demo-data" / "tasks.json").unlink()
    problems = check(config)
    records = only(problems, "records-file")
    assert (
        records.path == "data.sources[0].records" and str(tmp_path / "demo-data" / "records.jsonl") in records.message
    )
    assert only(problems, "tasks-file").path == "data.sources[0].tasks"


def test_records_extension_and_bad_jsonl_line(tmp_path: Path) -> None:
    config = make_workspace(tmp_path)
    text = config.read_text(encoding="utf-8")
    (tmp_path / "demo-data" / "records.csv").write_text("a,b\n", encoding="utf-8")
    problem = only(check(config, text.replace("records.jsonl", "records.csv")), "records-format")
    assert ".jsonl, .json or .parquet" in problem.message
    good = json.dumps(MEDVISION_RECORD)
    (tmp_path / "demo-data" / "records.jsonl").write_text(f"{good}\n\n{good}\n{{oops\n", encoding="utf-8")
    problem = only(check(config, text), "records-format")
    assert "line 4 of records.jsonl is not valid JSON" in problem.message
    (tmp_path / "demo-data" / "records.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    assert "not an object" in only(check(config), "records-format").message


def test_medvision_records_need_tasks(tmp_path: Path) -> None:
    config = make_workspace(tmp_path)
    text = config.read_text(encoding="utf-8").replace("      tasks: demo-data/tasks.json\n", "")
    problem = only(check(config, text), "needs-tasks")
    assert problem.path == "data.sources[0].tasks"


def test_limits_above_the_data_are_warnings(tmp_path: Path) -> None:
    config = make_workspace(tmp_path, [MEDVISION_RECORD] * 6)
    text = config.read_text(encoding="utf-8").replace("val_limit: 4", "val_limit: 4\n      train_limit: 100")
    problems = check(config, text)
    problem = only(problems, "limit-above-data")
    assert problem.severity == "warning" and problem.path == "data.sources[0].train_limit"
    assert "2 records left" in problem.message


def test_model_path_checks(tmp_path: Path) -> None:
    config = make_workspace(tmp_path)
    text = config.read_text(encoding="utf-8")
    problem = only(check(config, text.replace("base: tiny-qwen2_5_vl", "base: ./no-such-model")), "model-path")
    assert problem.path == "model.base" and problem.severity == "error"
    (tmp_path / "tiny-qwen2_5_vl" / "config.json").unlink()
    assert "config.json" in only(check(config, text), "model-path").message
    shutil.rmtree(tmp_path / "tiny-qwen2_5_vl")
    problem = only(check(config, text), "model-hub-id")
    assert problem.severity == "warning"
    assert check(config, text.replace("base: tiny-qwen2_5_vl", "base: Qwen/Qwen2.5-VL-3B-Instruct")) == []
