"""After training: the final adapter, the optional merge, and optional Hub pushes."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from medvlm_sft.config.model import RunConfig
from medvlm_sft.train.callbacks import relative_to_run, say
from medvlm_sft.train.events import EventWriter


def save_final(trainer: Any, processor: Any, run_dir: Path, writer: EventWriter) -> Path:
    final = run_dir / "checkpoints" / "final"
    writer.phase("saving")
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    writer.checkpoint(trainer.state.global_step, relative_to_run(final, run_dir))
    say(f"final {'adapter' if _is_peft(trainer.model) else 'model'} saved: {final}")
    return final


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config")


def merge_adapter(cfg: RunConfig, model_path: str, final: Path, run_dir: Path, writer: EventWriter) -> Path:
    """Fold the adapter into freshly loaded base weights (never into 4-bit ones) and save them."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from medvlm_sft.train.setup import torch_dtype

    writer.phase("merging")
    merged_dir = run_dir / "merged"
    # On the CPU so the merge never competes with (or needs) GPU memory.
    base = AutoModelForImageTextToText.from_pretrained(model_path, dtype=torch_dtype(cfg), device_map={"": "cpu"})
    merged = PeftModel.from_pretrained(base, str(final)).merge_and_unload()
    merged.save_pretrained(str(merged_dir), max_shard_size="2GB")
    AutoProcessor.from_pretrained(str(final)).save_pretrained(str(merged_dir))
    del base, merged
    gc.collect()
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
    from huggingface_hub import HfApi

    writer.phase("pushing")
    api = HfApi()
    for folder, repo_id, what in targets:
        api.create_repo(repo_id, private=hub.private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message=f"MedVLM Studio: {what}")
        writer.log("info", f"pushed the {what} to https://huggingface.co/{repo_id}")
        say(f"pushed the {what} to {repo_id}")
