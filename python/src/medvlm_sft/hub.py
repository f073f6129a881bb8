"""Pushes to the Hugging Face Hub: the final adapter or merged model, and each checkpoint's adapter.

The endpoint and token come from the environment (`HF_ENDPOINT`, `HF_TOKEN`), read when a push
starts rather than when huggingface_hub was imported, else from the user's saved login. The
token never appears in events or output: messages from failed pushes are scrubbed of it.

`AdapterPusher` uploads each checkpoint's adapter from a background thread, so training does
not wait for the network. A checkpoint is first linked into a staging folder (hard links,
copies across file systems), because `save_total_limit` may delete it while it uploads. When
saves come faster than uploads, only the newest waiting checkpoint is pushed. A failed push is
an `error` log event, never the end of the run.
"""

from __future__ import annotations

import fnmatch
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from medvlm_sft.train.console import say

STAGING_DIR = ".hub-push"


def hub_api() -> Any:
    from huggingface_hub import HfApi

    return HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=os.environ.get("HF_TOKEN") or None)


def repo_url(api: Any, repo_id: str) -> str:
    return f"{str(api.endpoint).rstrip('/')}/{repo_id}"


def scrub(message: str) -> str:
    """`message` without the Hub token, whatever put it there."""
    token = os.environ.get("HF_TOKEN")
    return message.replace(token, "***") if token else message


def push_folder(api: Any, folder: Path, repo_id: str, private: bool, commit_message: str) -> None:
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message=commit_message)


def stage_checkpoint(checkpoint: Path, staging: Path) -> Path:
    """The checkpoint's adapter (or model) and processor files, without the optimizer and trainer state."""
    from medvlm_sft.train.finish import TRAINING_STATE_FILES

    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for path in sorted(Path(checkpoint).iterdir()):
        if not path.is_file() or any(fnmatch.fnmatch(path.name, p) for p in TRAINING_STATE_FILES):
            continue
        try:
            os.link(path, staging / path.name)
        except OSError:
            shutil.copy2(path, staging / path.name)
    return staging


class AdapterPusher:
    """`hub.push_adapter_every_save`: uploads checkpoints in the background, newest first, one at a time."""

    def __init__(self, repo_id: str, private: bool, writer: Any, run_dir: Path) -> None:
        self.repo_id = repo_id
        self.private = private
        self.writer = writer
        self.staging_root = Path(run_dir) / STAGING_DIR
        self._pending: queue.Queue[tuple[int, Path] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._api: Any = None
        self._repo_ready = False
        self.pushed: list[int] = []
        self._thread = threading.Thread(target=self._work, name="medvlm-hub-push", daemon=True)
        self._thread.start()

    def submit(self, checkpoint: Path, step: int) -> None:
        """Called on the training thread right after a save: stage it and return at once."""
        staged = stage_checkpoint(checkpoint, self.staging_root / f"step-{step}")
        self._pending.put((step, staged))

    def close(self, wait: bool = True) -> None:
        """`wait`: finish the queued pushes (the end of a run); else abandon them (a failed run)."""
        if not wait:
            with self._lock:
                self._closed = True
        self._pending.put(None)
        if wait:
            self._thread.join()
            shutil.rmtree(self.staging_root, ignore_errors=True)

    def _next(self) -> tuple[int, Path] | None:
        """The newest waiting checkpoint; older waiting ones are dropped, as it supersedes them."""
        item = self._pending.get()
        while item is not None:
            try:
                newer = self._pending.get_nowait()
            except queue.Empty:
                return item
            if newer is None:
                self._pending.put(None)  # still stop after pushing this one
                return item
            self._emit("log", "info", f"not pushing step {item[0]}: the checkpoint of step {newer[0]} replaces it")
            shutil.rmtree(item[1], ignore_errors=True)
            item = newer
        return None

    def _work(self) -> None:
        while (item := self._next()) is not None:
            step, staged = item
            try:
                self._push(step, staged)
            finally:
                shutil.rmtree(staged, ignore_errors=True)

    def _push(self, step: int, staged: Path) -> None:
        if self._closed:
            return
        self._emit("phase", "pushing")
        try:
            if self._api is None:
                self._api = hub_api()
            if not self._repo_ready:
                self._api.create_repo(self.repo_id, private=self.private, exist_ok=True)
                self._repo_ready = True
            self._api.upload_folder(
                folder_path=str(staged), repo_id=self.repo_id, commit_message=f"MedVLM Studio: adapter at step {step}"
            )
        except Exception as e:
            message = scrub(
                f"pushing the adapter of step {step} to {self.repo_id} failed ({type(e).__name__}: {e}); "
                "training goes on, and the next checkpoint is pushed again"
            )
            self._emit("log", "error", message)
            if not self._closed:
                say(f"error: {message}")
        else:
            self.pushed.append(step)
            message = f"pushed the adapter of step {step} to {repo_url(self._api, self.repo_id)}"
            self._emit("log", "info", message)
            if not self._closed:
                say(message)
        finally:
            self._emit("resume_phase")

    def _emit(self, kind: str, *args: str) -> None:
        # A failed run closes the events file without waiting for this thread: write nothing then.
        with self._lock:
            if self._closed:
                return
            if kind == "phase":
                self.writer.phase(args[0], background=True)
            elif kind == "resume_phase":
                self.writer.resume_main_phase()
            else:
                self.writer.log(args[0], args[1])


class PushOnSaveCallback(TrainerCallback):
    """Hands each checkpoint the Trainer saves (on the main process) to an `AdapterPusher`."""

    def __init__(self, pusher: AdapterPusher) -> None:
        self.pusher = pusher

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        try:
            self.pusher.submit(folder, state.global_step)
        except OSError as e:  # staging failed (disk full?): that push is lost, the run is not
            self.pusher.writer.log("error", scrub(f"cannot stage {folder.name} for pushing: {e}"))
