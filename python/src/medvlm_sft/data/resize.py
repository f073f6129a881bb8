"""The model's image resize rule from its processor config file, without importing transformers.

`format` and `prepare` must agree with the trainer, which reads the same numbers from the
loaded image processor (`ResizeRule.from_image_processor`); reading the JSON gives the same
rule in milliseconds. As in transformers, `min_pixels`/`max_pixels` keys override `size`.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from medvlm_sft.models.family import Family, ResizeRule

CONFIG_FILES = ("preprocessor_config.json", "processor_config.json")


def image_processor_config(model_dir: Path) -> dict[str, Any] | None:
    """The image processor's settings saved with a model, or None when the folder has none."""
    for name in CONFIG_FILES:
        path = Path(model_dir) / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue
        # transformers 5 saves one processor_config.json with the image processor nested in it.
        nested = data.get("image_processor")
        return nested if isinstance(nested, dict) else data
    return None


def resize_rule(family: Family, model_dir: Path | None = None) -> ResizeRule:
    """The rule for a family: from `model_dir`'s processor config, else the published defaults
    (Qwen2.5-VL-Instruct: min_pixels 3136, max_pixels 12845056, patch 14, merge 2; MedGemma: 896 x 896)."""
    config = image_processor_config(model_dir) if model_dir is not None else None
    if not config:
        return ResizeRule(family)
    size = dict(config["size"]) if isinstance(config.get("size"), dict) else {}
    if config.get("min_pixels") is not None:
        size["shortest_edge"] = config["min_pixels"]
    if config.get("max_pixels") is not None:
        size["longest_edge"] = config["max_pixels"]
    processor = SimpleNamespace(size=size, patch_size=config.get("patch_size"), merge_size=config.get("merge_size"))
    return ResizeRule.from_image_processor(family, processor)


def hub_model_dir(repo_id: str) -> Path | None:
    """A local folder holding the processor config of a Hub model (downloaded or cached), or None."""
    from huggingface_hub import hf_hub_download

    for name in CONFIG_FILES:
        try:
            return Path(hf_hub_download(repo_id, name)).parent
        except Exception:  # missing file, offline, gated: try the next name
            continue
    return None
