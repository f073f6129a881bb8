"""Prompt and target strings against the shared golden vectors (design contract 3).

`test/fixtures/formatting/golden.json` holds the expected strings, each derived by hand from
the reference formulas (its `derivation` says how); the TypeScript preview checks the same
file. Nothing here derives an expected string from our own formatter.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize

from medvlm_sft.data.formatting import (
    FormatOptions,
    adjusted_pixel_size,
    format_record,
    pixel_size_text,
    tumor_lesion_unit,
)
from medvlm_sft.data.records import SourceRecord
from medvlm_sft.data.tasks import detect_kind, lookup_task
from medvlm_sft.models.family import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS, ResizeRule, smart_resize

GOLDEN_PATH = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "formatting" / "golden.json"
GOLDEN = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
CASES = {case["name"]: case for case in GOLDEN["cases"]}


def rec(data: dict, line: int = 1) -> SourceRecord:
    return SourceRecord(data, Path("records.jsonl"), line, line - 1)


def resize_for(family: str) -> ResizeRule:
    processor = GOLDEN["processor"][family]
    if family == "qwen2_5_vl":
        factor = processor["patch_size"] * processor["merge_size"]
        return ResizeRule(family, factor=factor, min_pixels=processor["min_pixels"], max_pixels=processor["max_pixels"])
    return ResizeRule(family, fixed_hw=tuple(processor["size_hw"]))


def format_case(case: dict) -> tuple[str, str]:
    record = rec(case["record"])
    kind = detect_kind(record)
    entry = lookup_task(GOLDEN["tasks"], record, kind, GOLDEN_PATH)
    header = case["header"]
    return format_record(
        kind,
        record,
        entry,
        spacing_hw=tuple(np.float32(v) for v in header["pixdim_hw"]),  # nibabel reads pixdim as float32
        shape_hw=tuple(header["slice_shape_hw"]),
        resize=resize_for(case["model_family"]),
        options=FormatOptions(**case.get("options", {})),
    )


def test_golden_file_covers_every_formatter_and_rule():
    kinds = {(c["kind"], c["model_family"]) for c in GOLDEN["cases"]}
    assert {k for k, _ in kinds} == {"detection", "angle_distance", "tumor_lesion"}
    assert {f for _, f in kinds} == {"qwen2_5_vl", "medgemma"}
    names = " ".join(CASES)
    for needed in ("unnamed", "named", "angle", "distance", "list-unit", "string-mm", "string-cm", "ties"):
        assert needed in names
    for needed in ("max-pixels", "min-pixels", "half-even-resize", "float32"):
        assert needed in names
    options = [c["options"] for c in GOLDEN["cases"] if "options" in c]
    assert {o["detection_prompt"] for o in options} == {"reference", "benchmark"}
    assert {o["box_convention"] for o in options} == {"pixel_edge"}
    assert all(c["derivation"].strip() for c in GOLDEN["cases"] + GOLDEN["smart_resize"] + GOLDEN["float_repr"])


@pytest.mark.parametrize("name", list(CASES))
def test_golden_prompt_and_target(name):
    case = CASES[name]
    assert detect_kind(rec(case["record"])) == case["kind"]
    prompt, target = format_case(case)
    assert prompt == case["expected"]["prompt"]
    assert target == case["expected"]["target"]
    shape = tuple(case["header"]["slice_shape_hw"])
    assert list(shape) == case["expected"]["image_size"]
    assert list(resize_for(case["model_family"])(*shape)) == case["expected"]["model_image_size"]


@pytest.mark.parametrize("row", GOLDEN["smart_resize"], ids=lambda r: "x".join(map(str, r["hw"])))
def test_golden_smart_resize(row):
    qwen = GOLDEN["processor"]["qwen2_5_vl"]
    assert list(smart_resize(*row["hw"])) == row["expected"]
    assert list(resize_for("qwen2_5_vl")(*row["hw"])) == row["expected"]
    # transformers' own implementation with the published Qwen2.5-VL limits agrees.
    assert (qwen["min_pixels"], qwen["max_pixels"]) == (QWEN_MIN_PIXELS, QWEN_MAX_PIXELS)
    hf = hf_smart_resize(
        *row["hw"], factor=qwen["factor"], min_pixels=qwen["min_pixels"], max_pixels=qwen["max_pixels"]
    )
    assert list(hf) == row["expected"]


@pytest.mark.parametrize("row", GOLDEN["float_repr"], ids=lambda r: r["text"])
def test_golden_angle_distance_target_is_python_float_repr(row):
    case = CASES["distance-unnamed-float32-qwen-42"]
    data = json.loads(json.dumps(case["record"]))
    data["biometric_profile"]["metric_value"] = row["value"]
    _, target = format_case({**case, "record": data})
    assert target == row["text"]


@pytest.mark.parametrize("row", GOLDEN["tumor_lesion_units"], ids=lambda r: repr(r["unit"]))
def test_golden_tumor_lesion_units(row):
    assert tumor_lesion_unit(row["unit"]) == row["text"]


def test_pixel_size_text_writes_width_first():
    adj = adjusted_pixel_size((0.5, 1.0), (100, 100), (100, 100))
    assert pixel_size_text(adj, "mm") == "The pixel size for this image is 1.000 mm (width) x 0.500 mm (height)."


def test_smart_resize_rejects_extreme_aspect():
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2100)


def test_resize_rule_reads_the_processor_config():
    from transformers import Qwen2VLImageProcessor

    processor = Qwen2VLImageProcessor(size={"shortest_edge": 3136, "longest_edge": 12544})
    rule = ResizeRule.from_image_processor("qwen2_5_vl", processor)
    assert (rule.min_pixels, rule.max_pixels, rule.factor) == (3136, 12544, 28)
    assert rule(512, 512) == (112, 112)  # 504*504 > 12544: beta = 4.57; floor(4.0)*28
