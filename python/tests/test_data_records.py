"""Records files, task-kind detection and task metadata lookup (notes/dataset-format.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medvlm_sft.data.records import DataError, SourceRecord, read_records
from medvlm_sft.data.tasks import detect_kind, label_name, lookup_task

DETECTION = {"dataset_name": "KiTS23", "taskID": "01", "label": 2, "bounding_boxes": {"min_coords": [[1, 2]]}}
DISTANCE = {
    "dataset_name": "Ceph",
    "taskID": "01",
    "biometric_profile": {"metric_type": "distance", "metric_value": 7.5},
}


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_keeps_lines_and_skips_blank_ones(tmp_path):
    path = write_lines(tmp_path / "r.jsonl", [json.dumps(DETECTION), "", json.dumps(DISTANCE)])
    records = read_records(path)
    assert [(r.line, r.index) for r in records] == [(1, 0), (3, 1)]
    assert records[1].where == f"{path}:3"


def test_jsonl_syntax_error_names_file_and_line(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [json.dumps(DETECTION), '{"dataset_name": "x",'])
    with pytest.raises(DataError) as err:
        read_records(path)
    assert f"{path}:2: not valid JSON" in str(err.value)
    assert "one complete JSON object" in str(err.value)
    assert err.value.record == 1


def test_jsonl_non_object_line(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", ["[1, 2]"])
    with pytest.raises(DataError, match=r"bad\.jsonl:1: expected a JSON object, got list"):
        read_records(path)


def test_json_array_and_parquet_read_the_same_records(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "r.json").write_text(json.dumps([DETECTION, DISTANCE]), encoding="utf-8")
    # pa.array infers the schema from every row (Table.from_pylist looks at the first only).
    pq.write_table(pa.Table.from_struct_array(pa.array([DETECTION, DISTANCE])), tmp_path / "r.parquet")
    from_json = read_records(tmp_path / "r.json")
    from_parquet = read_records(tmp_path / "r.parquet")
    assert [r.data for r in from_json] == [DETECTION, DISTANCE]
    # Parquet fills columns a record lacks with nulls; they are dropped so kind detection still works.
    assert [detect_kind(r) for r in from_parquet] == ["detection", "angle_distance"]
    assert from_parquet[1].where == f"{tmp_path / 'r.parquet'} (row 2)"


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="records file not found"):
        read_records(tmp_path / "nope.jsonl")
    (tmp_path / "r.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported records file type"):
        read_records(tmp_path / "r.csv")


def _rec(data: dict) -> SourceRecord:
    return SourceRecord(data, Path("/data/records.jsonl"), 7, 6)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (DETECTION, "detection"),
        # Boxes win over everything else.
        ({**DISTANCE, "bounding_boxes": {"min_coords": [[0, 0]]}}, "detection"),
        ({"biometric_profile": {"metric_value_major_axis": [3.0], "metric_type": ["distance"]}}, "tumor_lesion"),
        # A HF Sequence stored as a list of dicts (parquet) is read the same way.
        ({"biometric_profile": [{"metric_value_major_axis": 3.0}]}, "tumor_lesion"),
        (DISTANCE, "angle_distance"),
        ({"biometric_profile": {"metric_type": "angle", "metric_value": 30}}, "angle_distance"),
        ({"messages": [], "image": "a.png"}, "generic"),
        ({"biometric_profile": {"metric_type": "distance", "metric_value": [1.0]}, "messages": []}, "generic"),
    ],
)
def test_kind_detection_order(data, kind):
    assert detect_kind(_rec(data)) == kind


def test_unknown_kind_names_the_record():
    with pytest.raises(DataError) as err:
        detect_kind(_rec({"image_file": "x.nii.gz"}))
    assert str(err.value).startswith("/data/records.jsonl:7: cannot tell the task kind")
    assert err.value.record == 6


def test_task_lookup_prefers_the_kind_qualified_key():
    tasks = {"KiTS23/detection/01": {"labels_map": {"2": "kidney tumor"}}, "KiTS23/01": {"labels_map": {"2": "other"}}}
    entry = lookup_task(tasks, _rec(DETECTION), "detection", Path("tasks.json"))
    assert label_name(entry, _rec(DETECTION)) == "kidney tumor"
    plain = lookup_task(tasks, _rec({**DETECTION}), "tumor_lesion", Path("tasks.json"))
    assert plain["labels_map"]["2"] == "other"


def test_task_lookup_errors_say_what_to_add():
    with pytest.raises(DataError, match=r"no task metadata for 'KiTS23/detection/01' or 'KiTS23/01'"):
        lookup_task({}, _rec(DETECTION), "detection", Path("tasks.json"))
    with pytest.raises(DataError, match=r"names no tasks\.json"):
        lookup_task(None, _rec(DETECTION), "detection", None)
    with pytest.raises(DataError, match="label 2 is not in the task's labels_map"):
        label_name({"labels_map": {"1": "kidney"}}, _rec(DETECTION))
