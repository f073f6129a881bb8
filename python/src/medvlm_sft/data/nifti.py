"""NIfTI volumes and slices as the reference trainer sees them, decoding each volume once.

The reference decodes the whole gzip volume for every sample (up to three times), as float64;
here the header alone answers shape and spacing (for the prompt), and one decode per volume
serves all its slices. Slice values are those of the reference's
`nib.load(p).get_fdata().astype(float32)[slice]`: the scaling is elementwise, so scaling one
slice of the stored integers gives the same numbers as scaling the whole volume first.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path | str) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


@dataclass(frozen=True)
class VolumeHeader:
    shape: tuple[int, int, int]
    zooms: tuple[np.float32, np.float32, np.float32]  # header pixdim as float32, as nibabel reads it
    sha256: str  # of the header bytes: part of the slice cache key

    def slice_shape(self, slice_dim: int) -> tuple[int, int]:
        """(H, W) of a slice: rows = the first in-plane axis, no flip or transpose."""
        h, w = [n for axis, n in enumerate(self.shape) if axis != slice_dim]
        return h, w

    def slice_spacing(self, slice_dim: int) -> tuple[np.float32, np.float32]:
        h, w = [z for axis, z in enumerate(self.zooms) if axis != slice_dim]
        return h, w

    def check_slice(self, slice_dim: int, slice_idx: int) -> None:
        if slice_dim not in (0, 1, 2):
            raise ValueError(f"slice_dim must be 0, 1 or 2, got {slice_dim}")
        size = self.shape[slice_dim]
        if not 0 <= slice_idx < size:
            raise IndexError(
                f"slice_idx {slice_idx} is outside 0..{size - 1} along dimension {slice_dim} "
                f"(volume shape {self.shape})"
            )


def _shape3(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise ValueError(f"expected a 3D volume, got shape {tuple(shape)}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def read_header(path: Path | str) -> VolumeHeader:
    """Shape, spacing and a hash of the header, without decoding the voxels."""
    import nibabel as nib

    img = nib.load(str(path))
    shape = _shape3(tuple(img.shape))
    zooms = tuple(np.float32(z) for z in img.header.get_zooms()[:3])
    digest = hashlib.sha256(img.header.binaryblock).hexdigest()
    return VolumeHeader(shape, zooms, digest)  # type: ignore[arg-type]


class Volume:
    """One decoded volume: the stored values, and the header scaling applied per slice."""

    def __init__(self, path: Path | str) -> None:
        import nibabel as nib

        img = nib.load(str(path))
        proxy = img.dataobj
        self.shape = _shape3(tuple(img.shape))
        slope = getattr(proxy, "slope", 1.0)
        inter = getattr(proxy, "inter", 0.0)
        self._scaled = not (slope in (None, 1) and (inter is None or inter == 0 or np.isnan(inter)))
        if hasattr(proxy, "get_unscaled"):
            raw = proxy.get_unscaled()
        else:  # pragma: no cover - nibabel always gives an ArrayProxy for files
            raw, self._scaled = np.asarray(proxy), False
        if raw.ndim == 4:
            raw = raw[..., 0]
        if raw.dtype.kind not in "iufb":
            raise ValueError(f"unsupported voxel type {raw.dtype}")
        self._raw = raw
        # get_fdata() scales in float64 with the header's slope and intercept.
        self._slope = np.asarray(slope if slope is not None else 1.0).astype(np.float64)
        self._inter = np.asarray(inter if inter is not None and not np.isnan(inter) else 0.0).astype(np.float64)

    def slice(self, slice_dim: int, slice_idx: int) -> np.ndarray:
        """The float32 slice (H, W) with the values of the reference's get_fdata().astype(float32)."""
        if slice_dim == 0:
            raw = self._raw[slice_idx, :, :]
        elif slice_dim == 1:
            raw = self._raw[:, slice_idx, :]
        else:
            raw = self._raw[:, :, slice_idx]
        if self._scaled:
            return (raw.astype(np.float64) * self._slope + self._inter).astype(np.float32)
        if raw.dtype.itemsize == 8 and raw.dtype.kind in "iu":
            # Beyond 2**53 the reference's two roundings (via float64) can differ from one.
            return raw.astype(np.float64).astype(np.float32)
        # Otherwise float64 -> float32 of the stored values equals the direct cast.
        return np.ascontiguousarray(raw, dtype=np.float32)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Per-slice min-max to uint8 with truncation, as the reference does; a constant slice is black."""
    lo, hi = pixels.min(), pixels.max()
    if hi > lo:
        return ((pixels - lo) / (hi - lo) * 255).astype(np.uint8)
    return np.zeros(pixels.shape, dtype=np.uint8)


def to_rgb_image(u8: np.ndarray):
    from PIL import Image

    return Image.fromarray(u8).convert("RGB")
