"""The events contract (design contract 4): the trainer is the only writer of events.jsonl.

One flat JSON object per line, flushed per line:
`{"v": 1, "t": <unix seconds>, "type": ..., ...}`. Readers ignore unknown fields and types,
tolerate a torn last line and resume from a byte offset. The TypeScript mirror lives in
`src/shared/events.ts`; both sides check `test/fixtures/events/golden.jsonl`.

Eval `metrics` events carry the validation `loss` and, when `eval.generation_samples` > 0, the
MedVision task metrics of greedy answers: `ad_mae`, `ad_mre`, `ad_success_rate`, `tl_mae`,
`tl_mre`, `tl_success_rate`, `det_iou`, `det_mae`, `det_success_rate`, `mre`, `success_rate`
and `gen_samples` (defined in `medvlm_sft/eval/metrics.py`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

EVENTS_VERSION = 1

Phase = Literal["preparing_data", "loading_model", "training", "evaluating", "saving", "merging", "pushing"]
PHASES: tuple[str, ...] = ("preparing_data", "loading_model", "training", "evaluating", "saving", "merging", "pushing")
RunStatus = Literal["finished", "failed", "stopped"]
LogLevel = Literal["debug", "info", "warning", "error"]
# Events a reader must see after a crash or power loss, so they are fsynced too.
DURABLE_TYPES = frozenset({"run_finished", "checkpoint", "error"})

# Required fields of each event type besides v, t and type; the golden test checks these
# against the fixture and the TypeScript mirror checks the same file.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "run_started": ("run_id", "trainer_version", "world_size", "config"),
    "phase": ("phase",),
    "progress": ("step", "max_steps", "epoch", "samples_per_s", "eta_s"),
    "metrics": ("step", "epoch", "split"),
    "checkpoint": ("step", "path"),
    "log": ("level", "message"),
    "error": ("message", "traceback"),
    "run_finished": ("status",),
}


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


RESERVE_FILE = ".events-reserve"
RESERVE_BYTES = 256 << 10
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# The events that say how a run ended: the only ones the reserve is kept for.
REPORT_TYPES = frozenset({"error", "run_finished"})


class EventWriter:
    """Appends events to `<run>/events.jsonl`, one line per write(2), unbuffered.

    Metric values that are NaN or infinite are written as null (JSON has no NaN), which the
    run panel draws as gaps.

    With `reserve_bytes`, a file of that size is kept beside the events and deleted when the
    disk is full and the run reports its end (`error`, `run_finished`, or anything after
    `begin_report`): the report still gets written. Any other event that finds the disk full
    raises ENOSPC instead of spending the reserve: spent on a progress line, it would be gone by
    the time the run fails (at the next checkpoint, say) and its `error` would not fit. A write
    cut short leaves a partial line; the next event starts on a fresh line, so readers skip only
    the partial one.
    """

    def __init__(self, path: Path, clock=time.time, reserve_bytes: int = 0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A process killed mid-write (kill -9) left a partial line: end it, so that the next event
        # (a resumed run's run_started) is not glued to it and lost with it.
        self._torn = _ends_mid_line(self.path)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        # Reentrant: a phase change reads and writes the current phase under the same lock as the write.
        self._lock = threading.RLock()
        self._clock = clock
        self.main_phase: str | None = None
        self._reporting = False
        self.reserve: Path | None = None
        if reserve_bytes > 0:
            self.reserve = self.path.parent / RESERVE_FILE
            try:
                # Random bytes: a file system that compresses would store zeros in no space at all.
                self.reserve.write_bytes(os.urandom(reserve_bytes))
            except OSError:
                # Already no room for it: the events still go out as long as the disk allows.
                self.release_reserve()

    def release_reserve(self) -> bool:
        """Frees the reserved space; True when there was some to free."""
        reserve, self.reserve = self.reserve, None
        if reserve is None:
            return False
        try:
            reserve.unlink()
        except OSError:
            return False
        return True

    def begin_report(self) -> None:
        """The run is ending with a failure: every event from now on may use the reserve."""
        self._reporting = True

    def emit(self, type_: str, **fields: Any) -> dict[str, Any]:
        event = {"v": EVENTS_VERSION, "t": round(self._clock(), 3), "type": type_}
        event.update({k: _finite_or_none(v) for k, v in fields.items()})
        line = json.dumps(event, ensure_ascii=False, allow_nan=False, default=str)
        with self._lock:
            try:
                self._write_line(line)
            except OSError as e:
                if e.errno not in _DISK_FULL:
                    raise
                report = self._reporting or type_ in REPORT_TYPES
                if not (report and self.release_reserve()):
                    # Named, so the run's error says which file found the disk full.
                    raise OSError(e.errno, os.strerror(e.errno), str(self.path)) from e
                self._write_line(line)
            if type_ in DURABLE_TYPES and self._fd is not None:
                os.fsync(self._fd)
        return event

    def _write_line(self, line: str) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        data = (b"\n" if self._torn else b"") + line.encode("utf-8") + b"\n"
        self._torn = True  # until the whole line is out
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._torn = False

    def run_started(
        self,
        run_id: str,
        trainer_version: str,
        world_size: int,
        config: dict[str, Any],
        *,
        attempt: int | None = None,
        resume_step: int | None = None,
    ) -> None:
        """`attempt`: 1 for the first start in this run folder, 2 for the first resume, ... (default:
        one more than the run_started events already in the file); `resume_step`: the global step of
        the checkpoint it resumes from, None when it starts fresh."""
        if attempt is None:
            attempt = next_attempt(self.path)
        self.emit(
            "run_started",
            run_id=run_id,
            trainer_version=trainer_version,
            world_size=world_size,
            config=config,
            attempt=attempt,
            resume_step=resume_step,
        )

    def phase(self, phase: Phase, *, background: bool = False) -> None:
        """`background`: work beside the run's main flow (a checkpoint push during training); once it is
        done, `resume_main_phase` announces the phase the run is in again."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        with self._lock:
            if not background:
                self.main_phase = phase
            self.emit("phase", phase=phase)

    def resume_main_phase(self) -> None:
        with self._lock:
            if self.main_phase is not None:
                self.emit("phase", phase=self.main_phase)

    def progress(
        self, step: int, max_steps: int, epoch: float, samples_per_s: float | None, eta_s: float | None
    ) -> None:
        self.emit("progress", step=step, max_steps=max_steps, epoch=epoch, samples_per_s=samples_per_s, eta_s=eta_s)

    def metrics(self, step: int, epoch: float, split: Literal["train", "eval"], **values: float) -> None:
        self.emit("metrics", step=step, epoch=epoch, split=split, **values)

    def checkpoint(self, step: int, path: str) -> None:
        self.emit("checkpoint", step=step, path=path)

    def log(self, level: LogLevel, message: str) -> None:
        self.emit("log", level=level, message=message)

    def error(self, message: str, traceback: str, record: int | None = None) -> None:
        fields: dict[str, Any] = {"message": message, "traceback": traceback}
        if record is not None:
            fields["record"] = record
        self.emit("error", **fields)

    def run_finished(self, status: RunStatus) -> None:
        self.emit("run_finished", status=status)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self.release_reserve()


def _ends_mid_line(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def next_attempt(path: Path) -> int:
    """One more than the number of times a trainer started in this run folder (its run_started events)."""
    try:
        events, _ = read_events(path)
    except FileNotFoundError:
        return 1
    return 1 + sum(1 for e in events if e["type"] == "run_started")


def read_events(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete events from `offset`, and the offset after the last complete line.

    A torn last line (no newline yet) is left for the next read; lines that are not JSON
    objects with a string `type` are skipped.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    for raw in data[: end + 1].splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            events.append(event)
    return events, offset + end + 1
