"""`npm run bench:gpu`: training throughput and peak GPU memory, our settings against the reference's.

A randomly initialised model with Qwen2.5-VL-3B's dimensions (text: hidden 2048, 36 layers, 16
heads, 2 KV heads, MLP 11008, vocabulary 151936, tied embeddings; vision: depth 32, hidden 1280)
is built from its config directly on the GPU in bf16 (nothing is downloaded), and trained
through our trainer (the same collator, LoRA config, SFTConfig and `MedVLMTrainer` as
`medvlm-sft train`) on demo-like samples: MedVision prompts and answers formatted from the demo
data by our formatter, with their slices enlarged to --image-size. Three runs, same seed, same
samples, same batch size, LoRA r 16 on all linear layers, gradient checkpointing, fused AdamW:

1. ours: no `modules_to_save`, loss on the answer and its end-of-turn token;
2. reference-equivalent: `modules_to_save: [lm_head, embed_tokens]` and the prompt in the loss,
   as the MedVision reference trains;
3. ours again: identical settings to run 1. Both trainers read the same cached slices, so the
   data pipeline at training time is the same; the ratio of runs 1 and 3 is the run-to-run
   noise, which tells how much of the settings ratio is real.

Each run times --steps optimizer steps after --warmup steps (CUDA-synchronised) and reads the peak
memory allocated since its model was built. The last line is
`gpu speedup: <N>x (settings) ...`, N being ours (mean of runs 1 and 3) over the reference's.

`--tiny --cpu` runs the same code on the tiny Qwen2.5-VL on the CPU (fp32, a few steps), to test
the benchmark itself where there is no GPU; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

# Qwen/Qwen2.5-VL-3B-Instruct config.json, without the weights.
QWEN2_5_VL_3B_TEXT: dict[str, Any] = {
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1000000.0},
    "tie_word_embeddings": True,
}
QWEN2_5_VL_3B_VISION: dict[str, Any] = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 2048,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "window_size": 112,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}
QWEN2_5_VL_3B_VOCAB = 151936
# The published Qwen2.5-VL-Instruct processor's pixel bounds.
MIN_PIXELS, MAX_PIXELS = 3136, 12845056


@dataclass(frozen=True)
class Variant:
    name: str
    modules_to_save: tuple[str, ...]
    loss_on: str


OURS = Variant("ours", (), "completion")
REFERENCE = Variant("reference", ("lm_head", "embed_tokens"), "all")


@dataclass
class Result:
    name: str
    samples_per_s: float
    peak_gib: float | None
    trainable: int
    tokens_per_sample: float
    first_loss: float
    last_loss: float


class Fail(Exception):
    pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="the tiny Qwen2.5-VL instead of the 3B-sized model")
    p.add_argument("--cpu", action="store_true", help="train on the CPU (with --tiny: a test of this script)")
    p.add_argument("--steps", type=int, default=None, help="timed optimizer steps per run (default 24; tiny 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 4; tiny 1)")
    p.add_argument("--batch-size", type=int, default=4, help="samples per step (default 4)")
    p.add_argument("--image-size", type=int, default=336, help="slice edge in pixels (default 336; tiny 64)")
    p.add_argument("--samples", type=int, default=64, help="distinct training samples (default 64)")
    args = p.parse_args(argv)
    if args.steps is None:
        args.steps = 2 if args.tiny else 24
    if args.warmup is None:
        args.warmup = 1 if args.tiny else 4
    if args.tiny and args.image_size == 336:
        args.image_size = 64
    return args


def check_device(cpu: bool) -> str:
    import torch

    if cpu:
        return "cpu"
    if not torch.cuda.is_available():
        raise Fail(
            "this benchmark needs a CUDA GPU, and torch sees none here "
            f"(torch {torch.__version__}, CUDA build {torch.version.cuda or 'none'}). Run it on a GPU machine, "
            "or check the benchmark code on this CPU with `npm run bench:gpu -- --tiny --cpu`."
        )
    if not torch.cuda.is_bf16_supported():
        raise Fail(f"bench:gpu trains in bf16, which {torch.cuda.get_device_name()} does not support")
    return "cuda"


def build_samples(work: Path, processor: Any, count: int, image_size: int) -> list[Any]:
    """Demo-data prompts and answers (all three task kinds), each with its slice enlarged to image_size."""
    from PIL import Image

    from medvlm_sft.config.model import DataSection, DataSource
    from medvlm_sft.data.dataset import prepare_data
    from medvlm_sft.data.demo import make_demo_data
    from medvlm_sft.models.family import ResizeRule

    data_dir = make_demo_data(work / "data", seed=0)
    section = DataSection(
        sources=[DataSource(records=str(data_dir / "records.jsonl"), tasks=str(data_dir / "tasks.json"))],
        cache_dir=str(work / "cache"),
        num_workers=1,
    )
    resize = ResizeRule.from_image_processor("qwen2_5_vl", processor.image_processor)
    data = prepare_data(section, work, resize)
    samples = []
    for i in range(count):
        sample = data.train[i % len(data.train)]
        grey = Image.fromarray(sample.image).resize((image_size, image_size), Image.BILINEAR)
        path = work / "slices" / f"{i}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(grey, dtype=np.uint8))
        samples.append(replace(sample, image_file=str(path), image_size=(image_size, image_size)))
    return samples


def build_model(tiny: bool, ids: dict[str, int], vocab: int, device: str):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from medvlm_sft.models.tiny import qwen_config

    if tiny:
        config = qwen_config(ids, vocab)
    else:
        config = qwen_config(ids, QWEN2_5_VL_3B_VOCAB, QWEN2_5_VL_3B_TEXT, QWEN2_5_VL_3B_VISION)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    torch.manual_seed(0)
    # Initialised where it trains: a CPU init of 3.8B parameters would take minutes.
    with torch.device(device):
        return Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype)


def run_config(variant: Variant, args: argparse.Namespace, device: str):
    from medvlm_sft.config.model import RunConfig

    total = args.warmup + args.steps
    return RunConfig.model_validate(
        {
            "model": {"base": "bench", "family": "qwen2_5_vl", "gradient_checkpointing": True},
            "data": {"sources": [{"records": "bench.jsonl"}]},
            "train": {
                "max_steps": total,
                "per_device_batch_size": args.batch_size,
                "optimizer": "adamw_torch" if device == "cpu" else "adamw_torch_fused",
                "precision": "fp32" if device == "cpu" else "bf16",
                "use_cpu": device == "cpu",
                "dataloader_num_workers": 0 if device == "cpu" else 2,
                "dataloader_pin_memory": device != "cpu",
                "loss_on": variant.loss_on,
                "seed": 42,
            },
            "lora": {"modules_to_save": list(variant.modules_to_save)},
            "eval": {"strategy": "no", "generation_samples": 0},
            "checkpoints": {"save_steps": total + 1, "save_total_limit": 1},
            "logging": {"steps": 1},
        }
    )


def train_once(variant: Variant, label: str, args, *, device, processor, ids, samples, work: Path) -> Result:
    import torch
    from datasets import Dataset
    from transformers import PrinterCallback, TrainerCallback

    from medvlm_sft.models.collator import VisionChatCollator
    from medvlm_sft.train import setup
    from medvlm_sft.train.trainer import MedVLMTrainer

    cfg = run_config(variant, args, device)
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = build_model(args.tiny, ids, len(processor.tokenizer), device)
    collator = VisionChatCollator(processor, "qwen2_5_vl", samples, cfg.train.loss_on)
    timing: dict[str, float] = {}
    losses: list[float] = []
    tokens: list[int] = []

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kwargs):
            if state.global_step == args.warmup:
                sync()
                timing["start"] = time.perf_counter()

        def on_step_end(self, a, state, control, **kwargs):
            if state.global_step == args.warmup + args.steps:
                sync()
                timing["end"] = time.perf_counter()

        def on_log(self, a, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    # Counted here rather than in the training loop, whose collation may run in worker processes.
    for start in range(0, min(len(samples), 16), args.batch_size):
        enc = collator([{"idx": i} for i in range(start, min(start + args.batch_size, len(samples)))])
        tokens.extend(int(n) for n in enc["attention_mask"].sum(dim=1))

    trainer = MedVLMTrainer(
        model=model,
        args=setup.sft_config(cfg, work / f"run-{label}", False, cfg.train.max_steps),
        train_dataset=Dataset.from_dict({"idx": list(range(len(samples)))}),
        data_collator=collator,
        processing_class=processor,
        peft_config=setup.lora_config(cfg, "qwen2_5_vl"),
        callbacks=[Clock()],
    )
    trainer.remove_callback(PrinterCallback)
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    trainer.train()
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    elapsed = timing["end"] - timing["start"]
    del trainer, model
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return Result(
        name=label,
        samples_per_s=args.steps * args.batch_size / elapsed,
        peak_gib=peak,
        trainable=trainable,
        tokens_per_sample=statistics.fmean(tokens) if tokens else 0.0,
        first_loss=losses[0] if losses else float("nan"),
        last_loss=losses[-1] if losses else float("nan"),
    )


def describe(r: Result) -> str:
    memory = f"{r.peak_gib:.2f} GiB" if r.peak_gib is not None else "n/a (cpu)"
    return (
        f"run {r.name}: {r.samples_per_s:.3f} samples/s, peak memory {memory}, "
        f"{r.trainable:,} trainable parameters, {r.tokens_per_sample:.0f} tokens/sample, "
        f"loss {r.first_loss:.3f} -> {r.last_loss:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        device = check_device(args.cpu)
    except Fail as e:
        print(f"bench:gpu: {e}", file=sys.stderr)
        return 2
    import torch
    import transformers

    from medvlm_sft.models.tiny import qwen_processor

    transformers.logging.set_verbosity_error()
    where = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    size = "tiny Qwen2.5-VL" if args.tiny else "Qwen2.5-VL-3B-sized (random weights)"
    print(
        f"model: {size}; device: {where}; torch {torch.__version__}; batch {args.batch_size}; "
        f"{args.warmup} warm-up + {args.steps} timed steps per run; slices {args.image_size}x{args.image_size}",
        flush=True,
    )
    if args.tiny:
        processor, ids = qwen_processor()
    else:
        processor, ids = qwen_processor(MIN_PIXELS, MAX_PIXELS)
    with tempfile.TemporaryDirectory(prefix="medvlm-bench-gpu-") as tmp:
        work = Path(tmp)
        samples = build_samples(work, processor, args.samples, args.image_size)
        results = []
        for variant, label in ((OURS, "ours"), (REFERENCE, "reference"), (OURS, "ours-again")):
            result = train_once(
                variant, label, args, device=device, processor=processor, ids=ids, samples=samples, work=work
            )
            print(describe(result), flush=True)
            results.append(result)
    ours, reference, again = results
    ours_mean = statistics.fmean([ours.samples_per_s, again.samples_per_s])
    settings = ours_mean / reference.samples_per_s
    noise = again.samples_per_s / ours.samples_per_s
    if ours.peak_gib is not None and reference.peak_gib is not None:
        memory = f"peak memory {reference.peak_gib:.2f} -> {ours.peak_gib:.2f} GiB"
    else:
        memory = "peak memory n/a (cpu)"
    print(
        f"gpu speedup: {settings:.2f}x (settings: ours vs reference-equivalent), "
        f"{noise:.2f}x (identical settings: ours run twice), {memory}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
