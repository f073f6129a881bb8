"""`medvlm-sft merge`: a LoRA run (reference-style, with full lm_head/embed_tokens copies) folded into its
base, saved as sharded safetensors with the processor, loaded back with the Auto classes like any checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from medvlm_sft.cli import main
from medvlm_sft.data.formatting import user_assistant_messages
from medvlm_sft.models.collator import VisionChatCollator
from medvlm_sft.train.runner import run_train_command
from test_train_runner import workspace, write_config  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def trained(workspace) -> Path:  # noqa: F811
    run_dir = workspace / "runs" / "to-merge"
    config = write_config(
        workspace,
        "to-merge",
        train={"max_steps": 2, "learning_rate": 5e-3, "loss_on": "all"},
        eval={"strategy": "no"},
        lora={"modules_to_save": ["lm_head", "embed_tokens"]},
    )
    assert run_train_command(config, run_dir) == 0
    return run_dir


def batch(folder: Path) -> dict:
    processor = AutoProcessor.from_pretrained(folder)
    collator = VisionChatCollator(processor, "qwen2_5_vl", [])
    image = np.random.default_rng(1).integers(0, 255, size=(64, 64), dtype=np.uint8)
    enc = collator.encode([user_assistant_messages("estimate the distance", "12.5")], [image])
    return {k: v for k, v in enc.items() if k != "labels"}


def logits(model, inputs: dict) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs).logits.float()


def test_merge_a_run_into_float32_shards_equals_the_adapter(trained, workspace, tmp_path):  # noqa: F811
    out = tmp_path / "merged-fp32"
    assert main(["merge", str(trained), "--out", str(out), "--dtype", "float32", "--max-shard-size", "300KB"]) == 0
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 1 and all((out / name).is_file() for name in shards)
    assert not (out / "adapter_config.json").exists()

    merged = AutoModelForImageTextToText.from_pretrained(out)
    assert not any("lora" in name or "modules_to_save" in name for name, _ in merged.state_dict().items())
    inputs = batch(out)  # the processor came along
    from peft import PeftModel

    base = AutoModelForImageTextToText.from_pretrained(workspace / "models" / "tiny-qwen")
    before = logits(base, inputs)
    adapted = PeftModel.from_pretrained(base, str(trained / "checkpoints" / "final"))
    expected = logits(adapted, inputs)
    assert not torch.allclose(before, expected, atol=1e-3)  # training changed the model
    assert torch.allclose(logits(merged, inputs), expected, atol=1e-4)


def test_merge_defaults_to_bf16_in_the_run_folder(trained, capsys):
    assert main(["merge", str(trained)]) == 0
    assert capsys.readouterr().out.strip() == str(trained / "merged")
    config = json.loads((trained / "merged" / "config.json").read_text())
    assert config.get("dtype", config.get("torch_dtype")) == "bfloat16"
    model = AutoModelForImageTextToText.from_pretrained(trained / "merged")
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(AutoProcessor.from_pretrained(trained / "merged")).__name__ == "Qwen2_5_VLProcessor"


def test_merge_a_checkpoint_beside_it(trained):
    checkpoint = trained / "checkpoints" / "checkpoint-2"
    assert main(["merge", str(checkpoint)]) == 0
    assert (trained / "checkpoints" / "checkpoint-2-merged" / "config.json").is_file()


def test_a_qlora_adapter_merge_warns_about_the_full_precision_base(trained, tmp_path, capsys):
    adapter = tmp_path / "qlora-adapter"
    shutil.copytree(trained / "checkpoints" / "final", adapter)
    info = json.loads((adapter / "medvlm_training.json").read_text())
    (adapter / "medvlm_training.json").write_text(json.dumps({**info, "quantization": "4bit"}))
    assert main(["merge", str(adapter), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "warning: this adapter was trained with QLoRA on 4-bit (NF4) weights" in err
    assert "bfloat16 base weights" in err


def test_merge_names_what_is_missing(trained, tmp_path, capsys):
    assert main(["merge", str(tmp_path)]) == 1
    assert "no LoRA adapter in" in capsys.readouterr().err
    adapter = tmp_path / "moved"
    shutil.copytree(trained / "checkpoints" / "final", adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "/gone/tiny"}))
    assert main(["merge", str(adapter)]) == 1
    assert "pass its folder or Hub id with --base" in capsys.readouterr().err
