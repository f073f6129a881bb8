"""Reading records files (.jsonl, .json, .parquet) with their provenance.

Every record keeps the file and line it came from, so a bad record anywhere in the pipeline
(parsing, task lookup, image decoding, formatting) can be reported as `file:line` with a fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORD_SUFFIXES = (".jsonl", ".json", ".parquet")


class DataError(Exception):
    """A data problem the user can fix; the message names the file, the line and what to do."""

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        record: int | None = None,
        reason: str = "invalid-record",
    ):
        self.where = where
        self.hint = hint
        # 0-based position of the record in its file (the events contract's `record` field).
        self.record = record
        # A short code for grouping problems in summaries (see data/problems.py REASONS).
        self.reason = reason
        self.detail = message
        text = f"{where}: {message}" if where else message
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


@dataclass(frozen=True)
class SourceRecord:
    data: dict[str, Any]
    path: Path
    # 1-based line of a .jsonl record; 1-based element of a .json array; 1-based row of a parquet file.
    line: int
    index: int

    @property
    def where(self) -> str:
        if self.path.suffix == ".jsonl":
            return f"{self.path}:{self.line}"
        unit = "row" if self.path.suffix == ".parquet" else "element"
        return f"{self.path} ({unit} {self.line})"

    def error(self, message: str, hint: str | None = None, reason: str = "invalid-record") -> DataError:
        return DataError(message, where=self.where, hint=hint, record=self.index, reason=reason)


def read_records(path: Path, problems: list[DataError] | None = None) -> list[SourceRecord]:
    """The records of a file. With `problems`, a line that is not a JSON object is added to it and
    skipped (the file itself must still be readable); without, it raises."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"records file not found: {path}", hint="check `data.sources[].records` in the run config")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path, problems)
    if suffix == ".json":
        return _read_json_array(path, problems)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise DataError(
        f"unsupported records file type {path.suffix!r}: {path}", hint=f"use one of {', '.join(RECORD_SUFFIXES)}"
    )


def _report(problems: list[DataError] | None, error: DataError) -> None:
    if problems is None:
        raise error
    problems.append(error)


def _read_jsonl(path: Path, problems: list[DataError] | None = None) -> list[SourceRecord]:
    records: list[SourceRecord] = []
    # A bad line keeps its place in the count, so record indices stay the 0-based positions of
    # the file's non-blank lines whether or not bad ones are skipped.
    index = 0
    with open(path, encoding="utf-8") as f:
        for line_no, raw in jsonl_record_lines(f):
            where = f"{path}:{line_no}"
            index += 1
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as e:
                _report(
                    problems,
                    DataError(
                        f"not valid JSON ({e.msg} at column {e.colno})",
                        where=where,
                        hint="each line of a .jsonl file must be one complete JSON object",
                        record=index - 1,
                    ),
                )
                continue
            if not isinstance(data, dict):
                _report(
                    problems,
                    DataError(
                        f"expected a JSON object, got {type(data).__name__}",
                        where=where,
                        hint="each line of a .jsonl file must be one JSON object",
                        record=index - 1,
                    ),
                )
                continue
            records.append(SourceRecord(data, path, line_no, index - 1))
    return records


def jsonl_record_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of the lines of a .jsonl file that are records: all but blank ones."""
    for line_no, raw in enumerate(lines, start=1):
        if raw.strip():
            yield line_no, raw


def count_jsonl_records(path: Path) -> int:
    """The number of records `read_records` sees in a .jsonl file (good or bad), without parsing them."""
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in jsonl_record_lines(f))


def _read_json_array(path: Path, problems: list[DataError] | None = None) -> list[SourceRecord]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(
            f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})",
            where=str(path),
            hint="a .json records file must hold one array of objects",
        ) from None
    if not isinstance(data, list):
        raise DataError(
            f"expected a JSON array of records, got {type(data).__name__}",
            where=str(path),
            hint="use a top-level array, or write one record per line in a .jsonl file",
        )
    records = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            where = f"{path} (element {i + 1})"
            _report(problems, DataError(f"a {type(item).__name__}, not an object", where=where, record=i))
            continue
        records.append(SourceRecord(item, path, i + 1, i))
    return records


def _read_parquet(path: Path) -> list[SourceRecord]:
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:
        raise DataError(f"cannot read parquet file: {e}", where=str(path)) from None
    return [SourceRecord(_drop_nulls(row), path, i + 1, i) for i, row in enumerate(rows)]


def _drop_nulls(row: dict[str, Any]) -> dict[str, Any]:
    # A parquet table has the union of all records' columns (and struct fields); a field a
    # record lacks reads back as None, which would confuse task-kind detection.
    return {k: _drop_nulls(v) if isinstance(v, dict) else v for k, v in row.items() if v is not None}


def columnar(value: Any) -> Any:
    """A HF `Sequence` of dicts as a dict of lists, whichever way the file stored it.

    The datasets library returns `Sequence({...})` features as a dict of lists; parquet
    files written from pandas or arrow often hold a list of dicts instead.
    """
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(value[0])
        return {k: [v.get(k) for v in value] for k in keys}
    return value


def resolve_path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)
