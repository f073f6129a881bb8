"""Bad records, collected across the whole preparation and reported together.

A dataset with one bad record usually has many; stopping at the first one makes the user
fix them one run at a time. Preparation collects every problem (each names its file:line and
record index), then either raises one `DataProblems` listing them all, before any model is
loaded, or (with `data.skip_bad_records`) drops those records and reports a count per reason.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from medvlm_sft.data.records import DataError

# Reason codes and how a summary names them.
REASONS: dict[str, str] = {
    "invalid-record": "invalid record",
    "unknown-kind": "no task kind",
    "missing-metadata": "task metadata missing",
    "missing-file": "image file missing",
    "corrupt-nifti": "NIfTI unreadable or corrupt",
    "corrupt-image": "picture unreadable",
    "slice-out-of-range": "slice index out of range",
    "box-outside-image": "box outside the image",
}
MAX_LISTED = 50
SKIP_HINT = "Fix these records, or set `data.skip_bad_records: true` to train without them."


class DataProblems(DataError):
    """Several bad records at once; `problems` holds each one's DataError."""

    def __init__(self, problems: list[DataError]) -> None:
        self.problems = problems
        counts = summarize(problems)
        listed = [_line(p) for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            listed.append(f"... and {len(problems) - MAX_LISTED} more")
        noun = "bad record" if len(problems) == 1 else "bad records"
        head = f"{len(problems)} {noun} ({describe_counts(counts)})"
        message = head + ":\n" + "\n".join(f"  {line}" for line in listed) + "\n" + SKIP_HINT
        super().__init__(message, record=problems[0].record if problems else None, reason="several")
        self.hint = SKIP_HINT
        self.counts = counts


def _line(problem: DataError) -> str:
    record = f" (record {problem.record})" if problem.record is not None else ""
    return f"{problem}{record}" if problem.where is None else f"{problem.where}{record}: {_rest(problem)}"


def _rest(problem: DataError) -> str:
    text = problem.detail
    return f"{text} ({problem.hint})" if problem.hint else text


def summarize(problems: list[DataError]) -> dict[str, int]:
    counts = Counter(p.reason for p in problems)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {REASONS.get(reason, reason)}" for reason, n in counts.items())


class ProblemLog:
    """Problems keyed by record, so a record reported twice (e.g. at two stages) counts once."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, int], DataError] = {}
        self._other: list[DataError] = []

    def add(self, error: DataError, record_key: tuple[str, int] | None = None) -> None:
        if record_key is None:
            self._other.append(error)
        else:
            self._items.setdefault(record_key, error)

    def __contains__(self, record_key: tuple[str, int]) -> bool:
        return record_key in self._items

    def __len__(self) -> int:
        return len(self._items) + len(self._other)

    @property
    def problems(self) -> list[DataError]:
        return self._other + [self._items[k] for k in sorted(self._items)]

    def finish(self, skip: bool) -> dict[str, Any]:
        """Raise every problem as one error, or (skip) return the per-reason counts of what is dropped."""
        problems = self.problems
        if not problems:
            return {}
        if not skip:
            raise DataProblems(problems)
        return summarize(problems)
