"""Real training runs on the tiny models and the demo data (CPU, a few steps each).

They check the events contract end to end: what a finished, resumed, crashed and stopped run
writes to events.jsonl, which checkpoints it leaves, and its exit code.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.models.tiny import make_tiny_model
from medvlm_sft.train.events import REQUIRED_FIELDS, read_events
from medvlm_sft.train.runner import run_train_command

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A folder laid out like a user's project: configs beside `data/` and `models/`."""
    root = tmp_path_factory.mktemp("workspace")
    make_demo_data(root / "data", seed=0)
    make_tiny_model(root / "models" / "tiny-qwen", family="qwen2_5_vl", seed=0)
    make_tiny_model(root / "models" / "tiny-gemma", family="medgemma", seed=0)
    return root


def write_config(root: Path, name: str, model: str = "models/tiny-qwen", **sections) -> Path:
    config = {
        "model": {"base": model},
        "data": {"sources": [{"records": "data/records.jsonl", "tasks": "data/tasks.json", "val_limit": 4}]},
        "train": {"max_steps": 4, "per_device_batch_size": 2, "use_cpu": True, "seed": 7},
        "eval": {"strategy": "steps", "steps": 2},
        "checkpoints": {"save_steps": 2, "save_total_limit": 3},
        "logging": {"steps": 1},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    path = root / f"{name}.sft.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def events_of(run_dir: Path) -> list[dict]:
    events, _ = read_events(run_dir / "events.jsonl")
    for event in events:
        assert {"v", "t", "type"} <= event.keys()
        assert set(REQUIRED_FIELDS[event["type"]]) <= event.keys(), event
    return events


def phases(events: list[dict]) -> list[str]:
    return [e["phase"] for e in events if e["type"] == "phase"]


def test_train_tiny_qwen_on_demo_data_then_resume(workspace):
    run_dir = workspace / "runs" / "qwen"
    assert run_train_command(write_config(workspace, "qwen"), run_dir, run_id="run-1") == 0
    events = events_of(run_dir)
    assert events[0]["type"] == "run_started" and events[0]["run_id"] == "run-1"
    assert (events[0]["attempt"], events[0]["resume_step"]) == (1, None)
    assert events[0]["config"]["model"]["base"] == "models/tiny-qwen"
    assert events[-1] == {**events[-1], "type": "run_finished", "status": "finished"}
    assert phases(events)[:3] == ["preparing_data", "loading_model", "training"]
    assert phases(events)[-1] == "saving" and "evaluating" in phases(events)
    assert any(e["type"] == "log" and e["message"] == "27 train and 4 validation samples" for e in events)

    train = [e for e in events if e["type"] == "metrics" and e["split"] == "train"]
    assert [e["step"] for e in train] == [1, 2, 3, 4]
    for e in train:
        assert math.isfinite(e["loss"]) and math.isfinite(e["grad_norm"]) and e["learning_rate"] >= 0
    evals = [e for e in events if e["type"] == "metrics" and e["split"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4] and all(math.isfinite(e["loss"]) for e in evals)
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[0]["step"] == 1 and progress[-1]["step"] == progress[-1]["max_steps"] == 4

    checkpoints = [e["path"] for e in events if e["type"] == "checkpoint"]
    assert checkpoints == ["checkpoints/checkpoint-2", "checkpoints/checkpoint-4", "checkpoints/final"]
    for path in checkpoints:
        assert (run_dir / path / "adapter_model.safetensors").is_file()
        assert (run_dir / path / "adapter_config.json").is_file()

    # Same run folder, more steps, resume from the newest checkpoint.
    config = write_config(
        workspace, "qwen-resume", train={"max_steps": 6}, checkpoints={"resume_from": "latest", "save_steps": 2}
    )
    assert run_train_command(config, run_dir, run_id="run-1") == 0
    events = events_of(run_dir)
    resumed = events[[i for i, e in enumerate(events) if e["type"] == "run_started"][1] :]
    assert (resumed[0]["attempt"], resumed[0]["resume_step"]) == (2, 4)
    assert any(e["type"] == "log" and e["message"] == "resuming from checkpoint-4" for e in resumed)
    assert [e["step"] for e in resumed if e["type"] == "metrics" and e["split"] == "train"] == [5, 6]
    assert resumed[-1]["status"] == "finished"
    assert (run_dir / "checkpoints" / "checkpoint-6").is_dir()


def test_train_tiny_medgemma_without_vision_lora_and_merge(workspace):
    run_dir = workspace / "runs" / "gemma"
    config = write_config(
        workspace,
        "gemma",
        model="models/tiny-gemma",
        train={"max_steps": 2},
        eval={"strategy": "no"},
        lora={"include_vision_tower": False},
        hub={"merge_after_training": True},
    )
    assert run_train_command(config, run_dir) == 0
    events = events_of(run_dir)
    assert events[0]["run_id"] == "gemma"
    assert phases(events) == ["preparing_data", "loading_model", "training", "saving", "merging"]
    assert events[-1]["status"] == "finished"
    from safetensors import safe_open

    with safe_open(run_dir / "checkpoints" / "final" / "adapter_model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and not [k for k in keys if "vision_tower" in k or "multi_modal_projector" in k]
    from transformers import AutoModelForImageTextToText

    merged = AutoModelForImageTextToText.from_pretrained(run_dir / "merged")
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_missing_volume_fails_with_an_error_naming_the_record(workspace, tmp_path):
    lines = (workspace / "data" / "records.jsonl").read_text().splitlines()
    lines[2] = lines[2].replace("Images/case_000.nii.gz", "Images/case_999.nii.gz")
    (workspace / "data" / "broken.jsonl").write_text("\n".join(lines) + "\n")
    config = write_config(
        workspace,
        "broken",
        data={"sources": [{"records": "data/broken.jsonl", "tasks": "data/tasks.json", "val_limit": 4}]},
    )
    run_dir = tmp_path / "broken-run"
    assert run_train_command(config, run_dir) == 1
    events = events_of(run_dir)
    (error,) = [e for e in events if e["type"] == "error"]
    assert f"{workspace / 'data' / 'broken.jsonl'}:3" in error["message"]
    assert "image file not found" in error["message"]
    assert error["record"] == 2 and "Traceback" in error["traceback"]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "failed"
    assert "loading_model" not in phases(events)


def test_invalid_config_still_reports_through_events(tmp_path):
    config = tmp_path / "bad.sft.yaml"
    config.write_text("model: {base: x}\ndata: {sources: []}\n")
    assert run_train_command(config, tmp_path / "run") == 1
    events = events_of(tmp_path / "run")
    assert [e["type"] for e in events] == ["run_started", "error", "run_finished"]
    assert "sources" in events[1]["message"] and events[2]["status"] == "failed"


def start_training(workspace: Path, run_dir: Path) -> subprocess.Popen:
    config = write_config(
        workspace,
        "long",
        train={"max_steps": 100000},
        eval={"strategy": "no"},
        checkpoints={"save_steps": 100000},
        logging={"steps": 1000},
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "medvlm_sft", "train", str(config), "--run-dir", str(run_dir)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_progress(proc: subprocess.Popen, run_dir: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (run_dir / "events.jsonl").is_file() and any(e["type"] == "progress" for e in events_of(run_dir)):
            return
        if proc.poll() is not None:
            pytest.fail(f"trainer exited early ({proc.returncode}):\n{proc.stdout.read()}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail("no progress event within the timeout")


def test_sigterm_saves_a_checkpoint_and_stops(workspace, tmp_path):
    run_dir = tmp_path / "stopped"
    proc = start_training(workspace, run_dir)
    wait_for_progress(proc, run_dir)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    events = events_of(run_dir)
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "stopped"
    (checkpoint,) = [e for e in events if e["type"] == "checkpoint"]
    assert checkpoint["path"] == f"checkpoints/checkpoint-{checkpoint['step']}"
    assert (run_dir / checkpoint["path"] / "adapter_model.safetensors").is_file()
    assert any(e["type"] == "log" and e["message"].startswith("SIGTERM received") for e in events)
    assert "SIGTERM received" in out and "run stopped" in out


def test_second_signal_stops_at_once(workspace, tmp_path):
    run_dir = tmp_path / "killed"
    proc = start_training(workspace, run_dir)
    wait_for_progress(proc, run_dir)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    # Two signals sent back to back may reach the handler in either order (CI saw SIGTERM
    # handled first): whichever comes second stops the run at once, with 128 + its number.
    first = re.search(r"\[medvlm-sft\] (SIGINT|SIGTERM) received: saving a checkpoint", out)
    second = re.search(r"\[medvlm-sft\] second (SIGINT|SIGTERM): stopping now without a checkpoint", out)
    assert first and second, out
    assert {first[1], second[1]} == {"SIGINT", "SIGTERM"}, out
    assert proc.returncode == 128 + signal.Signals[second[1]], out
    assert "run stopped" not in out, out
    events = events_of(run_dir)
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "stopped"
