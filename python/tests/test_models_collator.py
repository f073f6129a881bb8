"""Loss masks on the real tiny processors: what the model is trained to say, token by token."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoProcessor

from medvlm_sft.data.formatting import user_assistant_messages
from medvlm_sft.models.collator import IGNORE_INDEX, VisionChatCollator
from medvlm_sft.models.tiny import make_tiny_model

END_OF_TURN = {"qwen2_5_vl": "<|im_end|>", "medgemma": "<end_of_turn>"}
TARGETS = ["0.588, 0.510, 0.672, 0.590", "76.4375", "38.100, 21.400", "The lesion is in the left kidney."]


@pytest.fixture(scope="module", params=["qwen2_5_vl", "medgemma"])
def processor(request, tmp_path_factory):
    folder = make_tiny_model(tmp_path_factory.mktemp(request.param), family=request.param, seed=0)
    return request.param, AutoProcessor.from_pretrained(folder)


def image(h: int = 64, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, size=(h, w), dtype=np.uint8)


def trained_text(processor, labels) -> str:
    return processor.tokenizer.decode(labels[labels != IGNORE_INDEX])


def test_completion_loss_covers_the_answer_and_end_of_turn(processor):
    family, proc = processor
    collator = VisionChatCollator(proc, family, [], loss_on="completion")
    conversations = [user_assistant_messages(f"Task:\nquestion {i}", t) for i, t in enumerate(TARGETS)]
    # Different image sizes make different sequence lengths, so the batch is padded.
    batch = collator.encode(conversations, [image(64, 64), image(40, 90), image(64, 64), image(100, 30)])
    for i, target in enumerate(TARGETS):
        assert trained_text(proc, batch["labels"][i]) == target + END_OF_TURN[family]
    pad = batch["attention_mask"] == 0
    assert pad.any() and (batch["labels"][pad] == IGNORE_INDEX).all()


def test_completion_loss_with_a_system_turn_and_a_grey_or_rgb_image(processor):
    family, proc = processor
    collator = VisionChatCollator(proc, family, [], loss_on="completion")
    conversation = [
        {"role": "system", "content": [{"type": "text", "text": "You are a radiologist."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A kidney."}]},
    ]
    rgb = np.stack([image()] * 3, axis=-1)
    batch = collator.encode([conversation, conversation], [image(), rgb])
    for row in batch["labels"]:
        assert trained_text(proc, row) == "A kidney." + END_OF_TURN[family]


# What the reference trains on (loss_on: all), written out from the chat template: everything but
# padding and image tokens, and for Qwen also <|im_start|> and <|im_end|> (so it never learns to
# stop); for Gemma everything but <start_of_image>, the image tokens and <end_of_image>, whose
# "\n\n" wrappers stay.
REFERENCE_TEXT = {
    "qwen2_5_vl": (
        "system\nYou are a helpful assistant.\nuser\n<|vision_start|><|vision_end|>estimate the distance\n"
        "assistant\n12.5\n"
    ),
    "medgemma": (
        "<bos><start_of_turn>user\n\n\n\n\nestimate the distance<end_of_turn>\n<start_of_turn>model\n12.5"
        "<end_of_turn>\n"
    ),
}


def test_all_reproduces_the_reference_mask(processor):
    family, proc = processor
    collator = VisionChatCollator(proc, family, [], loss_on="all")
    batch = collator.encode([user_assistant_messages("estimate the distance", "12.5")], [image()])
    assert trained_text(proc, batch["labels"][0]) == REFERENCE_TEXT[family]


def test_gemma_bos_appears_once(processor):
    family, proc = processor
    batch = VisionChatCollator(proc, family, []).encode([user_assistant_messages("q", "1.0")], [image()])
    ids = batch["input_ids"][0].tolist()
    bos = proc.tokenizer.bos_token_id
    assert ids.count(bos) == (1 if family == "medgemma" else 0)


def test_collator_reads_samples_by_index(processor):
    family, proc = processor

    class Sample:  # the attributes the collator reads from data.dataset.Sample
        def __init__(self, target, where):
            self.messages = user_assistant_messages("q", target)
            self.image = image()
            self.where = where

    samples = [Sample("1.5", "r.jsonl:1"), Sample("2.5", "r.jsonl:2")]
    batch = VisionChatCollator(proc, family, samples)([{"idx": 1}])
    assert trained_text(proc, batch["labels"][0]) == "2.5" + END_OF_TURN[family]
    with pytest.raises(ValueError, match=r"\(batch of records: r\.jsonl:2, r\.jsonl:1\)"):
        VisionChatCollator(proc, family, samples, max_length=8)([{"idx": 1}, {"idx": 0}])


def test_max_length_that_cuts_image_tokens_is_an_error(processor):
    family, proc = processor
    collator = VisionChatCollator(proc, family, [], max_length=8)
    with pytest.raises(ValueError, match=r"raise model\.max_length"):
        collator.encode([user_assistant_messages("q " * 30, "1.0")], [image()])
    long_enough = VisionChatCollator(proc, family, [], max_length=40)
    batch = long_enough.encode([user_assistant_messages("q " * 30, "1.0")], [image()])
    assert all(v.shape[1] == 40 for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels"))
