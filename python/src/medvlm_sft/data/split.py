"""Deterministic train/validation split and sample limits.

Fixes two reference weak spots: its split depends on the order tasks finish loading, and it
carves validation slices out of the same patients as training. Here items are sorted by a
content key first (file order never matters), grouped by volume so one `image_file` never
lands in both splits, and shuffled with a seed. A limit of -1, or one above the data size,
uses everything (the reference's `select(range(-1))` gave an empty set).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class SplitResult(Generic[T]):
    train: list[T]
    val: list[T]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def split_items(
    items: Sequence[T],
    *,
    sort_key: Callable[[T], str],
    group_key: Callable[[T], str] | None,
    seed: str | int,
    val_limit: int,
    train_limit: int,
    label: str,
) -> SplitResult[T]:
    rng = random.Random(str(seed))
    ordered = sorted(items, key=sort_key)
    groups: dict[str, list[T]] = {}
    for i, item in enumerate(ordered):
        key = group_key(item) if group_key else f"#{i}"
        groups.setdefault(key, []).append(item)
    order = sorted(groups)
    rng.shuffle(order)

    result: SplitResult[T] = SplitResult([], [])
    if val_limit > len(ordered):
        result.warnings.append(
            f"{label}: val_limit {val_limit} is more than its {len(ordered)} samples; all of them are used for "
            "validation"
        )
    for key, (_, take) in zip(order, validation_takes((len(groups[k]) for k in order), val_limit), strict=False):
        members = groups.pop(key)
        result.val.extend(members[:take])
        if len(members) > take:
            # The rest of this volume goes to neither split: keeping it for training would put
            # one patient on both sides.
            result.notes.append(
                f"{label}: {len(members) - take} samples of the last validation volume are left out of training"
            )
    pool = [item for key in order if key in groups for item in groups[key]]
    result.train = apply_limit(pool, train_limit, f"{label}: train_limit", result.warnings)
    if not pool and val_limit > 0:
        result.warnings.append(f"{label}: no training samples are left after the validation split")
    return result


def source_seed(seed: int, label: str) -> str:
    """The split seed of one data source: the config's `data.seed` and the source's name."""
    return f"{seed}:{label}"


def validation_takes(group_sizes: Iterable[int], val_limit: int) -> list[tuple[int, int]]:
    """(size, samples taken for validation) of the groups, in the shuffled order, that validation
    uses: whole groups until `val_limit` is reached, then part of the last one. The groups after
    it are left for training; the untaken rest of the last one is used by neither split."""
    takes: list[tuple[int, int]] = []
    taken = 0
    for size in group_sizes:
        if taken >= val_limit:
            break
        take = min(val_limit - taken, size)
        takes.append((size, take))
        taken += take
    return takes


def split_sizes(total: int, group_sizes: Iterable[int] | None, val_limit: int, train_limit: int) -> tuple[int, int]:
    """(train, val) sizes `split_items` gives for `total` samples in groups of these sizes (in the
    shuffled order; None: one group per sample, as without `group_by_volume`), by its own arithmetic."""
    takes = validation_takes(itertools.repeat(1, total) if group_sizes is None else group_sizes, val_limit)
    pool = total - sum(size for size, _ in takes)
    return limited_size(pool, train_limit), sum(take for _, take in takes)


def limited_size(available: int, limit: int) -> int:
    """How many of `available` samples a limit keeps: all for -1 or a limit above the size."""
    return available if limit < 0 or limit > available else limit


def apply_limit(items: list[T], limit: int, what: str, warnings: list[str]) -> list[T]:
    if limit > len(items):
        warnings.append(f"{what} {limit} is more than the {len(items)} samples available; all of them are used")
    return list(items[: limited_size(len(items), limit)])


def limit_total(items: list[T], limit: int, seed: int, what: str, warnings: list[str]) -> list[T]:
    """A global limit over several sources: a seeded sample, so no source is favoured by its position."""
    keep = limited_size(len(items), limit)
    if keep == len(items):
        return apply_limit(items, limit, what, warnings)
    rng = random.Random(f"{seed}:{what}")
    chosen = sorted(rng.sample(range(len(items)), keep))
    return [items[i] for i in chosen]
