"""A small synthetic dataset in MedVision format, for demos and end-to-end tests.

Four 64x64x8 int16 volumes (spacing 0.8 x 0.8 x 3.0 mm) each hold a bright box ("box
organ", label 1), an ellipse ("ellipse tumor", label 2) whose axes shrink away from its
centre slice, and four landmark dots. Every number in the records is computed from that
geometry the way the MedVision planner computes it, and every byte written is a function of
the seed alone (gzip headers carry mtime 0 and no file name).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

DATASET = "Demo"
SHAPE = (64, 64, 8)
SPACING = (0.8, 0.8, 3.0)
N_VOLUMES = 4
LANDMARK_NAMES = {"P1": "anterior marker", "P2": "posterior marker", "P3": "left marker", "P4": "right marker"}

TASKS: dict[str, Any] = {
    f"{DATASET}/detection/01": {
        "image_description": "a synthetic CT-like axial slice",
        "labels_map": {"1": "box organ", "2": "ellipse tumor"},
    },
    f"{DATASET}/tumor_lesion/01": {
        "image_description": "a synthetic CT-like axial slice",
        "labels_map": {"2": "ellipse tumor"},
    },
    # Angle/distance records find this plain key (no kind-qualified entry exists for them).
    f"{DATASET}/01": {
        "image_description": "",
        "landmarks_map": LANDMARK_NAMES,
        "lines_map": {
            "L-1-2": {"name": "", "element_map_name": "landmarks_map", "element_keys": ["P1", "P2"]},
            "L-3-4": {"name": "marker span", "element_map_name": "landmarks_map", "element_keys": ["P3", "P4"]},
        },
        "angles_map": {
            "A-L_1_2-L_3_4": {"name": "", "element_map_name": "lines_map", "element_keys": ["L-1-2", "L-3-4"]}
        },
    },
}


def _f16(x: float) -> float:
    # MedVision stores measurements as float16; its records carry those values.
    return float(np.float16(x))


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _ellipse_mask(center: tuple[int, int], semi: tuple[float, float]) -> np.ndarray:
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    return ((rows - center[0]) / semi[0]) ** 2 + ((cols - center[1]) / semi[1]) ** 2 <= 1.0


def _semi_axes(base: tuple[float, float], z: int, zc: int) -> tuple[float, float]:
    shrink = 1.0 - 0.12 * abs(z - zc)
    return base[0] * shrink, base[1] * shrink


def _common(case: str, slice_idx: int, task_type: str) -> dict[str, Any]:
    return {
        "dataset_name": DATASET,
        "taskID": "01",
        "taskType": task_type,
        "image_file": f"Images/{case}.nii.gz",
        "slice_dim": 2,
        "slice_idx": slice_idx,
        "image_size_2d": [SHAPE[0], SHAPE[1]],
        "pixel_size": [_f16(SPACING[0]), _f16(SPACING[1])],
        "image_size_3d": list(SHAPE),
        "voxel_size": [_f16(s) for s in SPACING],
    }


def _bbox(mask: np.ndarray) -> tuple[list[int], list[int]]:
    rows, cols = np.nonzero(mask)
    return [int(rows.min()), int(cols.min())], [int(rows.max()), int(cols.max())]


def _volume(rng: np.random.Generator, case: str, out: Path) -> list[dict[str, Any]]:
    voxel = np.array(SPACING)
    volume = rng.normal(40.0, 12.0, size=SHAPE)
    box_r0, box_c0 = int(rng.integers(6, 14)), int(rng.integers(4, 10))
    box_r1, box_c1 = box_r0 + int(rng.integers(14, 24)), box_c0 + int(rng.integers(12, 18))
    ell_c = (int(rng.integers(26, 38)), int(rng.integers(44, 50)))
    ell_semi = (float(rng.uniform(9.0, 12.0)), float(rng.uniform(6.5, 8.0)))
    zc = 4
    for z in range(1, SHAPE[2] - 1):
        volume[box_r0 : box_r1 + 1, box_c0 : box_c1 + 1, z] += 300.0
        volume[..., z][_ellipse_mask(ell_c, _semi_axes(ell_semi, z, zc))] += 600.0

    records: list[dict[str, Any]] = []
    for z in (zc - 1, zc + 1):
        masks = {1: np.zeros(SHAPE[:2], bool), 2: _ellipse_mask(ell_c, _semi_axes(ell_semi, z, zc))}
        masks[1][box_r0 : box_r1 + 1, box_c0 : box_c1 + 1] = True
        for label, mask in masks.items():
            lo, hi = _bbox(mask)
            dims = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1]
            records.append(
                {
                    **_common(case, z, "Box-Size"),
                    "label": label,
                    "bounding_boxes": {
                        "min_coords": [lo],
                        "max_coords": [hi],
                        "dimensions": [dims],
                        "sizes": [[_f16(dims[0] * SPACING[0]), _f16(dims[1] * SPACING[1])]],
                    },
                }
            )

    # Tumour/lesion: axis-aligned ellipse, major axis along the rows; lengths from integer endpoints.
    tl_entries = []
    for z in (zc, zc + 1):
        a, b = _semi_axes(ell_semi, z, zc)
        p = {
            "P1": [round(ell_c[0] - a), ell_c[1], z],
            "P2": [round(ell_c[0] + a), ell_c[1], z],
            "P3": [ell_c[0], round(ell_c[1] - b), z],
            "P4": [ell_c[0], round(ell_c[1] + b), z],
        }
        major = float(np.linalg.norm((np.array(p["P2"]) - np.array(p["P1"])) * voxel))
        minor = float(np.linalg.norm((np.array(p["P4"]) - np.array(p["P3"])) * voxel))
        roi = int(_ellipse_mask(ell_c, (a, b)).sum())
        tl_entries.append({"slice_idx": z, "landmarks": [{**p, "ROI_pixels_count": roi}]})
        records.append(
            {
                **_common(case, z, "Tumor-Lesion-Size"),
                "label": 2,
                "landmark_file": f"Landmarks/{case}_L2.json.gz",
                "biometric_profile": {
                    "metric_type": ["distance"],
                    "metric_map_name": ["lines_map"],
                    "metric_key_major_axis": ["L-1-2"],
                    "metric_value_major_axis": [_f16(major)],
                    "metric_key_minor_axis": ["L-3-4"],
                    "metric_value_minor_axis": [_f16(minor)],
                    "metric_unit": ["mm"],
                },
            }
        )

    # Angle/distance: four marker dots on one slice, all away from the box and the ellipse.
    z = 2
    points = {
        "P1": [int(rng.integers(44, 50)), int(rng.integers(4, 10)), z],
        "P2": [int(rng.integers(54, 60)), int(rng.integers(20, 30)), z],
        "P3": [int(rng.integers(2, 5)), int(rng.integers(30, 36)), z],
        "P4": [int(rng.integers(8, 12)), int(rng.integers(54, 60)), z],
    }
    for r, c, k in points.values():
        volume[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2, k] = 1000.0
    vec = {key: np.array(v, dtype=float) for key, v in points.items()}
    v1, v2 = (vec["P2"] - vec["P1"]) * voxel, (vec["P4"] - vec["P3"]) * voxel
    metrics = [
        ("distance", "lines_map", "L-1-2", float(np.linalg.norm(v1)), "mm"),
        ("distance", "lines_map", "L-3-4", float(np.linalg.norm(v2)), "mm"),
        (
            "angle",
            "angles_map",
            "A-L_1_2-L_3_4",
            float(np.degrees(np.arccos(abs(v1 @ v2) / (np.linalg.norm(v1) * np.linalg.norm(v2))))),
            "degree",
        ),
    ]
    for metric_type, map_name, key, value, unit in metrics:
        task_type = "Biometrics-From-Landmarks-" + metric_type.capitalize()
        records.append(
            {
                **_common(case, z, task_type),
                "landmark_file": f"Landmarks/{case}_AD.json.gz",
                "biometric_profile": {
                    "metric_type": metric_type,
                    "metric_map_name": map_name,
                    "metric_key": key,
                    "metric_value": _f16(value),
                    "metric_unit": unit,
                    "slice_dim": 2,
                },
            }
        )

    _write_nifti(out / "Images" / f"{case}.nii.gz", np.round(volume).astype(np.int16))
    _write_json_gz(out / "Landmarks" / f"{case}_L2.json.gz", {"slice_landmarks_z": tl_entries})
    _write_json_gz(
        out / "Landmarks" / f"{case}_AD.json.gz", {"slice_landmarks_z": [{"slice_idx": z, "landmarks": points}]}
    )
    return records


def _write_nifti(path: Path, data: np.ndarray) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(data, np.diag([*SPACING, 1.0]))
    img.header.set_zooms(SPACING)
    img.header.set_xyzt_units("mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_gzip(img.to_bytes()))


def _write_json_gz(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_gzip(json.dumps(obj, sort_keys=True).encode("utf-8")))


def make_demo_data(out: Path, seed: int = 0) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records: list[dict[str, Any]] = []
    for i in range(N_VOLUMES):
        records.extend(_volume(rng, f"case_{i:03d}", out))
    with open(out / "records.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    (out / "tasks.json").write_text(json.dumps(TASKS, indent=2) + "\n", encoding="utf-8")
    return out
