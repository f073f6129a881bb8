"""Settings this machine cannot run, found before any data is prepared or weights are loaded.

Each message names the setting and what to install or change, so a QLoRA config started on
a machine without bitsandbytes or CUDA fails in a second with a fix, not minutes later
inside `from_pretrained` with an import error.
"""

from __future__ import annotations

import importlib.util

from medvlm_sft.config.model import RunConfig


class SetupError(RuntimeError):
    """The run config asks for something this Python environment or machine does not have."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def environment_problems(cfg: RunConfig, *, has_cuda: bool, has_bnb: bool, has_flash_attn: bool) -> list[str]:
    problems = []
    gpu = has_cuda and not cfg.train.use_cpu
    if cfg.model.quantization == "4bit":
        if not has_bnb:
            problems.append(
                "model.quantization: 4bit (QLoRA) needs the bitsandbytes package, which is not installed in this "
                "Python environment: install it with `pip install bitsandbytes` on a CUDA GPU machine, or set "
                "`model.quantization: none` to train LoRA on full-precision weights"
            )
        if not gpu:
            where = "`train.use_cpu` is true" if cfg.train.use_cpu else "torch sees no CUDA GPU"
            problems.append(
                f"model.quantization: 4bit (QLoRA) runs on a CUDA GPU only, but {where}: run on a GPU machine "
                "(with a CUDA build of torch), or set `model.quantization: none`"
            )
    if cfg.train.optimizer in ("adamw_8bit", "paged_adamw_8bit") and not has_bnb:
        problems.append(
            f"train.optimizer: {cfg.train.optimizer} comes from the bitsandbytes package, which is not installed: "
            "install it with `pip install bitsandbytes`, or set `train.optimizer: adamw_torch`"
        )
    if cfg.model.attn_implementation == "flash_attention_2":
        if not has_flash_attn:
            problems.append(
                "model.attn_implementation: flash_attention_2 needs the flash-attn package, which is not installed: "
                "install it with `pip install flash-attn --no-build-isolation`, or set `model.attn_implementation: "
                "auto` (sdpa, about as fast on recent torch)"
            )
        elif not gpu:
            problems.append(
                "model.attn_implementation: flash_attention_2 runs on a CUDA GPU only; set "
                "`model.attn_implementation: auto`"
            )
    return problems


def check_environment(cfg: RunConfig) -> None:
    import torch

    problems = environment_problems(
        cfg,
        has_cuda=torch.cuda.is_available(),
        has_bnb=_installed("bitsandbytes"),
        has_flash_attn=_installed("flash_attn"),
    )
    if problems:
        raise SetupError("\n".join(problems))
