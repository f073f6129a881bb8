"""Each cross-field rule fires on the case it exists for, points at the field to change, and stays quiet otherwise."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from medvlm_sft.config.rules import RULES
from medvlm_sft.config.validate import validate_text

BASE: dict[str, Any] = {
    "model": {"base": "org/model"},
    "data": {"sources": [{"records": "r.jsonl", "val_limit": 5}]},
}


def merged(overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    for dotted, value in overrides.items():
        *parents, last = dotted.split(".")
        node = out
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


def problems_for(overrides: dict[str, Any]):
    return validate_text(yaml.safe_dump(merged(overrides), sort_keys=False))


# rule -> (overrides that trigger it, path it points at, severity, overrides that are fine)
CASES: dict[str, tuple[dict[str, Any], str, str, dict[str, Any]]] = {
    "qlora-needs-lora": (
        {"model.quantization": "4bit", "lora.enabled": False},
        "lora.enabled",
        "error",
        {"model.quantization": "4bit", "lora.enabled": True},
    ),
    "qlora-needs-bf16": (
        {"model.quantization": "4bit", "train.precision": "fp16"},
        "train.precision",
        "error",
        {"model.quantization": "4bit", "train.precision": "bf16"},
    ),
    "eval-without-validation-data": (
        {"data.sources.0.val_limit": 0},
        "data.sources[0].val_limit",
        "error",
        {"data.sources.0.val_limit": 0, "eval.strategy": "no"},
    ),
    "eval-never-runs": (
        {"train.max_steps": 10, "eval.steps": 50},
        "eval.steps",
        "warning",
        {"train.max_steps": 100, "eval.steps": 50},
    ),
    "no-training-data": ({"data.train_limit": 0}, "data.train_limit", "error", {"data.train_limit": 10}),
    "push-needs-repo": (
        {"hub.push_adapter": True},
        "hub.repo_id",
        "error",
        {"hub.push_adapter": True, "hub.repo_id": "me/adapter"},
    ),
    "push-merged-needs-merge": (
        {"hub.push_merged": True, "hub.repo_id": "me/model"},
        "hub.merge_after_training",
        "error",
        {"hub.push_merged": True, "hub.repo_id": "me/model", "hub.merge_after_training": True},
    ),
    "merge-needs-lora": (
        {"hub.merge_after_training": True, "lora.enabled": False},
        "hub.merge_after_training",
        "warning",
        {"hub.merge_after_training": True},
    ),
    "medgemma-flash-attention": (
        {"model.family": "medgemma", "model.attn_implementation": "flash_attention_2"},
        "model.attn_implementation",
        "warning",
        {"model.family": "qwen2_5_vl", "model.attn_implementation": "flash_attention_2"},
    ),
    "fused-adamw-needs-cuda": (
        {"train.optimizer": "adamw_torch_fused", "train.use_cpu": True},
        "train.optimizer",
        "error",
        {"train.optimizer": "adamw_torch_fused"},
    ),
    "bnb-optimizer-needs-cuda": (
        {"train.optimizer": "paged_adamw_8bit", "train.use_cpu": True},
        "train.optimizer",
        "error",
        {"train.optimizer": "paged_adamw_8bit"},
    ),
    "multi-process-on-cpu": (
        {"launch.num_processes": 2, "train.use_cpu": True},
        "launch.num_processes",
        "warning",
        {"launch.num_processes": 2},
    ),
    "gpus-count": (
        {"launch.num_processes": 2, "launch.gpus": [0]},
        "launch.gpus",
        "error",
        {"launch.num_processes": 2, "launch.gpus": [0, 3]},
    ),
    "image-window-missing": (
        {"data.image": {"normalization": "window"}},
        "data.image.window",
        "error",
        {"data.image": {"normalization": "window", "window": "ct_soft_tissue"}},
    ),
    "image-window-ignored": (
        {"data.image": {"window": "ct_bone"}},
        "data.image.window",
        "warning",
        {"data.image": {"normalization": "window", "window": "ct_bone"}},
    ),
    "flash-attention-needs-cuda": (
        {"model.attn_implementation": "flash_attention_2", "train.use_cpu": True},
        "model.attn_implementation",
        "error",
        {"model.attn_implementation": "sdpa", "train.use_cpu": True},
    ),
    "qlora-merge-uses-full-weights": (
        {"model.quantization": "4bit", "hub.merge_after_training": True},
        "hub.merge_after_training",
        "warning",
        {"model.quantization": "4bit", "hub.merge_after_training": False},
    ),
}


def test_every_rule_is_tested() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fires_and_points_at_the_field(name: str) -> None:
    bad, path, severity, _ = CASES[name]
    found = [p for p in problems_for(bad) if p.code == name]
    assert len(found) == 1, [p.format("x") for p in problems_for(bad)]
    assert (found[0].path, found[0].severity) == (path, severity)
    assert "`" in found[0].message  # names the setting to change


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_stays_quiet_when_fine(name: str) -> None:
    fine = CASES[name][3]
    assert [p for p in problems_for(fine) if p.code == name] == []


def test_base_config_has_no_problems() -> None:
    assert problems_for({}) == []


def test_qlora_on_cpu_points_at_use_cpu() -> None:
    found = [
        p for p in problems_for({"model.quantization": "4bit", "train.use_cpu": True}) if p.code == "qlora-needs-bf16"
    ]
    assert [p.path for p in found] == ["train.use_cpu"]


def test_eval_without_validation_data_via_total_limit() -> None:
    found = [p for p in problems_for({"data.val_limit": 0}) if p.code == "eval-without-validation-data"]
    assert [p.path for p in found] == ["data.val_limit"]


def test_medgemma_detected_from_the_base_name() -> None:
    overrides = {"model.base": "google/medgemma-4b-it", "model.attn_implementation": "flash_attention_2"}
    assert any(p.code == "medgemma-flash-attention" for p in problems_for(overrides))


def test_duplicate_gpus_are_an_error() -> None:
    found = [p for p in problems_for({"launch.gpus": [1, 1]}) if p.code == "gpus-count"]
    assert len(found) == 1 and "twice" in found[0].message


def test_rule_points_at_a_written_field_when_the_target_is_a_default() -> None:
    text = "model: {base: org/model}\ndata: {sources: [{records: r.jsonl, val_limit: 5}]}\nhub:\n  push_merged: true\n"
    found = {p.code: p for p in validate_text(text)}
    assert found["push-needs-repo"].path == "hub.repo_id"
    assert (found["push-needs-repo"].line, found["push-needs-repo"].column) == (4, 16)


def test_pushing_every_checkpoint_needs_a_repository() -> None:
    found = [p for p in problems_for({"hub.push_adapter_every_save": True}) if p.code == "push-needs-repo"]
    assert [p.path for p in found] == ["hub.repo_id"] and "push_adapter_every_save" in found[0].message
    assert not [
        p
        for p in problems_for({"hub.push_adapter_every_save": True, "hub.repo_id": "me/adapter"})
        if p.code == "push-needs-repo"
    ]
