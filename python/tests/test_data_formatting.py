"""Golden prompt/target strings for each MedVision task kind (design contract 3).

Every expected string is written out literally and was derived by hand from the reference
formulas in notes/medvision-reference.md (sections 2-3); the derivation of each number is in
the comment beside it. None of them comes from running our formatter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize as hf_smart_resize

from medvlm_sft.data.formatting import adjusted_pixel_size, format_record, pixel_size_text, tumor_lesion_unit
from medvlm_sft.data.records import SourceRecord
from medvlm_sft.models.family import QWEN_MAX_PIXELS, QWEN_MIN_PIXELS, ResizeRule, smart_resize

QWEN = ResizeRule("qwen2_5_vl")  # published defaults: factor 28, min 3136, max 12845056
MEDGEMMA = ResizeRule("medgemma")  # fixed 896 x 896

CEPH = {
    "image_description": "lateral cephalometric X-ray",
    "landmarks_map": {"P1": "sella", "P2": "nasion", "P3": "porion", "P4": "orbitale"},
    "lines_map": {
        "L-1-2": {"name": "", "element_map_name": "landmarks_map", "element_keys": ["P1", "P2"]},
        "L-3-4": {"name": "", "element_map_name": "landmarks_map", "element_keys": ["P3", "P4"]},
    },
    "angles_map": {"A-L_1_2-L_3_4": {"name": "", "element_map_name": "lines_map", "element_keys": ["L-1-2", "L-3-4"]}},
}
FETA = {
    "image_description": "",
    "landmarks_map": {"P1": "left skull point", "P2": "right skull point"},
    "lines_map": {
        "L-1-2": {
            "name": "brain biparietal diameter",
            "element_map_name": "landmarks_map",
            "element_keys": ["P1", "P2"],
        }
    },
}
KITS = {"image_description": "abdominal CT scan", "labels_map": {"2": "kidney tumor"}}

FORMAT_ONE = "Format requirement:\nThe answer should be a single decimal number without any units or additional text."
FORMAT_TL = (
    "Format requirement:\nThe answer should be two decimal numbers separated by a comma without any units or "
    "additional text. The first is the major axis length, and the second is the minor axis length."
)


def rec(data: dict) -> SourceRecord:
    return SourceRecord(data, Path("records.jsonl"), 1, 0)


def ad_record(metric_type: str, key: str, value, unit: str) -> SourceRecord:
    map_name = "lines_map" if metric_type == "distance" else "angles_map"
    profile = {"metric_type": metric_type, "metric_map_name": map_name, "metric_key": key}
    profile.update({"metric_value": value, "metric_unit": unit, "slice_dim": 0})
    return rec({"dataset_name": "Ceph-Biometrics-400", "taskID": "01", "biometric_profile": profile})


def test_detection_kits_example():
    record = rec(
        {
            "image_size_2d": [512, 512],
            "label": 2,
            "bounding_boxes": {"min_coords": [[210, 301]], "max_coords": [[251, 344]], "dimensions": [[42, 44]]},
        }
    )
    prompt, target = format_record("detection", record, KITS, spacing_hw=(0.78, 0.78), shape_hw=(512, 512), resize=QWEN)
    assert prompt == (
        "Task:\nGiven the input medical image: abdominal CT scan, return the coordinates of the lower-left and "
        "upper-right corner of the bounding box for the kidney tumor.\nFormat requirement:\nReturn the coordinates "
        "as [x1, y1, x2, y2] where (x1, y1) is the lower-left corner and (x2, y2) is the upper-right corner, with "
        "coordinates normalized to [0, 1]."
    )
    # x1 = 301/512 = 0.587890625; y1 = (512-251)/512 = 0.509765625; x2 = 344/512 = 0.671875;
    # y2 = (512-210)/512 = 0.58984375 (max_coords used as-is: the reference's inclusive-index box).
    assert target == "0.588, 0.510, 0.672, 0.590"


def test_detection_rounding_uses_the_exact_binary_value():
    record = rec(
        {
            "image_size_2d": [2000, 2000],
            "label": 2,
            "bounding_boxes": {"min_coords": [[1000, 1]], "max_coords": [[1875, 125]]},
        }
    )
    _, target = format_record("detection", record, KITS, spacing_hw=(1, 1), shape_hw=(2000, 2000), resize=QWEN)
    # x1 = 1/2000: the double is 0.00050000000000000001 (just above the tie) -> 0.001.
    # y1 = 125/2000 = 0.0625 and x2 = 0.0625 are exact ties -> half-to-even 0.062. y2 = 0.5.
    assert target == "0.001, 0.062, 0.062, 0.500"


def test_distance_unnamed_qwen_float32_pixel_size():
    record = ad_record("distance", "L-1-2", 76.4375, "mm")
    prompt, target = format_record(
        "angle_distance", record, CEPH, spacing_hw=(0.39, 0.39), shape_hw=(42, 42), resize=QWEN
    )
    # smart_resize(42): 42/28 = 1.5 rounds half-to-even to 2 -> 56 (56*56 = 3136, not below min_pixels).
    # adj = float32(0.39) / float32(56/42) = 0.389999986 / 1.33333337 = 0.29249999 in float32 -> "0.292"
    # (double arithmetic would give 0.29250000000000004 -> "0.293").
    assert prompt == (
        "Task:\nGiven the input medical image: lateral cephalometric X-ray, estimate the distance between 2 landmark "
        "points in millimeters: (landmark 1) sella, (landmark 2) nasion.\nAdditional information:\nThe pixel size "
        "for this image is 0.292 mm (width) x 0.292 mm (height).\n" + FORMAT_ONE
    )
    assert target == "76.4375"  # str(float): the float16 value, unrounded


def test_distance_named_with_empty_description_integer_value():
    profile = {"metric_type": "distance", "metric_map_name": "lines_map", "metric_key": "L-1-2"}
    profile.update({"metric_value": 80, "metric_unit": " mm", "slice_dim": 2})
    record = rec({"dataset_name": "FeTA24", "taskID": "01", "biometric_profile": profile})
    prompt, target = format_record(
        "angle_distance", record, FETA, spacing_hw=(0.5, 0.5), shape_hw=(256, 256), resize=QWEN
    )
    # 256 -> round(9.14)*28 = 252; adj = 0.5 / (252/256) = 0.5 / 0.984375 = 0.50793... -> "0.508".
    assert prompt == (
        "Task:\nGiven the input medical image: , estimate the distance of brain biparietal diameter in millimeters, "
        "which is the distance between 2 landmark points: (landmark 1) left skull point, (landmark 2) right skull "
        "point.\nAdditional information:\nThe pixel size for this image is 0.508 mm (width) x 0.508 mm (height).\n"
        + FORMAT_ONE
    )
    assert target == "80.0"  # str(float(80))


def test_angle_medgemma_anisotropic():
    record = ad_record("angle", "A-L_1_2-L_3_4", 12.5, "degree")
    prompt, target = format_record(
        "angle_distance", record, CEPH, spacing_hw=(0.1, 0.1), shape_hw=(1935, 2400), resize=MEDGEMMA
    )
    # MedGemma resizes to 896 x 896: adj_h = 0.1 / (896/1935) = 0.21596 -> "0.216";
    # adj_w = 0.1 / (896/2400) = 0.26786 -> "0.268". Width is written first.
    assert prompt == (
        "Task:\nGiven the input medical image: lateral cephalometric X-ray, estimate the angle between 2 lines in "
        "degree: (line 1) the line connecting sella and nasion, (line 2) the line connecting porion and orbitale.\n"
        "Additional information:\nThe pixel size for this image is 0.268 mm (width) x 0.216 mm (height).\n" + FORMAT_ONE
    )
    assert target == "12.5"


def test_tumor_lesion_qwen_512():
    record = rec(
        {
            "dataset_name": "KiTS23",
            "taskID": "01",
            "label": 2,
            "biometric_profile": {
                "metric_type": ["distance"],
                "metric_map_name": ["lines_map"],
                "metric_key_major_axis": ["L-1-2"],
                "metric_value_major_axis": [38.1],
                "metric_key_minor_axis": ["L-3-4"],
                "metric_value_minor_axis": [21.4],
                "metric_unit": ["mm"],
            },
        }
    )
    prompt, target = format_record(
        "tumor_lesion", record, KITS, spacing_hw=(0.78, 0.78), shape_hw=(512, 512), resize=QWEN
    )
    # 512 -> 504; adj = float32(0.78) / (504/512) = 0.77999997 / 0.984375 = 0.79238 -> "0.792".
    # The unit is the list ["mm"], used unchanged, so the text says "mm" (not "millimeters").
    assert prompt == (
        "Task:\nGiven the input medical image: abdominal CT scan, estimate the major and minor axis lengths of the "
        "ellipse enclosing the kidney tumor, in mm.\nAdditional information:\nThe pixel size for this image is "
        "0.792 mm (width) x 0.792 mm (height).\n" + FORMAT_TL
    )
    assert target == "38.100, 21.400"


def test_tumor_lesion_target_rounding_and_medgemma_512():
    profile = {"metric_value_major_axis": [10.0625], "metric_value_minor_axis": [1.0005], "metric_unit": ["mm"]}
    record = rec({"dataset_name": "KiTS23", "taskID": "01", "label": 2, "biometric_profile": profile})
    prompt, target = format_record(
        "tumor_lesion", record, KITS, spacing_hw=(0.78, 0.78), shape_hw=(512, 512), resize=MEDGEMMA
    )
    # 10.0625 is an exact tie -> half-to-even "10.062"; the double nearest 1.0005 is 1.000499999... -> "1.000".
    assert target == "10.062, 1.000"
    # 0.78 / (896/512) = 0.78 / 1.75 = 0.44571 -> "0.446".
    assert "The pixel size for this image is 0.446 mm (width) x 0.446 mm (height).\n" in prompt


@pytest.mark.parametrize(
    ("unit", "text"), [(["mm"], "mm"), (["cm"], "cm"), ("mm", "millimeters"), ("cm", "centimeters"), ("px", "px")]
)
def test_tumor_lesion_units(unit, text):
    assert tumor_lesion_unit(unit) == text


@pytest.mark.parametrize(
    ("value", "text"), [(12, "12.0"), (12.0, "12.0"), (76.4375, "76.4375"), (1e-05, "1e-05"), (1e16, "1e+16")]
)
def test_angle_distance_target_is_python_float_repr(value, text):
    record = ad_record("distance", "L-1-2", value, "mm")
    _, target = format_record("angle_distance", record, CEPH, spacing_hw=(1, 1), shape_hw=(56, 56), resize=QWEN)
    assert target == text


def test_pixel_size_text_writes_width_first():
    adj = adjusted_pixel_size((0.5, 1.0), (100, 100), (100, 100))
    assert pixel_size_text(adj, "mm") == "The pixel size for this image is 1.000 mm (width) x 0.500 mm (height)."


@pytest.mark.parametrize(
    ("hw", "expected"),
    [
        ((512, 512), (504, 504)),  # 18.29 -> 18
        ((70, 98), (56, 112)),  # 70/28 = 2.5 -> 2 (half-to-even); 98/28 = 3.5 -> 4
        ((70, 70), (56, 56)),  # 56*56 = 3136 equals min_pixels, so no upscaling
        ((20, 30), (56, 84)),  # 28*28 < 3136: beta = sqrt(3136/600) = 2.286; ceil(1.63)*28, ceil(2.45)*28
        ((3500, 5000), (2996, 4256)),  # 3500*5012 > max: beta = 1.1672; floor(107.09)*28, floor(152.99)*28
        ((1935, 2400), (1932, 2408)),  # 69.1 -> 69, 85.7 -> 86
    ],
)
def test_smart_resize_edges(hw, expected):
    assert smart_resize(*hw) == expected
    # The same numbers as transformers' own implementation with the published Qwen2.5-VL limits.
    assert hf_smart_resize(*hw, factor=28, min_pixels=QWEN_MIN_PIXELS, max_pixels=QWEN_MAX_PIXELS) == expected


def test_smart_resize_rejects_extreme_aspect():
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 2100)


def test_resize_rule_reads_the_processor_config():
    from transformers import Qwen2VLImageProcessor

    processor = Qwen2VLImageProcessor(size={"shortest_edge": 3136, "longest_edge": 12544})
    rule = ResizeRule.from_image_processor("qwen2_5_vl", processor)
    assert (rule.min_pixels, rule.max_pixels, rule.factor) == (3136, 12544, 28)
    assert rule(512, 512) == (112, 112)  # 504*504 > 12544: beta = 4.57; floor(4.0)*28
