"""The synthetic demo dataset: deterministic bytes, and every number in its records follows from its pixels."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medvlm_sft.data.demo import make_demo_data


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo_data(tmp_path_factory.mktemp("demo"), seed=0)


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_demo_is_byte_deterministic(demo, tmp_path):
    again = make_demo_data(tmp_path / "again", seed=0)
    assert tree_bytes(again) == tree_bytes(demo)
    other = make_demo_data(tmp_path / "other", seed=1)
    assert tree_bytes(other)["records.jsonl"] != tree_bytes(demo)["records.jsonl"]


def test_demo_contents(demo):
    recs = records(demo)
    assert 24 <= len(recs) <= 40
    assert Counter(r["taskType"] for r in recs) == {
        "Box-Size": 16,
        "Tumor-Lesion-Size": 8,
        "Biometrics-From-Landmarks-Distance": 8,
        "Biometrics-From-Landmarks-Angle": 4,
    }
    tasks = json.loads((demo / "tasks.json").read_text())
    assert {"Demo/detection/01", "Demo/tumor_lesion/01", "Demo/01"} == set(tasks)


def _volume(demo: Path, rec: dict) -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(str(demo / rec["image_file"]))
    return np.asarray(img.dataobj), np.array(img.header.get_zooms(), dtype=float)


def test_detection_boxes_match_the_pixels(demo):
    for rec in records(demo):
        if "bounding_boxes" not in rec:
            continue
        volume, _ = _volume(demo, rec)
        pixels = volume[:, :, rec["slice_idx"]]
        # Background ~40, box organ ~340, ellipse tumour ~640 (no landmark dots on these slices).
        mask = (pixels > 200) & (pixels < 500) if rec["label"] == 1 else (pixels > 500)
        rows, cols = np.nonzero(mask)
        boxes = rec["bounding_boxes"]
        assert boxes["min_coords"] == [[rows.min(), cols.min()]]
        assert boxes["max_coords"] == [[rows.max(), cols.max()]]
        assert boxes["dimensions"] == [[rows.max() - rows.min() + 1, cols.max() - cols.min() + 1]]


def _landmarks(demo: Path, rec: dict):
    data = json.loads(gzip.decompress((demo / rec["landmark_file"]).read_bytes()))
    (entry,) = [e for e in data["slice_landmarks_z"] if e["slice_idx"] == rec["slice_idx"]]
    return entry["landmarks"]


def test_measurements_follow_from_the_landmarks(demo):
    for rec in records(demo):
        profile = rec.get("biometric_profile")
        if profile is None:
            continue
        _, zooms = _volume(demo, rec)
        marks = _landmarks(demo, rec)
        if "metric_value_major_axis" in profile:
            p = {k: np.array(v) for k, v in marks[0].items() if k.startswith("P")}
            major = np.linalg.norm((p["P2"] - p["P1"]) * zooms)
            minor = np.linalg.norm((p["P4"] - p["P3"]) * zooms)
            assert profile["metric_value_major_axis"] == [float(np.float16(major))]
            assert profile["metric_value_minor_axis"] == [float(np.float16(minor))]
            continue
        p = {k: np.array(v) for k, v in marks.items()}
        v1, v2 = (p["P2"] - p["P1"]) * zooms, (p["P4"] - p["P3"]) * zooms
        expected = {
            "L-1-2": np.linalg.norm(v1),
            "L-3-4": np.linalg.norm(v2),
            "A-L_1_2-L_3_4": np.degrees(np.arccos(abs(v1 @ v2) / (np.linalg.norm(v1) * np.linalg.norm(v2)))),
        }[profile["metric_key"]]
        assert profile["metric_value"] == float(np.float16(expected))
        # The landmarks lie on the record's slice, and each one is a bright dot there.
        volume, _ = _volume(demo, rec)
        assert all(volume[r, c, k] == 1000 and k == rec["slice_idx"] for r, c, k in marks.values())
