"""`npm run bench:prepare`: our data preparation against the reference's, on the same synthetic data.

Builds a MedVision-format dataset in a temporary folder (NIfTI volumes of 256x256x96 int16,
records of the three tasks, many records sharing slices as in the real data), then measures:

- ours: `prepare_data` from a cold cache (each volume decoded once in worker processes, one
  PNG per distinct slice), and the warm reload (in this process and in a new one);
- the baseline, doing per sample what the reference SFT code does: a whole-volume
  `nib.load().get_fdata()` for the pixel-size text (angle/distance and tumor/lesion prompts)
  and another for the image, then per-slice min-max to uint8, RGB, and a PNG per sample.
  The reference's Hugging Face image-processor call (run only to read the resized shape) is
  left out, which favours the baseline. It runs on a seeded random subset of the records
  with the same number of worker processes, and its time per sample is scaled to all records.

Both sides write every record's model image; the baseline's images are compared byte for
byte (as decoded RGB pixels) with ours, and their prompts with ours. The last line is
`prepare speedup: <N>x`. The dataset is deleted afterwards unless --keep is given.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

from medvlm_sft.config.model import DataSection, DataSource  # noqa: E402
from medvlm_sft.data import formatting  # noqa: E402
from medvlm_sft.data.dataset import prepare_data  # noqa: E402
from medvlm_sft.data.records import SourceRecord  # noqa: E402
from medvlm_sft.data.tasks import detect_kind, lookup_task  # noqa: E402
from medvlm_sft.data.workers import default_workers  # noqa: E402
from medvlm_sft.models.family import ResizeRule  # noqa: E402

SHAPE = (256, 256, 96)
DATASET = "Bench"
TASKS = {
    f"{DATASET}/detection/01": {"image_description": "a synthetic abdominal CT slice", "labels_map": {"1": "liver"}},
    f"{DATASET}/tumor_lesion/01": {
        "image_description": "a synthetic abdominal CT slice",
        "labels_map": {"2": "lesion"},
    },
    f"{DATASET}/01": {
        "image_description": "",
        "landmarks_map": {"P1": "anterior point", "P2": "posterior point", "P3": "left point", "P4": "right point"},
        "lines_map": {
            "L-1-2": {"name": "", "element_map_name": "landmarks_map", "element_keys": ["P1", "P2"]},
            "L-3-4": {"name": "body width", "element_map_name": "landmarks_map", "element_keys": ["P3", "P4"]},
        },
        "angles_map": {
            "A-L_1_2-L_3_4": {"name": "", "element_map_name": "lines_map", "element_keys": ["L-1-2", "L-3-4"]}
        },
    },
}
DET_PER_VOLUME, TL_PER_VOLUME, AD_SLICES_PER_VOLUME, AD_METRICS = 56, 16, 4, 5


def _f16(x: float) -> float:
    return float(np.float16(x))


def make_volume(args: tuple[int, str]) -> list[dict]:
    """One CT-like volume and its records (run in worker processes)."""
    import nibabel as nib

    seed, folder = args
    rng = np.random.default_rng(seed)
    case = f"case_{seed:03d}"
    in_plane = round(float(rng.uniform(0.6, 0.9)), 3)
    spacing = (in_plane, in_plane, 2.5)
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    body = ((rows - 128) / 110.0) ** 2 + ((cols - 128) / 95.0) ** 2 <= 1.0
    volume = np.full(SHAPE, -1000.0, dtype=np.float32)
    noise = rng.normal(0.0, 18.0, size=SHAPE).astype(np.float32)
    r0, c0 = int(rng.integers(60, 80)), int(rng.integers(50, 70))
    r1, c1 = r0 + int(rng.integers(50, 70)), c0 + int(rng.integers(40, 60))
    tumor_c = (int(rng.integers(150, 170)), int(rng.integers(140, 170)))
    tumor_z = int(rng.integers(30, 66))
    for z in range(SHAPE[2]):
        volume[..., z][body] = 40.0
        volume[r0 : r1 + 1, c0 : c1 + 1, z] = 60.0
        semi = 14.0 * max(0.0, 1.0 - abs(z - tumor_z) / 18.0)
        if semi > 2:
            tumor = ((rows - tumor_c[0]) / semi) ** 2 + ((cols - tumor_c[1]) / (semi * 0.7)) ** 2 <= 1.0
            volume[..., z][tumor] = 120.0
    volume += noise
    img = nib.Nifti1Image(np.round(volume).astype(np.int16), np.diag([*spacing, 1.0]))
    img.header.set_zooms(spacing)
    path = Path(folder) / "Images" / f"{case}.nii.gz"
    nib.save(img, path)

    common = {
        "dataset_name": DATASET, "taskID": "01", "image_file": f"Images/{case}.nii.gz",
        "image_size_3d": list(SHAPE), "voxel_size": [_f16(s) for s in spacing],
    }  # fmt: skip
    records = []
    tl_slices = [z for z in range(tumor_z - 12, tumor_z + 13) if 0 <= z < SHAPE[2]]
    tl_slices = sorted(rng.choice(tl_slices, size=TL_PER_VOLUME, replace=False).tolist())
    det_pool = [z for z in range(SHAPE[2]) if z not in tl_slices]
    for z in sorted(rng.choice(det_pool, size=DET_PER_VOLUME, replace=False).tolist()):
        records.append(
            {
                **common, "taskType": "Box-Size", "slice_dim": 2, "slice_idx": z, "image_size_2d": [256, 256],
                "label": 1, "bounding_boxes": {
                    "min_coords": [[r0, c0]], "max_coords": [[r1, c1]], "dimensions": [[r1 - r0 + 1, c1 - c0 + 1]],
                },
            }
        )  # fmt: skip
    for z in tl_slices:
        semi = 14.0 * max(0.0, 1.0 - abs(z - tumor_z) / 18.0)
        major, minor = 2 * semi * spacing[0], 2 * semi * 0.7 * spacing[1]
        records.append(
            {
                **common, "taskType": "Tumor-Lesion-Size", "slice_dim": 2, "slice_idx": z, "label": 2,
                "image_size_2d": [256, 256], "biometric_profile": {
                    "metric_type": ["distance"], "metric_map_name": ["lines_map"],
                    "metric_key_major_axis": ["L-1-2"], "metric_value_major_axis": [_f16(major)],
                    "metric_key_minor_axis": ["L-3-4"], "metric_value_minor_axis": [_f16(minor)], "metric_unit": ["mm"],
                },
            }
        )  # fmt: skip
    # Angle/distance: several metrics on each of a few sagittal and coronal slices (like Ceph's 19 per image).
    metrics = [("distance", "lines_map", "L-1-2", "mm"), ("distance", "lines_map", "L-3-4", "mm"),
               ("angle", "angles_map", "A-L_1_2-L_3_4", "degree")]  # fmt: skip
    for k in range(AD_SLICES_PER_VOLUME):
        dim = 0 if k % 2 == 0 else 1
        idx = int(rng.integers(40, 216))
        size_2d = [SHAPE[a] for a in range(3) if a != dim]
        for m in range(AD_METRICS):
            metric_type, map_name, key, unit = metrics[m % len(metrics)]
            value = _f16(rng.uniform(5, 120) if metric_type == "distance" else rng.uniform(0, 90))
            task_type = "Biometrics-From-Landmarks-" + metric_type.capitalize()
            records.append(
                {
                    **common, "taskType": task_type, "slice_dim": dim, "slice_idx": idx, "image_size_2d": size_2d,
                    "biometric_profile": {
                        "metric_type": metric_type, "metric_map_name": map_name, "metric_key": key,
                        "metric_value": value, "metric_unit": unit, "slice_dim": dim,
                    },
                }
            )  # fmt: skip
    return records


def make_dataset(folder: Path, volumes: int, workers: int) -> list[dict]:
    (folder / "Images").mkdir(parents=True)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        records = [r for recs in pool.map(make_volume, [(i, str(folder)) for i in range(volumes)]) for r in recs]
    with open(folder / "records.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    (folder / "tasks.json").write_text(json.dumps(TASKS, indent=1), encoding="utf-8")
    return records


def reference_sample(job: tuple[str, dict, str, int, str]) -> str:
    """What the reference does for one sample; returns the prompt (the image goes to `out_png`)."""
    import nibabel as nib
    from PIL import Image

    records_path, data, tasks_path, line, out_png = job
    rec = SourceRecord(data, Path(records_path), line, line - 1)
    kind = detect_kind(rec)
    entry = lookup_task(json.loads(Path(tasks_path).read_text()), rec, kind, Path(tasks_path))
    volume_path = str(Path(records_path).parent / data["image_file"])
    dim, idx = data["slice_dim"], data["slice_idx"]

    def load_2d() -> tuple[np.ndarray, tuple]:
        # _load_nifti_2d: the whole volume, float64 -> float32, then one slice.
        img = nib.load(volume_path)
        vol = img.get_fdata().astype(np.float32)
        zooms = tuple(np.float32(z) for z in img.header.get_zooms())
        sl = np.take(vol, idx, axis=dim)
        spacing = tuple(z for a, z in enumerate(zooms[:3]) if a != dim)
        return sl, spacing

    spacing, shape = (1.0, 1.0), tuple(data["image_size_2d"])
    if kind != "detection":  # the pixel-size line needs the slice shape and header spacing: a first decode
        sl, spacing = load_2d()
        shape = sl.shape
    prompt, _ = formatting.format_record(
        kind, rec, entry, spacing_hw=spacing, shape_hw=shape, resize=ResizeRule("qwen2_5_vl")
    )
    sl, _ = load_2d()  # _doc_to_visual decodes the volume again for the image
    u8 = ((sl - sl.min()) / (sl.max() - sl.min()) * 255).astype(np.uint8)
    Image.fromarray(u8).convert("RGB").save(out_png)
    return prompt


def _noop(_: int) -> int:
    return os.getpid()


def run_baseline(folder: Path, samples, workers: int) -> tuple[float, list[str], list[Path]]:
    out = folder / "baseline_png"
    out.mkdir()
    jobs, pngs = [], []
    lines = (folder / "records.jsonl").read_text(encoding="utf-8").splitlines()
    for i, sample in enumerate(samples):
        path, line = sample.where.rsplit(":", 1)
        data = json.loads(lines[int(line) - 1])
        pngs.append(out / f"sample_{i:05d}.png")
        jobs.append((path, data, str(folder / "tasks.json"), int(line), str(pngs[-1])))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_noop, range(workers * 4)))  # workers started and warm before the clock starts
        started = time.perf_counter()
        prompts = list(pool.map(reference_sample, jobs))
        elapsed = time.perf_counter() - started
    return elapsed, prompts, pngs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=24)
    parser.add_argument("--baseline-samples", type=int, default=64, help="random records the baseline prepares")
    parser.add_argument("--workers", type=int, default=0, help="worker processes on both sides (0: min(cpus, 8))")
    parser.add_argument("--keep", action="store_true", help="keep the temporary dataset")
    args = parser.parse_args()
    workers = default_workers(args.workers)
    folder = Path(tempfile.mkdtemp(prefix="medvlm-bench-prepare-"))
    try:
        return run(folder, args.volumes, args.baseline_samples, workers)
    finally:
        if args.keep:
            print(f"dataset kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, volumes: int, baseline_samples: int, workers: int) -> int:
    started = time.perf_counter()
    records = make_dataset(folder, volumes, workers)
    kinds = {"detection": 0, "tumor_lesion": 0, "angle_distance": 0}
    for r in records:
        kinds[detect_kind(SourceRecord(r, folder, 1, 0))] += 1
    distinct = {(r["image_file"], r["slice_dim"], r["slice_idx"]) for r in records}
    size_mb = sum(p.stat().st_size for p in (folder / "Images").iterdir()) / 1e6
    print(
        f"dataset: {volumes} volumes {'x'.join(map(str, SHAPE))} int16 .nii.gz ({size_mb:.0f} MB), {len(records)} "
        f"records ({kinds['detection']} detection, {kinds['tumor_lesion']} tumor/lesion, "
        f"{kinds['angle_distance']} angle/distance), {len(distinct)} distinct slices "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    print(f"worker processes: {workers} on both sides ({os.cpu_count()} CPUs)")
    cfg = DataSection(
        sources=[DataSource(records=str(folder / "records.jsonl"), tasks=str(folder / "tasks.json"), val_limit=0)],
        cache_dir=str(folder / "cache"),
        num_workers=workers,
    )
    resize = ResizeRule("qwen2_5_vl")

    t0 = time.perf_counter()
    ours = prepare_data(cfg, folder, resize)
    cold = time.perf_counter() - t0
    samples = ours.train + ours.val
    written = len(list((folder / "cache" / "slices").rglob("*.npy")))
    print(
        f"ours, cold cache: {len(samples)} samples in {cold:.2f} s ({cold / len(samples) * 1000:.2f} ms/sample); "
        f"{volumes} volume decodes, {written} slice files written"
    )

    t0 = time.perf_counter()
    warm = prepare_data(cfg, folder, resize)
    warm_s = time.perf_counter() - t0
    assert warm.cache_hit and len(warm.train) == len(ours.train)
    code = (
        "import sys, time; t = time.perf_counter(); sys.path.insert(0, sys.argv[1]);"
        "from medvlm_sft.config.model import DataSection, DataSource;"
        "from medvlm_sft.data.dataset import prepare_data; from medvlm_sft.models.family import ResizeRule;"
        "d = prepare_data(DataSection.model_validate_json(sys.argv[2]), sys.argv[3], ResizeRule('qwen2_5_vl'));"
        "assert d.cache_hit; print(time.perf_counter() - t)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(SRC), cfg.model_dump_json(), str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"warm reload in a new process failed:\n{result.stderr}", file=sys.stderr)
        return 1
    fresh_s = float(result.stdout.strip())
    print(f"ours, warm reload: {warm_s:.3f} s in this process; {fresh_s:.2f} s in a new process (imports included)")

    rng = random.Random(1024)
    subset = rng.sample(samples, min(baseline_samples, len(samples)))
    base_s, prompts, pngs = run_baseline(folder, subset, workers)
    per_sample = base_s / len(subset)
    estimate = per_sample * len(samples)
    print(
        f"baseline (reference-style): {len(subset)} random samples in {base_s:.2f} s "
        f"({per_sample * 1000:.0f} ms/sample) -> {estimate:.0f} s estimated for all {len(samples)}"
    )

    from PIL import Image

    same_images = same_prompts = 0
    for sample, prompt, png in zip(subset, prompts, pngs, strict=True):
        with Image.open(png) as img:
            theirs = np.asarray(img.convert("RGB"))
        mine = np.asarray(Image.fromarray(sample.image).convert("RGB"))
        same_images += theirs.shape == mine.shape and theirs.tobytes() == mine.tobytes()
        same_prompts += prompt == sample.messages[0]["content"][1]["text"]
    print(f"spot check: {same_images}/{len(subset)} images byte-equal, {same_prompts}/{len(subset)} prompts equal")
    if same_images != len(subset) or same_prompts != len(subset):
        print("spot check FAILED: the two sides disagree", file=sys.stderr)
        return 1
    print(f"prepare speedup: {estimate / cold:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
