"""Failures with a known cause and a known fix: running out of memory, and a full disk.

The runner turns them into an `error` event whose first line says what happened and what to
change, instead of the library's own words (`DefaultCPUAllocator: can't allocate memory`,
`PytorchStreamWriter failed writing file data/3`). Reporting must still work in the very state
that caused the failure, so a little memory is held in reserve and handed back first.

Standard library only: this runs in the error path, where importing anything may fail.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medvlm_sft.train.checkpoints import latest_checkpoint

# Write failures that name no errno (torch's stream writer: a failed or a short write), taken for
# a full disk when the disk is nearly full.
WRITE_FAILED_MARKERS = ("file write failed", "failed writing file", "failed to write", "unexpected pos")
DISK_FULL_MARKERS = ("no space left on device", "storagefull", "disk quota exceeded")
NEARLY_FULL_BYTES = 64 << 20
OOM_MARKERS = ("can't allocate memory", "cannot allocate memory", "out of memory", "cublas_status_alloc_failed")
MEMORY_RESERVE_BYTES = 16 << 20
# oneDNN (torch's CPU kernels) reports a failed allocation only as a primitive it could not
# create; that message stands for running out of memory when a fresh allocation fails too.
ONEDNN_MARKERS = ("could not create a primitive",)
PROBE_BYTES = 32 << 20


@dataclass(frozen=True)
class Failure:
    kind: str  # "out_of_memory" | "disk_full"
    message: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it was raised from or during (libraries wrap the original)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_cuda_oom(exc: BaseException) -> bool:
    # torch.OutOfMemoryError (alias torch.cuda.OutOfMemoryError), matched by name: importing torch here could fail.
    return any(cls.__name__ == "OutOfMemoryError" and cls.__module__.startswith("torch") for cls in type(exc).__mro__)


def memory_exhausted() -> bool:
    """Whether a fresh allocation of PROBE_BYTES fails now (the memory limit is reached)."""
    try:
        probe = bytearray(PROBE_BYTES)
    except MemoryError:
        return True
    del probe
    return False


def is_out_of_memory(exc: BaseException) -> bool:
    for e in _chain(exc):
        if isinstance(e, MemoryError) or _is_cuda_oom(e):
            return True
        if isinstance(e, OSError) and e.errno == errno.ENOMEM:
            return True
        if isinstance(e, RuntimeError) and any(m in str(e).lower() for m in OOM_MARKERS):
            return True
        if isinstance(e, RuntimeError) and any(m in str(e).lower() for m in ONEDNN_MARKERS) and memory_exhausted():
            return True
    return False


def _on_gpu(exc: BaseException) -> bool:
    return any(_is_cuda_oom(e) or "cuda" in str(e).lower() for e in _chain(exc))


def out_of_memory_message(exc: BaseException, cfg: Any) -> str:
    """One line: which memory ran out and every setting that lowers the need for it."""
    gpu = _on_gpu(exc)
    where = "GPU memory (CUDA)" if gpu else "memory (RAM, or the process's memory limit)"
    tips = []
    if cfg is not None:
        train, model = cfg.train, cfg.model
        if train.per_device_batch_size > 1:
            tips.append(
                f"lower train.per_device_batch_size (now {train.per_device_batch_size}; raise "
                "train.gradient_accumulation_steps to keep the effective batch)"
            )
        if model.max_length is not None:
            tips.append(f"lower model.max_length (now {model.max_length})")
        else:
            tips.append("set model.max_length (now unset, so no sample is cut)")
        if not model.gradient_checkpointing:
            tips.append("turn on model.gradient_checkpointing")
        if model.quantization != "4bit":
            tips.append(
                "load the weights in 4 bit (model.quantization: 4bit)"
                if gpu
                else "train on a CUDA GPU, where model.quantization: 4bit loads the weights in 4 bit"
            )
    else:
        tips.append(
            "lower train.per_device_batch_size or model.max_length, turn on model.gradient_checkpointing, or use "
            "model.quantization: 4bit"
        )
    detail = _first_line(exc)
    return f"out of {where}: {'; '.join(tips)}" + (f" ({detail})" if detail else "")


def _disk_error(exc: BaseException) -> tuple[bool, str | None]:
    """(whether the exception says the disk is full, the file it names)."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True, e.filename if isinstance(e.filename, str) else None
        if any(m in str(e).lower() for m in DISK_FULL_MARKERS):
            return True, None
    return False, None


def _free_bytes(path: Path) -> tuple[int, int] | None:
    for candidate in (path, *path.parents):
        try:
            usage = shutil.disk_usage(candidate)
        except OSError:
            continue
        return usage.free, usage.total
    return None


def _write_failed(exc: BaseException) -> bool:
    return any(any(m in str(e).lower() for m in WRITE_FAILED_MARKERS) for e in _chain(exc))


def is_disk_full(exc: BaseException, run_dir: Path) -> bool:
    certain, _ = _disk_error(exc)
    if certain:
        return True
    if _write_failed(exc):
        usage = _free_bytes(Path(run_dir))
        return usage is not None and usage[0] < NEARLY_FULL_BYTES
    return False


def human_bytes(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} TiB"


def disk_full_message(exc: BaseException, run_dir: Path) -> str:
    """One line: where the disk is full, what was being written, and how to go on."""
    run_dir = Path(run_dir)
    _, filename = _disk_error(exc)
    complete, partial = latest_checkpoint(run_dir / "checkpoints")
    if partial:
        what = f"while saving {partial[0].name}"
        target = partial[0]
    elif filename:
        what = f"while writing {filename}"
        target = Path(filename)
    else:
        what = "while writing to the run folder"
        target = run_dir
    usage = _free_bytes(target)
    free = f" ({human_bytes(usage[0])} free of {human_bytes(usage[1])})" if usage else ""
    if complete is not None:
        resume = f"then resume the run (--resume-from latest continues from {complete.name}, the last complete one"
        resume += f"; the incomplete {partial[0].name} is skipped)" if partial else ")"
    else:
        resume = "then start the run again (no complete checkpoint was saved yet)"
    return (
        f"disk full: no space left on the device holding {target}{free} {what}: free some space there, move the "
        f"runs folder to a larger disk, or keep fewer checkpoints (lower checkpoints.save_total_limit, raise "
        f"checkpoints.save_steps); {resume}"
    )


def describe_failure(exc: BaseException, cfg: Any, run_dir: Path) -> Failure | None:
    """A Failure for a known cause, else None (the runner then reports the exception as it is)."""
    if is_disk_full(exc, run_dir):
        return Failure("disk_full", disk_full_message(exc, run_dir))
    if is_out_of_memory(exc):
        return Failure("out_of_memory", out_of_memory_message(exc, cfg))
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


class MemoryReserve:
    """Address space held from the start and handed back when memory runs out.

    Under a memory limit (RLIMIT_AS, a cgroup), the error path itself needs a little memory to
    format the traceback and write the event; this makes sure it has some. The bytes are never
    touched, so they cost address space, not RAM.
    """

    def __init__(self, size: int = MEMORY_RESERVE_BYTES) -> None:
        try:
            self._block: bytearray | None = bytearray(size)
        except MemoryError:
            self._block = None

    def release(self) -> None:
        self._block = None
