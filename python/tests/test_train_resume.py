"""Resuming: the horizon recomputed when epochs or data change, and a `kill -9` losing at most the
steps since the last checkpoint (a real trainer process, killed and restarted in the same run folder)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from medvlm_sft.config.model import RunConfig
from medvlm_sft.train.checkpoints import latest_checkpoint
from medvlm_sft.train.events import EventWriter, read_events
from medvlm_sft.train.resume import compute_horizon, steps_per_epoch
from medvlm_sft.train.runner import run_train_command
from test_train_runner import SRC, events_of, workspace, write_config  # noqa: F401 - fixture


def config_with(**train) -> RunConfig:
    return RunConfig.model_validate(
        {"model": {"base": "m"}, "data": {"sources": [{"records": "r.jsonl", "val_limit": 1}]}, "train": train}
    )


def test_horizon_by_hand() -> None:
    # The reference scripts: 22000 samples / (1 x 2 processes x 12) = 916.7 -> 917 steps per epoch, 10 epochs.
    assert steps_per_epoch(22000, 1, 2, 12) == 917
    reference = compute_horizon(
        config_with(epochs=10, per_device_batch_size=1, gradient_accumulation_steps=12), 22000, 2
    )
    assert (reference.steps_per_epoch, reference.max_steps) == (917, 9170)
    assert compute_horizon(config_with(epochs=0.5, per_device_batch_size=2), 27, 1).max_steps == 7  # ceil(14 x 0.5)
    assert compute_horizon(config_with(max_steps=5, per_device_batch_size=2), 27, 1).max_steps == 5
    assert steps_per_epoch(3, 4, 2, 8) == 1


def resumed_part(events: list[dict]) -> list[dict]:
    starts = [i for i, e in enumerate(events) if e["type"] == "run_started"]
    return events[starts[-1] :]


def train_steps(events: list[dict]) -> list[int]:
    return [e["step"] for e in events if e["type"] == "metrics" and e["split"] == "train"]


def test_resume_recomputes_the_horizon_when_epochs_and_data_change(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "horizon"

    def config(name: str, epochs: int, train_limit: int, **checkpoints) -> Path:
        source = {"records": "data/records.jsonl", "tasks": "data/tasks.json", "val_limit": 4}
        return write_config(
            workspace,
            name,
            data={"sources": [{**source, "train_limit": train_limit}]},
            train={"max_steps": -1, "epochs": epochs, "gradient_accumulation_steps": 2},
            eval={"strategy": "no"},
            checkpoints={"save_steps": 1, **checkpoints},
        )

    # 8 samples / (2 per device x 1 process x 2 accumulation) = 2 steps per epoch, 1 epoch.
    assert run_train_command(config("horizon-1", 1, 8), run_dir) == 0
    assert train_steps(events_of(run_dir)) == [1, 2]
    # Twice the epochs on 12 samples: 3 steps per epoch x 2 = 6 steps, from checkpoint-2.
    assert run_train_command(config("horizon-2", 2, 12, resume_from="latest"), run_dir) == 0
    resumed = resumed_part(events_of(run_dir))
    messages = [e["message"] for e in resumed if e["type"] == "log"]
    assert "resuming from checkpoint-2" in messages
    assert (
        "training horizon changed from 2 to 6 steps (2 epochs x 3 steps per epoch = ceil(12 samples / (2 per device "
        "x 1 processes x 2 accumulation))); since the checkpoint: epochs 1 -> 2, training samples 8 -> 12"
    ) in messages
    assert train_steps(resumed) == [3, 4, 5, 6]
    progress = [e for e in resumed if e["type"] == "progress"]
    assert {e["max_steps"] for e in progress} == {6} and progress[-1]["step"] == 6
    assert resumed[-1]["status"] == "finished"


def test_latest_skips_a_half_written_checkpoint(tmp_path: Path) -> None:
    for step, state in ((2, '{"global_step": 2}'), (4, '{"global_st')):  # 4: killed while writing its state
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
        (folder / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-6").mkdir()  # killed before anything was written
    latest, skipped = latest_checkpoint(tmp_path)
    assert latest == tmp_path / "checkpoint-2"
    assert skipped == [tmp_path / "checkpoint-6", tmp_path / "checkpoint-4"]
    assert latest_checkpoint(tmp_path / "none") == (None, [])


def test_events_after_a_torn_line_start_on_a_fresh_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"v": 1, "t": 1, "type": "phase", "phase": "training"}\n{"v": 1, "t": 2, "type": "prog')
    writer = EventWriter(path)
    writer.run_started("r", "0", 1, {})
    writer.close()
    events, _ = read_events(path)
    assert [e["type"] for e in events] == ["phase", "run_started"]


def test_kill_9_then_resume_loses_at_most_the_steps_since_the_last_checkpoint(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "killed"
    source = {"records": "data/records.jsonl", "tasks": "data/tasks.json", "val_limit": 4}
    config = write_config(
        workspace,
        "killed",
        data={"sources": [source]},
        train={"max_steps": 100000},
        eval={"strategy": "no"},
        checkpoints={"save_steps": 2, "resume_from": "latest"},
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "medvlm_sft", "train", str(config), "--run-dir", str(run_dir)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not any(e["type"] == "checkpoint" for e in _events(run_dir)):
            assert proc.poll() is None, "the trainer exited before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within the timeout"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    killed = events_of(run_dir)
    assert not any(e["type"] == "run_finished" for e in killed)
    announced = max(e["step"] for e in killed if e["type"] == "checkpoint")
    newest, _ = latest_checkpoint(run_dir / "checkpoints")
    resume_step = json.loads((newest / "trainer_state.json").read_text())["global_step"]
    # A checkpoint event is written after its folder is complete, so resuming never goes behind it.
    assert resume_step >= announced

    # Same run folder, resume_from latest, two more steps than the checkpoint has.
    again = write_config(
        workspace,
        "killed-again",
        data={"sources": [source]},
        train={"max_steps": resume_step + 2},
        eval={"strategy": "no"},
        checkpoints={"save_steps": 2, "resume_from": "latest"},
    )
    assert run_train_command(again, run_dir) == 0
    events = events_of(run_dir)
    assert [e["type"] for e in events].count("run_started") == 2
    resumed = resumed_part(events)
    assert f"resuming from checkpoint-{resume_step}" in [e["message"] for e in resumed if e["type"] == "log"]
    assert train_steps(resumed) == [resume_step + 1, resume_step + 2]
    assert resumed[-1] == {**resumed[-1], "type": "run_finished", "status": "finished"}


def _events(run_dir: Path) -> list[dict]:
    path = run_dir / "events.jsonl"
    return read_events(path)[0] if path.is_file() else []


def test_resume_past_the_horizon_trains_nothing_more(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "done"
    first = write_config(workspace, "done-1", train={"max_steps": 2}, eval={"strategy": "no"})
    assert run_train_command(first, run_dir) == 0
    # `--resume-from latest` on the command line, over a config that does not resume, numbered by the caller.
    again = write_config(workspace, "done-2", train={"max_steps": 1}, eval={"strategy": "no"})
    assert run_train_command(again, run_dir, resume_from="latest", attempt=5) == 0
    resumed = resumed_part(events_of(run_dir))
    assert (resumed[0]["attempt"], resumed[0]["resume_step"]) == (5, 2)
    assert resumed[0]["config"]["checkpoints"]["resume_from"] == "latest"
    assert train_steps(resumed) == []
    warnings = [e["message"] for e in resumed if e["type"] == "log" and e["level"] == "warning"]
    assert any(m.startswith("checkpoint-2 is already at step 2 of 1: nothing is left to train") for m in warnings)
    assert resumed[-1]["status"] == "finished"
    assert [e["path"] for e in resumed if e["type"] == "checkpoint"] == ["checkpoints/final"]
    final = workspace / "runs" / "done" / "checkpoints" / "final"
    assert (final / "adapter_model.safetensors").read_bytes() == (
        final.parent / "checkpoint-2" / "adapter_model.safetensors"
    ).read_bytes()
    assert not (final / "optimizer.pt").exists()
