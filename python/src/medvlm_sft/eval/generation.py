"""Greedy answers of the model being trained, on a bounded validation subset, scored per task.

Run inside evaluation (see `train/trainer.py`): the subset is sharded across processes and the
answers gathered, so every rank works and no rank waits long in a collective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medvlm_sft.eval.metrics import Score, aggregate, score_answer


def pick_subset(samples: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` samples, taken round-robin over task kinds so that every kind gets scored.

    Deterministic: the validation set's own (seeded) order is kept within each kind.
    """
    by_kind: dict[str, list[Any]] = {}
    for sample in samples:
        by_kind.setdefault(sample.kind, []).append(sample)
    queues = list(by_kind.values())
    picked: list[Any] = []
    depth = 0
    while len(picked) < limit and any(depth < len(q) for q in queues):
        for queue in queues:
            if depth < len(queue) and len(picked) < limit:
                picked.append(queue[depth])
        depth += 1
    return picked


def _picture(pixels: Any):
    from PIL import Image

    from medvlm_sft.data.nifti import to_rgb_image

    return to_rgb_image(pixels) if pixels.ndim == 2 else Image.fromarray(pixels).convert("RGB")


def generate_answers(
    model: Any, processor: Any, samples: Sequence[Any], *, max_new_tokens: int, batch_size: int
) -> list[str]:
    """Greedy completions of each sample's conversation without its final (assistant) turn."""
    import torch
    from transformers import GenerationConfig

    tokenizer = processor.tokenizer
    base = getattr(model, "generation_config", None)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        use_cache=True,
        eos_token_id=getattr(base, "eos_token_id", None) or tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id,
    )
    # The first floating-point weight: a 4-bit model also holds packed uint8 ones.
    parameter = next(p for p in model.parameters() if p.is_floating_point())
    device, dtype = parameter.device, parameter.dtype
    answers: list[str] = []
    # Generation appends at the right end, so prompts are padded on the left; the collator wants right.
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            prompts = [
                processor.apply_chat_template(s.messages[:-1], tokenize=False, add_generation_prompt=True)
                for s in batch
            ]
            bos = tokenizer.bos_token
            add_special = not (bos and prompts[0].startswith(bos))
            enc = processor(
                text=prompts,
                images=[[_picture(s.image)] for s in batch],
                return_tensors="pt",
                padding=True,
                add_special_tokens=add_special,
            )
            inputs = {
                k: (v.to(device, dtype) if v.is_floating_point() else v.to(device))
                for k, v in enc.items()
                if hasattr(v, "to")
            }
            with torch.no_grad():
                out = model.generate(**inputs, generation_config=config)
            new_tokens = out[:, inputs["input_ids"].shape[1] :]
            answers.extend(t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
    finally:
        tokenizer.padding_side = previous_side
    return answers


def score_samples(samples: Sequence[Any], answers: Sequence[str]) -> list[Score | None]:
    return [score_answer(s.kind, a, s.target) for s, a in zip(samples, answers, strict=True)]


__all__ = ["aggregate", "generate_answers", "pick_subset", "score_samples"]
