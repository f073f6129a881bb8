"""The synthetic demo dataset and the data pipeline run over it (real NIfTI files, no mocks)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medvlm_sft.config.model import DataSection, DataSource
from medvlm_sft.data import dataset as dataset_module
from medvlm_sft.data.dataset import prepare_data
from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.data.records import DataError
from medvlm_sft.models.family import ResizeRule

QWEN = ResizeRule("qwen2_5_vl")


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


def _data_cfg(records_path: Path, tasks_path: Path, **source) -> DataSection:
    return DataSection(sources=[DataSource(records=str(records_path), tasks=str(tasks_path), **source)], seed=1024)


def test_prepare_data_decodes_each_volume_once(demo, monkeypatch):
    calls: list[str] = []
    real = dataset_module.load_volume

    def counting_load_volume(path):
        calls.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(dataset_module, "load_volume", counting_load_volume)
    data = prepare_data(_data_cfg(demo / "records.jsonl", demo / "tasks.json", val_limit=9), demo, QWEN)
    assert sorted(calls) == [f"case_{i:03d}.nii.gz" for i in range(4)]
    assert len(data.val) == 9 and len(data.train) == 27
    assert Counter(s.kind for s in data.train + data.val) == {"detection": 16, "tumor_lesion": 8, "angle_distance": 12}
    # One whole volume (9 records) is the validation set: no volume on both sides.
    assert len({s.where.split(":")[0] for s in data.val}) == 1
    val_images = {Path(json.loads(line)["image_file"]).name for line in _lines_of(demo, data.val)}
    train_images = {Path(json.loads(line)["image_file"]).name for line in _lines_of(demo, data.train)}
    assert len(val_images) == 1 and not val_images & train_images
    sample = data.train[0]
    assert sample.image.dtype == np.uint8 and sample.image.shape == (64, 64)
    assert sample.messages[0]["content"][0] == {"type": "image"}


def _lines_of(demo: Path, samples) -> list[str]:
    lines = (demo / "records.jsonl").read_text().splitlines()
    return [lines[int(s.where.rsplit(":", 1)[1]) - 1] for s in samples]


def test_prepare_data_ignores_file_order(demo, tmp_path):
    lines = (demo / "records.jsonl").read_text().splitlines()
    reversed_path = tmp_path / "records.jsonl"
    reversed_path.write_text("\n".join(reversed(lines)) + "\n")
    for name in ("Images", "Landmarks"):
        (tmp_path / name).symlink_to(demo / name)
    a = prepare_data(_data_cfg(demo / "records.jsonl", demo / "tasks.json", val_limit=9), demo, QWEN)
    b = prepare_data(_data_cfg(reversed_path, demo / "tasks.json", val_limit=9), tmp_path, QWEN)
    assert [s.messages for s in a.train] == [s.messages for s in b.train]
    assert [s.messages for s in a.val] == [s.messages for s in b.val]


def test_prompts_use_the_header_spacing_not_the_float16_fields(tmp_path):
    volume = np.zeros((56, 56, 2), dtype=np.int16)
    volume[10:30, 20:40, 1] = 100
    img = nib.Nifti1Image(volume, np.diag([3.3, 3.3, 1.0, 1.0]))
    nib.save(img, tmp_path / "v.nii.gz")
    rec = {
        "dataset_name": "Demo",
        "taskID": "01",
        "taskType": "Tumor-Lesion-Size",
        "image_file": "v.nii.gz",
        "slice_dim": 2,
        "slice_idx": 1,
        "label": 2,
        "image_size_2d": [56, 56],
        "pixel_size": [3.30078125, 3.30078125],  # float16(3.3): would print 3.301
        "biometric_profile": {
            "metric_value_major_axis": [20.0],
            "metric_value_minor_axis": [10.0],
            "metric_unit": "cm",
        },
    }
    (tmp_path / "records.jsonl").write_text(json.dumps(rec) + "\n")
    tasks = {"Demo/01": {"image_description": "", "labels_map": {"2": "lesion"}}}
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    data = prepare_data(_data_cfg(tmp_path / "records.jsonl", tmp_path / "tasks.json"), tmp_path, QWEN)
    prompt = data.train[0].messages[0]["content"][1]["text"]
    # 56 x 56 needs no resize; header pixdim float32(3.3) = 3.2999999523 -> "3.300". A string unit "cm" is
    # spelled out in both the question and the pixel-size line.
    assert (
        "in centimeters.\nAdditional information:\nThe pixel size for this image is 3.300 centimeters (width) x "
        in prompt
    )
    assert data.train[0].target == "20.000, 10.000"


def test_limits_above_size_warn_and_use_everything(demo):
    cfg = _data_cfg(demo / "records.jsonl", demo / "tasks.json", val_limit=0, train_limit=500)
    cfg.train_limit = 10_000
    data = prepare_data(cfg, demo, QWEN)
    assert len(data.train) == 36 and data.val == []
    assert any("train_limit 500 is more than the 36 samples" in w for w in data.warnings)
    assert any("data.train_limit 10000 is more than the 36 samples" in w for w in data.warnings)


def test_missing_volume_names_the_record(demo, tmp_path):
    recs = records(demo)
    recs[5]["image_file"] = "Images/missing.nii.gz"
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    for name in ("Images", "Landmarks"):
        (tmp_path / name).symlink_to(demo / name)
    with pytest.raises(DataError) as err:
        prepare_data(_data_cfg(path, demo / "tasks.json"), tmp_path, QWEN)
    assert str(err.value).startswith(f"{path}:6: image file not found: {tmp_path / 'Images' / 'missing.nii.gz'}")
    assert err.value.record == 5


def test_slice_outside_the_volume_names_the_record(demo, tmp_path):
    recs = records(demo)
    recs[0]["slice_idx"] = 99
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    (tmp_path / "Images").symlink_to(demo / "Images")
    with pytest.raises(DataError, match=r"records\.jsonl:1: slice_idx 99 is outside 0\.\.7 along dimension 2"):
        prepare_data(_data_cfg(path, demo / "tasks.json"), tmp_path, QWEN)


def test_generic_records_with_a_picture_and_a_volume_slice(demo, tmp_path):
    from PIL import Image

    Image.fromarray(np.arange(48 * 32, dtype=np.uint32).reshape(48, 32).astype(np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "Images").symlink_to(demo / "Images")
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A test pattern."}]},
    ]
    lines = [
        {"image": "x.png", "messages": messages},
        {"image": "Images/case_001.nii.gz", "slice_dim": 0, "slice_idx": 30, "messages": messages},
        {"image": "x.png", "messages": messages[1:]},
    ]
    path = tmp_path / "generic.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines[:2]))
    cfg = DataSection(sources=[DataSource(records=str(path))])
    data = prepare_data(cfg, tmp_path, QWEN)
    shapes = sorted(s.image.shape for s in data.train)
    assert shapes == [(48, 32, 3), (64, 8)]  # RGB picture; sagittal slice of a 64x64x8 volume
    assert all(s.kind == "generic" and s.messages == messages and s.target == "A test pattern." for s in data.train)

    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(DataError, match=r"generic\.jsonl:3: `messages` must be a list with a user turn"):
        prepare_data(cfg, tmp_path, QWEN)
