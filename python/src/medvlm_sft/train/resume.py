"""Resuming: how many steps the resumed run has in total, and what changed since its checkpoint.

The horizon is recomputed from the current config and data, as the reference's
`recompute_total_max_steps` does: steps per epoch = ceil(N / (batch x processes x
accumulation)) and max_steps = ceil(steps per epoch x epochs), unless `train.max_steps` is
set. What changed since the checkpoint is logged. The facts needed for that comparison are
stored in each checkpoint's trainer_state.json (as the state of `HorizonRecord`), which the
Trainer writes last, together with the rest of its state.

Which checkpoint to resume from is `checkpoints.py` (light, so `run_started` can name it): its
`latest` skips a newest checkpoint that a `kill -9` or a full disk left half written, so a run
loses at most the steps since its last complete checkpoint.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from medvlm_sft.config.model import RunConfig


@dataclass(frozen=True)
class Horizon:
    train_samples: int
    world_size: int
    per_device_batch_size: int
    gradient_accumulation_steps: int
    epochs: float
    max_steps_setting: int
    steps_per_epoch: int
    max_steps: int

    def explain(self) -> str:
        per_epoch = (
            f"{self.steps_per_epoch} steps per epoch = ceil({self.train_samples} samples / "
            f"({self.per_device_batch_size} per device x {self.world_size} processes x "
            f"{self.gradient_accumulation_steps} accumulation))"
        )
        if self.max_steps_setting > 0:
            return f"{self.max_steps} steps (train.max_steps; {per_epoch})"
        return f"{self.max_steps} steps ({_num(self.epochs)} epochs x {per_epoch})"


def steps_per_epoch(samples: int, batch: int, world: int, accumulation: int) -> int:
    return max(1, math.ceil(samples / (batch * world * accumulation)))


def compute_horizon(cfg: RunConfig, train_samples: int, world_size: int) -> Horizon:
    t = cfg.train
    per_epoch = steps_per_epoch(train_samples, t.per_device_batch_size, world_size, t.gradient_accumulation_steps)
    max_steps = t.max_steps if t.max_steps > 0 else math.ceil(per_epoch * t.epochs)
    return Horizon(
        train_samples=train_samples,
        world_size=world_size,
        per_device_batch_size=t.per_device_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        epochs=t.epochs,
        max_steps_setting=t.max_steps,
        steps_per_epoch=per_epoch,
        max_steps=max_steps,
    )


class HorizonRecord(TrainerCallback, ExportableState):
    """Stores the horizon and the training setup in every checkpoint's trainer_state.json."""

    def __init__(self, horizon: Horizon, extra: dict[str, Any] | None = None) -> None:
        self.horizon = horizon
        self.extra = dict(extra or {})

    def state(self) -> dict[str, Any]:
        return {"args": {**asdict(self.horizon), **self.extra}, "attributes": {}}

    def on_train_begin(self, args, state, control, **kwargs):
        # A resumed TrainerState keeps the logging/eval/save intervals of the checkpoint; use the config's.
        state.compute_steps(args, state.max_steps)
        # A checkpoint written before this record existed has no entry, and saving expects one.
        state.stateful_callbacks.setdefault(type(self).__name__, self.state())


def read_checkpoint_state(checkpoint: Path) -> dict[str, Any]:
    """global_step, the Trainer's horizon and our `HorizonRecord` facts (empty when absent)."""
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    record = (state.get("stateful_callbacks") or {}).get(HorizonRecord.__name__) or {}
    if isinstance(record, list):
        record = record[-1] if record else {}
    return {
        "global_step": state.get("global_step"),
        "max_steps": state.get("max_steps"),
        "num_train_epochs": state.get("num_train_epochs"),
        **(record.get("args") or {}),
    }


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_change(previous: dict[str, Any], now: Horizon) -> str:
    """One log line: the new horizon and, field by field, what changed since the checkpoint."""
    labels = {
        "epochs": "epochs",
        "max_steps_setting": "train.max_steps",
        "train_samples": "training samples",
        "world_size": "processes",
        "per_device_batch_size": "batch per device",
        "gradient_accumulation_steps": "accumulation",
    }
    current = asdict(now)
    changes = [
        f"{label} {_num(previous[key])} -> {_num(current[key])}"
        for key, label in labels.items()
        if key in previous and previous[key] != current[key]
    ]
    before = previous.get("max_steps")
    if before is not None and before != now.max_steps:
        head = f"training horizon changed from {before} to {now.explain()}"
    else:
        head = f"training horizon: {now.explain()}"
    return head + (f"; since the checkpoint: {', '.join(changes)}" if changes else "")
