"""Known failures (out of memory, a full disk) reported with what to change, the reserves that
let the report be written, attempts and resume points in run_started, and `train --resume-from`."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from medvlm_sft import cli
from medvlm_sft.config.model import RunConfig
from medvlm_sft.train import events as events_module
from medvlm_sft.train.checkpoints import plan_resume
from medvlm_sft.train.events import RESERVE_FILE, EventWriter, next_attempt, read_events
from medvlm_sft.train.faults import MemoryReserve, describe_failure, human_bytes


def config(**sections) -> RunConfig:
    model = {"base": "m", **sections.pop("model", {})}
    return RunConfig.model_validate({"model": model, "data": {"sources": [{"records": "r.jsonl"}]}, **sections})


def make_checkpoint(folder: Path, step: int, complete: bool = True) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        (path / "adapter_model.safetensors").write_bytes(b"weights")
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    else:
        (path / "README.md").write_text("cut short")
    return path


class FakeCudaOOM(RuntimeError):
    """Stands in for torch.OutOfMemoryError, which is matched by name and module."""


FakeCudaOOM.__name__ = "OutOfMemoryError"
FakeCudaOOM.__module__ = "torch.cuda"


def test_out_of_memory_in_all_its_forms_names_every_setting_that_helps():
    cfg = config(train={"per_device_batch_size": 4}, model={"max_length": 2048})
    cpu = RuntimeError(
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to "
        "allocate 708608 bytes. Error code 12 (Cannot allocate memory)"
    )
    for exc in (MemoryError(), cpu, OSError(errno.ENOMEM, "Cannot allocate memory")):
        failure = describe_failure(exc, cfg, Path("/nonexistent"))
        assert failure is not None and failure.kind == "out_of_memory", exc
        first = failure.message.splitlines()[0]
        assert first == failure.message, "one line: it is what the run list shows"
        assert first.startswith("out of memory (RAM, or the process's memory limit): ")
        for advice in (
            "lower train.per_device_batch_size (now 4",
            "lower model.max_length (now 2048)",
            "turn on model.gradient_checkpointing",
            "model.quantization: 4bit",
        ):
            assert advice in first, (advice, first)

    gpu = describe_failure(FakeCudaOOM("CUDA out of memory. Tried to allocate 2.00 GiB"), cfg, Path("/x"))
    assert gpu is not None and gpu.message.startswith("out of GPU memory (CUDA): ")
    assert "load the weights in 4 bit (model.quantization: 4bit)" in gpu.message
    assert gpu.message.endswith("(OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB)")

    # Settings already at their lightest are not suggested again; wrapped errors are found.
    light = config(model={"gradient_checkpointing": True, "quantization": "4bit"})
    try:
        try:
            raise FakeCudaOOM("CUDA out of memory")
        except RuntimeError as inner:
            raise ValueError("while evaluating") from inner
    except ValueError as wrapped:
        message = describe_failure(wrapped, light, Path("/x")).message
    assert "gradient_checkpointing" not in message and "4bit" not in message
    assert "per_device_batch_size" not in message  # already 1
    assert "set model.max_length (now unset" in message

    assert describe_failure(RuntimeError("shapes do not match"), cfg, Path("/x")) is None


def test_disk_full_names_the_checkpoint_being_saved_and_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    checkpoints = run_dir / "checkpoints"
    make_checkpoint(checkpoints, 2)
    make_checkpoint(checkpoints, 4, complete=False)
    exc = RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
    failure = describe_failure(exc, config(), run_dir)
    assert failure is not None and failure.kind == "disk_full"
    message = failure.message
    assert message.startswith(f"disk full: no space left on the device holding {checkpoints / 'checkpoint-4'} (")
    assert " free of " in message and "while saving checkpoint-4: free some space there" in message
    assert "lower checkpoints.save_total_limit" in message
    assert message.endswith(
        "--resume-from latest continues from checkpoint-2, the last complete one; the incomplete checkpoint-4 is "
        "skipped)"
    )

    # An OSError names its file; with no checkpoint yet, the run starts again.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    exc = OSError(errno.ENOSPC, "No space left on device", str(fresh / "events.jsonl"))
    message = describe_failure(exc, config(), fresh).message
    assert f"holding {fresh / 'events.jsonl'}" in message and "while writing" in message
    assert message.endswith("then start the run again (no complete checkpoint was saved yet)")


@pytest.mark.parametrize(
    "text",
    [
        "[enforce fail at inline_container.cc:626] . PytorchStreamWriter failed writing file data/2: file write failed",
        # torch.save after a short write (what a full tmpfs gave)
        "[enforce fail at inline_container.cc:672] . unexpected pos 65472 vs 65360",
    ],
)
def test_a_write_failure_without_errno_is_a_full_disk_only_when_the_disk_is_nearly_full(text, tmp_path, monkeypatch):
    exc = RuntimeError(text)
    monkeypatch.setattr("medvlm_sft.train.faults._free_bytes", lambda _path: (10 << 30, 100 << 30))
    assert describe_failure(exc, config(), tmp_path) is None
    monkeypatch.setattr("medvlm_sft.train.faults._free_bytes", lambda _path: (4096, 100 << 30))
    assert describe_failure(exc, config(), tmp_path).kind == "disk_full"
    assert human_bytes(4096) == "4.0 KiB" and human_bytes(12) == "12 bytes" and human_bytes(3 << 30) == "3.0 GiB"


def test_the_events_reserve_is_handed_back_when_the_disk_is_full(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path, reserve_bytes=64 << 10)
    reserve = tmp_path / RESERVE_FILE
    assert reserve.stat().st_size == 64 << 10
    writer.log("info", "before")

    # The disk fills up halfway through a line: the next write has no room at all.
    real_write = os.write
    calls = {"n": 0}

    def full_disk(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[:10])
        if reserve.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(events_module.os, "write", full_disk)
    writer.error("disk full: ...", "Traceback ...")
    monkeypatch.setattr(events_module.os, "write", real_write)
    writer.run_finished("failed")
    writer.close()
    assert not reserve.exists()
    events, offset = read_events(path)
    assert [e["type"] for e in events] == ["log", "error", "run_finished"], "only the cut line is lost"
    assert offset == path.stat().st_size

    # Without a reserve left, the error is raised to the caller.
    writer = EventWriter(path)
    monkeypatch.setattr(events_module.os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "")))
    with pytest.raises(OSError):
        writer.log("info", "no room")
    monkeypatch.setattr(events_module.os, "write", real_write)
    writer.close()


def test_an_ordinary_event_on_a_full_disk_raises_and_leaves_the_reserve_for_the_report(tmp_path, monkeypatch):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path, reserve_bytes=64 << 10)
    reserve = tmp_path / RESERVE_FILE
    writer.progress(1, 10, 0.1, None, None)

    real_write = os.write

    def full_disk(fd, data):
        if reserve.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(events_module.os, "write", full_disk)
    # A progress line does not spend the reserve: the run stops here, its file named.
    with pytest.raises(OSError) as raised:
        writer.progress(2, 10, 0.2, None, None)
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(path)
    assert reserve.exists(), "the reserve is kept for the report"
    # The report may use it: here a run_started written in the error path, then the error.
    writer.begin_report()
    writer.run_started("r", "0", 1, {}, attempt=1)
    writer.error("disk full: ...", "Traceback ...")
    writer.run_finished("failed")
    writer.close()
    assert not reserve.exists()
    events, _ = read_events(path)
    assert [e["type"] for e in events] == ["progress", "run_started", "error", "run_finished"]


def test_a_reserve_that_does_not_fit_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "write_bytes", lambda self, data: (_ for _ in ()).throw(OSError(errno.ENOSPC, "")))
    writer = EventWriter(tmp_path / "events.jsonl", reserve_bytes=1024)
    assert writer.reserve is None
    writer.log("info", "still written")
    writer.close()
    assert read_events(tmp_path / "events.jsonl")[0][0]["message"] == "still written"


def test_memory_reserve_is_address_space_given_back_on_release():
    reserve = MemoryReserve(1 << 20)
    assert reserve._block is not None and len(reserve._block) == 1 << 20
    reserve.release()
    assert reserve._block is None


def test_run_started_carries_the_attempt_and_the_resume_step(tmp_path):
    path = tmp_path / "events.jsonl"
    assert next_attempt(path) == 1
    writer = EventWriter(path)
    writer.run_started("r", "0.1.0", 1, {})
    writer.run_started("r", "0.1.0", 1, {}, attempt=2, resume_step=40)
    writer.close()
    events, _ = read_events(path)
    assert [(e["attempt"], e["resume_step"]) for e in events] == [(1, None), (2, 40)]
    assert next_attempt(path) == 3


def test_plan_resume_latest_skips_incomplete_and_reads_the_step(tmp_path):
    run_dir = tmp_path / "run"
    checkpoints = run_dir / "checkpoints"
    make_checkpoint(checkpoints, 2)
    make_checkpoint(checkpoints, 4)
    make_checkpoint(checkpoints, 6, complete=False)
    plan = plan_resume("latest", tmp_path, run_dir)
    assert (plan.checkpoint, plan.step) == (checkpoints / "checkpoint-4", 4)
    assert plan.skipped == [checkpoints / "checkpoint-6"]
    assert plan_resume(None, tmp_path, run_dir).checkpoint is None
    assert plan_resume("latest", tmp_path, tmp_path / "empty").nothing_to_resume

    # A folder: relative to the config's folder; it must be complete.
    assert plan_resume("run/checkpoints/checkpoint-2", tmp_path, run_dir).step == 2
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        plan_resume(str(checkpoints / "checkpoint-6"), tmp_path, run_dir)
    with pytest.raises(FileNotFoundError, match="no checkpoint folder at"):
        plan_resume("nowhere", tmp_path, run_dir)


def test_train_resume_from_and_attempt_reach_the_runner(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(
        "medvlm_sft.train.runner.run_train_command", lambda *args, **kwargs: seen.update(args=args, kwargs=kwargs) or 0
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "c.sft.yaml", "--run-dir", "r", "--resume-from", "latest", "--attempt", "3"]) == 0
    assert seen["kwargs"]["resume_from"] == "latest" and seen["kwargs"]["attempt"] == 3
    assert cli.main(["train", "c.sft.yaml", "--run-dir", "r", "--resume-from", "checkpoints/checkpoint-4"]) == 0
    assert seen["kwargs"]["resume_from"] == str(tmp_path / "checkpoints" / "checkpoint-4")
    assert seen["kwargs"]["attempt"] is None
    assert cli.main(["train", "c.sft.yaml", "--run-dir", "r"]) == 0
    assert seen["kwargs"]["resume_from"] is None
    with pytest.raises(SystemExit):
        cli.main(["train", "c.sft.yaml", "--run-dir", "r", "--attempt", "0"])


def test_torch_out_of_memory_error_itself_is_recognised():
    import torch

    exc = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    failure = describe_failure(exc, config(), Path("/x"))
    assert failure is not None and failure.message.startswith("out of GPU memory (CUDA): ")


def test_a_onednn_primitive_failure_is_out_of_memory_only_when_memory_is_exhausted(monkeypatch):
    from medvlm_sft.train import faults

    onednn = RuntimeError("could not create a primitive")
    cfg = config()
    monkeypatch.setattr(faults, "memory_exhausted", lambda: True)
    failure = describe_failure(onednn, cfg, Path("/x"))
    assert failure is not None and failure.kind == "out_of_memory"
    assert failure.message.startswith("out of memory (RAM, or the process's memory limit): ")
    monkeypatch.setattr(faults, "memory_exhausted", lambda: False)
    assert describe_failure(onednn, cfg, Path("/x")) is None, "with memory to spare it is some other failure"


def test_memory_exhausted_probes_for_real_under_an_address_space_limit():
    import subprocess
    import sys

    src = Path(__file__).resolve().parents[1] / "src"
    code = (
        "import resource, sys\n"
        "from medvlm_sft.train.faults import memory_exhausted\n"
        "before = memory_exhausted()\n"
        "used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (8 << 20), resource.RLIM_INFINITY))\n"
        "print(before, memory_exhausted())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "True"]
