"""Two training processes on the CPU (gloo) through `accelerate launch`, on the tiny model: rank 0
prepares the data and writes every event, the other rank waits for it, and the run finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from medvlm_sft.train.stop import StopRequest
from test_train_runner import SRC, events_of, workspace, write_config  # noqa: F401 - fixture

ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    "OMP_NUM_THREADS": "1",
}


def launch_command(config: Path, run_dir: Path) -> list[str]:
    # The launcher's command, with --multi_gpu: without it accelerate starts a single process when
    # fewer than two GPUs are visible (on a CPU, or one GPU), whatever --num_processes says.
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "-m", "medvlm_sft", "train", str(config), "--run-dir", str(run_dir),
    ]  # fmt: skip


def test_two_processes_with_accelerate_launch(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "two"
    config = write_config(
        workspace,
        "two",
        train={"max_steps": 3, "per_device_batch_size": 1},
        eval={"steps": 2, "generation_samples": 3, "max_new_tokens": 4},
        checkpoints={"save_steps": 2},
        launch={"num_processes": 2},
    )
    cmd = launch_command(config, run_dir)
    result = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    events = events_of(run_dir)
    types = Counter(e["type"] for e in events)
    assert types["run_started"] == 1 and types["run_finished"] == 1
    assert events[0]["world_size"] == 2 and events[-1]["status"] == "finished"
    # One writer: each step's metrics once, each log line once.
    train = [e["step"] for e in events if e["type"] == "metrics" and e["split"] == "train"]
    assert train == [1, 2, 3]
    evaluations = [e for e in events if e["type"] == "metrics" and e["split"] == "eval"]
    assert [e["step"] for e in evaluations] == [2, 3]  # every 2 steps, and at the end
    assert all(e["gen_samples"] == 3 for e in evaluations)  # answers gathered from both ranks
    logs = [e["message"] for e in events if e["type"] == "log"]
    assert logs.count("27 train and 4 validation samples") == 1
    assert not [m for m in logs if m.startswith("launch.num_processes is")]
    # 27 samples / (1 per device x 2 processes x 1 accumulation) = 14 steps per epoch.
    assert any("14 steps per epoch = ceil(27 samples / (1 per device x 2 processes" in m for m in logs)
    checkpoints = [e["path"] for e in events if e["type"] == "checkpoint"]
    assert checkpoints == ["checkpoints/checkpoint-2", "checkpoints/checkpoint-3", "checkpoints/final"]
    assert (run_dir / "checkpoints" / "checkpoint-2" / "rng_state_1.pth").is_file()  # both ranks saved their state
    assert (run_dir / "checkpoints" / "final" / "adapter_model.safetensors").is_file()
    assert not (run_dir / ".medvlm-sync").exists()

    # Resumed by both processes from checkpoint-2: transformers maps the optimizer state to
    # "cpu:<rank>" there, which torch.load cannot restore to (the trainer loads it on the CPU).
    resume = [*cmd, "--resume-from", str(run_dir / "checkpoints" / "checkpoint-2"), "--attempt", "2"]
    result = subprocess.run(resume, env=ENV, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    second = events_of(run_dir)[len(events) :]
    started = [(e["attempt"], e["resume_step"], e["world_size"]) for e in second if e["type"] == "run_started"]
    assert started == [(2, 2, 2)]
    assert [e["step"] for e in second if e["type"] == "metrics" and e["split"] == "train"] == [3]
    assert second[-1]["type"] == "run_finished" and second[-1]["status"] == "finished"


def test_one_process_for_a_two_process_config_is_a_warning(workspace):  # noqa: F811
    from medvlm_sft.train.runner import run_train_command

    run_dir = workspace / "runs" / "one-of-two"
    config = write_config(
        workspace, "one-of-two", train={"max_steps": 1}, eval={"strategy": "no"}, launch={"num_processes": 2}
    )
    assert run_train_command(config, run_dir) == 0
    warnings = [e["message"] for e in events_of(run_dir) if e["type"] == "log" and e["level"] == "warning"]
    assert (
        "launch.num_processes is 2 but 1 process(es) are training; start several with "
        "`accelerate launch --multi_gpu --num_processes N` (or torchrun)"
    ) in warnings


def test_sigterm_to_the_process_group_stops_both_ranks_at_one_checkpoint(workspace):  # noqa: F811
    # The launcher signals the whole group: each worker gets SIGTERM directly and again from the
    # agent, which forwards it (and kills the workers 30 s later). One checkpoint, then a clean stop.
    run_dir = workspace / "runs" / "two-stopped"
    config = write_config(
        workspace,
        "two-stopped",
        train={"max_steps": 100000, "per_device_batch_size": 1},
        eval={"strategy": "no"},
        checkpoints={"save_steps": 100000},
        logging={"steps": 1000},
        launch={"num_processes": 2},
    )
    proc = subprocess.Popen(
        launch_command(config, run_dir),
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        events_file = run_dir / "events.jsonl"
        while not (events_file.is_file() and any(e["type"] == "progress" for e in events_of(run_dir))):
            assert proc.poll() is None and time.monotonic() < deadline, "no training progress"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    events = events_of(run_dir)
    assert events[-1] == {**events[-1], "type": "run_finished", "status": "stopped"}
    (checkpoint,) = [e for e in events if e["type"] == "checkpoint"]
    folder = run_dir / checkpoint["path"]
    assert (folder / "adapter_model.safetensors").is_file()
    assert (folder / "rng_state_0.pth").is_file() and (folder / "rng_state_1.pth").is_file()


def test_the_same_signal_forwarded_by_the_launcher_is_not_a_second_request(tmp_path):
    stop = StopRequest(tmp_path / "events.jsonl", forwarded_by_launcher=True)
    stop.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # from the job
        os.kill(os.getpid(), signal.SIGTERM)  # forwarded by the launcher: would otherwise exit at once
        time.sleep(0.1)
    finally:
        stop.uninstall()
    assert stop.requested and stop.signal_name == "SIGTERM"
    assert not (tmp_path / "events.jsonl").exists()  # no `run_finished stopped` written by a hard stop
