"""Trainer callbacks: events for the run panel, readable stdout lines, and a graceful stop.

Numbers come from the `logs` dict and `TrainerState` that the Trainer hands to callbacks,
never from console text (TRL's console formatting turns them into strings).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from medvlm_sft.train.distributed import any_rank
from medvlm_sft.train.events import EventWriter

# Log keys that describe the whole run rather than a step (Trainer's final summary).
SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss"})
PROGRESS_MIN_INTERVAL_S = 1.0


def say(message: str) -> None:
    """A human-readable line on stdout (the launcher keeps stdout in stdout.log)."""
    print(f"[medvlm-sft] {message}", flush=True)


def _numeric(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class StopRequest:
    """SIGTERM/SIGINT handling: the first signal asks for a checkpoint and a clean stop at the
    next step end; a second one appends `run_finished: stopped` and exits at once.

    The handler itself writes nothing through the EventWriter: it runs on the main thread
    between bytecodes and could interrupt a write that holds the writer's lock.

    Under `accelerate launch` / `torchrun` (`forwarded_by_launcher`), the launcher forwards the
    signals it gets to its workers; a signal sent to every process of a job (SLURM's `scancel`
    signals all of a step's tasks) then reaches a worker twice. The same signal again within
    `FORWARD_WINDOW_S` is taken as that echo, not as a second request.
    """

    FORWARD_WINDOW_S = 3.0

    def __init__(self, events_path: Path | None, forwarded_by_launcher: bool = False) -> None:
        self.events_path = events_path
        self.forwarded_by_launcher = forwarded_by_launcher
        self.signal_name: str | None = None
        self._first_at = 0.0
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is None:
            self.signal_name = name
            self._first_at = time.monotonic()
            print(
                f"[medvlm-sft] {name} received: saving a checkpoint at the end of this step, then stopping "
                "(send it again to stop at once)",
                flush=True,
            )
            return
        echo = name == self.signal_name and time.monotonic() - self._first_at < self.FORWARD_WINDOW_S
        if self.forwarded_by_launcher and echo:
            return
        print(f"[medvlm-sft] second {name}: stopping now without a checkpoint", flush=True)
        if self.events_path is not None:
            line = f'{{"v": 1, "t": {time.time():.3f}, "type": "run_finished", "status": "stopped"}}\n'
            fd = os.open(self.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # Start on a fresh line in case a buffered event was half flushed.
                os.write(fd, b"\n" + line.encode())
            finally:
                os.close(fd)
        sys.stdout.flush()
        os._exit(128 + signum)


class StopOnRequestCallback(TrainerCallback):
    def __init__(self, stop: StopRequest, writer: EventWriter) -> None:
        self.stop = stop
        self.writer = writer
        self._announced = False

    def on_step_end(self, args, state, control, **kwargs):
        # Every process must stop at the same step, or the others wait forever in the next all-reduce.
        if any_rank(self.stop.requested):
            if self.stop.signal_name is None:
                self.stop.signal_name = "a stop request on another process"
            if not self._announced:
                self._announced = True
                self.writer.log(
                    "warning",
                    f"{self.stop.signal_name} received: checkpoint at step {state.global_step}, then stop",
                )
            control.should_save = True
            control.should_training_stop = True
        return control


class EventsCallback(TrainerCallback):
    def __init__(self, writer: EventWriter, run_dir: Path, samples_per_step: int, use_cuda: bool) -> None:
        self.writer = writer
        self.run_dir = Path(run_dir)
        self.samples_per_step = samples_per_step
        self.use_cuda = use_cuda
        self._start_time = 0.0
        self._start_step = 0
        self._last_progress = 0.0
        self._evaluating = False

    def on_train_begin(self, args, state, control, **kwargs):
        self._start_time = time.monotonic()
        self._start_step = state.global_step
        say(f"training: {state.max_steps} steps, starting at step {state.global_step}")

    def _rates(self, state) -> tuple[float | None, float | None]:
        done = state.global_step - self._start_step
        elapsed = time.monotonic() - self._start_time
        if done <= 0 or elapsed <= 0:
            return None, None
        per_step = elapsed / done
        return done * self.samples_per_step / elapsed, max(state.max_steps - state.global_step, 0) * per_step

    def on_step_end(self, args, state, control, **kwargs):
        now = time.monotonic()
        step = state.global_step
        first = step == self._start_step + 1
        last = step >= state.max_steps or control.should_training_stop
        if first or last or control.should_log or now - self._last_progress >= PROGRESS_MIN_INTERVAL_S:
            self._last_progress = now
            samples_per_s, eta_s = self._rates(state)
            self.writer.progress(
                step, state.max_steps, round(state.epoch or 0.0, 4), _round(samples_per_s), _round(eta_s)
            )

    def on_prediction_step(self, args, state, control, **kwargs):
        if not self._evaluating:
            self._evaluating = True
            self.writer.phase("evaluating")
            say(f"evaluating at step {state.global_step}")

    def on_evaluate(self, args, state, control, **kwargs):
        if self._evaluating:
            self._evaluating = False
            if state.global_step < state.max_steps and not control.should_training_stop:
                self.writer.phase("training")

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        epoch = round(float(logs.pop("epoch", state.epoch or 0.0)), 4)
        if SUMMARY_KEYS & logs.keys():
            values = _numeric(logs)
            self.writer.log("info", "training summary: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))
            return
        if any(k.startswith("eval_") for k in logs):
            values = {k[len("eval_") :]: v for k, v in _numeric(logs).items() if k.startswith("eval_")}
            self.writer.metrics(state.global_step, epoch, "eval", **values)
            say(f"eval step {state.global_step}: " + _fmt(values))
            return
        values = _numeric(logs)
        if self.use_cuda:
            import torch

            values["gpu_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        self.writer.metrics(state.global_step, epoch, "train", **values)
        samples_per_s, eta_s = self._rates(state)
        rate = f" | {samples_per_s:.2f} samples/s, eta {eta_s:.0f}s" if samples_per_s else ""
        say(f"step {state.global_step}/{state.max_steps} epoch {epoch:.2f}: {_fmt(values)}{rate}")

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.writer.checkpoint(state.global_step, relative_to_run(folder, self.run_dir))
        say(f"checkpoint saved: {folder}")


def relative_to_run(path: Path, run_dir: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(run_dir).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in values.items())
