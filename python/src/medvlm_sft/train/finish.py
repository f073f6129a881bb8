"""After training: the final adapter, the optional merge, and optional Hub pushes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from medvlm_sft.config.model import RunConfig
from medvlm_sft.train.callbacks import relative_to_run
from medvlm_sft.train.console import say
from medvlm_sft.train.events import EventWriter
from medvlm_sft.train.merge import TRAINING_INFO

# What a Trainer checkpoint holds besides the weights and processor: needed to resume, not to use it.
TRAINING_STATE_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "trainer_state.json",
    "training_args.bin",
)


def save_final(trainer: Any, processor: Any, run_dir: Path, writer: EventWriter, info: dict[str, Any]) -> Path:
    """The final adapter (or model) with its processor; every rank calls it, rank 0 writes."""
    final = run_dir / "checkpoints" / "final"
    writer.phase("saving")
    trainer.save_model(str(final))
    if trainer.is_world_process_zero():
        processor.save_pretrained(str(final))
        (final / TRAINING_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        writer.checkpoint(trainer.state.global_step, relative_to_run(final, run_dir))
        say(f"final {'adapter' if _is_peft(trainer.model) else 'model'} saved: {final}")
    return final


def final_from_checkpoint(checkpoint: Path, run_dir: Path, writer: EventWriter, info: dict[str, Any]) -> Path:
    """The final folder copied from a checkpoint that already reaches the horizon (nothing to train)."""
    final = run_dir / "checkpoints" / "final"
    writer.phase("saving")
    if final.resolve() != checkpoint.resolve():
        shutil.rmtree(final, ignore_errors=True)
        shutil.copytree(checkpoint, final, ignore=shutil.ignore_patterns(*TRAINING_STATE_FILES))
    (final / TRAINING_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    writer.checkpoint(int(state.get("global_step", 0)), relative_to_run(final, run_dir))
    say(f"final weights copied from {checkpoint.name}: {final}")
    return final


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def merge_into_base(cfg: RunConfig, model_path: str, final: Path, run_dir: Path, writer: EventWriter) -> Path:
    """`hub.merge_after_training`: fold the final adapter into freshly loaded base weights, into `merged/`."""
    from medvlm_sft.train.merge import merge_adapter

    def warn(message: str) -> None:
        writer.log("warning", message)
        say(f"warning: {message}")

    writer.phase("merging")
    dtype = cfg.model.dtype if cfg.model.dtype != "auto" else None
    merged_dir = merge_adapter(final, run_dir / "merged", base=model_path, dtype=dtype, warn=warn)
    writer.log("info", f"merged model saved to {relative_to_run(merged_dir, run_dir)}")
    say(f"merged model saved: {merged_dir}")
    return merged_dir


def push_folders(cfg: RunConfig, final: Path, merged: Path | None, writer: EventWriter) -> None:
    hub = cfg.hub
    targets = []
    if hub.push_adapter:
        targets.append((final, hub.repo_id, "adapter"))
    if hub.push_merged and merged is not None:
        # The merged weights go to `<repo>-merged` so the adapter repository stays small.
        targets.append((merged, f"{hub.repo_id}-merged" if hub.push_adapter else hub.repo_id, "merged model"))
    if not targets:
        return
    if not hub.repo_id:
        raise ValueError("hub.repo_id is required to push to the Hugging Face Hub")
    from medvlm_sft.hub import hub_api, push_folder, repo_url

    writer.phase("pushing")
    api = hub_api()
    for folder, repo_id, what in targets:
        push_folder(api, folder, repo_id, hub.private, f"MedVLM Studio: {what}")
        writer.log("info", f"pushed the {what} to {repo_url(api, repo_id)}")
        say(f"pushed the {what} to {repo_id}")
