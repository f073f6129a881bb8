"""`npm run bench:gpu` checked without a GPU: the `--tiny --cpu` mode runs the benchmark's code end to
end (its numbers mean nothing, so only the printed lines' structure is asserted), the GPU mode
refuses clearly where there is no CUDA device, and the 3B-sized model it builds has Qwen2.5-VL-3B's
parameter count."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"
NUMBER = r"\d+(?:\.\d+)?"


def run_bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def test_tiny_cpu_mode_prints_every_run_and_the_speedup_line():
    proc = run_bench("--tiny", "--cpu", "--samples", "8", "--batch-size", "2", "--steps", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("model: tiny Qwen2.5-VL; device: CPU;")
    runs = [line for line in lines if line.startswith("run ")]
    assert [line.split(":")[0] for line in runs] == ["run ours", "run reference", "run ours-again"]
    trainable = {}
    for line in runs:
        m = re.fullmatch(
            rf"run ([\w-]+): ({NUMBER}) samples/s, peak memory n/a \(cpu\), ([\d,]+) trainable parameters, "
            rf"(\d+) tokens/sample, loss ({NUMBER}) -> ({NUMBER})",
            line,
        )
        assert m, line
        assert float(m.group(2)) > 0 and int(m.group(4)) > 0
        trainable[m.group(1)] = int(m.group(3).replace(",", ""))
    # The reference trains full copies of lm_head and embed_tokens besides the LoRA weights.
    assert trainable["reference"] > trainable["ours"] == trainable["ours-again"]
    assert re.fullmatch(
        rf"gpu speedup: {NUMBER}x \(settings: ours vs reference-equivalent\), "
        rf"{NUMBER}x \(identical settings: ours run twice\), peak memory n/a \(cpu\)",
        lines[-1],
    ), lines[-1]


def test_gpu_mode_without_a_gpu_fails_with_a_clear_message():
    proc = run_bench(env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 2 and proc.stdout == ""
    assert "needs a CUDA GPU" in proc.stderr and "--tiny --cpu" in proc.stderr


def test_the_3b_sized_model_has_qwen2_5_vl_3b_parameters(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_gpu", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_gpu", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    from medvlm_sft.models.tiny import qwen_processor

    processor, ids = qwen_processor(bench.MIN_PIXELS, bench.MAX_PIXELS)
    model = bench.build_model(False, ids, len(processor.tokenizer), "meta")  # shapes only, no memory
    assert 3.74e9 < sum(p.numel() for p in model.parameters()) < 3.77e9  # Qwen2.5-VL-3B: 3.75B
    assert model.lm_head.weight is model.model.language_model.embed_tokens.weight
    assert model.lm_head.weight.shape == (151936, 2048) and model.lm_head.weight.dtype == torch.bfloat16
    assert len(model.model.visual.blocks) == 32 and len(model.model.language_model.layers) == 36
