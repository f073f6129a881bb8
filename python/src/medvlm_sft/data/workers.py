"""Decoding volumes in worker processes: one job per volume, each volume decoded once.

A job decodes its volume, cuts the slices that are not cached yet, converts them to 8-bit and
writes each one atomically under its content-addressed name. Workers never decide names or
format text: the parent computed both from the headers, so a worker's only output is files.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from medvlm_sft.data.cache import write_slice
from medvlm_sft.data.imaging import ImageSettings
from medvlm_sft.data.nifti import Volume

MAX_DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class VolumeJob:
    path: str
    slices: tuple[tuple[int, int, str], ...]  # (slice_dim, slice_idx, cache file to write)
    image: ImageSettings


@dataclass(frozen=True)
class VolumeResult:
    path: str
    written: int
    error: str | None = None  # the volume could not be decoded (its records are bad)


def default_workers(configured: int) -> int:
    if configured > 0:
        return configured
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


def decode_volume(job: VolumeJob) -> VolumeResult:
    try:
        volume = Volume(job.path)
        images = [(job.image.to_uint8(volume.slice(dim, idx)), out) for dim, idx, out in job.slices]
    except Exception as e:  # any decode failure means a corrupt or unreadable file
        return VolumeResult(job.path, 0, f"{type(e).__name__}: {e}")
    del volume
    for u8, out in images:
        write_slice(Path(out), u8)  # an OSError here (disk full) is not the volume's fault: it propagates
    return VolumeResult(job.path, len(images))


def _context():
    # Forking a process that may hold CUDA or torch threads can deadlock; a fork server starts
    # clean workers cheaply on POSIX.
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if sys.platform != "win32" and "forkserver" in methods else "spawn"
    return multiprocessing.get_context(method)


def run_jobs(
    jobs: list[VolumeJob], workers: int, on_done: Callable[[VolumeResult], None] | None = None
) -> list[VolumeResult]:
    """Run every job, in `workers` processes (inline when one suffices), largest jobs first."""
    ordered = sorted(jobs, key=lambda j: (-len(j.slices), j.path))
    results: list[VolumeResult] = []

    def done(result: VolumeResult) -> None:
        results.append(result)
        if on_done is not None:
            on_done(result)

    if workers <= 1 or len(ordered) <= 1:
        for job in ordered:
            done(decode_volume(job))
        return results
    with ProcessPoolExecutor(max_workers=min(workers, len(ordered)), mp_context=_context()) as pool:
        pending = {pool.submit(decode_volume, job) for job in ordered}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return results
