"""`validate --check-data`: open what the config names, cheaply, before a long run fails on it.

Reads are bounded (a few records per file, line counts only below a size cap), so the editor can
run this on save even for multi-gigabyte record files. A limit larger than the data is a
warning, never an error (design contract 7): all records are then used.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medvlm_sft.config.data_sizes import UNKNOWN, RecordCount, dataset_sizes, estimate_from_sample, estimate_json_array
from medvlm_sft.config.model import DataSource, RunConfig
from medvlm_sft.config.rules import Finding
from medvlm_sft.data.records import count_jsonl_records

RECORD_SUFFIXES = (".jsonl", ".json", ".parquet")
PEEK_RECORDS = 5
MAX_PEEK_LINE_BYTES = 8 * 1024 * 1024
MAX_COUNT_BYTES = 256 * 1024 * 1024
MAX_JSON_BYTES = 16 * 1024 * 1024
ESTIMATE_HEAD_BYTES = 1024 * 1024
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_MEDVISION_FIELDS = ("bounding_boxes", "biometric_profile", "taskType")


def resolve_path(config_path: Path | str, value: str) -> Path:
    """A path from the config: `~` expands, and relative paths resolve against the config file's folder."""
    path = Path(os.path.expanduser(value))
    if not path.is_absolute():
        path = Path(config_path).absolute().parent / path
    return Path(os.path.normpath(path))


def looks_local(value: str) -> bool:
    return value.startswith((".", "/", "~", "\\")) or bool(re.match(r"^[A-Za-z]:[\\/]", value))


def check_data(cfg: RunConfig, config_path: Path) -> list[Finding]:
    return inspect_data(cfg, config_path)[0]


def inspect_data(cfg: RunConfig, config_path: Path) -> tuple[list[Finding], dict[str, Any]]:
    """The data problems, and the dataset sizes training will use (`data_sizes.dataset_sizes`)."""
    findings = list(_check_model(cfg, config_path))
    counts = []
    for index, source in enumerate(cfg.data.sources):
        records = resolve_path(config_path, source.records)
        count = _check_source(source, index, records, config_path, findings)
        counts.append((source.name or records.name, records, count))  # the name prepare_data gives the source
    return findings, dataset_sizes(cfg, counts)


def _check_model(cfg: RunConfig, config_path: Path) -> Iterator[Finding]:
    base = cfg.model.base
    where = ("model", "base")
    folder = resolve_path(config_path, base)
    if looks_local(base) or folder.exists():
        if not folder.is_dir():
            yield Finding(
                where, f"`{base}` looks like a local model but the folder {folder} does not exist", code="model-path"
            )
        elif not (folder / "config.json").is_file():
            yield Finding(
                where,
                f"the model folder {folder} has no config.json; point at a saved Hugging Face model",
                code="model-path",
            )
    elif not HUB_ID_RE.match(base):
        yield Finding(
            where,
            f"`{base}` is neither a local folder (no {folder}) nor a Hub id of the form `owner/name`",
            "warning",
            "model-hub-id",
        )


def _check_source(
    source: DataSource, index: int, records: Path, config_path: Path, findings: list[Finding]
) -> RecordCount:
    here = ("data", "sources", index)
    count = UNKNOWN
    problem = _file_problem(records, "records file")
    if problem:
        findings.append(Finding((*here, "records"), problem, code="records-file"))
    elif records.suffix.lower() not in RECORD_SUFFIXES:
        findings.append(
            Finding(
                (*here, "records"),
                f"records file {records.name} should end in .jsonl, .json or .parquet",
                code="records-format",
            )
        )
    else:
        count = _check_records(source, records, here, findings)
    if source.tasks is not None:
        tasks = resolve_path(config_path, source.tasks)
        problem = _file_problem(tasks, "tasks file") or _json_object_problem(tasks)
        if problem:
            findings.append(Finding((*here, "tasks"), problem, code="tasks-file"))
    return count


def _file_problem(path: Path, what: str) -> str | None:
    if not path.exists():
        return f"{what} {path} does not exist"
    if not path.is_file():
        return f"{what} {path} is not a file"
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError as err:
        return f"cannot read {what} {path}: {err.strerror or err}"
    return None


def _json_object_problem(path: Path) -> str | None:
    if path.stat().st_size > MAX_JSON_BYTES:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"tasks file {path} is not valid JSON: {err}"
    if not isinstance(value, dict):
        return f"tasks file {path} should hold a JSON object keyed by task"
    return None


