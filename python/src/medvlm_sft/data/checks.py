"""What can be checked of a record before any voxel is decoded, and its text once the header is read.

Two stages, both cheap: `check_record` looks at the record and its task metadata only (every
record of every source passes through it before the split); `inspect_image` reads an image's
header (only for the images of selected records). `describe` then gives a record's messages
and sizes from the header alone, which is all `medvlm-sft format` needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medvlm_sft.data import formatting
from medvlm_sft.data.cache import file_identity
from medvlm_sft.data.nifti import VolumeHeader, is_nifti, read_header
from medvlm_sft.data.records import DataError, SourceRecord, columnar
from medvlm_sft.data.tasks import MEDVISION_KINDS, detect_kind, lookup_task, record_image

Resize = Callable[[int, int], tuple[int, int]]
# A stand-in slice for checking metadata and targets before the header is read.
_PROBE_HW = (56, 56)


@dataclass
class Item:
    """A record that passed `check_record`."""

    rec: SourceRecord
    kind: str
    source: str
    image_path: Path
    entry: dict[str, Any] | None  # task metadata (MedVision kinds)
    position: tuple[int, int] | None  # (slice_dim, slice_idx) for NIfTI images
    sort_key: str
    options: formatting.FormatOptions = formatting.REFERENCE

    @property
    def key(self) -> tuple[str, int]:
        return (str(self.rec.path), self.rec.index)


@dataclass(frozen=True)
class ImageInfo:
    identity: dict[str, Any]
    header: VolumeHeader | None = None  # NIfTI volumes
    picture_hw: tuple[int, int] | None = None  # pictures (PNG, JPEG, ...)


class ImageProblem(Exception):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_record(
    rec: SourceRecord,
    source: str,
    tasks: dict[str, Any] | None,
    tasks_path: Path | None,
    resize: Resize,
    *,
    options: formatting.FormatOptions = formatting.REFERENCE,
) -> Item:
    """An `Item`, or a DataError naming what is wrong with the record."""
    kind = detect_kind(rec)
    image_path = record_image(rec, kind)
    position = slice_position(rec) if is_nifti(image_path) else None
    if position is None and kind != "generic":
        raise rec.error(f"MedVision records need a NIfTI `image_file`, got {image_path.name}")
    entry = None
    if kind in MEDVISION_KINDS:
        entry = lookup_task(tasks, rec, kind, tasks_path)
        # Format once with a stand-in slice: every metadata or target problem shows up now.
        formatting.format_record(
            kind, rec, entry, spacing_hw=(1.0, 1.0), shape_hw=_PROBE_HW, resize=resize, options=options
        )
        if kind == "detection":
            check_box(rec, _image_size_2d(rec), "its image_size_2d")
    else:
        generic_messages(rec)
    # The content, not the position in the file, orders the records before the seeded shuffle.
    sort_key = json.dumps(rec.data, sort_keys=True, ensure_ascii=False, default=str)
    return Item(rec, kind, source, image_path, entry, position, sort_key, options)


def slice_position(rec: SourceRecord) -> tuple[int, int]:
    dim, idx = rec.data.get("slice_dim"), rec.data.get("slice_idx")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (dim, idx)):
        raise rec.error("a NIfTI record needs integer `slice_dim` (0, 1 or 2) and `slice_idx`")
    if dim not in (0, 1, 2):
        raise rec.error(f"slice_dim must be 0, 1 or 2, got {dim}")
    if idx < 0:
        raise rec.error(f"slice_idx must not be negative, got {idx}", reason="slice-out-of-range")
    return dim, idx


def _image_size_2d(rec: SourceRecord) -> tuple[int, int]:
    height, width = rec.data["image_size_2d"]  # the target's format check has vetted it
    return int(height), int(width)


def check_box(rec: SourceRecord, size_hw: tuple[int, int], what: str) -> None:
    """The box's inclusive pixel indices lie inside an (H, W) image, corners in order."""
    boxes = columnar(rec.data.get("bounding_boxes"))
    try:
        (r0, c0), (r1, c1) = boxes["min_coords"][0], boxes["max_coords"][0]
    except (KeyError, TypeError, ValueError, IndexError):
        raise rec.error("`bounding_boxes` needs `min_coords` and `max_coords` as [[row, col]]") from None
    height, width = size_hw
    if not (0 <= r0 <= r1 < height and 0 <= c0 <= c1 < width):
        raise rec.error(
            f"the box rows {r0}..{r1}, columns {c0}..{c1} are not inside {what} ({height} x {width})",
            hint="min_coords and max_coords are inclusive [row, col] indices with min <= max",
            reason="box-outside-image",
        )


