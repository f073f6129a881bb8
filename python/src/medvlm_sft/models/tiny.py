"""Tiny random Qwen2.5-VL and Gemma 3 (MedGemma) models, built offline, for tests and demos.

They have the real architectures, processors, chat templates and special tokens, so the
whole pipeline (formatting, collation, loss masking, LoRA, checkpoints, merging) runs on
them exactly as on the published models, in seconds on a CPU. The tokenizers are BPE models
trained in-process on a built-in corpus, so nothing is downloaded. Same seed, same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medvlm_sft.data import formatting
from medvlm_sft.data.demo import LANDMARK_NAMES, TASKS

# Chat templates as shipped with Qwen/Qwen2.5-VL-*-Instruct and google/gemma-3-*-it / MedGemma.
QWEN2_5_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n    {%- endif -%}\n"
    '    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n    {%- endif -%}\n    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\n'}}\n{%- endif -%}\n"
)

QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
GEMMA_SPECIALS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<mask>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]
# Qwen's own pre-tokenizer split (digits one by one, newlines apart from words).
QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
VOCAB_SIZE = 700


def _corpus() -> list[str]:
    """Text the tiny tokenizers learn from: the prompts, answers and chat words the trainer uses."""
    words = [
        formatting.FORMAT_ONE_NUMBER,
        formatting.FORMAT_TWO_AXES,
        formatting.FORMAT_BOX,
        "Task:\nGiven the input medical image: a synthetic CT-like axial slice, return the coordinates of the "
        "lower-left and upper-right corner of the bounding box for the box organ.\nFormat requirement:\n",
        "estimate the major and minor axis lengths of the ellipse enclosing the ellipse tumor, in mm.\n",
        "estimate the distance between 2 landmark points in millimeters: (landmark 1) a, (landmark 2) b.\n",
        "estimate the angle of x in degree, which is the angle between 2 lines: (line 1) the line connecting",
        "Additional information:\nThe pixel size for this image is 0.792 mm (width) x 0.792 mm (height).\n",
        "You are a helpful assistant. system user assistant model kidney tumor liver lesion brain centimeters",
        "What is shown in this image? Describe the findings. Yes No",
        "0.123, 0.456, 0.789, 0.012 12.5 76.4375 [x1, y1, x2, y2] (x1, y1) 0123456789 .,:;!?()[]{}<>-_/'\"=+*%#",
    ]
    words += [json.dumps(TASKS), " ".join(LANDMARK_NAMES.values())]
    return [text for text in words for _ in range(4)]


def _train_bpe(pre_tokenizer: Any, normalizer: Any, initial_alphabet: list[str]) -> tuple[dict[str, int], list]:
    from tokenizers import Tokenizer, models, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, initial_alphabet=initial_alphabet, special_tokens=[], show_progress=False
    )
    tok.train_from_iterator(_corpus(), trainer)
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [tuple(m) for m in model["merges"]]


def _qwen_tokenizer():
    from tokenizers import AddedToken, Regex, normalizers, pre_tokenizers
    from transformers import Qwen2Tokenizer

    pre = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    vocab, merges = _train_bpe(pre, normalizers.NFC(), pre_tokenizers.ByteLevel.alphabet())
    for token in QWEN_SPECIALS:  # after the learned tokens, as in Qwen's vocabulary
        vocab[token] = len(vocab)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, unk_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.add_tokens([AddedToken(t, special=True) for t in QWEN_SPECIALS], special_tokens=True)
    return tokenizer, {t: vocab[t] for t in QWEN_SPECIALS}


def _gemma_tokenizer():
    from tokenizers import AddedToken, Regex, normalizers, pre_tokenizers
    from transformers import GemmaTokenizer

    # Training-time split only: merges never cross words, digits or newlines, like Gemma's vocabulary.
    pre = pre_tokenizers.Split(Regex(r"▁?[^\s▁\d\p{P}]+|\d|\p{P}|\s|▁"), behavior="isolated")
    learned, merges = _train_bpe(pre, normalizers.Replace(" ", "▁"), [])
    vocab: dict[str, int] = {}
    for token in GEMMA_SPECIALS:
        vocab[token] = len(vocab)
    for byte in range(256):  # byte fallback for characters the corpus never showed
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for token in sorted(learned, key=learned.__getitem__):
        vocab.setdefault(token, len(vocab))
    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=merges,
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    tokenizer.add_tokens([AddedToken(t, special=True) for t in GEMMA_SPECIALS[5:]], special_tokens=True)
    return tokenizer, {t: vocab[t] for t in GEMMA_SPECIALS}


# Dimensions of the tiny Qwen2.5-VL; the GPU benchmark swaps in Qwen2.5-VL-3B's.
TINY_QWEN_TEXT: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1000000.0},
}
TINY_QWEN_VISION: dict[str, Any] = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,
    "fullatt_block_indexes": [1],
    "window_size": 112,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}


def qwen_processor(min_pixels: int = 56 * 56, max_pixels: int = 112 * 112):
    """The tiny tokenizer in a Qwen2.5-VL processor; returns it and the special token ids.

    The default 56x56 to 112x112 pixels make a 64x64 slice 56x56, i.e. 4 image tokens.
    """
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    tokenizer, ids = _qwen_tokenizer()
    # An explicit size dict: the min_pixels/max_pixels keywords write into the class-level default
    # dict in transformers 5, changing every later default-built Qwen2VLImageProcessor in the process.
    image_processor = Qwen2VLImageProcessor(size={"shortest_edge": min_pixels, "longest_edge": max_pixels})
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=QWEN2_5_VL_CHAT_TEMPLATE,
    )
    return processor, ids


def qwen_config(
    ids: dict[str, int],
    vocab_size: int,
    text: dict[str, Any] = TINY_QWEN_TEXT,
    vision: dict[str, Any] = TINY_QWEN_VISION,
    **extra: Any,
):
    from transformers import Qwen2_5_VLConfig

    return Qwen2_5_VLConfig(
        text_config={
            "vocab_size": vocab_size,
            **text,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        **extra,
    )


def _build_qwen(seed: int):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    processor, ids = qwen_processor()
    config = qwen_config(ids, len(processor.tokenizer))
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config), processor


def _build_gemma(seed: int):
    import torch
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3ImageProcessor, Gemma3Processor

    tokenizer, ids = _gemma_tokenizer()
    image_processor = Gemma3ImageProcessor(
        size={"height": 56, "width": 56}, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5]
    )
    processor = Gemma3Processor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=GEMMA3_CHAT_TEMPLATE, image_seq_length=4
    )
    config = Gemma3Config(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 16,
            "query_pre_attn_scalar": 16,
            "sliding_window": 128,
            "max_position_embeddings": 4096,
            "pad_token_id": ids["<pad>"],
            "eos_token_id": ids["<eos>"],
            "bos_token_id": ids["<bos>"],
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 56,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    # Instruction-tuned Gemma stops at <end_of_turn> as well as <eos>.
    model.generation_config.eos_token_id = [ids["<eos>"], ids["<end_of_turn>"]]
    return model, processor


def make_tiny_model(out: Path, family: str = "qwen2_5_vl", seed: int = 0) -> Path:
    builders = {"qwen2_5_vl": _build_qwen, "medgemma": _build_gemma}
    if family not in builders:
        raise ValueError(f"unknown family {family!r}; use one of {', '.join(builders)}")
    model, processor = builders[family](seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    # save_pretrained on the processor writes the tokenizer files too; saving the tokenizer
    # explicitly keeps the folder loadable by AutoTokenizer alone.
    processor.tokenizer.save_pretrained(out)
    return out
