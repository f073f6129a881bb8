"""`split_membership` (the `split` command behind the sample preview's split filter) gives
exactly the split that `prepare` makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlm_sft.config.model import DataSection, DataSource
from medvlm_sft.data.dataset import prepare_data
from medvlm_sft.data.demo import make_demo_data
from medvlm_sft.data.membership import split_membership
from medvlm_sft.models.family import ResizeRule

QWEN = ResizeRule("qwen2_5_vl")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return make_demo_data(tmp_path_factory.mktemp("demo"), seed=0)


def data_cfg(records: Path, tasks: Path, cache: Path, **source) -> DataSection:
    sources = [DataSource(records=str(records), tasks=str(tasks), **source)]
    return DataSection(sources=sources, seed=1024, cache_dir=str(cache), num_workers=1)


def test_split_membership_is_the_split_prepare_makes(demo, tmp_path):
    lines = (demo / "records.jsonl").read_text().splitlines()
    lines[2] = '{"broken": '
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("Images", "Landmarks"):
        (tmp_path / name).symlink_to(demo / name)
    cfg = data_cfg(tmp_path / "records.jsonl", demo / "tasks.json", tmp_path / "cache", val_limit=4, train_limit=20)
    cfg = cfg.model_copy(update={"skip_bad_records": True})
    data = prepare_data(cfg, tmp_path, QWEN)
    membership = split_membership(cfg, tmp_path, QWEN)
    assert [m["index"] for m in membership] == list(range(len(lines)))
    by_split: dict[str, set[int]] = {}
    for m in membership:
        by_split.setdefault(m["split"], set()).add(m["index"])
    assert by_split["train"] == {s.record for s in data.train}
    assert by_split["val"] == {s.record for s in data.val}
    assert by_split["error"] == {2}
    # train_limit 20 and the rest of the last validation volume leave records unused.
    assert len(by_split["unused"]) == len(lines) - 1 - len(data.train) - len(data.val) > 0
