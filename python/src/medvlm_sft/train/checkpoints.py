"""Which checkpoint a run resumes from, found without importing torch or transformers.

Kept light on purpose: the runner decides the checkpoint before it writes `run_started` (which
names the step it resumes from), and that event must come early, since the launcher waits for
a run's first event before it sends a stop.

A checkpoint folder is complete once its `trainer_state.json` parses and its weights exist: the
Trainer writes that state file last, so a folder left by a `kill -9` or a full disk is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
WEIGHT_FILES = ("adapter_model.safetensors", "model.safetensors", "model.safetensors.index.json")
LATEST = "latest"


def is_complete(folder: Path) -> bool:
    try:
        json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any((folder / name).is_file() for name in WEIGHT_FILES)


def latest_checkpoint(folder: Path) -> tuple[Path | None, list[Path]]:
    """The newest complete `checkpoint-N` in `folder`, and the newer incomplete ones it skipped."""
    if not folder.is_dir():
        return None, []
    found = sorted(
        ((int(m.group(1)), p) for p in folder.iterdir() if p.is_dir() and (m := CHECKPOINT_DIR.match(p.name))),
        reverse=True,
    )
    skipped = []
    for _, path in found:
        if is_complete(path):
            return path, skipped
        skipped.append(path)
    return None, skipped


def global_step(checkpoint: Path) -> int | None:
    """The optimizer step a checkpoint was saved at, from its trainer_state.json."""
    try:
        state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    step = state.get("global_step") if isinstance(state, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


@dataclass(frozen=True)
class ResumePlan:
    """Where a run resumes: `checkpoint` None means it starts fresh."""

    checkpoint: Path | None = None
    step: int | None = None
    skipped: list[Path] = field(default_factory=list)
    # `latest` was asked for but the run has no complete checkpoint yet.
    nothing_to_resume: bool = False


def plan_resume(resume_from: str | None, config_dir: Path, run_dir: Path) -> ResumePlan:
    """`latest` (the newest complete checkpoint of this run, or a fresh start), or a folder.

    A relative folder resolves against `config_dir` (the config's `checkpoints.resume_from`);
    `--resume-from` on the command line resolves its folder before it gets here.
    """
    if not resume_from:
        return ResumePlan()
    if resume_from == LATEST:
        last, skipped = latest_checkpoint(Path(run_dir) / "checkpoints")
        if last is None:
            return ResumePlan(skipped=skipped, nothing_to_resume=True)
        return ResumePlan(last, global_step(last), skipped)
    path = Path(resume_from).expanduser()
    path = path if path.is_absolute() else Path(config_dir) / path
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoints.resume_from: no checkpoint folder at {path}")
    if not is_complete(path):
        raise FileNotFoundError(
            f"checkpoints.resume_from: {path} is not a complete checkpoint (it needs trainer_state.json and its "
            f"weights; it was probably cut short by a crash or a full disk): resume from `latest` instead, which "
            "skips incomplete checkpoints"
        )
    return ResumePlan(path, global_step(path))
