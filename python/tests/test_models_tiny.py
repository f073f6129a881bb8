"""Tiny offline models: build, save, reload with the Auto classes, run, and stay deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from medvlm_sft.data.formatting import user_assistant_messages
from medvlm_sft.models.collator import VisionChatCollator
from medvlm_sft.models.family import ResizeRule, detect_family, matches_vision
from medvlm_sft.models.tiny import make_tiny_model

EXPECTED = {
    "qwen2_5_vl": {
        "model": "Qwen2_5_VLForConditionalGeneration",
        "processor": "Qwen2_5_VLProcessor",
        "specials": [
            "<|im_start|>",
            "<|im_end|>",
            "<|vision_start|>",
            "<|vision_end|>",
            "<|image_pad|>",
            "<|endoftext|>",
        ],
        "vision_prefix": "model.visual.",
    },
    "medgemma": {
        "model": "Gemma3ForConditionalGeneration",
        "processor": "Gemma3Processor",
        "specials": ["<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"],
        "vision_prefix": "model.vision_tower.",
    },
}


@pytest.fixture(scope="module", params=["qwen2_5_vl", "medgemma"])
def tiny(request, tmp_path_factory):
    folder = make_tiny_model(tmp_path_factory.mktemp(request.param), family=request.param, seed=0)
    return request.param, folder


def test_reloads_with_auto_classes(tiny):
    family, folder = tiny
    model = AutoModelForImageTextToText.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == EXPECTED[family]["model"]
    assert type(processor).__name__ == EXPECTED[family]["processor"]
    assert processor.chat_template and tokenizer.chat_template
    for token in EXPECTED[family]["specials"]:
        assert tokenizer.convert_tokens_to_ids(token) not in (None, tokenizer.unk_token_id), token
        assert tokenizer.tokenize(token) == [token]
    assert detect_family(str(folder)) == family
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


def test_resize_rule_of_the_tiny_processors(tiny):
    family, folder = tiny
    rule = ResizeRule.from_image_processor(family, AutoProcessor.from_pretrained(folder).image_processor)
    # Qwen: 64 -> 56 (4 image tokens after the 2x2 merge); Gemma: its fixed 56 x 56 processor size.
    assert rule(64, 64) == (56, 56)
    # Qwen 64 x 8: 56 x 0 is under min_pixels, so beta = sqrt(3136/512) = 2.475 and both sides are
    # scaled up: ceil(5.66) * 28 = 168, ceil(0.71) * 28 = 28.
    assert rule(64, 8) == ((168, 28) if family == "qwen2_5_vl" else (56, 56))


def test_forward_and_backward_give_a_finite_loss(tiny):
    family, folder = tiny
    model = AutoModelForImageTextToText.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    collator = VisionChatCollator(processor, family, [])
    batch = collator.encode(
        [user_assistant_messages("estimate the distance", "12.5")], [np.full((64, 64), 128, dtype=np.uint8)]
    )
    loss = model(**batch).loss
    loss.backward()
    assert math.isfinite(loss.item())


def test_same_seed_same_files(tiny, tmp_path):
    family, folder = tiny
    again = make_tiny_model(tmp_path / "again", family=family, seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "processor_config.json", "chat_template.jinja"):
        assert (again / name).read_bytes() == (folder / name).read_bytes(), name


def test_vision_regex_selects_only_the_vision_side(tiny):
    family, folder = tiny
    model = AutoModelForImageTextToText.from_pretrained(folder)
    linear = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    vision = [n for n in linear if matches_vision(family, n)]
    assert vision and all(n.startswith(EXPECTED[family]["vision_prefix"]) or "projector" in n for n in vision)
    assert any(n.startswith("model.language_model.") for n in linear)
    assert not any(matches_vision(family, n) for n in linear if n.startswith("model.language_model."))
