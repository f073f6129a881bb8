"""Task kinds and task metadata (tasks.json), as `notes/dataset-format.md` defines them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from medvlm_sft.data.records import DataError, SourceRecord, columnar, resolve_path

TaskKind = Literal["detection", "tumor_lesion", "angle_distance", "generic"]
MEDVISION_KINDS: tuple[str, ...] = ("detection", "tumor_lesion", "angle_distance")


def detect_kind(rec: SourceRecord) -> TaskKind:
    """The task kind, decided in the normative order: boxes, T/L axes, A/D metric, messages."""
    data = rec.data
    if data.get("bounding_boxes") is not None:
        return "detection"
    profile = columnar(data.get("biometric_profile"))
    if isinstance(profile, dict):
        if profile.get("metric_value_major_axis") is not None:
            return "tumor_lesion"
        metric_type = profile.get("metric_type")
        value = profile.get("metric_value")
        if metric_type in ("distance", "angle") and _is_number(value):
            return "angle_distance"
    if data.get("messages") is not None:
        return "generic"
    raise rec.error(
        "cannot tell the task kind of this record",
        hint=(
            "a MedVision record needs `bounding_boxes` (detection), `biometric_profile.metric_value_major_axis` "
            "(tumor/lesion) or `biometric_profile.metric_type` distance|angle with a number `metric_value`; "
            "a generic record needs `messages`"
        ),
        reason="unknown-kind",
    )


def record_image(rec: SourceRecord, kind: TaskKind) -> Path:
    """The image a record shows, which is also its split group (`data.group_by_volume`)."""
    field_name = "image" if kind == "generic" else "image_file"
    image = rec.data.get(field_name) or rec.data.get("image_file") or rec.data.get("image")
    if not isinstance(image, str) or not image:
        raise rec.error(f"the record has no `{field_name}` path", hint="relative paths resolve against its folder")
    # Normalised, so `./Images/a.nii.gz` and `Images/a.nii.gz` are one volume (decoded once, one split group).
    return Path(os.path.normpath(resolve_path(rec.path.parent, image)))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_tasks(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"task metadata file not found: {path}", hint="check `data.sources[].tasks` in the run config")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})", where=str(path)) from None
    if not isinstance(tasks, dict):
        raise DataError(
            "expected an object keyed by `{dataset_name}/{kind}/{taskID}` or `{dataset_name}/{taskID}`",
            where=str(path),
        )
    return tasks


def lookup_task(tasks: dict[str, Any] | None, rec: SourceRecord, kind: str, tasks_path: Path | None) -> dict[str, Any]:
    """The metadata entry for a MedVision record: kind-qualified key first, then the plain key.

    Detection and biometry plans number their tasks separately, hence the kind in the key.
    """
    if tasks is None:
        raise rec.error(
            f"this {kind} record needs task metadata but the data source names no tasks.json",
            hint="set `tasks:` for this source in the run config",
            reason="missing-metadata",
        )
    dataset = rec.data.get("dataset_name")
    task_id = rec.data.get("taskID")
    if not isinstance(dataset, str) or not isinstance(task_id, str):
        raise rec.error(
            "`dataset_name` and `taskID` must be strings",
            hint='MedVision task ids are strings such as "01"',
        )
    keys = (f"{dataset}/{kind}/{task_id}", f"{dataset}/{task_id}")
    for key in keys:
        entry = tasks.get(key)
        if isinstance(entry, dict):
            return entry
    raise rec.error(
        f"no task metadata for {keys[0]!r} or {keys[1]!r}",
        hint=f"add one of these keys to {tasks_path}" if tasks_path else None,
        reason="missing-metadata",
    )


def label_name(entry: dict[str, Any], rec: SourceRecord) -> str:
    labels_map = entry.get("labels_map")
    label = rec.data.get("label")
    if not isinstance(labels_map, dict):
        raise rec.error(
            "the task metadata has no `labels_map`",
            hint="add labels_map to its tasks.json entry",
            reason="missing-metadata",
        )
    name = labels_map.get(str(label))
    if name is None:
        raise rec.error(
            f"label {label!r} is not in the task's labels_map ({', '.join(map(str, labels_map)) or 'empty'})",
            hint="fix the record's `label` or add it to labels_map in tasks.json",
            reason="missing-metadata",
        )
    return str(name)
