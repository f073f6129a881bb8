"""`validate --check-data --json`'s `data`: how many samples training will use, for the editor's
derived numbers (steps per epoch and the like).

The sizes come from the split's own code (`data/split.py`), so they cannot drift from what
`prepare_data` selects. Record counts follow data_check's bounded reads: where exact sizes would
take more (a file past the counting cap, or `group_by_volume` cutting a validation volume in a
file too big to read every record's image_file), the numbers are a best estimate and `exact` is
false. Records found bad later are not known here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medvlm_sft.config.model import RunConfig
from medvlm_sft.data.records import DataError, read_records
from medvlm_sft.data.split import limited_size, source_seed, split_items, split_sizes
from medvlm_sft.data.tasks import detect_kind, record_image

# Record files up to this size are read in full to find each record's volume (as .json files are).
MAX_PARSE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class RecordCount:
    """Records in a file: `exact`, else a best `estimate`; both None when unknown."""

    exact: int | None = None
    estimate: int | None = None

    @property
    def best(self) -> int | None:
        return self.exact if self.exact is not None else self.estimate


UNKNOWN = RecordCount()


def dataset_sizes(cfg: RunConfig, counts: list[tuple[str, Path, RecordCount]]) -> dict[str, Any]:
    """`{"train", "val", "exact", "sources": [{"name", "records", "train", "val"}]}` (see `validate`),
    from each source's name (as the run panel shows it), records file and record count."""
    data = cfg.data
    exact = True
    sources: list[dict[str, Any]] = []
    for source, (name, path, count) in zip(data.sources, counts, strict=True):
        n = count.best
        train = val = None
        if n is None:
            exact = False
        elif data.group_by_volume and 0 < source.val_limit < n:
            # The validation volumes are chosen by the split's seeded shuffle and the last one may be
            # cut (its rest is used by neither split): run the split itself on the records' volumes.
            volumes = _volumes(path) if count.exact is not None else None
            if volumes is None:
                train, val = split_sizes(n, None, source.val_limit, source.train_limit)  # as if no volume were cut
                exact = False
            else:
                result = split_items(
                    volumes,
                    sort_key=str,
                    group_key=str,
                    seed=source_seed(data.seed, name),
                    val_limit=source.val_limit,
                    train_limit=source.train_limit,
                    label=name,
                )
                train, val = len(result.train), len(result.val)
        else:
            train, val = split_sizes(n, None, source.val_limit, source.train_limit)
            exact = exact and count.exact is not None
        sources.append({"name": name, "records": count.exact, "train": train, "val": val})
    trains = [s["train"] for s in sources]
    vals = [s["val"] for s in sources]
    known = None not in trains
    return {
        "train": limited_size(sum(trains), data.train_limit) if known else None,
        "val": limited_size(sum(vals), data.val_limit) if known else None,
        "exact": exact,
        "sources": sources,
    }


def _volumes(path: Path) -> list[str] | None:
    """The split group (image) of each record that has one, read as the trainer reads them; None
    for a file too big to read in full here."""
    try:
        if path.stat().st_size > MAX_PARSE_BYTES:
            return None
        records = read_records(path, problems=[])
    except (DataError, OSError, UnicodeDecodeError, ValueError):
        return None
    volumes = []
    for rec in records:
        try:
            volumes.append(str(record_image(rec, detect_kind(rec))))
        except DataError:
            continue  # a bad record: not in the split (and reported when training)
    return volumes


def estimate_from_sample(size: int, records: int, sample_bytes: int) -> int | None:
    """Records in a file of `size` bytes whose first `sample_bytes` held `records` records."""
    if records <= 0 or sample_bytes <= 0:
        return None
    return max(records, round(size * records / sample_bytes))


def estimate_json_array(path: Path, head_bytes: int) -> int | None:
    """Records in a .json array too big to parse, from the elements in its first `head_bytes`."""
    with open(path, "rb") as fh:
        head = fh.read(head_bytes).decode("utf-8", errors="ignore")
    decoder = json.JSONDecoder()
    pos = _skip_space(head, 0)
    if head[pos : pos + 1] != "[":
        return None
    pos += 1
    records = 0
    while True:
        try:
            _, end = decoder.raw_decode(head, _skip_space(head, pos))
        except json.JSONDecodeError:
            break
        records += 1
        pos = _skip_space(head, end)
        if head[pos : pos + 1] != ",":
            break
        pos += 1
    return estimate_from_sample(path.stat().st_size, records, len(head[:pos].encode("utf-8")))


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
