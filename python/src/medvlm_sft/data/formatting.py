"""Prompt and target text for MedVision records, byte-identical to the reference SFT code.

Design contract 3: this module is the source of truth; the TypeScript preview mirrors it and
both check the golden vectors. The strings and the arithmetic follow `medvision-reference.md`
sections 2-3 literally, including their quirks (the detection box is not widened by one
pixel, A/D targets are unrounded `str(float)`, T/L's pixel-size line says "mm").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medvlm_sft.data.records import SourceRecord, columnar
from medvlm_sft.data.tasks import label_name

# Part of the prepared-dataset cache key: bump it whenever a prompt or target string changes,
# so no run trains on text cached by an older trainer.
PROMPT_VERSION = 1

FORMAT_ONE_NUMBER = "The answer should be a single decimal number without any units or additional text."
FORMAT_TWO_AXES = (
    "The answer should be two decimal numbers separated by a comma without any units or additional text. "
    "The first is the major axis length, and the second is the minor axis length."
)
FORMAT_BOX = (
    "Return the coordinates as [x1, y1, x2, y2] where (x1, y1) is the lower-left corner and (x2, y2) is the "
    "upper-right corner, with coordinates normalized to [0, 1]."
)
# The MedVision benchmark's detection format requirement (`FORMAT_PROMPT_BOX_COORDINATES` in the
# benchmark's medvision_utils.py), which the reference's SFT prompt does not use.
FORMAT_BOX_BENCHMARK = (
    "The answer should be four decimal numbers separated by commas without any units or additional text. "
    "The first two numbers are the coordinates of the lower-left corner and the last two numbers are the "
    "coordinates of the upper-right corner of the bounding box. "
    "Use relative coordinates in the image space, where the origin is at the lower-left corner of the image. "
    "Relative coordinates should be values between 0 and 1, representing the relative positions in the image."
)


@dataclass(frozen=True)
class FormatOptions:
    """Opt-in departures from the reference SFT text (`data.detection_prompt`, `data.box_convention`)."""

    detection_prompt: str = "reference"  # or "benchmark": the benchmark's format requirement
    box_convention: str = "reference"  # or "pixel_edge": boxes cover their last row and column

    @classmethod
    def from_config(cls, data_cfg: Any) -> FormatOptions:
        return cls(getattr(data_cfg, "detection_prompt", "reference"), getattr(data_cfg, "box_convention", "reference"))


REFERENCE = FormatOptions()


def adjusted_pixel_size(
    spacing_hw: Sequence[float], shape_hw: Sequence[int], resized_hw: Sequence[int]
) -> tuple[np.float32, np.float32]:
    """Spacing of one pixel of the resized image, computed as the reference does.

    The reference divides the float32 header zoom by a Python-float ratio; under NumPy 2's
    promotion rules that is a float32 division, which the explicit casts keep on any NumPy.
    """
    ratio_h = resized_hw[0] / shape_hw[0]
    ratio_w = resized_hw[1] / shape_hw[1]
    adj_h = np.float32(spacing_hw[0]) / np.float32(ratio_h)
    adj_w = np.float32(spacing_hw[1]) / np.float32(ratio_w)
    return np.float32(adj_h), np.float32(adj_w)


def pixel_size_text(adj_hw: tuple[np.float32, np.float32], unit: str) -> str:
    adj_h, adj_w = adj_hw
    return f"The pixel size for this image is {adj_w:.3f} {unit} (width) x {adj_h:.3f} {unit} (height)."


def user_assistant_messages(prompt: str, target: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]},
        {"role": "assistant", "content": [{"type": "text", "text": target}]},
    ]


def format_detection(rec: SourceRecord, entry: dict[str, Any], options: FormatOptions = REFERENCE) -> tuple[str, str]:
    label = label_name(entry, rec)
    requirement = FORMAT_BOX_BENCHMARK if options.detection_prompt == "benchmark" else FORMAT_BOX
    prompt = (
        f"Task:\nGiven the input medical image: {_description(entry, rec)}, "
        f"return the coordinates of the lower-left and upper-right corner of the bounding box for the {label}.\n"
        f"Format requirement:\n{requirement}"
    )
    return prompt, detection_target(rec, pixel_edge=options.box_convention == "pixel_edge")


def detection_target(rec: SourceRecord, *, pixel_edge: bool = False) -> str:
    boxes = columnar(rec.data.get("bounding_boxes"))
    try:
        height, width = rec.data["image_size_2d"]
        r0, c0 = boxes["min_coords"][0]
        r1, c1 = boxes["max_coords"][0]
    except (KeyError, TypeError, ValueError, IndexError):
        raise rec.error(
            "a detection record needs `image_size_2d` [H, W] and `bounding_boxes` with `min_coords` and `max_coords`",
            hint='e.g. "bounding_boxes": {"min_coords": [[r0, c0]], "max_coords": [[r1, c1]]}',
        ) from None
    # Lower-left origin, normalised. max_coords are inclusive indices: the reference uses them as-is,
    # which drops the last row and column; pixel_edge takes the far edge of those pixels.
    edge = 1 if pixel_edge else 0
    x1 = c0 / width
    y1 = (height - r1 - edge) / height
    x2 = (c1 + edge) / width
    y2 = (height - r0) / height
    return f"{x1:.3f}, {y1:.3f}, {x2:.3f}, {y2:.3f}"


def format_angle_distance(
    rec: SourceRecord, entry: dict[str, Any], adj_hw: tuple[np.float32, np.float32]
) -> tuple[str, str]:
    profile = rec.data["biometric_profile"]
    metric_type = profile["metric_type"]
    map_name = profile.get("metric_map_name") or ("lines_map" if metric_type == "distance" else "angles_map")
    key = profile.get("metric_key")
    unit = profile.get("metric_unit", "mm" if metric_type == "distance" else "degree")
    try:
        item = entry[map_name][key]
        if metric_type == "distance":
            p1, p2 = _point_names(entry, item)
            task_prompt = _distance_prompt(item.get("name"), p1, p2, unit)
        else:
            lines = entry[item.get("element_map_name", "lines_map")]
            line_keys = item["element_keys"]
            a, b = _point_names(entry, lines[line_keys[0]])
            c, d = _point_names(entry, lines[line_keys[1]])
            task_prompt = _angle_prompt(item.get("name"), (a, b, c, d), unit)
    except (KeyError, TypeError, IndexError) as e:
        raise rec.error(
            f"the task metadata cannot describe metric {key!r} of {map_name!r} (missing {e})",
            hint="tasks.json needs landmarks_map, lines_map and angles_map entries with element_keys as in MedVision",
            reason="missing-metadata",
        ) from None
    prompt = (
        f"Task:\nGiven the input medical image: {_description(entry, rec)}, {task_prompt}"
        f"Additional information:\n{pixel_size_text(adj_hw, 'mm')}\n"
        f"Format requirement:\n{FORMAT_ONE_NUMBER}"
    )
    # The reference writes the raw value's repr (float16 values such as 76.4375), never rounded.
    return prompt, str(float(profile["metric_value"]))


def _point_names(entry: dict[str, Any], line: dict[str, Any]) -> tuple[str, str]:
    names = entry[line.get("element_map_name", "landmarks_map")]
    keys = line["element_keys"]
    return names[keys[0]], names[keys[1]]


def _distance_prompt(name: str | None, p1: str, p2: str, unit: str) -> str:
    unit = unit.strip().replace("mm", "millimeters")
    if name:
        return (
            f"estimate the distance of {name} in {unit}, which is the distance between 2 landmark points: "
            f"(landmark 1) {p1}, (landmark 2) {p2}.\n"
        )
    return f"estimate the distance between 2 landmark points in {unit}: (landmark 1) {p1}, (landmark 2) {p2}.\n"


def _angle_prompt(name: str | None, points: tuple[str, str, str, str], unit: str) -> str:
    a, b, c, d = points
    lines = f"(line 1) the line connecting {a} and {b}, (line 2) the line connecting {c} and {d}.\n"
    if name:
        return f"estimate the angle of {name} in {unit}, which is the angle between 2 lines: {lines}"
    return f"estimate the angle between 2 lines in {unit}: {lines}"


def tumor_lesion_unit(unit: Any) -> str:
    # A list unit (the HF Sequence form) is used unchanged, so the reference text says "mm";
    # only a plain string is spelled out.
    if isinstance(unit, list):
        return str(unit[0])
    if unit == "mm":
        return "millimeters"
    if unit == "cm":
        return "centimeters"
    return str(unit)


def format_tumor_lesion(
    rec: SourceRecord, entry: dict[str, Any], adj_hw: tuple[np.float32, np.float32]
) -> tuple[str, str]:
    profile = columnar(rec.data["biometric_profile"])
    label = label_name(entry, rec)
    unit = tumor_lesion_unit(profile.get("metric_unit", ["mm"]))
    prompt = (
        f"Task:\nGiven the input medical image: {_description(entry, rec)}, "
        f"estimate the major and minor axis lengths of the ellipse enclosing the {label}, in {unit}.\n"
        f"Additional information:\n{pixel_size_text(adj_hw, unit)}\n"
        f"Format requirement:\n{FORMAT_TWO_AXES}"
    )
    try:
        major = _first(profile["metric_value_major_axis"])
        minor = _first(profile["metric_value_minor_axis"])
        target = f"{float(major):.3f}, {float(minor):.3f}"
    except (KeyError, TypeError, ValueError, IndexError):
        raise rec.error(
            "a tumor/lesion record needs numbers in biometric_profile.metric_value_major_axis and "
            "metric_value_minor_axis"
        ) from None
    return prompt, target


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _description(entry: dict[str, Any], rec: SourceRecord) -> str:
    description = entry.get("image_description")
    if description is None:
        raise rec.error(
            "the task metadata has no `image_description`", hint='use "" when there is none', reason="missing-metadata"
        )
    return str(description)


def format_record(
    kind: str,
    rec: SourceRecord,
    entry: dict[str, Any],
    *,
    spacing_hw: Sequence[float],
    shape_hw: Sequence[int],
    resize: Callable[[int, int], tuple[int, int]],
    options: FormatOptions = REFERENCE,
) -> tuple[str, str]:
    """Prompt and target of a MedVision record, given its slice's header spacing and (H, W) shape."""
    if kind == "detection":
        return format_detection(rec, entry, options)
    adj = adjusted_pixel_size(spacing_hw, shape_hw, resize(int(shape_hw[0]), int(shape_hw[1])))
    if kind == "angle_distance":
        return format_angle_distance(rec, entry, adj)
    if kind == "tumor_lesion":
        return format_tumor_lesion(rec, entry, adj)
    raise ValueError(f"not a MedVision task kind: {kind!r}")
