"""Deterministic train/validation split and sample limits.

Fixes two reference weak spots: its split depends on the order tasks finish loading, and it
carves validation slices out of the same patients as training. Here items are sorted by a
content key first (file order never matters), grouped by volume so one `image_file` never
lands in both splits, and shuffled with a seed. A limit of -1, or one above the data size,
uses everything (the reference's `select(range(-1))` gave an empty set).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
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
    taken = 0
    for key in order:
        if taken >= val_limit:
            break
        members = groups.pop(key)
        room = val_limit - taken
        result.val.extend(members[:room])
        taken += min(room, len(members))
        if len(members) > room:
            # The rest of this volume goes to neither split: keeping it for training would put
            # one patient on both sides.
            result.notes.append(
                f"{label}: {len(members) - room} samples of the last validation volume are left out of training"
            )
    pool = [item for key in order if key in groups for item in groups[key]]
    result.train = apply_limit(pool, train_limit, f"{label}: train_limit", result.warnings)
    if not pool and val_limit > 0:
        result.warnings.append(f"{label}: no training samples are left after the validation split")
    return result


def apply_limit(items: list[T], limit: int, what: str, warnings: list[str]) -> list[T]:
    if limit < 0:
        return list(items)
    if limit > len(items):
        warnings.append(f"{what} {limit} is more than the {len(items)} samples available; all of them are used")
        return list(items)
    return list(items[:limit])


def limit_total(items: list[T], limit: int, seed: int, what: str, warnings: list[str]) -> list[T]:
    """A global limit over several sources: a seeded sample, so no source is favoured by its position."""
    if limit < 0 or limit >= len(items):
        return apply_limit(items, limit, what, warnings)
    rng = random.Random(f"{seed}:{what}")
    chosen = sorted(rng.sample(range(len(items)), limit))
    return [items[i] for i in chosen]
