"""Data preparation over real NIfTI files: split, decode once, slice cache, warm reload, windowing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medvlm_sft.config.model import DataSection, DataSource, ImageSection, ImageWindow
from medvlm_sft.data import workers as workers_module
from medvlm_sft.data.dataset import prepare_data
from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.data.imaging import ImageSettings
from medvlm_sft.data.nifti import Volume
from medvlm_sft.models.family import ResizeRule

QWEN = ResizeRule("qwen2_5_vl")
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo_data(tmp_path_factory.mktemp("demo"), seed=0)


def data_cfg(records: Path, tasks: Path | None, cache: Path, **source) -> DataSection:
    tasks_value = str(tasks) if tasks else None
    return DataSection(
        sources=[DataSource(records=str(records), tasks=tasks_value, **source)],
        seed=1024,
        cache_dir=str(cache),
        num_workers=1,
    )


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
    """Names of the volumes decoded in this process (with num_workers 1 jobs run inline)."""
    calls: list[str] = []

    class CountingVolume(Volume):
        def __init__(self, path):
            calls.append(Path(path).name)
            super().__init__(path)

    monkeypatch.setattr(workers_module, "Volume", CountingVolume)
    return calls


def slice_files(cache: Path) -> list[Path]:
    return sorted((cache / "slices").rglob("*.npy"))


def lines_of(folder: Path, samples) -> list[dict]:
    lines = (folder / "records.jsonl").read_text().splitlines()
    return [json.loads(lines[int(s.where.rsplit(":", 1)[1]) - 1]) for s in samples]


def test_each_volume_is_decoded_once_and_each_slice_cached_once(demo, tmp_path, decodes):
    cache = tmp_path / "cache"
    data = prepare_data(data_cfg(demo / "records.jsonl", demo / "tasks.json", cache, val_limit=9), demo, QWEN)
    assert sorted(decodes) == [f"case_{i:03d}.nii.gz" for i in range(4)]
    assert len(data.val) == 9 and len(data.train) == 27 and not data.cache_hit
    assert Counter(s.kind for s in data.train + data.val) == {"detection": 16, "tumor_lesion": 8, "angle_distance": 12}
    # One whole volume (9 records) is the validation set: no volume on both sides.
    val_images = {r["image_file"] for r in lines_of(demo, data.val)}
    train_images = {r["image_file"] for r in lines_of(demo, data.train)}
    assert len(val_images) == 1 and not val_images & train_images
    # 36 records share 16 distinct slices (4 volumes x slices 2, 3, 4, 5).
    distinct = {(r["image_file"], r["slice_idx"]) for r in lines_of(demo, data.train + data.val)}
    assert len(distinct) == 16 and len(slice_files(cache)) == 16
    assert not list(cache.rglob("*.tmp"))
    sample = data.train[0]
    assert sample.image.dtype == np.uint8 and sample.image.shape == (64, 64)
    assert sample.image_size == (64, 64) and sample.model_image_size == (56, 56)
    assert sample.messages[0]["content"][0] == {"type": "image"}


def test_slices_are_the_reference_images(demo, tmp_path):
    data = prepare_data(data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path), demo, QWEN)
    for sample, rec in zip(data.train[:6], lines_of(demo, data.train[:6]), strict=True):
        # The reference: whole-volume get_fdata, float32, per-slice min-max, truncation to uint8.
        volume = nib.load(str(demo / rec["image_file"])).get_fdata().astype(np.float32)
        x = volume[:, :, rec["slice_idx"]]
        expected = ((x - x.min()) / (x.max() - x.min()) * 255).astype(np.uint8)
        assert np.array_equal(sample.image, expected)


def test_warm_reload_uses_the_index_and_decodes_nothing(demo, tmp_path, decodes):
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path, val_limit=9)
    cold = prepare_data(cfg, demo, QWEN)
    decodes.clear()
    messages: list[str] = []
    warm = prepare_data(cfg, demo, QWEN, progress=messages.append)
    assert warm.cache_hit and decodes == []
    assert messages[0].startswith("reused prepared data: 36 samples")
    assert [s.messages for s in warm.train] == [s.messages for s in cold.train]
    assert [s.where for s in warm.val] == [s.where for s in cold.val]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(warm.train, cold.train, strict=True))
    assert warm.index_path == cold.index_path

    # A setting that changes the content makes a new prepared set, reusing the cached slices.
    cfg.sources[0].val_limit = 4
    other = prepare_data(cfg, demo, QWEN)
    assert not other.cache_hit and decodes == [] and len(other.val) == 4
    assert other.index_path != cold.index_path
    # So does another model resize (it changes the pixel-size text).
    resized = prepare_data(cfg, demo, ResizeRule("medgemma"))
    assert not resized.cache_hit and decodes == []
    tumor = next(s for s in resized.train if s.kind == "tumor_lesion")
    assert "0.057 mm (width)" in tumor.messages[0]["content"][1]["text"]  # 0.8 / (896 / 64)


def test_an_index_from_other_code_is_a_cache_miss_not_a_crash(demo, tmp_path):
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path, val_limit=4)
    cold = prepare_data(cfg, demo, QWEN)
    payload = json.loads(cold.index_path.read_text())
    del payload["absent"]  # as an index written before that field existed
    cold.index_path.write_text(json.dumps(payload))
    again = prepare_data(cfg, demo, QWEN)
    assert not again.cache_hit
    assert [s.messages for s in again.train] == [s.messages for s in cold.train]


def test_an_edited_volume_is_decoded_again(tmp_path, decodes):
    demo = make_demo_data(tmp_path / "demo")
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path / "cache")
    first = prepare_data(cfg, demo, QWEN)
    volume = demo / "Images" / "case_002.nii.gz"
    img = nib.load(str(volume))
    edited = np.asarray(img.dataobj).copy()
    edited[:32] = 0
    nib.save(nib.Nifti1Image(edited, img.affine, img.header), volume)
    os.utime(volume, ns=(1, 1))  # a different mtime even on coarse clocks
    decodes.clear()
    second = prepare_data(cfg, demo, QWEN)
    assert not second.cache_hit and decodes == ["case_002.nii.gz"]
    records = lines_of(demo, second.train)
    for before, after, rec in zip(first.train, second.train, records, strict=True):
        assert np.array_equal(before.image, after.image) == (rec["image_file"] != "Images/case_002.nii.gz")


def test_file_order_does_not_matter(demo, tmp_path):
    lines = (demo / "records.jsonl").read_text().splitlines()
    reversed_path = tmp_path / "records.jsonl"
    reversed_path.write_text("\n".join(reversed(lines)) + "\n")
    for name in ("Images", "Landmarks"):
        (tmp_path / name).symlink_to(demo / name)
    a = prepare_data(data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path / "c", val_limit=9), demo, QWEN)
    b = prepare_data(data_cfg(reversed_path, demo / "tasks.json", tmp_path / "c", val_limit=9), tmp_path, QWEN)
    assert [s.messages for s in a.train] == [s.messages for s in b.train]
    assert [s.messages for s in a.val] == [s.messages for s in b.val]
    # Same volumes (through the symlinks): the same cached slices.
    assert [s.image_file for s in a.train] == [s.image_file for s in b.train]


def test_prompts_use_the_header_spacing_not_the_float16_fields(tmp_path):
    volume = np.zeros((56, 56, 2), dtype=np.int16)
    volume[10:30, 20:40, 1] = 100
    nib.save(nib.Nifti1Image(volume, np.diag([3.3, 3.3, 1.0, 1.0])), tmp_path / "v.nii.gz")
    rec = {
        "dataset_name": "Demo", "taskID": "01", "taskType": "Tumor-Lesion-Size", "image_file": "v.nii.gz",
        "slice_dim": 2, "slice_idx": 1, "label": 2, "image_size_2d": [56, 56],
        "pixel_size": [3.30078125, 3.30078125],  # float16(3.3): would print 3.301
        "biometric_profile": {
            "metric_value_major_axis": [20.0], "metric_value_minor_axis": [10.0], "metric_unit": "cm",
        },
    }  # fmt: skip
    (tmp_path / "records.jsonl").write_text(json.dumps(rec) + "\n")
    (tmp_path / "tasks.json").write_text(json.dumps({"Demo/01": {"image_description": "", "labels_map": {"2": "x"}}}))
    data = prepare_data(data_cfg(tmp_path / "records.jsonl", tmp_path / "tasks.json", tmp_path / "c"), tmp_path, QWEN)
    prompt = data.train[0].messages[0]["content"][1]["text"]
    # 56 x 56 needs no resize; header pixdim float32(3.3) = 3.2999999523 -> "3.300".
    assert "The pixel size for this image is 3.300 centimeters (width) x 3.300 centimeters (height)." in prompt
    assert data.train[0].target == "20.000, 10.000"


def test_limits_above_size_warn_and_use_everything(demo, tmp_path):
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path, val_limit=0, train_limit=500)
    cfg.train_limit = 10_000
    data = prepare_data(cfg, demo, QWEN)
    assert len(data.train) == 36 and data.val == []
    assert any("train_limit 500 is more than the 36 samples" in w for w in data.warnings)
    assert any("data.train_limit 10000 is more than the 36 samples" in w for w in data.warnings)
    warm = prepare_data(cfg, demo, QWEN)
    assert warm.cache_hit and warm.warnings == data.warnings


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
    ]
    path = tmp_path / "generic.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    data = prepare_data(data_cfg(path, None, tmp_path / "c"), tmp_path, QWEN)
    shapes = sorted(s.image.shape for s in data.train)
    assert shapes == [(48, 32, 3), (64, 8)]  # RGB picture; sagittal slice of a 64x64x8 volume
    # Both below min_pixels: 48x32 -> beta 1.429 -> ceil(2.45), ceil(1.63) x 28; 64x8 -> beta 2.475 -> 6, 1 x 28.
    assert sorted(s.model_image_size for s in data.train) == [(84, 56), (168, 28)]
    assert all(s.kind == "generic" and s.messages == messages and s.target == "A test pattern." for s in data.train)


def test_worker_processes_write_the_same_bytes(demo, tmp_path):
    inline = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path / "one")
    pooled = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path / "two")
    pooled.num_workers = 2
    a = prepare_data(inline, demo, QWEN)
    b = prepare_data(pooled, demo, QWEN)
    assert [s.messages for s in a.train] == [s.messages for s in b.train]
    files_a, files_b = slice_files(tmp_path / "one"), slice_files(tmp_path / "two")
    assert [p.name for p in files_a] == [p.name for p in files_b] and len(files_a) == 16
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(files_a, files_b, strict=True))


def test_concurrent_runs_share_one_cache(demo, tmp_path):
    write = tmp_path / "model"
    write.mkdir()
    (write / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    config = tmp_path / "run.sft.yaml"
    config.write_text(
        f"model:\n  base: ./model\ndata:\n  sources:\n    - records: {demo / 'records.jsonl'}\n"
        f"      tasks: {demo / 'tasks.json'}\n      val_limit: 9\n  num_workers: 1\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "medvlm_sft", "prepare", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    summaries = [json.loads(out) for out, _ in outs]
    assert summaries[0]["index"] == summaries[1]["index"]
    files = slice_files(tmp_path / ".medvlm-cache")
    assert len(files) == 16 and not list((tmp_path / ".medvlm-cache").rglob("*.tmp"))
    for f in files:
        assert np.load(f).shape == (64, 64)  # complete files only
    warm = prepare_data(data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path / ".medvlm-cache", val_limit=9),
                        demo, QWEN)  # fmt: skip
    assert warm.cache_hit


def test_scaled_volumes_match_get_fdata(tmp_path):
    rng = np.random.default_rng(0)
    stored = rng.integers(0, 4000, size=(12, 10, 6)).astype(np.int16)
    img = nib.Nifti1Image(stored, np.eye(4))
    img.header.set_slope_inter(0.37, -1024.5)
    path = tmp_path / "scaled.nii.gz"
    nib.save(img, path)
    reference = nib.load(str(path)).get_fdata().astype(np.float32)
    volume = Volume(path)
    for dim in range(3):
        for idx in (0, reference.shape[dim] - 1):
            expected = np.take(reference, idx, axis=dim)
            assert volume.slice(dim, idx).dtype == np.float32
            assert np.array_equal(volume.slice(dim, idx), expected)


def test_windowing_presets_and_custom_windows(tmp_path):
    hu = np.array([[-1000.0, -160.0, 40.0], [240.0, 1000.0, 0.0]], dtype=np.float32)
    soft = ImageSettings.from_config(ImageSection(normalization="window", window="ct_soft_tissue"))
    # Soft tissue: centre 40, width 400 -> [-160, 240]; (x + 160) / 400 * 255, clipped, truncated.
    assert soft.to_uint8(hu).tolist() == [[0, 0, 127], [255, 255, 102]]
    bone = ImageSettings.from_config(ImageSection(normalization="window", window="ct_bone"))
    # Bone: centre 400, width 1800 -> [-500, 1300]: (0 + 500) / 1800 * 255 = 70.8 -> 70.
    assert bone.to_uint8(hu)[1, 2] == 70 and bone.to_uint8(hu)[0, 0] == 0
    custom = ImageSettings.from_config(ImageSection(normalization="window", window=ImageWindow(center=0, width=2000)))
    assert custom.to_uint8(hu).tolist() == [[0, 107, 132], [158, 255, 127]]
    mr = ImageSettings.from_config(ImageSection(normalization="window", window="mr"))
    ramp = np.arange(1000, dtype=np.float32).reshape(25, 40)
    u8 = mr.to_uint8(ramp)
    # The 1st..99th percentiles (9.99, 989.01) map to 0..255; the tails clip.
    assert u8[0, :10].tolist() == [0] * 10 and u8[-1, -10:].tolist() == [255] * 10
    assert ImageSettings.from_config(ImageSection()).key == "minmax"
    assert len({s.key for s in (soft, bone, custom, mr)}) == 4
    # Min-max ignores the window; a constant slice stays black in every mode.
    flat = np.full((4, 4), 7.0, dtype=np.float32)
    assert all(not s.to_uint8(flat).any() for s in (ImageSettings(), mr))


def test_window_setting_changes_the_cached_slices(demo, tmp_path):
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path)
    plain = prepare_data(cfg, demo, QWEN)
    cfg.image = ImageSection(normalization="window", window=ImageWindow(center=340, width=200))
    windowed = prepare_data(cfg, demo, QWEN)
    assert not windowed.cache_hit
    assert [s.messages for s in plain.train] == [s.messages for s in windowed.train]
    a, b = plain.train[0], windowed.train[0]
    assert a.image_file != b.image_file and not np.array_equal(a.image, b.image)
    assert len(slice_files(tmp_path)) == 32
    # The box organ (~340) sits at the window centre; the background (~40) is black.
    assert np.median(b.image[b.image > 0]) > 60 and (b.image == 0).mean() > 0.5


def test_detection_options_reach_the_samples(demo, tmp_path):
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path)
    reference = prepare_data(cfg, demo, QWEN)
    cfg.box_convention = "pixel_edge"
    cfg.detection_prompt = "benchmark"
    edged = prepare_data(cfg, demo, QWEN)
    assert not edged.cache_hit and edged.index_path != reference.index_path
    for before, after, rec in zip(reference.train, edged.train, lines_of(demo, edged.train), strict=True):
        if after.kind != "detection":
            assert after.messages == before.messages
            continue
        (r0, c0), (r1, c1) = rec["bounding_boxes"]["min_coords"][0], rec["bounding_boxes"]["max_coords"][0]
        assert after.target == f"{c0 / 64:.3f}, {(63 - r1) / 64:.3f}, {(c1 + 1) / 64:.3f}, {(64 - r0) / 64:.3f}"
        assert (
            "The answer should be four decimal numbers separated by commas" in after.messages[0]["content"][1]["text"]
        )


def test_a_killed_run_leaves_nothing_a_later_run_would_misread(demo, tmp_path):
    write = tmp_path / "model"
    write.mkdir()
    (write / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    config = tmp_path / "run.sft.yaml"
    config.write_text(
        f"model:\n  base: ./model\ndata:\n  sources:\n    - records: {demo / 'records.jsonl'}\n"
        f"      tasks: {demo / 'tasks.json'}\n      val_limit: 9\n  num_workers: 1\n"
    )
    cache = tmp_path / ".medvlm-cache"
    proc = subprocess.Popen(
        [sys.executable, "-m", "medvlm_sft", "prepare", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    try:
        for _ in range(600):  # kill it as soon as the first slice is in place
            if proc.poll() is not None or slice_files(cache):
                break
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    assert all(np.load(f).shape == (64, 64) for f in slice_files(cache))  # complete files only
    resumed = prepare_data(data_cfg(demo / "records.jsonl", demo / "tasks.json", cache, val_limit=9), demo, QWEN)
    clean = prepare_data(data_cfg(demo / "records.jsonl", demo / "tasks.json", tmp_path / "clean", val_limit=9),
                         demo, QWEN)  # fmt: skip
    assert [s.messages for s in resumed.train] == [s.messages for s in clean.train]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(resumed.train, clean.train, strict=True))


def test_leftovers_of_killed_writers_are_removed_once_stale(demo, tmp_path):
    """A run killed mid-write leaves `.tmp` files; the next cold preparation removes old ones only."""
    cache_dir = tmp_path / "cache"
    cfg = data_cfg(demo / "records.jsonl", demo / "tasks.json", cache_dir, val_limit=9)
    prepare_data(cfg, demo, QWEN)
    folder = slice_files(cache_dir)[0].parent
    stale = folder / ".abc.npy.4242.deadbeef.0.tmp"
    fresh = folder / ".abc.npy.4243.deadbeef.1.tmp"  # a writer that may still be at work
    stale_index = cache_dir / "prepared" / ".xyz.json.4242.deadbeef.2.tmp"
    for path in (stale, fresh, stale_index):
        path.write_bytes(b"partial")
    hour_ago = time.time() - 2 * 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(stale_index, (hour_ago, hour_ago))
    kept = sorted(p.name for p in cache_dir.rglob("*.npy"))

    cfg.sources[0].val_limit = 4  # new content, so the preparation has work to do
    messages: list[str] = []
    prepare_data(cfg, demo, QWEN, progress=messages.append)
    assert not stale.exists() and not stale_index.exists()
    assert fresh.exists(), "a recent temporary may belong to a live writer"
    assert sorted(p.name for p in cache_dir.rglob("*.npy")) == kept, "cached slices are untouched"
    assert any(m.startswith("removed 2 unfinished cache file(s)") for m in messages), messages
