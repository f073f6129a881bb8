"""Which split each record lands in under a run config, as `prepare` would split it.

The sample preview lists and filters records by it (`medvlm-sft split CONFIG`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medvlm_sft.data import formatting
from medvlm_sft.data.dataset import Resize, _read_sources, _resolve_source, _split
from medvlm_sft.data.problems import ProblemLog
from medvlm_sft.data.records import DataError, read_records


def split_membership(data_cfg: Any, base_dir: Path, resize: Resize) -> list[dict[str, Any]]:
    """Each record's split by the run's own split: train, val, unused (a limit or the rest of a
    validation volume left it out) or error. Reads records and image headers only."""
    sources = [_resolve_source(s, base_dir) for s in data_cfg.sources]
    items = _read_sources(sources, resize, formatting.FormatOptions.from_config(data_cfg), ProblemLog())
    train, val, _, _ = _split(data_cfg, sources, items)
    where = {item.key: "train" for item in train} | {item.key: "val" for item in val}
    out: list[dict[str, Any]] = []
    for number, (source, source_items) in enumerate(zip(sources, items, strict=True)):
        seen = {item.rec.index: item.key for item in source_items}
        errors: list[DataError] = []
        for index in range(len(read_records(source.records, errors)) + len(errors)):
            split = where.get(seen[index], "unused") if index in seen else "error"
            out.append({"source": number, "records": str(source.records), "index": index, "split": split})
    return out
