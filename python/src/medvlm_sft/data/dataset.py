"""From data sources in a run config to formatted train and validation samples.

Order of work: read and classify every record (cheap, so errors surface before any decode),
split and limit by metadata only, then decode just the selected volumes, each once, and
format their samples. Decoded slices are held in memory as uint8 (the on-disk cache is a
later step).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medvlm_sft.data import formatting
from medvlm_sft.data.nifti import cut_slice, load_volume, to_uint8
from medvlm_sft.data.records import DataError, SourceRecord, read_records, resolve_path
from medvlm_sft.data.split import limit_total, split_items
from medvlm_sft.data.tasks import MEDVISION_KINDS, detect_kind, load_tasks, lookup_task

Resize = Callable[[int, int], tuple[int, int]]
NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass
class Sample:
    messages: list[dict[str, Any]]
    image: np.ndarray  # uint8, (H, W) grey or (H, W, 3)
    kind: str
    source: str
    where: str
    record: int

    @property
    def target(self) -> str:
        return message_text(self.messages[-1])


@dataclass
class _Item:
    rec: SourceRecord
    kind: str
    source: str
    image_path: Path
    tasks: dict[str, Any] | None
    tasks_path: Path | None
    sort_key: str


@dataclass
class PreparedData:
    train: list[Sample]
    val: list[Sample]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if part.get("type") == "text")


def prepare_data(data_cfg: Any, base_dir: Path, resize: Resize) -> PreparedData:
    """`data_cfg` is the run config's `data` section; relative paths resolve against `base_dir`."""
    train: list[_Item] = []
    val: list[_Item] = []
    warnings: list[str] = []
    notes: list[str] = []
    for source in data_cfg.sources:
        records_path = resolve_path(base_dir, source.records)
        label = source.name or records_path.name
        items = _read_source(source, records_path, base_dir, label)
        result = split_items(
            items,
            sort_key=lambda it: it.sort_key,
            group_key=(lambda it: str(it.image_path)) if data_cfg.group_by_volume else None,
            seed=f"{data_cfg.seed}:{label}",
            val_limit=source.val_limit,
            train_limit=source.train_limit,
            label=label,
        )
        train.extend(result.train)
        val.extend(result.val)
        warnings.extend(result.warnings)
        notes.extend(result.notes)
    train = limit_total(train, data_cfg.train_limit, data_cfg.seed, "data.train_limit", warnings)
    val = limit_total(val, data_cfg.val_limit, data_cfg.seed, "data.val_limit", warnings)
    samples = _materialise(train + val, resize)
    return PreparedData(samples[: len(train)], samples[len(train) :], warnings, notes)


def _read_source(source: Any, records_path: Path, base_dir: Path, label: str) -> list[_Item]:
    tasks_path = resolve_path(base_dir, source.tasks) if source.tasks else None
    tasks = load_tasks(tasks_path) if tasks_path else None
    items = []
    for rec in read_records(records_path):
        kind = detect_kind(rec)
        field_name = "image" if kind == "generic" else "image_file"
        image = rec.data.get(field_name) or rec.data.get("image_file") or rec.data.get("image")
        if not isinstance(image, str) or not image:
            raise rec.error(f"the record has no `{field_name}` path", hint="relative paths resolve against its folder")
        if kind in MEDVISION_KINDS:
            lookup_task(tasks, rec, kind, tasks_path)  # fail now, before any volume is decoded
        # The content, not the position in the file, orders the records before the seeded shuffle.
        sort_key = json.dumps(rec.data, sort_keys=True, ensure_ascii=False, default=str)
        items.append(_Item(rec, kind, label, resolve_path(records_path.parent, image), tasks, tasks_path, sort_key))
    return items


def _materialise(items: list[_Item], resize: Resize) -> list[Sample]:
    by_image: dict[Path, list[int]] = {}
    for i, item in enumerate(items):
        by_image.setdefault(item.image_path, []).append(i)
    out: list[Sample | None] = [None] * len(items)
    for path, indices in by_image.items():
        first = items[indices[0]].rec
        if not path.is_file():
            raise first.error(f"image file not found: {path}", hint="paths in a record resolve against its folder")
        if path.name.lower().endswith(NIFTI_SUFFIXES):
            try:
                volume, zooms = load_volume(path)
            except Exception as e:
                raise first.error(f"cannot read NIfTI volume {path}: {e}") from e
            for i in indices:
                out[i] = _volume_sample(items[i], volume, zooms, resize)
            del volume  # one volume in memory at a time
        else:
            for i in indices:
                out[i] = _picture_sample(items[i], path)
    return [s for s in out if s is not None]


def _slice_position(rec: SourceRecord) -> tuple[int, int]:
    try:
        return int(rec.data["slice_dim"]), int(rec.data["slice_idx"])
    except (KeyError, TypeError, ValueError):
        raise rec.error("a NIfTI record needs integer `slice_dim` (0, 1 or 2) and `slice_idx`") from None


def _volume_sample(item: _Item, volume: np.ndarray, zooms: tuple, resize: Resize) -> Sample:
    rec = item.rec
    dim, idx = _slice_position(rec)
    try:
        sl = cut_slice(volume, zooms, dim, idx)
    except (ValueError, IndexError) as e:
        raise rec.error(f"{e} (volume shape {tuple(volume.shape)})") from None
    shape_hw = sl.pixels.shape
    if item.kind == "generic":
        messages = _generic_messages(rec)
    else:
        entry = lookup_task(item.tasks, rec, item.kind, item.tasks_path)
        prompt, target = formatting.format_record(
            item.kind, rec, entry, spacing_hw=sl.spacing_hw, shape_hw=shape_hw, resize=resize
        )
        messages = formatting.user_assistant_messages(prompt, target)
    return Sample(messages, to_uint8(sl.pixels), item.kind, item.source, rec.where, rec.index)


def _picture_sample(item: _Item, path: Path) -> Sample:
    from PIL import Image

    rec = item.rec
    if item.kind != "generic":
        raise rec.error(f"MedVision records need a NIfTI `image_file`, got {path.name}")
    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
    except Exception as e:
        raise rec.error(f"cannot read image {path}: {e}") from None
    return Sample(_generic_messages(rec), pixels, item.kind, item.source, rec.where, rec.index)


def _generic_messages(rec: SourceRecord) -> list[dict[str, Any]]:
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


__all__ = ["DataError", "PreparedData", "Sample", "message_text", "prepare_data"]
