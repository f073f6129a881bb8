"""Several training processes (`accelerate launch` / `torchrun`): who prepares the data, and agreeing on a stop.

Rank 0 prepares the data while the other ranks wait for a ready marker in the run folder,
then prepare it themselves, which reads what rank 0 just prepared when the data cache has it
(and otherwise redoes the same deterministic work). Waiting on a file rather than in a
collective means a long preparation never runs into the process group's timeout (the
reference waited in `barrier()` under the default timeout). If rank 0 fails, it leaves a
failure marker and the others stop with a pointer to its error.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from medvlm_sft.train.preflight import SetupError

T = TypeVar("T")
# The process group's timeout for collectives (the Trainer's default ddp_timeout).
COLLECTIVE_TIMEOUT_S = 1800
SYNC_DIR = ".medvlm-sync"
POLL_S = 0.2


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Ranks:
        return cls(
            int(os.environ.get("RANK", "0")),
            int(os.environ.get("WORLD_SIZE", "1")),
            int(os.environ.get("LOCAL_RANK", "0")),
        )


def init_process_group(ranks: Ranks, use_cpu: bool) -> None:
    """The default process group (gloo on CPU, nccl on GPUs), which the Trainer then reuses."""
    import torch
    import torch.distributed as dist

    if ranks.world_size == 1 or dist.is_initialized():
        return
    gpu = torch.cuda.is_available() and not use_cpu
    if gpu:
        torch.cuda.set_device(ranks.local_rank)
    dist.init_process_group(backend="nccl" if gpu else "gloo", timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S))


def _shared_token(ranks: Ranks) -> str:
    import torch.distributed as dist

    box: list[Any] = [uuid.uuid4().hex if ranks.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])


def rank0_first(ranks: Ranks, run_dir: Path, prepare: Callable[[], T], stopped: Callable[[], bool]) -> T | None:
    """`prepare()` on rank 0, then on the other ranks; None when a stop was requested while waiting."""
    if ranks.world_size == 1:
        return prepare()
    sync = Path(run_dir) / SYNC_DIR / _shared_token(ranks)
    ready, failed = sync / "data-ready", sync / "data-failed"
    if ranks.is_main:
        cleanup(ranks, run_dir)  # markers of an earlier launch in this run folder
        sync.mkdir(parents=True, exist_ok=True)
        try:
            result = prepare()
        except BaseException:
            failed.touch()
            raise
        ready.touch()
        return result
    while not ready.exists():
        if failed.exists():
            raise SetupError("rank 0 failed to prepare the data; its error is in the run's events.jsonl")
        if stopped():
            return None
        time.sleep(POLL_S)
    return prepare()


def cleanup(ranks: Ranks, run_dir: Path) -> None:
    if ranks.is_main:
        shutil.rmtree(Path(run_dir) / SYNC_DIR, ignore_errors=True)


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any (a collective: all ranks must call it together)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def finish(ranks: Ranks) -> None:
    import torch.distributed as dist

    if ranks.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
