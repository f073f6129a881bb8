"""Graceful stop on SIGTERM/SIGINT.

Kept free of heavy imports: the trainer installs it before importing torch and transformers,
so a stop sent while the run is still starting up ends it as stopped rather than killed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any


class StopRequest:
    """SIGTERM/SIGINT handling: the first signal asks for a checkpoint and a clean stop at the
    next step end; a second one appends `run_finished: stopped` and exits at once.

    The handler itself writes nothing through the EventWriter: it runs on the main thread
    between bytecodes and could interrupt a write that holds the writer's lock.

    Under `accelerate launch` / `torchrun` (`forwarded_by_launcher`), the launcher forwards the
    signals it gets to its workers; a signal sent to every process of a job (SLURM's `scancel`
    signals all of a step's tasks) then reaches a worker twice. The same signal again within
    `FORWARD_WINDOW_S` is taken as that echo, not as a second request.
    """

    FORWARD_WINDOW_S = 3.0

    def __init__(self, events_path: Path | None, forwarded_by_launcher: bool = False) -> None:
        self.events_path = events_path
        self.forwarded_by_launcher = forwarded_by_launcher
        self.signal_name: str | None = None
        self._first_at = 0.0
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.signal_name is None:
            self.signal_name = name
            self._first_at = time.monotonic()
            print(
                f"[medvlm-sft] {name} received: saving a checkpoint at the end of this step, then stopping "
                "(send it again to stop at once)",
                flush=True,
            )
            return
        echo = name == self.signal_name and time.monotonic() - self._first_at < self.FORWARD_WINDOW_S
        if self.forwarded_by_launcher and echo:
            return
        print(f"[medvlm-sft] second {name}: stopping now without a checkpoint", flush=True)
        if self.events_path is not None:
            line = f'{{"v": 1, "t": {time.time():.3f}, "type": "run_finished", "status": "stopped"}}\n'
            fd = os.open(self.events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # Start on a fresh line in case a buffered event was half flushed.
                os.write(fd, b"\n" + line.encode())
            finally:
                os.close(fd)
        sys.stdout.flush()
        os._exit(128 + signum)
