"""Slice intensities to 8-bit: the reference's per-slice min-max, or an opt-in CT/MR window.

`data.image` in the run config chooses; `ImageSettings.key` names the choice in the slice
cache key, so two settings never share a cached image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from medvlm_sft.data.nifti import to_uint8

# Centre and width in Hounsfield units.
CT_WINDOWS: dict[str, tuple[float, float]] = {"ct_soft_tissue": (40.0, 400.0), "ct_bone": (400.0, 1800.0)}
MR_PERCENTILES = (1.0, 99.0)


@dataclass(frozen=True)
class ImageSettings:
    mode: Literal["minmax", "window", "percentile"] = "minmax"
    center: float = 0.0
    width: float = 0.0
    low_pct: float = MR_PERCENTILES[0]
    high_pct: float = MR_PERCENTILES[1]

    @classmethod
    def from_config(cls, image: Any) -> ImageSettings:
        """From the run config's `data.image` section (None means the reference's min-max)."""
        if image is None or image.normalization == "minmax":
            return cls()
        window = image.window
        if window is None:
            raise ValueError("data.image.normalization is `window` but data.image.window is not set")
        if window == "mr":
            return cls("percentile")
        if isinstance(window, str):
            center, width = CT_WINDOWS[window]
            return cls("window", center, width)
        return cls("window", float(window.center), float(window.width))

    @property
    def key(self) -> str:
        if self.mode == "minmax":
            return "minmax"
        if self.mode == "percentile":
            return f"percentile:{self.low_pct!r}:{self.high_pct!r}"
        return f"window:{self.center!r}:{self.width!r}"

    def to_uint8(self, pixels: np.ndarray) -> np.ndarray:
        """A float32 slice as uint8 (H, W)."""
        if self.mode == "minmax":
            return to_uint8(pixels)
        if self.mode == "percentile":
            lo, hi = np.percentile(pixels, [self.low_pct, self.high_pct])
            if not hi > lo:
                # A nearly constant slice: the percentiles carry no contrast, min-max still may.
                return to_uint8(pixels)
        else:
            lo, hi = self.center - self.width / 2, self.center + self.width / 2
        return window_to_uint8(pixels, float(lo), float(hi))


def window_to_uint8(pixels: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Clip to [lo, hi] and stretch to 0..255, truncating like the reference's min-max."""
    scaled = (pixels.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo)
    return (np.clip(scaled, 0.0, 1.0) * np.float32(255)).astype(np.uint8)
