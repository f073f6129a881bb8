"""Fold a LoRA adapter into its base model: a standard Hugging Face folder (sharded safetensors,
config, generation config, processor) that `AutoModelForImageTextToText.from_pretrained` and
vLLM load like any checkpoint, so the MedVision benchmark can evaluate it.

Used at the end of a run (`hub.merge_after_training`) and alone: `medvlm-sft merge RUN_DIR|CHECKPOINT`.
The base is loaded on the CPU in bf16 (or the run's dtype), never in 4 bits; an adapter
trained with QLoRA therefore lands on weights that differ slightly from the NF4 ones it was
trained against (reference weak spot 12), which the merge says out loud.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medvlm_sft.train.checkpoints import latest_checkpoint
from medvlm_sft.train.preflight import SetupError
from medvlm_sft.train.resume import read_checkpoint_state

TRAINING_INFO = "medvlm_training.json"
DTYPES = ("bfloat16", "float16", "float32")
QLORA_WARNING = (
    "this adapter was trained with QLoRA on 4-bit (NF4) weights, but the merge adds it to the {dtype} base "
    "weights, which differ slightly from the dequantised NF4 weights it learned against; evaluate the merged "
    "model before relying on it (or serve the 4-bit base with the adapter unmerged)"
)


def find_adapter(path: Path) -> Path:
    """The adapter folder of a checkpoint, or of a run folder: checkpoints/final, else its newest checkpoint."""
    path = Path(path)
    if (path / "adapter_config.json").is_file():
        return path
    final = path / "checkpoints" / "final"
    if (final / "adapter_config.json").is_file():
        return final
    latest, _ = latest_checkpoint(path / "checkpoints")
    if latest is not None and (latest / "adapter_config.json").is_file():
        return latest
    raise SetupError(
        f"no LoRA adapter in {path}: give a run folder (its checkpoints/final or newest checkpoint is merged) "
        "or a checkpoint folder holding adapter_config.json"
    )


def default_output(path: Path, adapter: Path) -> Path:
    """`RUN_DIR/merged` for a run folder, `<checkpoint>-merged` beside a checkpoint."""
    path = Path(path)
    return path / "merged" if path.resolve() != adapter.resolve() else adapter.parent / f"{adapter.name}-merged"


def training_info(adapter: Path) -> dict[str, Any]:
    """How the adapter was trained (base, dtype, quantization), as the trainer recorded it."""
    try:
        return json.loads((adapter / TRAINING_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return read_checkpoint_state(adapter)


def _base_of(adapter: Path, info: dict[str, Any]) -> str:
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path") or info.get("base_model")
    if not base:
        raise SetupError(f"{adapter}/adapter_config.json names no base model; pass the base with --base")
    looks_local = base.startswith((".", "/", "~", "\\")) or base.count("/") > 1
    if looks_local and not Path(base).expanduser().is_dir():
        raise SetupError(
            f"the base model recorded with the adapter is not here: {base}; pass its folder or Hub id with --base"
        )
    return base


def _processor_source(adapter: Path, base: str) -> str:
    names = ("processor_config.json", "preprocessor_config.json")
    return str(adapter) if any((adapter / n).is_file() for n in names) else base


def merge_adapter(
    adapter: Path,
    out: Path,
    *,
    base: str | None = None,
    dtype: str | None = None,
    max_shard_size: str = "2GB",
    warn: Callable[[str], None] = lambda message: None,
) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    adapter, out = Path(adapter), Path(out)
    info = training_info(adapter)
    base = base or _base_of(adapter, info)
    if dtype is None:
        trained = info.get("model_dtype")
        dtype = trained if trained in DTYPES else "bfloat16"
    if dtype not in DTYPES:
        raise SetupError(f"merge dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if info.get("quantization") == "4bit":
        warn(QLORA_WARNING.format(dtype=dtype))
    # On the CPU, so the merge neither needs nor competes for GPU memory.
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=getattr(torch, dtype), device_map={"": "cpu"})
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    # Written beside the target and renamed, so an interrupted merge never looks like a finished one.
    partial = out.parent / f".{out.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(partial), max_shard_size=max_shard_size)
    AutoProcessor.from_pretrained(_processor_source(adapter, base)).save_pretrained(str(partial))
    del model, merged
    gc.collect()
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out


def run_merge_command(path: Path, out: Path | None, base: str | None, dtype: str | None, max_shard_size: str) -> int:
    def warn(message: str) -> None:
        print(f"[medvlm-sft] warning: {message}", file=sys.stderr, flush=True)

    try:
        adapter = find_adapter(path)
        target = out if out is not None else default_output(path, adapter)
        print(f"[medvlm-sft] merging {adapter} into its base model", file=sys.stderr, flush=True)
        merge_adapter(adapter, target, base=base, dtype=dtype, max_shard_size=max_shard_size, warn=warn)
    except SetupError as e:
        print(f"[medvlm-sft] merge failed: {e}", file=sys.stderr, flush=True)
        return 1
    print(target)
    return 0
