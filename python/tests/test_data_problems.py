"""Bad input: every problem collected and named with file:line and record index, or skipped and counted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medvlm_sft.config.model import DataSection, DataSource
from medvlm_sft.data.dataset import prepare_data
from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.data.problems import DataProblems
from medvlm_sft.data.records import DataError
from medvlm_sft.models.family import ResizeRule

QWEN = ResizeRule("qwen2_5_vl")


@pytest.fixture
def broken(tmp_path) -> Path:
    """The demo dataset (36 records, 4 volumes) with one record of each kind of problem."""
    demo = make_demo_data(tmp_path / "demo")
    images = demo / "Images"
    (images / "garbage.nii.gz").write_bytes(b"this is not a NIfTI file" * 20)
    whole = (images / "case_003.nii.gz").read_bytes()
    (images / "truncated.nii.gz").write_bytes(whole[: len(whole) // 2])  # the header survives, the voxels do not
    shutil.copy(images / "case_003.nii.gz", images / "spare.nii.gz")
    recs = [json.loads(line) for line in (demo / "records.jsonl").read_text().splitlines()]
    detection = next(r for r in recs if "bounding_boxes" in r)
    recs[0]["image_file"] = "Images/missing.nii.gz"  # line 1
    recs[1]["image_file"] = "Images/garbage.nii.gz"  # line 2
    recs[2]["slice_idx"] = 99  # line 3
    recs[3]["taskID"] = "02"  # line 4: no metadata for Demo/detection/02 or Demo/02
    recs[4]["label"] = 7  # line 5: not in labels_map
    recs[5]["bounding_boxes"] = {"min_coords": [[10, 10]], "max_coords": [[70, 20]]}  # line 6: rows past 63
    lines = [json.dumps(r) for r in recs]
    lines.append('{"dataset_name": "Demo", "taskID": "01",')  # line 37: not JSON
    lines.append(json.dumps({"dataset_name": "Demo", "image_file": "Images/case_000.nii.gz", "slice_idx": 3}))  # 38
    lines.append(json.dumps({**detection, "image_file": "Images/truncated.nii.gz"}))  # 39: fails while decoding
    lines.append(json.dumps({**detection, "image_file": "Images/spare.nii.gz"}))  # 40: fine
    (demo / "records.jsonl").write_text("\n".join(lines) + "\n")
    return demo


def cfg_for(demo: Path, skip: bool = False) -> DataSection:
    source = DataSource(records=str(demo / "records.jsonl"), tasks=str(demo / "tasks.json"))
    return DataSection(sources=[source], cache_dir=str(demo / "cache"), num_workers=1, skip_bad_records=skip)


EXPECTED = {
    1: ("missing-file", "image file not found: "),
    2: ("corrupt-nifti", "cannot read NIfTI volume "),
    3: ("slice-out-of-range", "slice_idx 99 is outside 0..7 along dimension 2"),
    4: ("missing-metadata", "no task metadata for 'Demo/detection/02' or 'Demo/02'"),
    5: ("missing-metadata", "label 7 is not in the task's labels_map"),
    6: ("box-outside-image", "the box rows 10..70, columns 10..20 are not inside its image_size_2d (64 x 64)"),
    37: ("invalid-record", "not valid JSON"),
    38: ("unknown-kind", "cannot tell the task kind"),
    39: ("corrupt-nifti", "cannot decode NIfTI volume "),
}


def test_every_problem_is_listed_in_one_error(broken):
    with pytest.raises(DataProblems) as caught:
        prepare_data(cfg_for(broken), broken, QWEN)
    err = caught.value
    assert isinstance(err, DataError)  # the runner reports it as a data error with a record index
    records = broken / "records.jsonl"
    found = {int(p.where.rsplit(":", 1)[1]): p for p in err.problems}
    assert sorted(found) == sorted(EXPECTED)
    for line, (reason, text) in EXPECTED.items():
        assert found[line].reason == reason, line
        assert text in found[line].detail, (line, found[line].detail)
        assert found[line].record == line - 1
        assert f"{records}:{line} (record {line - 1}): {text}" in str(err)
    assert str(err).startswith(
        "9 bad records (2 NIfTI unreadable or corrupt, 2 task metadata missing, 1 box outside the image, "
        "1 invalid record, 1 image file missing, 1 slice index out of range, 1 no task kind):\n"
    )
    assert str(err).endswith("\nFix these records, or set `data.skip_bad_records: true` to train without them.")
    assert err.record == 0


def test_skip_bad_records_trains_on_the_rest_and_counts_them(broken):
    data = prepare_data(cfg_for(broken, skip=True), broken, QWEN)
    assert len(data.train) == 40 - 9  # 40 lines, nine of them bad (one is not even JSON)
    assert data.skipped == {
        "corrupt-nifti": 2,
        "missing-metadata": 2,
        "box-outside-image": 1,
        "invalid-record": 1,
        "missing-file": 1,
        "slice-out-of-range": 1,
        "unknown-kind": 1,
    }
    assert any(w.startswith("skipped 9 bad records (2 NIfTI unreadable or corrupt, ") for w in data.warnings)
    used = {int(s.where.rsplit(":", 1)[1]) for s in data.train}
    assert not used & set(EXPECTED) and 40 in used
    warm = prepare_data(cfg_for(broken, skip=True), broken, QWEN)
    assert warm.cache_hit and warm.skipped == data.skipped and warm.warnings == data.warnings


def test_long_lists_are_cut_with_a_count(tmp_path):
    demo = make_demo_data(tmp_path)
    (demo / "records.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(60)))
    with pytest.raises(DataProblems) as caught:
        prepare_data(cfg_for(demo), demo, QWEN)
    message = str(caught.value)
    assert message.startswith("60 bad records (60 no task kind):\n")
    assert "... and 10 more" in message and len(caught.value.problems) == 60


def test_missing_task_metadata_file_is_one_clear_error(tmp_path):
    demo = make_demo_data(tmp_path)
    (demo / "tasks.json").unlink()
    with pytest.raises(DataError, match=r"task metadata file not found: .*tasks\.json"):
        prepare_data(cfg_for(demo), demo, QWEN)


def test_a_skipped_missing_volume_that_appears_is_used_next_time(broken):
    first = prepare_data(cfg_for(broken, skip=True), broken, QWEN)
    assert first.skipped["missing-file"] == 1
    shutil.copy(broken / "Images" / "case_000.nii.gz", broken / "Images" / "missing.nii.gz")
    second = prepare_data(cfg_for(broken, skip=True), broken, QWEN)
    assert not second.cache_hit and "missing-file" not in second.skipped
    assert len(second.train) == len(first.train) + 1
