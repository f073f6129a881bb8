"""NIfTI slices as the reference trainer sees them, decoding each volume once.

The reference decodes the whole gzip volume for every sample (up to three times); here the
callers group the samples of one `image_file` and cut all their slices from one decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SliceData:
    pixels: np.ndarray  # float32 (H, W): rows = the first in-plane axis, no flip or transpose
    spacing_hw: tuple[np.float32, np.float32]  # header zooms of the two in-plane axes, float32


def load_volume(path: Path) -> tuple[np.ndarray, tuple[np.float32, ...]]:
    """The volume as float32 and its header zooms (float32, as nibabel reads pixdim)."""
    import nibabel as nib

    img = nib.load(str(path))
    zooms = tuple(np.float32(z) for z in img.header.get_zooms())
    slope, inter = getattr(img.dataobj, "slope", 1.0), getattr(img.dataobj, "inter", 0.0)
    unscaled = slope in (None, 1) and (inter is None or inter == 0 or np.isnan(inter))
    if unscaled and img.get_data_dtype().kind in "iuf":
        # Without scaling, casting the stored values straight to float32 gives the same numbers as
        # the reference's get_fdata() (float64) followed by astype(float32), at half the memory.
        volume = np.asarray(img.dataobj).astype(np.float32)
    else:
        volume = img.get_fdata().astype(np.float32)
    if volume.ndim == 4 and volume.shape[3] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise ValueError(f"expected a 3D volume, got shape {volume.shape}")
    return volume, zooms


def cut_slice(volume: np.ndarray, zooms: tuple[np.float32, ...], slice_dim: int, slice_idx: int) -> SliceData:
    if slice_dim not in (0, 1, 2):
        raise ValueError(f"slice_dim must be 0, 1 or 2, got {slice_dim}")
    size = volume.shape[slice_dim]
    if not 0 <= slice_idx < size:
        raise IndexError(f"slice_idx {slice_idx} is outside 0..{size - 1} along dimension {slice_dim}")
    if slice_dim == 0:
        pixels, spacing = volume[slice_idx, :, :], (zooms[1], zooms[2])
    elif slice_dim == 1:
        pixels, spacing = volume[:, slice_idx, :], (zooms[0], zooms[2])
    else:
        pixels, spacing = volume[:, :, slice_idx], (zooms[0], zooms[1])
    # A copy, so the slice does not keep the whole volume alive.
    return SliceData(np.ascontiguousarray(pixels), spacing)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Per-slice min-max to uint8 with truncation, as the reference does; a constant slice is black."""
    lo, hi = pixels.min(), pixels.max()
    if hi > lo:
        return ((pixels - lo) / (hi - lo) * 255).astype(np.uint8)
    return np.zeros(pixels.shape, dtype=np.uint8)


def to_rgb_image(u8: np.ndarray):
    from PIL import Image

    return Image.fromarray(u8).convert("RGB")
