"""Deterministic split and limits: file order never matters, volumes never straddle the split."""

from __future__ import annotations

import random

from medvlm_sft.data.split import limit_total, split_items

# (image_file, slice) pairs: 6 volumes with 1 to 6 slices each.
ITEMS = [(f"vol{v}.nii.gz", s) for v in range(6) for s in range(v + 1)]


def split(items, **overrides):
    kwargs = {
        "sort_key": lambda it: f"{it[0]}/{it[1]:03d}",
        "group_key": lambda it: it[0],
        "seed": "1024:demo",
        "val_limit": 5,
        "train_limit": -1,
        "label": "demo",
    }
    kwargs.update(overrides)
    return split_items(items, **kwargs)


def test_same_split_whatever_the_file_order():
    reference = split(ITEMS)
    for seed in range(5):
        shuffled = list(ITEMS)
        random.Random(seed).shuffle(shuffled)
        again = split(shuffled)
        assert (again.train, again.val) == (reference.train, reference.val)


def test_seed_changes_the_split():
    assert split(ITEMS).val != split(ITEMS, seed="7:demo").val


def test_group_by_volume_keeps_each_volume_on_one_side():
    for seed in range(20):
        result = split(ITEMS, seed=seed)
        train_volumes = {v for v, _ in result.train}
        val_volumes = {v for v, _ in result.val}
        assert not train_volumes & val_volumes
        assert len(result.val) == 5
        # Slices of the last validation volume beyond the limit are dropped, not trained on.
        assert len(result.train) + len(result.val) <= len(ITEMS)


def test_without_grouping_every_item_is_used():
    result = split(ITEMS, group_key=None)
    assert len(result.val) == 5 and len(result.train) == len(ITEMS) - 5
    assert sorted(result.train + result.val) == sorted(ITEMS)


def test_limits_minus_one_and_above_size_mean_all():
    everything = split(ITEMS, val_limit=0, train_limit=-1)
    assert len(everything.train) == len(ITEMS) and not everything.warnings
    too_many = split(ITEMS, val_limit=0, train_limit=1000)
    assert too_many.train == everything.train
    assert too_many.warnings == ["demo: train_limit 1000 is more than the 21 samples available; all of them are used"]
    few = split(ITEMS, val_limit=0, train_limit=4)
    assert few.train == everything.train[:4]


def test_val_limit_above_size_puts_all_in_validation_with_warnings():
    result = split(ITEMS, val_limit=100)
    assert len(result.val) == len(ITEMS) and result.train == []
    assert any("val_limit 100 is more than its 21 samples" in w for w in result.warnings)
    assert any("no training samples are left" in w for w in result.warnings)


def test_global_limit_is_a_seeded_sample_and_never_an_error():
    items = list(range(10))
    warnings: list[str] = []
    assert limit_total(items, -1, 1, "data.train_limit", warnings) == items
    assert limit_total(items, 50, 1, "data.train_limit", warnings) == items
    assert warnings == ["data.train_limit 50 is more than the 10 samples available; all of them are used"]
    picked = limit_total(items, 3, 1, "data.train_limit", warnings)
    assert len(picked) == 3 and picked == limit_total(items, 3, 1, "data.train_limit", [])
