"""From data sources in a run config to formatted train and validation samples.

Order of work, cheapest first so problems surface early:
1. read and check every record against its task metadata (no image is opened);
2. split and limit by metadata only;
3. read the headers of the selected images (shape, spacing: all the prompts need);
4. decode each selected volume once, in worker processes, writing only the slices that are
   not cached yet (content-addressed, atomic: see cache.py);
5. format the samples and write the prepared-dataset index.
Every bad record found on the way is collected; they are raised together at the end, or
skipped and counted (`data.skip_bad_records`). A second run with the same settings and
unchanged files loads the index and nothing else; images load lazily when a batch needs them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medvlm_sft import __version__
from medvlm_sft.data import cache, formatting
from medvlm_sft.data.checks import ImageInfo, ImageProblem, Item, check_record, describe, inspect_image, item_error
from medvlm_sft.data.imaging import ImageSettings
from medvlm_sft.data.problems import ProblemLog, describe_counts
from medvlm_sft.data.records import DataError, read_records, resolve_path
from medvlm_sft.data.split import limit_total, source_seed, split_items
from medvlm_sft.data.tasks import load_tasks
from medvlm_sft.data.workers import VolumeJob, VolumeResult, default_workers, run_jobs

Resize = Callable[[int, int], tuple[int, int]]
Progress = Callable[[str], None]
# Settings that do not change the prepared content.
_KEY_EXCLUDED = ("cache_dir", "num_workers")


@dataclass
class Sample:
    messages: list[dict[str, Any]]
    kind: str
    source: str
    where: str
    record: int
    image_file: str  # a cached grey slice (PNG) or, for picture records, the picture itself
    rgb: bool = False
    image_size: tuple[int, int] = (0, 0)  # (H, W) of the slice as stored
    model_image_size: tuple[int, int] = (0, 0)  # (H, W) after the model's resize

    @property
    def image(self) -> np.ndarray:
        """uint8 (H, W) grey for NIfTI slices, (H, W, 3) for pictures; read from disk on each access."""
        return cache.read_image(self.image_file, rgb=self.rgb)

    @property
    def target(self) -> str:
        return message_text(self.messages[-1])

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        data = dict(data)
        data["image_size"] = tuple(data["image_size"])
        data["model_image_size"] = tuple(data["model_image_size"])
        return cls(**data)


@dataclass
class PreparedData:
    train: list[Sample]
    val: list[Sample]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # bad records skipped, per reason
    cache_hit: bool = False
    index_path: Path | None = None


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if part.get("type") == "text")


@dataclass(frozen=True)
class _Source:
    label: str
    records: Path
    tasks: Path | None
    train_limit: int
    val_limit: int


def prepare_data(data_cfg: Any, base_dir: Path, resize: Resize, *, progress: Progress | None = None) -> PreparedData:
    """`data_cfg` is the run config's `data` section; relative paths resolve against `base_dir`.

    `progress` receives one-line human-readable updates (the prepare command prints them).
    """
    started = time.monotonic()
    report: Progress = progress or (lambda _message: None)
    base_dir = Path(base_dir)
    cache_dir = cache.resolve_cache_dir(data_cfg.cache_dir, base_dir)
    sources = [_resolve_source(s, base_dir) for s in data_cfg.sources]
    key = _dataset_key(data_cfg, sources, resize)
    index = cache.index_path(cache_dir, key)
    warm = _load_index(index)
    if warm is not None:
        n = len(warm.train) + len(warm.val)
        report(f"reused prepared data: {n} samples from {index} ({time.monotonic() - started:.2f} s)")
        return warm
    stale = cache.remove_stale_temporaries(cache_dir)
    if stale:
        report(f"removed {stale} unfinished cache file(s) that interrupted runs left in {cache_dir}")
    data, inputs, absent = _prepare(data_cfg, sources, cache_dir, resize, report)
    payload = {
        "key": key,
        "inputs": inputs,
        "absent": absent,
        "train": [s.to_json() for s in data.train],
        "val": [s.to_json() for s in data.val],
        "warnings": data.warnings,
        "notes": data.notes,
        "skipped": data.skipped,
    }
    cache.write_index(index, payload)
    data.index_path = index
    report(
        f"prepared {len(data.train)} train and {len(data.val)} validation samples in "
        f"{time.monotonic() - started:.1f} s (index {index})"
    )
    return data


def _resolve_source(source: Any, base_dir: Path) -> _Source:
    records = resolve_path(base_dir, source.records)
    tasks = resolve_path(base_dir, source.tasks) if source.tasks else None
    return _Source(source.name or records.name, records, tasks, source.train_limit, source.val_limit)


def resize_identity(resize: Resize) -> Any:
    """What the resize rule is, for cache keys: its fields, or its answers on probe shapes."""
    if dataclasses.is_dataclass(resize) and not isinstance(resize, type):
        return {"type": type(resize).__qualname__, **dataclasses.asdict(resize)}
    answers = []
    for hw in [(h, w) for h in (1, 28, 70, 255, 512, 1935, 5000) for w in (28, 98, 512, 2400, 6000)]:
        try:
            answers.append(list(resize(*hw)))
        except ValueError:
            answers.append(None)
    return {"type": getattr(resize, "__qualname__", type(resize).__qualname__), "probe": answers}


def _dataset_key(data_cfg: Any, sources: list[_Source], resize: Resize) -> str:
    settings = data_cfg.model_dump(mode="json", exclude=set(_KEY_EXCLUDED))
    files = []
    for source in sources:
        for what, path in (("records file", source.records), ("task metadata file", source.tasks)):
            if path is None:
                continue
            try:
                files.append(cache.file_identity(path))
            except OSError:
                raise DataError(f"{what} not found: {path}", hint="check `data.sources` in the run config") from None
    return cache.digest(
        {
            "trainer_version": __version__,
            "prompt_version": formatting.PROMPT_VERSION,
            "slice_format": cache.SLICE_FORMAT_VERSION,
            "settings": settings,
            "files": files,
            "resize": resize_identity(resize),
        }
    )


def _load_index(path: Path) -> PreparedData | None:
    """The prepared data from a cache index, or None (a cache miss) when it is absent, stale
    or written by another version of this code."""
    try:
        return _index_data(path)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _index_data(path: Path) -> PreparedData | None:
    payload = cache.read_index(path)
    if payload is None or not cache.identities_unchanged(payload["inputs"]):
        return None
    if any(os.path.lexists(p) for p in payload["absent"]):
        return None  # a missing image has appeared: its records are no longer bad
    train = [Sample.from_json(s) for s in payload["train"]]
    val = [Sample.from_json(s) for s in payload["val"]]
    if not all(os.path.exists(f) for f in {s.image_file for s in train + val}):
        return None  # part of the slice cache was deleted: prepare again
    return PreparedData(
        train, val, payload["warnings"], payload["notes"], payload["skipped"], cache_hit=True, index_path=path
    )


def _read_sources(
    sources: list[_Source], resize: Resize, options: formatting.FormatOptions, problems: ProblemLog
) -> list[list[Item]]:
    out = []
    for source in sources:
        tasks = load_tasks(source.tasks) if source.tasks else None
        errors: list[DataError] = []
        records = read_records(source.records, errors)
        for error in errors:
            problems.add(error, (str(source.records), error.record if error.record is not None else -1))
        items = []
        for rec in records:
            try:
                items.append(check_record(rec, source.label, tasks, source.tasks, resize, options=options))
            except DataError as e:
                problems.add(e, (str(rec.path), rec.index))
        out.append(items)
    return out


def _split(data_cfg: Any, sources: list[_Source], items: list[list[Item]]) -> tuple[list[Item], list[Item], list, list]:
    train: list[Item] = []
    val: list[Item] = []
    warnings: list[str] = []
    notes: list[str] = []
    for source, source_items in zip(sources, items, strict=True):
        result = split_items(
            source_items,
            sort_key=lambda it: it.sort_key,
            group_key=(lambda it: str(it.image_path)) if data_cfg.group_by_volume else None,
            seed=source_seed(data_cfg.seed, source.label),
            val_limit=source.val_limit,
            train_limit=source.train_limit,
            label=source.label,
        )
        train.extend(result.train)
        val.extend(result.val)
        warnings.extend(result.warnings)
        notes.extend(result.notes)
    train = limit_total(train, data_cfg.train_limit, data_cfg.seed, "data.train_limit", warnings)
    val = limit_total(val, data_cfg.val_limit, data_cfg.seed, "data.val_limit", warnings)
    return train, val, warnings, notes


def _prepare(
    data_cfg: Any, sources: list[_Source], cache_dir: Path, resize: Resize, report: Progress
) -> tuple[PreparedData, list[dict[str, Any]], list[str]]:
    problems = ProblemLog()
    items = _read_sources(sources, resize, formatting.FormatOptions.from_config(data_cfg), problems)
    n_records = sum(map(len, items)) + len(problems)
    report(f"read {n_records} records from {len(sources)} source(s)" + _so_far(problems))
    train, val, warnings, notes = _split(data_cfg, sources, items)
    selected = train + val

    by_image: dict[Path, list[Item]] = {}
    for item in selected:
        by_image.setdefault(item.image_path, []).append(item)
    infos: dict[Path, ImageInfo] = {}
    absent: list[str] = []
    for path, group in by_image.items():
        try:
            infos[path] = inspect_image(path)
        except ImageProblem as e:
            if e.reason == "missing-file":
                absent.append(str(path))
            for item in group:
                problems.add(item_error(item, e), item.key)
    described = {}
    for item in selected:
        if item.image_path in infos and item.key not in problems:
            try:
                described[item.key] = describe(item, infos[item.image_path], resize)
            except DataError as e:
                problems.add(e, item.key)
    n_volumes = sum(1 for info in infos.values() if info.header is not None)
    report(f"read the headers of {len(infos)} images ({n_volumes} NIfTI volumes)" + _so_far(problems))

    settings = ImageSettings.from_config(data_cfg.image)
    workers = default_workers(data_cfg.num_workers)
    files = _decode(
        selected,
        infos,
        described,
        settings=settings,
        cache_dir=cache_dir,
        workers=workers,
        problems=problems,
        report=report,
    )

    skipped = problems.finish(bool(data_cfg.skip_bad_records))
    if skipped:
        warnings.append(
            f"skipped {sum(skipped.values())} bad records ({describe_counts(skipped)}); "
            "set `data.skip_bad_records: false` to list them"
        )

    def sample(item: Item) -> Sample:
        d = described[item.key]
        image, rgb = files.get(item.key, (str(item.image_path), True))
        rec = item.rec
        return Sample(
            d.messages, item.kind, item.source, rec.where, rec.index, image, rgb, d.image_size, d.model_image_size
        )

    keep = [it for it in train if it.key in described and it.key not in problems]
    keep_val = [it for it in val if it.key in described and it.key not in problems]
    data = PreparedData([sample(it) for it in keep], [sample(it) for it in keep_val], warnings, notes, skipped)
    inputs = _source_identities(sources) + [info.identity for info in infos.values()]
    return data, inputs, absent


def _so_far(problems: ProblemLog) -> str:
    return f"; {len(problems)} bad records so far" if len(problems) else ""


def _source_identities(sources: list[_Source]) -> list[dict[str, Any]]:
    return [cache.file_identity(p) for s in sources for p in (s.records, s.tasks) if p is not None]


def _decode(
    selected: list[Item],
    infos: dict[Path, ImageInfo],
    described: dict,
    *,
    settings: ImageSettings,
    cache_dir: Path,
    workers: int,
    problems: ProblemLog,
    report: Progress,
) -> dict[tuple[str, int], tuple[str, bool]]:
    """Cache file of every usable NIfTI record; decodes the volumes with missing slices."""
    files: dict[tuple[str, int], tuple[str, bool]] = {}
    wanted: dict[Path, dict[tuple[int, int], str]] = {}
    for item in selected:
        info = infos.get(item.image_path)
        if item.key not in described or info is None or info.header is None:
            continue
        assert item.position is not None
        key = cache.slice_key(info.identity, info.header.sha256, *item.position, settings.key)
        path = str(cache.slice_path(cache_dir, key))
        files[item.key] = (path, False)
        wanted.setdefault(item.image_path, {})[item.position] = path
    jobs = []
    for image_path, slices in wanted.items():
        missing = tuple((dim, idx, p) for (dim, idx), p in sorted(slices.items()) if not os.path.exists(p))
        if missing:
            jobs.append(VolumeJob(str(image_path), missing, settings))
    cached = sum(map(len, wanted.values())) - sum(len(j.slices) for j in jobs)
    report(
        f"decoding {len(jobs)} of {len(wanted)} volumes with {min(workers, max(len(jobs), 1))} worker(s); "
        f"{cached} slices already cached"
    )
    failed: set[str] = set()
    counter = {"done": 0, "slices": 0, "last": time.monotonic()}

    def on_done(result: VolumeResult) -> None:
        counter["done"] += 1
        counter["slices"] += result.written
        if result.error:
            failed.add(result.path)
        now = time.monotonic()
        if now - counter["last"] >= 2.0 or counter["done"] == len(jobs):
            counter["last"] = now
            report(f"decoded {counter['done']}/{len(jobs)} volumes, wrote {counter['slices']} slices")

    results = run_jobs(jobs, workers, on_done)
    errors = {r.path: r.error for r in results if r.error}
    for item in selected:
        if str(item.image_path) in failed:
            message = f"cannot decode NIfTI volume {item.image_path}: {errors[str(item.image_path)]}"
            problem = ImageProblem(message, "corrupt-nifti")
            problems.add(item_error(item, problem), item.key)
    return files


__all__ = ["DataError", "PreparedData", "Sample", "message_text", "prepare_data"]
