"""Run config -> model, processor, LoRA and SFTConfig.

Choices the reference hard-coded (learning rate, LoRA shape, trackers, attention kernel)
all come from the run config here; the defaults still match the reference where it made
sense (see config/model.py).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from medvlm_sft.config.model import RunConfig
from medvlm_sft.models.family import Family, vision_exclude_regex
from medvlm_sft.train.distributed import COLLECTIVE_TIMEOUT_S


def resolve_model_path(base: str, config_dir: Path) -> str:
    """A local folder (relative to the config file's folder) if one exists, else a Hub id."""
    candidate = Path(base).expanduser()
    if not candidate.is_absolute():
        candidate = config_dir / candidate
    if candidate.is_dir():
        return str(candidate.resolve())
    # Hub ids are `name` or `owner/name`; anything else was meant as a folder.
    if base.startswith((".", "/", "~", "\\")) or base.count("/") > 1 or "\\" in base:
        raise FileNotFoundError(f"model folder not found: {candidate} (model.base: {base})")
    return base


def wandb_run_id(run_dir: Path) -> str:
    """The W&B run id of a run folder: one W&B run per folder, continued on resume."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", Path(run_dir).name)


def cuda_in_use(cfg: RunConfig) -> bool:
    import torch

    return torch.cuda.is_available() and not cfg.train.use_cpu


def _bf16_ok(cfg: RunConfig) -> bool:
    import torch

    return cuda_in_use(cfg) and torch.cuda.is_bf16_supported()


def torch_dtype(cfg: RunConfig):
    import torch

    names = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
    if cfg.model.dtype != "auto":
        return names[cfg.model.dtype]
    return torch.bfloat16 if _bf16_ok(cfg) else torch.float32


def load_processor(model_path: str):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(model_path)


def load_model(cfg: RunConfig, model_path: str, family: Family):
    from transformers import AutoModelForImageTextToText

    kwargs: dict[str, Any] = {"dtype": torch_dtype(cfg)}
    attn = cfg.model.attn_implementation
    if attn == "auto":
        # Hugging Face recommends eager attention for Gemma 3 (reference weak spot 13).
        attn = "eager" if family == "medgemma" else "sdpa"
    kwargs["attn_implementation"] = attn
    if cfg.model.quantization == "4bit":
        import torch
        from transformers import BitsAndBytesConfig

        from medvlm_sft.train.preflight import check_environment

        check_environment(cfg)  # run earlier by the runner; here for direct callers
        compute = torch.bfloat16 if _bf16_ok(cfg) else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
            bnb_4bit_quant_storage=compute,
        )
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    return AutoModelForImageTextToText.from_pretrained(model_path, **kwargs)


def lora_config(cfg: RunConfig, family: Family):
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        bias="none",
        target_modules=cfg.lora.target_modules,
        # A regex over full module names, so only the vision side is left without adapters.
        exclude_modules=None if cfg.lora.include_vision_tower else vision_exclude_regex(family),
        modules_to_save=list(cfg.lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )


def sft_config(cfg: RunConfig, run_dir: Path, has_eval: bool, max_steps: int):
    """`max_steps` is the horizon computed in `resume.compute_horizon`, passed explicitly so the
    schedule, the progress events and a resumed run all agree on it."""
    from trl import SFTConfig

    precision = cfg.train.precision
    if precision == "auto":
        precision = "bf16" if _bf16_ok(cfg) else "fp32"
    eval_strategy = cfg.eval.strategy if has_eval else "no"
    report_to = list(cfg.logging.report_to) or "none"
    if "wandb" in cfg.logging.report_to:
        wandb = cfg.logging.wandb
        os.environ.setdefault("WANDB_PROJECT", wandb.project or "medvlm")
        if wandb.entity:
            os.environ.setdefault("WANDB_ENTITY", wandb.entity)
        os.environ.setdefault("WANDB_MODE", wandb.mode)
        # One W&B run per run folder: a resumed run continues its charts instead of starting new ones.
        os.environ.setdefault("WANDB_RUN_ID", wandb_run_id(run_dir))
        os.environ.setdefault("WANDB_RESUME", "allow")
        # W&B's own files (offline runs, logs) stay with the run, not in the working directory.
        os.environ.setdefault("WANDB_DIR", str(run_dir))
    # transformers 5 reads a warmup below 1 as a ratio of the total steps.
    warmup = min(cfg.train.warmup_ratio, 0.999999)
    return SFTConfig(
        output_dir=str(run_dir / "checkpoints"),
        run_name=cfg.logging.wandb.run_name or run_dir.name,
        num_train_epochs=cfg.train.epochs,
        max_steps=max_steps,
        per_device_train_batch_size=cfg.train.per_device_batch_size,
        per_device_eval_batch_size=cfg.eval.per_device_batch_size,
        gradient_accumulation_steps=cfg.train.gradient_accumulation_steps,
        learning_rate=cfg.train.learning_rate,
        lr_scheduler_type=cfg.train.lr_scheduler,
        warmup_steps=warmup,
        weight_decay=cfg.train.weight_decay,
        max_grad_norm=cfg.train.max_grad_norm,
        optim=cfg.train.optimizer,
        seed=cfg.train.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=cfg.train.use_cpu,
        dataloader_num_workers=cfg.train.dataloader_num_workers,
        dataloader_pin_memory=cfg.train.dataloader_pin_memory,
        ddp_timeout=COLLECTIVE_TIMEOUT_S,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.model.gradient_checkpointing else None,
        logging_strategy="steps",
        logging_steps=cfg.logging.steps,
        logging_first_step=True,
        eval_strategy=eval_strategy,
        eval_steps=cfg.eval.steps if eval_strategy == "steps" else None,
        save_strategy="steps",
        save_steps=cfg.checkpoints.save_steps,
        save_total_limit=cfg.checkpoints.save_total_limit,
        report_to=report_to,
        disable_tqdm=True,
        # The collator builds every tensor itself from the sample index column.
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        label_names=["labels"],
        max_length=None,
    )


def training_info(cfg: RunConfig, model_path: str, family: Family) -> dict[str, Any]:
    """Stored with every checkpoint and the final adapter, for resuming and for `medvlm-sft merge`."""
    from medvlm_sft import __version__

    return {
        "base_model": model_path,
        "family": family,
        "model_dtype": cfg.model.dtype,
        "quantization": cfg.model.quantization,
        "trainer_version": __version__,
    }


def samples_per_step(cfg: RunConfig) -> int:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return cfg.train.per_device_batch_size * cfg.train.gradient_accumulation_steps * world
