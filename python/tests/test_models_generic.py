"""The generic family: any image-text-to-text model whose processor has a chat template.

Exercised on the real tiny Qwen2.5-VL model forced to `family: generic`, so the loss mask must be
found from the chat template alone (no Qwen-specific end-of-turn token) and still cover exactly
the answer and its end-of-turn token.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import yaml
from transformers import AutoProcessor

from medvlm_sft.data.formatting import user_assistant_messages
from medvlm_sft.data.resize import resize_rule
from medvlm_sft.models.collator import IGNORE_INDEX, VisionChatCollator
from medvlm_sft.models.family import ResizeRule, detect_family
from medvlm_sft.models.tiny import make_tiny_model
from medvlm_sft.train.runner import run_train_command
from test_train_runner import events_of, phases, workspace, write_config  # noqa: F401 - fixture

TARGETS = ["0.588, 0.510, 0.672, 0.590", "76.4375", "The lesion is in the left kidney."]


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("qwen"), family="qwen2_5_vl", seed=0)


def image(h: int = 64, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(h, w), dtype=np.uint8)


def trained_text(processor, labels) -> str:
    return processor.tokenizer.decode(labels[labels != IGNORE_INDEX])


def test_generic_completion_mask_is_the_answer_and_end_of_turn(qwen_folder):
    processor = AutoProcessor.from_pretrained(qwen_folder)
    collator = VisionChatCollator(processor, "generic", [], loss_on="completion")
    conversations = [user_assistant_messages(f"Task:\nquestion {i}", t) for i, t in enumerate(TARGETS)]
    batch = collator.encode(conversations, [image(64, 64), image(40, 90), image(100, 30)])
    for i, target in enumerate(TARGETS):
        # The template writes "<|im_end|>\n" after the answer: the turn's end is trained, the newline is not.
        assert trained_text(processor, batch["labels"][i]) == target + "<|im_end|>"
    pad = batch["attention_mask"] == 0
    assert pad.any() and (batch["labels"][pad] == IGNORE_INDEX).all()
    # Same mask as the tuned Qwen family computes with its known end-of-turn token.
    tuned = VisionChatCollator(processor, "qwen2_5_vl", [], loss_on="completion")
    expected = tuned.encode(conversations, [image(64, 64), image(40, 90), image(100, 30)])
    assert (expected["labels"] == batch["labels"]).all()


def test_generic_with_a_system_turn_and_the_all_mode(qwen_folder):
    processor = AutoProcessor.from_pretrained(qwen_folder)
    conversation = [
        {"role": "system", "content": [{"type": "text", "text": "You are a radiologist."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A kidney."}]},
    ]
    batch = VisionChatCollator(processor, "generic", []).encode([conversation], [image()])
    assert trained_text(processor, batch["labels"][0]) == "A kidney.<|im_end|>"
    # `all`: everything but padding and the image placeholders the tokenizer names.
    everything = VisionChatCollator(processor, "generic", [], loss_on="all").encode([conversation], [image()])
    text = trained_text(processor, everything["labels"][0])
    assert "<|image_pad|>" not in text
    assert text.startswith("<|im_start|>system\nYou are a radiologist.") and text.endswith("A kidney.<|im_end|>\n")


def test_a_processor_without_chat_template_is_refused(qwen_folder):
    processor = AutoProcessor.from_pretrained(qwen_folder)
    processor.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        VisionChatCollator(processor, "generic", [])


def test_generic_resize_uses_a_fixed_size_else_the_raw_size(qwen_folder, tmp_path):
    gemma = make_tiny_model(tmp_path / "gemma", family="medgemma", seed=0)
    fixed = ResizeRule.from_image_processor("generic", AutoProcessor.from_pretrained(gemma).image_processor)
    assert fixed(64, 90) == (56, 56)
    assert resize_rule("generic", gemma)(64, 90) == (56, 56)  # the same rule read from the JSON config
    raw = ResizeRule.from_image_processor("generic", AutoProcessor.from_pretrained(qwen_folder).image_processor)
    assert raw(64, 90) == (64, 90)
    assert resize_rule("generic")(33, 47) == (33, 47)
    assert ResizeRule("medgemma")(64, 90) == (896, 896)  # MedGemma's published size is unchanged


def test_auto_maps_an_unknown_model_type_to_generic_with_a_warning(tmp_path, caplog):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava_next"}))
    with caplog.at_level(logging.WARNING):
        assert detect_family(str(tmp_path)) == "generic"
    assert "'llava_next'" in caplog.text and "generic" in caplog.text
    seen: list[str] = []
    assert detect_family(str(tmp_path), warn=seen.append) == "generic" and len(seen) == 1
    assert detect_family(str(tmp_path), "qwen2_5_vl", warn=seen.append) == "qwen2_5_vl" and len(seen) == 1


def test_train_the_tiny_qwen_as_generic(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "generic"
    config = write_config(
        workspace, "generic", train={"max_steps": 2}, eval={"strategy": "no"}, lora={"include_vision_tower": False}
    )
    settings = yaml.safe_load(config.read_text())
    settings["model"]["family"] = "generic"
    config.write_text(yaml.safe_dump(settings))
    assert run_train_command(config, run_dir) == 0
    events = events_of(run_dir)
    assert events[-1]["status"] == "finished"
    assert phases(events) == ["preparing_data", "loading_model", "training", "saving"]
    info = json.loads((run_dir / "checkpoints" / "final" / "medvlm_training.json").read_text())
    assert info["family"] == "generic"
    from safetensors import safe_open

    with safe_open(run_dir / "checkpoints" / "final" / "adapter_model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and not [k for k in keys if ".visual." in k]