def generic_messages(rec: SourceRecord) -> list[dict[str, Any]]:
    messages = rec.data.get("messages")
    hint = (
        'use [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": ...}]}, '
        '{"role": "assistant", ...}]'
    )
    if not isinstance(messages, list) or len(messages) < 2:
        raise rec.error("`messages` must be a list with a user turn and an assistant answer", hint=hint)
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        raise rec.error("every message needs a `role`", hint=hint)
    if messages[-1]["role"] != "assistant":
        raise rec.error("the last message must be the assistant's answer (it is what the model learns)", hint=hint)
    images = sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for part in m["content"]
        if isinstance(part, dict) and part.get("type") == "image"
    )
    if images != 1:
        raise rec.error(f"expected exactly one {{'type': 'image'}} placeholder, found {images}", hint=hint)
    return messages


def inspect_image(path: Path) -> ImageInfo:
    """Identity and geometry of an image file from its header; `ImageProblem` when it is unusable."""
    try:
        identity = file_identity(path)
    except FileNotFoundError:
        raise ImageProblem(f"image file not found: {path}", "missing-file") from None
    except OSError as e:
        raise ImageProblem(f"cannot read image file {path}: {e.strerror or e}", "missing-file") from None
    if is_nifti(path):
        try:
            return ImageInfo(identity, header=read_header(path))
        except Exception as e:
            raise ImageProblem(f"cannot read NIfTI volume {path}: {e}", "corrupt-nifti") from None
    try:
        from PIL import Image

        with Image.open(path) as img:
            width, height = img.size
    except Exception as e:
        raise ImageProblem(f"cannot read image {path}: {e}", "corrupt-image") from None
    return ImageInfo(identity, picture_hw=(height, width))


def item_error(item: Item, problem: ImageProblem) -> DataError:
    hint = "paths in a record resolve against its folder" if problem.reason == "missing-file" else None
    return item.rec.error(str(problem), hint=hint, reason=problem.reason)


@dataclass(frozen=True)
class Described:
    messages: list[dict[str, Any]]
    image_size: tuple[int, int]
    model_image_size: tuple[int, int]


def describe(item: Item, info: ImageInfo, resize: Resize) -> Described:
    """Messages and sizes of a checked record, from its image's header; DataError when they disagree."""
    rec = item.rec
    if info.header is not None:
        assert item.position is not None
        dim, idx = item.position
        try:
            info.header.check_slice(dim, idx)
        except (IndexError, ValueError) as e:
            raise rec.error(str(e), reason="slice-out-of-range") from None
        shape_hw = info.header.slice_shape(dim)
        spacing_hw = info.header.slice_spacing(dim)
    else:
        assert info.picture_hw is not None
        shape_hw, spacing_hw = info.picture_hw, (1.0, 1.0)
    try:
        model_hw = tuple(int(n) for n in resize(*shape_hw))
    except ValueError as e:
        raise rec.error(f"the model cannot take this {shape_hw[0]} x {shape_hw[1]} image: {e}") from None
    if item.kind == "generic":
        messages = generic_messages(rec)
    else:
        assert item.entry is not None
        if item.kind == "detection":
            check_box(rec, shape_hw, "the slice")
        prompt, target = formatting.format_record(
            item.kind, rec, item.entry, spacing_hw=spacing_hw, shape_hw=shape_hw, resize=resize, options=item.options
        )
        messages = formatting.user_assistant_messages(prompt, target)
    return Described(messages, (int(shape_hw[0]), int(shape_hw[1])), model_hw)  # type: ignore[arg-type]
