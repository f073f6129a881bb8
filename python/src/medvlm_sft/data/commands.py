"""`medvlm-sft format` and `medvlm-sft prepare`.

Neither imports torch or transformers: `format` answers the editor's sample preview in well
under a second, and `prepare` can run on a CPU box before the GPU job (as the reference's
`process_dataset_only` pass did), filling the cache the training run then reuses.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from medvlm_sft.data.checks import ImageInfo, ImageProblem, check_record, describe, inspect_image, item_error
from medvlm_sft.data.formatting import REFERENCE, FormatOptions
from medvlm_sft.data.records import DataError, read_records
from medvlm_sft.data.resize import hub_model_dir, resize_rule
from medvlm_sft.data.tasks import load_tasks


def _say(message: str) -> None:
    print(f"[medvlm-sft] {message}", file=sys.stderr, flush=True)


def run_format_command(
    records: Path,
    tasks: Path | None,
    family: str,
    limit: int | None = None,
    model: Path | None = None,
    *,
    options: FormatOptions = REFERENCE,
    with_index: bool = False,
) -> int:
    """One JSON line per record on stdout: messages, image_size [H, W], model_image_size [H2, W2].

    Bad records are reported on stderr (file:line and why) and get no line; the exit status is
    then 1. A file that cannot be read at all exits with 2. With `with_index`, every line starts
    with the record's 0-based index and a bad record gets a line too, {"index", "error"}, so a
    reader (the sample preview) can match lines to records.
    """
    try:
        resize = resize_rule(family, model)  # type: ignore[arg-type]
        task_meta = load_tasks(tasks) if tasks is not None else None
        problems: list[DataError] = []
        recs = read_records(records, problems)
    except (DataError, OSError, ValueError) as e:
        print(f"medvlm-sft format: {e}", file=sys.stderr)
        return 2
    if limit is not None:
        recs = [r for r in recs if r.index < limit]
        problems = [p for p in problems if p.record is None or p.record < limit]
    infos: dict[Path, ImageInfo | ImageProblem] = {}
    out = sys.stdout
    for rec in recs:
        try:
            item = check_record(rec, records.name, task_meta, tasks, resize, options=options)
            if item.image_path not in infos:
                try:
                    infos[item.image_path] = inspect_image(item.image_path)
                except ImageProblem as e:
                    infos[item.image_path] = e
            info = infos[item.image_path]
            if isinstance(info, ImageProblem):
                raise item_error(item, info)
            d = describe(item, info, resize)
        except DataError as e:
            problems.append(e)
            if with_index:
                out.write(json.dumps({"index": rec.index, "error": str(e)}) + "\n")
            continue
        line = {"messages": d.messages, "image_size": list(d.image_size), "model_image_size": list(d.model_image_size)}
        if with_index:
            line = {"index": rec.index, **line}
        out.write(json.dumps(line) + "\n")
    if with_index:
        # Records that did not even parse (a broken line) have their index in the problem.
        for problem in problems:
            if problem.record is not None and all(problem.record != r.index for r in recs):
                out.write(json.dumps({"index": problem.record, "error": str(problem)}) + "\n")
    out.flush()
    problems.sort(key=lambda p: p.record if p.record is not None else -1)
    for problem in problems:
        print(f"medvlm-sft format: {problem}", file=sys.stderr)
    return 1 if problems else 0


def model_resize(cfg: Any, base_dir: Path):
    """The resize rule the trainer will use for this config's model, read from its processor config."""
    from medvlm_sft.models.family import detect_family

    def warn(message: str) -> None:
        _say(f"warning: {message}")

    base = cfg.model.base
    folder = Path(base).expanduser()
    folder = folder if folder.is_absolute() else base_dir / folder
    if folder.is_dir():
        return resize_rule(detect_family(str(folder), cfg.model.family, warn=warn), folder)
    family = detect_family(base, cfg.model.family, warn=warn)
    local = hub_model_dir(base)
    if local is None:
        _say(f"no processor config found for {base}; using the published defaults of {family}")
    return resize_rule(family, local)


def run_split_command(config: Path, base_dir: Path | None = None) -> int:
    """One JSON line per record of every data source: the split the run would put it in."""
    from medvlm_sft.config.validate import ConfigError, require_config
    from medvlm_sft.data.membership import split_membership

    config = Path(config).resolve()
    base_dir = Path(base_dir).resolve() if base_dir is not None else config.parent
    try:
        cfg = require_config(config, check_data=True, base_dir=base_dir)
        lines = split_membership(cfg.data, base_dir, model_resize(cfg, base_dir))
    except (DataError, ConfigError) as e:
        print(f"medvlm-sft split: {e}", file=sys.stderr, flush=True)
        return 1
    for line in lines:
        sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    return 0


def run_prepare_command(config: Path, run_dir: Path | None = None, base_dir: Path | None = None) -> int:
    """Prepare (and cache) a run config's data; prints a JSON summary line on stdout."""
    from medvlm_sft import __version__
    from medvlm_sft.config.validate import ConfigError, require_config
    from medvlm_sft.data.dataset import prepare_data

    config = Path(config).resolve()
    base_dir = Path(base_dir).resolve() if base_dir is not None else config.parent
    writer = None
    if run_dir is not None:
        from medvlm_sft.train.events import EventWriter

        writer = EventWriter(Path(run_dir) / "events.jsonl")

    def progress(message: str) -> None:
        _say(message)
        if writer is not None:
            writer.log("info", message)

    run_id = Path(run_dir).name if run_dir is not None else ""
    started = False
    try:
        cfg = require_config(config, check_data=True, base_dir=base_dir)
        if writer is not None:
            writer.run_started(run_id, __version__, 1, cfg.model_dump(mode="json"))
            started = True
            writer.phase("preparing_data")
        data = prepare_data(cfg.data, base_dir, model_resize(cfg, base_dir), progress=progress)
        for message in data.warnings:
            _say(f"warning: {message}")
            if writer is not None:
                writer.log("warning", message)
        summary = {
            "train": len(data.train),
            "val": len(data.val),
            "skipped": data.skipped,
            "cache_hit": data.cache_hit,
            "index": str(data.index_path),
        }
        print(json.dumps(summary), flush=True)
        if writer is not None:
            writer.run_finished("finished")
        return 0
    except Exception as e:
        message = str(e) if isinstance(e, (DataError, ConfigError)) else f"{type(e).__name__}: {e}"
        print(f"medvlm-sft prepare: {message}", file=sys.stderr, flush=True)
        if writer is not None:
            if not started:
                writer.run_started(run_id, __version__, 1, {})
            writer.error(message, traceback.format_exc(), e.record if isinstance(e, DataError) else None)
            writer.run_finished("failed")
        return 1
    finally:
        if writer is not None:
            writer.close()
