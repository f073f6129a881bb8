"""Cross-field rules of the run config (design contract 1).

Each rule is a named function; the name is the problem `code` that the CLI prints and the
editor shows, so renaming one is a breaking change. A finding points at the YAML path of the
field the user should change, and its message says how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from medvlm_sft.config.model import RunConfig
from medvlm_sft.config.problems import Severity, YamlPath


@dataclass(frozen=True)
class Finding:
    path: YamlPath
    message: str
    severity: Severity = "error"
    code: str = ""  # rules leave it empty (their name is the code); data checks name theirs
    # Where to point instead when `path` is not written in the file (it holds a default).
    also: tuple[YamlPath, ...] = ()


RuleFn = Callable[[RunConfig], Iterator[Finding]]
RULES: dict[str, RuleFn] = {}


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        if name in RULES:
            raise ValueError(f"duplicate rule name {name}")
        RULES[name] = fn
        return fn

    return register


def check_rules(cfg: RunConfig) -> list[tuple[str, Finding]]:
    return [(name, finding) for name, fn in RULES.items() for finding in fn(cfg)]


def _is_medgemma(cfg: RunConfig) -> bool:
    family = cfg.model.family
    return family == "medgemma" or (family == "auto" and "medgemma" in cfg.model.base.lower())


@rule("qlora-needs-lora")
def _qlora_needs_lora(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.model.quantization == "4bit" and not cfg.lora.enabled:
        yield Finding(
            ("lora", "enabled"),
            "4-bit weights are frozen, so QLoRA can only train LoRA adapters; set `lora.enabled: true` "
            "or `model.quantization: none`",
            also=(("model", "quantization"),),
        )


@rule("qlora-needs-bf16")
def _qlora_needs_bf16(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.model.quantization != "4bit":
        return
    if cfg.train.use_cpu:
        yield Finding(
            ("train", "use_cpu"),
            "4-bit quantisation (QLoRA) runs on a CUDA GPU only; set `train.use_cpu: false` "
            "or `model.quantization: none`",
            also=(("model", "quantization"),),
        )
    elif cfg.train.precision in ("fp16", "fp32"):
        yield Finding(
            ("train", "precision"),
            f"QLoRA computes in bf16 on a CUDA GPU, not {cfg.train.precision}; set `train.precision: bf16` (or `auto`)",
            also=(("model", "quantization"),),
        )


@rule("eval-without-validation-data")
def _eval_without_validation_data(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.eval.strategy == "no":
        return
    how = f"`eval.strategy` is `{cfg.eval.strategy}`"
    if cfg.data.val_limit == 0:
        yield Finding(
            ("data", "val_limit"),
            f"{how} but `data.val_limit` is 0, so no validation samples are kept; set it to -1 or a positive "
            "number, or set `eval.strategy: no`",
            also=(("eval", "strategy"),),
        )
    elif all(source.val_limit == 0 for source in cfg.data.sources):
        yield Finding(
            ("data", "sources", 0, "val_limit"),
            f"{how} but no source holds out validation samples (every `val_limit` is 0); set `val_limit` on a "
            "source (for example 50) or set `eval.strategy: no`",
            also=(("eval", "strategy"),),
        )


@rule("eval-never-runs")
def _eval_never_runs(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.eval.strategy == "steps" and 0 < cfg.train.max_steps < cfg.eval.steps:
        yield Finding(
            ("eval", "steps"),
            f"`eval.steps` ({cfg.eval.steps}) is more than `train.max_steps` ({cfg.train.max_steps}), so no "
            "evaluation runs; lower `eval.steps`",
            "warning",
            also=(("train", "max_steps"),),
        )


@rule("no-training-data")
def _no_training_data(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.data.train_limit == 0:
        yield Finding(
            ("data", "train_limit"), "`data.train_limit` is 0, so nothing is trained; use -1 (all) or a positive number"
        )
    elif all(source.train_limit == 0 for source in cfg.data.sources):
        yield Finding(
            ("data", "sources", 0, "train_limit"),
            "every source's `train_limit` is 0, so nothing is trained; use -1 (all) or a positive number",
        )


@rule("image-window-missing")
def _image_window_missing(cfg: RunConfig) -> Iterator[Finding]:
    image = cfg.data.image
    if image.normalization == "window" and image.window is None:
        yield Finding(
            ("data", "image", "window"),
            "`data.image.normalization` is `window` but no window is set; set `data.image.window` to "
            "`ct_soft_tissue`, `ct_bone`, `mr` or `{center: 40, width: 400}`, or use `normalization: minmax`",
            also=(("data", "image", "normalization"), ("data", "image")),
        )


@rule("image-window-ignored")
def _image_window_ignored(cfg: RunConfig) -> Iterator[Finding]:
    image = cfg.data.image
    if image.normalization == "minmax" and image.window is not None:
        yield Finding(
            ("data", "image", "window"),
            "`data.image.window` has no effect while `data.image.normalization` is `minmax` (the reference's "
            "per-slice min-max); set `normalization: window` to use it",
            "warning",
        )


@rule("push-needs-repo")
def _push_needs_repo(cfg: RunConfig) -> Iterator[Finding]:
    hub = cfg.hub
    if (hub.push_adapter or hub.push_adapter_every_save or hub.push_merged) and not hub.repo_id:
        flag = next(f for f in ("push_adapter", "push_adapter_every_save", "push_merged") if getattr(hub, f))
        yield Finding(
            ("hub", "repo_id"),
            f"`hub.{flag}` is on but there is no repository to push to; set `hub.repo_id: owner/name`",
            also=(("hub", flag),),
        )


@rule("push-merged-needs-merge")
def _push_merged_needs_merge(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.hub.push_merged and not cfg.hub.merge_after_training:
        yield Finding(
            ("hub", "merge_after_training"),
            "`hub.push_merged` pushes the merged model, which only exists with `hub.merge_after_training: true`",
            also=(("hub", "push_merged"),),
        )


@rule("merge-needs-lora")
def _merge_needs_lora(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.hub.merge_after_training and not cfg.lora.enabled:
        yield Finding(
            ("hub", "merge_after_training"),
            "there is no adapter to merge when `lora.enabled` is false (full weights are saved already); "
            "set `hub.merge_after_training: false`",
            "warning",
        )


@rule("medgemma-flash-attention")
def _medgemma_flash_attention(cfg: RunConfig) -> Iterator[Finding]:
    if _is_medgemma(cfg) and cfg.model.attn_implementation == "flash_attention_2":
        yield Finding(
            ("model", "attn_implementation"),
            "Hugging Face recommends eager attention for Gemma 3 (MedGemma) in training; flash_attention_2 "
            "can give a worse loss. Use `auto` or `eager`",
            "warning",
        )


@rule("fused-adamw-needs-cuda")
def _fused_adamw_needs_cuda(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.train.optimizer == "adamw_torch_fused" and cfg.train.use_cpu:
        yield Finding(
            ("train", "optimizer"),
            "`adamw_torch_fused` needs a CUDA GPU; use `adamw_torch` with `train.use_cpu: true`",
        )


@rule("bnb-optimizer-needs-cuda")
def _bnb_optimizer_needs_cuda(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.train.optimizer in ("adamw_8bit", "paged_adamw_8bit") and cfg.train.use_cpu:
        yield Finding(
            ("train", "optimizer"),
            f"`{cfg.train.optimizer}` comes from bitsandbytes and needs a CUDA GPU; use `adamw_torch` "
            "with `train.use_cpu: true`",
        )


@rule("multi-process-on-cpu")
def _multi_process_on_cpu(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.launch.num_processes > 1 and cfg.train.use_cpu:
        yield Finding(
            ("launch", "num_processes"),
            f"{cfg.launch.num_processes} processes on the CPU compete for the same cores and are rarely faster; "
            "set `launch.num_processes: 1` or train on GPUs",
            "warning",
        )


@rule("gpus-count")
def _gpus_count(cfg: RunConfig) -> Iterator[Finding]:
    gpus = cfg.launch.gpus
    if gpus is None:
        return
    if len(set(gpus)) != len(gpus):
        yield Finding(("launch", "gpus"), "a GPU index is listed twice; list each GPU once")
    elif len(gpus) < cfg.launch.num_processes:
        yield Finding(
            ("launch", "gpus"),
            f"{len(gpus)} GPU(s) listed for {cfg.launch.num_processes} processes (one GPU each); list "
            f"{cfg.launch.num_processes} GPUs or lower `launch.num_processes`",
        )


@rule("flash-attention-needs-cuda")
def _flash_attention_needs_cuda(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.model.attn_implementation == "flash_attention_2" and cfg.train.use_cpu:
        yield Finding(
            ("model", "attn_implementation"),
            "flash_attention_2 runs on a CUDA GPU only; use `auto` (or `sdpa`) with `train.use_cpu: true`",
            also=(("train", "use_cpu"),),
        )


@rule("qlora-merge-uses-full-weights")
def _qlora_merge_uses_full_weights(cfg: RunConfig) -> Iterator[Finding]:
    if cfg.model.quantization == "4bit" and cfg.hub.merge_after_training and cfg.lora.enabled:
        yield Finding(
            ("hub", "merge_after_training"),
            "the adapter is trained against 4-bit (NF4) weights but merged into the full-precision base weights, "
            "so the merged model can answer slightly differently from the adapter; evaluate `merged/` before "
            "relying on it, or set `hub.merge_after_training: false` and serve the adapter on the 4-bit base",
            "warning",
            also=(("model", "quantization"),),
        )
