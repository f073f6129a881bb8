"""Example presets: the "MedVision reference" ones equal the reference scripts value for value; ours
differ only where the notes show the reference wastes compute; and a QLoRA or flash-attention
config on a machine that cannot run it fails before any work with what to install or change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medvlm_sft.config.model import RunConfig
from medvlm_sft.config.validate import require_config
from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.train.events import read_events
from medvlm_sft.train.preflight import environment_problems
from medvlm_sft.train.runner import run_train_command

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

# medvision_bm at c221615: prepare_trainer / SFTConfig in sft_utils.py and the shipped script/sft/*.sh
# (reference notes section 4), written out literally.
REFERENCE: dict[str, Any] = {
    "model.dtype": "bfloat16",
    "model.quantization": "none",
    "model.attn_implementation": "flash_attention_2",
    "lora.enabled": True,
    "lora.r": 16,
    "lora.alpha": 16,
    "lora.dropout": 0.05,
    "lora.target_modules": "all-linear",
    "lora.include_vision_tower": True,
    "lora.modules_to_save": ["lm_head", "embed_tokens"],
    "train.learning_rate": 2e-4,
    "train.lr_scheduler": "linear",
    "train.warmup_ratio": 0.03,
    "train.max_grad_norm": 0.3,
    "train.weight_decay": 0.0,
    "train.optimizer": "adamw_torch_fused",
    "train.precision": "bf16",
    "train.seed": 42,
    "train.per_device_batch_size": 1,
    "train.gradient_accumulation_steps": 12,
    "train.epochs": 10,
    "train.max_steps": -1,
    "train.dataloader_num_workers": 8,
    "train.dataloader_pin_memory": True,
    "train.loss_on": "all",
    "launch.num_processes": 2,
    "eval.strategy": "steps",
    "eval.steps": 50,
    "eval.generation_samples": 0,
    "checkpoints.save_steps": 50,
    "checkpoints.save_total_limit": 10,
    "checkpoints.resume_from": "latest",
    "logging.steps": 10,
    "hub.merge_after_training": True,
    "data.seed": 1024,
}
REFERENCE_GRADIENT_CHECKPOINTING = {"qwen2_5_vl": True, "medgemma": False}
REFERENCE_LIMITS = [(5500, 45), (11000, 105), (5500, 50)]  # train 22000, validation 200
PRESETS = {"qwen2_5_vl": "qwen2_5_vl-32b-medvision", "medgemma": "medgemma-27b-medvision"}


def value(cfg: RunConfig, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_reference_presets_equal_the_reference(family: str) -> None:
    cfg = require_config(CONFIGS / f"{PRESETS[family]}-reference.sft.yaml")
    assert {key: value(cfg, key) for key in REFERENCE} == REFERENCE
    assert cfg.model.family == family
    assert cfg.model.gradient_checkpointing is REFERENCE_GRADIENT_CHECKPOINTING[family]
    assert [(s.train_limit, s.val_limit) for s in cfg.data.sources] == REFERENCE_LIMITS


@pytest.mark.parametrize("family", sorted(PRESETS))
def test_recommended_presets_differ_only_where_the_reference_wastes(family: str) -> None:
    ours = require_config(CONFIGS / f"{PRESETS[family]}.sft.yaml")
    different = {key: value(ours, key) for key in REFERENCE if value(ours, key) != REFERENCE[key]}
    assert different == {
        "lora.modules_to_save": [],  # no new tokens, so no full copies of lm_head and embed_tokens
        "train.loss_on": "completion",  # the answer and its end-of-turn token, not the prompt
        "eval.generation_samples": 32,  # MAE/MRE/IoU at each evaluation, not the loss only
        "model.attn_implementation": "eager" if family == "medgemma" else "auto",
    }
    # On for both: the reference runs MedGemma without it but with flash attention; with the
    # eager attention Hugging Face advises for Gemma 3 it would not fit an 80 GB GPU.
    assert ours.model.gradient_checkpointing is True


def qlora(**train: Any) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": {"base": "google/medgemma-4b-it", "quantization": "4bit"},
            "data": {"sources": [{"records": "r.jsonl", "val_limit": 5}]},
            "train": train,
        }
    )


def test_qlora_needs_bitsandbytes_and_cuda() -> None:
    (missing,) = environment_problems(qlora(), has_cuda=True, has_bnb=False, has_flash_attn=False)
    assert "needs the bitsandbytes package" in missing
    assert "`pip install bitsandbytes`" in missing and "`model.quantization: none`" in missing
    (no_gpu,) = environment_problems(qlora(), has_cuda=False, has_bnb=True, has_flash_attn=False)
    assert "runs on a CUDA GPU only, but torch sees no CUDA GPU" in no_gpu and "`model.quantization: none`" in no_gpu
    assert len(environment_problems(qlora(), has_cuda=False, has_bnb=False, has_flash_attn=False)) == 2
    assert environment_problems(qlora(), has_cuda=True, has_bnb=True, has_flash_attn=False) == []
    paged = qlora(optimizer="paged_adamw_8bit")
    assert any(
        "set `train.optimizer: adamw_torch`" in p
        for p in environment_problems(paged, has_cuda=True, has_bnb=False, has_flash_attn=False)
    )


def test_flash_attention_needs_its_package_and_a_gpu() -> None:
    cfg = require_config(CONFIGS / "qwen2_5_vl-32b-medvision-reference.sft.yaml")
    (missing,) = environment_problems(cfg, has_cuda=True, has_bnb=True, has_flash_attn=False)
    assert "needs the flash-attn package" in missing and "`model.attn_implementation: auto`" in missing
    (no_gpu,) = environment_problems(cfg, has_cuda=False, has_bnb=True, has_flash_attn=True)
    assert "CUDA GPU only" in no_gpu
    assert environment_problems(cfg, has_cuda=True, has_bnb=True, has_flash_attn=True) == []


def test_a_qlora_run_here_fails_at_once_with_the_fix(tmp_path: Path) -> None:
    # bitsandbytes cannot be installed on these machines (and they have no CUDA): the run must say
    # so before preparing data or loading weights. The data and model paths are never opened.
    import importlib.util

    import torch

    if importlib.util.find_spec("bitsandbytes") is not None and torch.cuda.is_available():
        pytest.skip("this machine can run QLoRA")
    make_demo_data(tmp_path / "data", seed=0)
    config = tmp_path / "qlora.sft.yaml"
    config.write_text(
        "model: {base: google/medgemma-4b-it, quantization: 4bit}\n"
        "data: {sources: [{records: data/records.jsonl, tasks: data/tasks.json, val_limit: 4}]}\n"
    )
    assert run_train_command(config, tmp_path / "run") == 1
    events, _ = read_events(tmp_path / "run" / "events.jsonl")
    assert [e["type"] for e in events] == ["run_started", "error", "run_finished"]
    message = events[1]["message"]
    assert message.startswith("model.quantization: 4bit (QLoRA)") and "`model.quantization: none`" in message
