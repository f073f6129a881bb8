"""Model families: detection from config.json, chat tokens, loss masking and the image resize rule.

The resize rule decides the pixel-size line of the prompt (design contract 3), so it is
computed from the processor's configuration without running the image processor (the
reference ran the whole HF image processor on a float image just to read the grid size).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Family = Literal["qwen2_5_vl", "medgemma", "generic"]

MODEL_TYPE_TO_FAMILY: dict[str, Family] = {"qwen2_5_vl": "qwen2_5_vl", "gemma3": "medgemma"}

# Published Qwen2.5-VL preprocessor defaults; used when a processor config names neither.
QWEN_MIN_PIXELS = 3136
QWEN_MAX_PIXELS = 12845056
MEDGEMMA_SIZE = (896, 896)


@dataclass(frozen=True)
class FamilySpec:
    name: Family
    end_of_turn: str
    # Module-name regex of the vision side, excluded from LoRA when include_vision_tower is false.
    vision_modules: str

    def reference_masked_tokens(self, tokenizer: Any) -> list[str]:
        """Tokens the reference collator masks besides padding (loss_on: all).

        The generic family has no reference; it masks the image placeholder tokens the tokenizer
        names (image, begin/end of image), which carry no text to predict.
        """
        if self.name == "qwen2_5_vl":
            return ["<|image_pad|>", "<|im_start|>", "<|im_end|>"]
        if self.name == "generic":
            names = ("boi_token", "image_token", "eoi_token")
            return [t for t in (getattr(tokenizer, n, None) for n in names) if isinstance(t, str) and t]
        return [tokenizer.boi_token, tokenizer.image_token, tokenizer.eoi_token]


FAMILIES: dict[Family, FamilySpec] = {
    "qwen2_5_vl": FamilySpec("qwen2_5_vl", "<|im_end|>", r".*\bvisual\b.*"),
    "medgemma": FamilySpec("medgemma", "<end_of_turn>", r".*\b(vision_tower|multi_modal_projector)\b.*"),
    # No fixed end-of-turn token: the collator reads it from the chat template's rendering.
    # The vision side under the module names that transformers' image-text-to-text models use.
    "generic": FamilySpec(
        "generic",
        "",
        r".*\b(visual|vision_tower|vision_model|vision_encoder|multi_modal_projector|mm_projector|connector)\b.*",
    ),
}


def read_model_type(model: str) -> str:
    folder = Path(model)
    if folder.is_dir():
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"model folder {folder} has no config.json")
        return str(json.loads(config_path.read_text(encoding="utf-8")).get("model_type", ""))
    from transformers import AutoConfig

    return str(AutoConfig.from_pretrained(model).model_type)


def _log_warning(message: str) -> None:
    logging.getLogger(__name__).warning(message)


def detect_family(model: str, declared: str = "auto", warn: Callable[[str], None] = _log_warning) -> Family:
    """The declared family, or for `auto` the one of the model's `model_type`; an unknown
    model_type is trained through the generic path, with a warning through `warn`."""
    if declared != "auto":
        if declared not in FAMILIES:
            raise ValueError(f"unknown model family {declared!r}")
        return declared  # type: ignore[return-value]
    model_type = read_model_type(model)
    family = MODEL_TYPE_TO_FAMILY.get(model_type)
    if family is None:
        warn(
            f"model_type {model_type!r} of {model} is none of the tuned families "
            f"({', '.join(sorted(MODEL_TYPE_TO_FAMILY))}); training it as `generic` (its processor's chat "
            "template and image size); set model.family to silence this"
        )
        return "generic"
    return family


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = QWEN_MIN_PIXELS, max_pixels: int = QWEN_MAX_PIXELS
) -> tuple[int, int]:
    """Qwen2-VL's smart_resize: multiples of `factor`, pixels within [min, max], aspect kept.

    `round` is Python's half-to-even (70/28 = 2.5 -> 2), as in the reference.
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(
            f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}"
        )
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _size_field(size: Any, name: str) -> Any:
    if size is None:
        return None
    if isinstance(size, dict):
        return size.get(name)
    return getattr(size, name, None)


@dataclass(frozen=True)
class ResizeRule:
    """The shape the model's processor gives a (H, W) slice.

    `fixed_hw` None means: MedGemma's 896x896, and for the generic family the slice's own size
    (its image processor has no fixed height and width, e.g. a shortest-edge or tiling resize).
    """

    family: Family
    factor: int = 28
    min_pixels: int = QWEN_MIN_PIXELS
    max_pixels: int = QWEN_MAX_PIXELS
    fixed_hw: tuple[int, int] | None = None

    def __call__(self, height: int, width: int) -> tuple[int, int]:
        if self.family == "qwen2_5_vl":
            return smart_resize(height, width, self.factor, self.min_pixels, self.max_pixels)
        if self.fixed_hw is not None:
            return self.fixed_hw
        return MEDGEMMA_SIZE if self.family == "medgemma" else (height, width)

    @classmethod
    def from_image_processor(cls, family: Family, image_processor: Any) -> ResizeRule:
        size = getattr(image_processor, "size", None)
        if family == "qwen2_5_vl":
            patch = int(getattr(image_processor, "patch_size", None) or 14)
            merge = int(getattr(image_processor, "merge_size", None) or 2)
            min_pixels = (
                _size_field(size, "shortest_edge") or getattr(image_processor, "min_pixels", None) or QWEN_MIN_PIXELS
            )
            max_pixels = (
                _size_field(size, "longest_edge") or getattr(image_processor, "max_pixels", None) or QWEN_MAX_PIXELS
            )
            return cls(family, factor=patch * merge, min_pixels=int(min_pixels), max_pixels=int(max_pixels))
        height, width = _size_field(size, "height"), _size_field(size, "width")
        fixed = (int(height), int(width)) if height and width else None
        return cls(family, fixed_hw=fixed)


def vision_exclude_regex(family: Family) -> str:
    return FAMILIES[family].vision_modules


def matches_vision(family: Family, module_name: str) -> bool:
    return re.fullmatch(FAMILIES[family].vision_modules, module_name) is not None
