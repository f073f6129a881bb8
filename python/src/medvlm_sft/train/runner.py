"""`medvlm-sft train`: one supervised fine-tuning run, reported through `<run>/events.jsonl`.

Event sequence of a run (design contract 4):
    run_started -> phase preparing_data -> log (warnings, sample counts) -> phase loading_model
    -> phase training -> progress / metrics(train) [-> phase evaluating -> metrics(eval) -> phase training]
    [-> checkpoint] ... -> phase saving -> checkpoint (checkpoints/final) [-> phase merging -> log]
    [-> phase pushing -> log] -> run_finished finished
Any exception ends with `error` (message, traceback, `record` for data errors) and
`run_finished failed`, exit code 1. SIGTERM or SIGINT ends with a checkpoint at the next step
end and `run_finished stopped`, exit code 0: a requested stop that saved its state is a clean
outcome (the launcher reads run_finished, not the exit code). A second signal appends
`run_finished stopped` and exits at once with 128 + the signal number.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from medvlm_sft import __version__
from medvlm_sft.config.model import RunConfig
from medvlm_sft.train.callbacks import EventsCallback, StopOnRequestCallback, StopRequest, say
from medvlm_sft.train.events import EventWriter


def _load_run_config(path: Path, base_dir: Path) -> RunConfig:
    """The validated run config; raises ConfigError listing every problem with its YAML position.

    The data check runs here too, so a run started without the editor (or on a remote host,
    where the data lives) names a missing file before any model is loaded.
    """
    from medvlm_sft.config.validate import require_config

    return require_config(path, check_data=True, base_dir=base_dir)


class _NullWriter:
    """Events for ranks other than 0: the trainer's rank 0 is the only writer."""

    path = None

    def __getattr__(self, _name: str):
        return lambda *args, **kwargs: None


def run_train_command(config: Path, run_dir: Path, run_id: str | None = None, base_dir: Path | None = None) -> int:
    config = Path(config).resolve()
    base_dir = Path(base_dir).resolve() if base_dir is not None else config.parent
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    writer: Any = EventWriter(run_dir / "events.jsonl") if rank == 0 else _NullWriter()
    stop = StopRequest(writer.path)
    if threading.current_thread() is threading.main_thread():
        stop.install()
    started = False
    try:
        cfg = _load_run_config(config, base_dir)
        writer.run_started(run_id or run_dir.name, __version__, world_size, cfg.model_dump(mode="json"))
        started = True
        say(f"run {run_id or run_dir.name}: config {config}, run folder {run_dir}")
        status = _run(cfg, base_dir, run_dir, writer, stop)
        writer.run_finished(status)
        say(f"run {status}")
        return 0
    except KeyboardInterrupt:
        writer.run_finished("stopped")
        return 130
    except Exception as e:
        if not started:
            writer.run_started(run_id or run_dir.name, __version__, world_size, {})
        data_error = _is_data_error(e)
        message = str(e) if data_error else f"{type(e).__name__}: {e}"
        writer.error(message, traceback.format_exc(), e.record if data_error else None)
        writer.run_finished("failed")
        print(f"[medvlm-sft] run failed: {message}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop.uninstall()
        writer.close()


def _is_data_error(e: Exception) -> bool:
    from medvlm_sft.data.records import DataError

    return isinstance(e, DataError)


def _run(cfg: RunConfig, config_dir: Path, run_dir: Path, writer: EventWriter, stop: StopRequest) -> str:
    from medvlm_sft.data.dataset import prepare_data
    from medvlm_sft.data.records import DataError
    from medvlm_sft.models.family import ResizeRule, detect_family
    from medvlm_sft.train import setup

    writer.phase("preparing_data")
    say("preparing data")
    model_path = setup.resolve_model_path(cfg.model.base, config_dir)
    family = detect_family(model_path, cfg.model.family)
    processor = setup.load_processor(model_path)
    resize = ResizeRule.from_image_processor(family, processor.image_processor)
    data = prepare_data(cfg.data, config_dir, resize)
    for message in data.warnings:
        writer.log("warning", message)
        say(f"warning: {message}")
    for message in data.notes:
        writer.log("info", message)
    writer.log("info", f"{len(data.train)} train and {len(data.val)} validation samples")
    say(f"{len(data.train)} train and {len(data.val)} validation samples (model family {family})")
    if not data.train:
        raise DataError(
            "no training samples are left after the validation split and limits",
            hint="lower val_limit or raise train_limit in the run config",
        )
    if stop.requested:
        return "stopped"

    writer.phase("loading_model")
    say(f"loading model {model_path}")
    model = setup.load_model(cfg, model_path, family)
    if stop.requested:
        return "stopped"

    trainer = _build_trainer(
        cfg, run_dir, writer=writer, stop=stop, model=model, processor=processor, family=family, data=data
    )
    resume = _resume_checkpoint(cfg, config_dir, run_dir, writer)
    writer.phase("training")
    trainer.train(resume_from_checkpoint=resume)
    if stop.requested:
        return "stopped"

    from medvlm_sft.train.finish import merge_adapter, push_folders, save_final

    final = save_final(trainer, processor, run_dir, writer)
    merged = None
    if cfg.hub.merge_after_training:
        if cfg.lora.enabled:
            del trainer, model
            merged = merge_adapter(cfg, model_path, final, run_dir, writer)
        else:
            writer.log("info", "hub.merge_after_training: nothing to merge without LoRA; the final model is complete")
    push_folders(cfg, final, merged, writer)
    return "finished"


def _build_trainer(cfg, run_dir, *, writer, stop, model, processor, family, data):
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import SFTTrainer

    from medvlm_sft.models.collator import VisionChatCollator
    from medvlm_sft.train import setup

    samples = data.train + data.val
    collator = VisionChatCollator(processor, family, samples, cfg.train.loss_on, cfg.model.max_length)
    # The datasets hold indices only; the collator turns them into tensors (images stay in memory).
    train_ds = Dataset.from_dict({"idx": list(range(len(data.train)))})
    eval_ds = Dataset.from_dict({"idx": list(range(len(data.train), len(samples)))}) if data.val else None
    has_eval = eval_ds is not None and cfg.eval.strategy != "no"
    trainer = SFTTrainer(
        model=model,
        args=setup.sft_config(cfg, run_dir, has_eval),
        train_dataset=train_ds,
        eval_dataset=eval_ds if has_eval else None,
        data_collator=collator,
        processing_class=processor,
        peft_config=setup.lora_config(cfg, family),
        callbacks=[
            StopOnRequestCallback(stop, writer),
            EventsCallback(writer, run_dir, setup.samples_per_step(cfg), setup.cuda_in_use(cfg)),
        ],
    )
    # Our callback prints readable lines; the default printer dumps raw log dicts.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _resume_checkpoint(cfg: RunConfig, config_dir: Path, run_dir: Path, writer: EventWriter) -> str | None:
    resume_from = cfg.checkpoints.resume_from
    if not resume_from:
        return None
    if resume_from == "latest":
        from transformers.trainer_utils import get_last_checkpoint

        folder = run_dir / "checkpoints"
        last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        if last is None:
            writer.log("info", "checkpoints.resume_from latest: no checkpoint in this run yet, starting fresh")
            return None
        writer.log("info", f"resuming from {Path(last).name}")
        say(f"resuming from {last}")
        return last
    path = Path(resume_from).expanduser()
    path = path if path.is_absolute() else config_dir / path
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoints.resume_from: no checkpoint folder at {path}")
    writer.log("info", f"resuming from {path}")
    return str(path)