def _check_records(source: DataSource, records: Path, here: tuple, findings: list[Finding]) -> RecordCount:
    suffix = records.suffix.lower()
    if suffix == ".parquet":
        return UNKNOWN  # reading parquet needs pyarrow, which validate does not import; the trainer checks it
    if suffix == ".jsonl":
        first, problem, sample = _peek_jsonl(records)
        count = _count_jsonl(records, sample)
    else:
        first, problem, count = _peek_json(records)
    if problem:
        findings.append(Finding((*here, "records"), problem, code="records-format"))
        return count  # bad lines are bad records: the others still count
    medvision = first is not None and "messages" not in first and any(k in first for k in _MEDVISION_FIELDS)
    if medvision and source.tasks is None:
        findings.append(
            Finding(
                (*here, "tasks"),
                f"{records.name} holds MedVision records, which need task metadata; set `tasks:` to its tasks.json",
                code="needs-tasks",
            )
        )
    if count.exact is not None:
        findings.extend(_limit_findings(source, count.exact, here))
    return count


def _limit_findings(source: DataSource, count: int, here: tuple) -> Iterator[Finding]:
    if source.val_limit > count:
        yield Finding(
            (*here, "val_limit"),
            f"`val_limit` {source.val_limit} is more than the {count} records; all of them are held out",
            "warning",
            "limit-above-data",
        )
    left = max(count - source.val_limit, 0)
    if source.train_limit > left:
        yield Finding(
            (*here, "train_limit"),
            f"`train_limit` {source.train_limit} is more than the {left} records left after validation; "
            "all of them are used",
            "warning",
            "limit-above-data",
        )


def _peek_jsonl(path: Path) -> tuple[dict | None, str | None, tuple[int, int]]:
    """The first record, a problem in the first few lines, and (records, bytes) read for estimates."""
    first: dict | None = None
    seen = read = 0
    with open(path, "rb") as fh:
        for number in range(1, 10_000):
            raw = fh.readline(MAX_PEEK_LINE_BYTES)
            if not raw:
                break
            read += len(raw)
            if len(raw) >= MAX_PEEK_LINE_BYTES and not raw.endswith(b"\n"):
                return first, f"line {number} of {path.name} is longer than {MAX_PEEK_LINE_BYTES >> 20} MiB", (seen, 0)
            if not raw.strip():
                continue
            seen += 1
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                return first, f"line {number} of {path.name} is not UTF-8 text", (seen, read)
            except json.JSONDecodeError as err:
                message = f"line {number} of {path.name} is not valid JSON: {err.msg} (column {err.colno})"
                return first, message, (seen, read)
            if not isinstance(value, dict):
                message = f"line {number} of {path.name} is a JSON {type(value).__name__}, not an object (record)"
                return first, message, (seen, read)
            first = first or value
            if seen >= PEEK_RECORDS:
                break
    if first is None and seen == 0:
        return None, f"{path.name} has no records", (0, read)
    return first, None, (seen, read)


def _count_jsonl(path: Path, sample: tuple[int, int]) -> RecordCount:
    """Records counted as the trainer reads them, up to the size cap; beyond it, an estimate."""
    size = path.stat().st_size
    if size > MAX_COUNT_BYTES:
        return RecordCount(estimate=estimate_from_sample(size, *sample))
    try:
        return RecordCount(count_jsonl_records(path))
    except (OSError, UnicodeDecodeError):
        return UNKNOWN


def _peek_json(path: Path) -> tuple[dict | None, str | None, RecordCount]:
    if path.stat().st_size > MAX_JSON_BYTES:
        return None, None, RecordCount(estimate=estimate_json_array(path, ESTIMATE_HEAD_BYTES))
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return None, f"{path.name} is not UTF-8 text", UNKNOWN
    except json.JSONDecodeError as err:
        return None, f"{path.name} is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})", UNKNOWN
    if not isinstance(value, list):
        return None, f"{path.name} should hold a JSON array of records", UNKNOWN
    count = RecordCount(len(value))
    for number, item in enumerate(value[:PEEK_RECORDS]):
        if not isinstance(item, dict):
            return None, f"item {number} of {path.name} is not a JSON object (record)", count
    if not value:
        return None, f"{path.name} has no records", count
    return value[0], None, count
