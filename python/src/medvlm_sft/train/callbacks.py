"""Trainer callbacks: events for the run panel, readable stdout lines, and a graceful stop.

Numbers come from the `logs` dict and `TrainerState` that the Trainer hands to callbacks,
never from console text (TRL's console formatting turns them into strings).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from medvlm_sft.train.console import say
from medvlm_sft.train.distributed import any_rank
from medvlm_sft.train.events import EventWriter
from medvlm_sft.train.stop import StopRequest

# Log keys that describe the whole run rather than a step (Trainer's final summary).
SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss"})
PROGRESS_MIN_INTERVAL_S = 1.0


def _numeric(logs: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


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
        self._report_wandb_run()

    def _report_wandb_run(self) -> None:
        """Where W&B logs this run (its reporting callback runs before this one), for the run panel."""
        wandb = sys.modules.get("wandb")
        run = getattr(wandb, "run", None) if wandb is not None else None
        if run is None:
            return
        try:
            url = run.url if not getattr(run, "offline", False) else None
        except Exception:  # offline runs have no URL in some wandb versions
            url = None
        if url:
            message = f"W&B run {run.id}: {url}"
        else:
            files = getattr(run, "dir", "?")
            message = f"W&B run {run.id} is offline: its files are in {files}; `wandb sync` uploads them"
        fields = {"wandb_run_id": run.id, **({"wandb_url": url} if url else {})}
        self.writer.emit("log", level="info", message=message, **fields)
        say(message)

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
