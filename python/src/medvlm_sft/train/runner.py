"""`medvlm-sft train`: one supervised fine-tuning run, reported through `<run>/events.jsonl`.

Event sequence of a run (design contract 4):
    run_started -> phase preparing_data -> log (warnings, sample counts) -> phase loading_model
    -> phase training -> progress / metrics(train) [-> phase evaluating -> metrics(eval) -> phase training]
    [-> checkpoint] ... -> phase saving -> checkpoint (checkpoints/final) [-> phase merging -> log]
    [-> phase pushing -> log] -> run_finished finished
With `hub.push_adapter_every_save`, a background thread follows each checkpoint with
`phase pushing -> log (info, or error when the push failed) -> phase <the run's phase again>`;
the run waits for those pushes before its final push and its end.
`run_started` carries `attempt` (1 for the first start in the run folder, then one more for
each resume) and `resume_step` (the global step of the checkpoint it resumes from, or null);
a resumed run appends to the same events.jsonl.
Any exception ends with `error` (message, traceback, `record` for data errors) and
`run_finished failed`, exit code 1. Running out of memory and a full disk get a message that
says so and what to change (`faults.py`); memory and disk space held in reserve from the start
are handed back first, so that the report itself can still be written.
SIGTERM or SIGINT ends with a checkpoint at the next step end and `run_finished stopped`,
exit code 0: a requested stop that saved its state is a clean outcome (the launcher reads
run_finished, not the exit code). A second signal appends
`run_finished stopped` and exits at once with 128 + the signal number.

With several processes (`accelerate launch --multi_gpu --num_processes N`, or torchrun), only
rank 0 writes events; rank 0 prepares the data first (see `distributed.py`), and every rank
stops at the same step when any of them is asked to.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from medvlm_sft import __version__
from medvlm_sft.config.model import RunConfig
from medvlm_sft.train.checkpoints import ResumePlan, plan_resume
from medvlm_sft.train.console import say
from medvlm_sft.train.distributed import Ranks
from medvlm_sft.train.events import RESERVE_BYTES, EventWriter, next_attempt
from medvlm_sft.train.faults import Failure, MemoryReserve, describe_failure
from medvlm_sft.train.preflight import SetupError
from medvlm_sft.train.stop import StopRequest


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


def run_train_command(
    config: Path,
    run_dir: Path,
    run_id: str | None = None,
    base_dir: Path | None = None,
    *,
    resume_from: str | None = None,
    attempt: int | None = None,
) -> int:
    """`resume_from` (`latest` or a checkpoint folder) overrides `checkpoints.resume_from`; `attempt`
    numbers this start in the run folder (default: one more than the starts its events record)."""
    config = Path(config).resolve()
    base_dir = Path(base_dir).resolve() if base_dir is not None else config.parent
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    ranks = Ranks.from_env()
    events_path = run_dir / "events.jsonl"
    stop = StopRequest(events_path if ranks.is_main else None, forwarded_by_launcher=ranks.world_size > 1)
    if threading.current_thread() is threading.main_thread():
        stop.install()
    attempt = attempt if attempt is not None else next_attempt(events_path)
    writer: Any = EventWriter(events_path, reserve_bytes=RESERVE_BYTES) if ranks.is_main else _NullWriter()
    memory = MemoryReserve()
    rid = run_id or run_dir.name
    cfg: RunConfig | None = None
    started = False
    try:
        cfg = _load_run_config(config, base_dir)
        if resume_from is not None:
            checkpoints = cfg.checkpoints.model_copy(update={"resume_from": resume_from})
            cfg = cfg.model_copy(update={"checkpoints": checkpoints})
        plan = plan_resume(cfg.checkpoints.resume_from, base_dir, run_dir)
        writer.run_started(
            rid, __version__, ranks.world_size, cfg.model_dump(mode="json"), attempt=attempt, resume_step=plan.step
        )
        started = True
        say(f"run {rid} (attempt {attempt}): config {config}, run folder {run_dir}")
        status = _run(cfg, base_dir, run_dir, writer=writer, stop=stop, ranks=ranks, plan=plan)
        writer.run_finished(status)
        say(f"run {status}")
        return 0
    except KeyboardInterrupt:
        writer.run_finished("stopped")
        return 130
    except Exception as e:
        # Hand back the reserves first: reporting needs a little memory and disk of its own.
        memory.release()
        writer.begin_report()
        failure = describe_failure(e, cfg, run_dir)
        if failure is not None and failure.kind == "disk_full":
            writer.release_reserve()
        message, record = _failure_message(e, failure)
        # Nothing may raise from here on: with the disk full, the launcher's exit record and stdout.log tell the rest.
        with contextlib.suppress(OSError):
            if not started:
                dump = cfg.model_dump(mode="json") if cfg is not None else {}
                writer.run_started(rid, __version__, ranks.world_size, dump, attempt=attempt, resume_step=None)
            writer.error(message, traceback.format_exc(), record)
            writer.run_finished("failed")
        with contextlib.suppress(OSError):
            print(f"[medvlm-sft] run failed: {message}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop.uninstall()
        writer.close()
        _finish_processes(ranks)


def _failure_message(e: Exception, failure: Failure | None) -> tuple[str, int | None]:
    """The error event's message, and the record index for data errors."""
    if failure is not None:
        return failure.message, None
    if _is_data_error(e):
        return str(e), e.record
    if isinstance(e, SetupError):
        return str(e), None
    return f"{type(e).__name__}: {e}", None


def _finish_processes(ranks: Ranks) -> None:
    from medvlm_sft.train.distributed import finish

    finish(ranks)


def _is_data_error(e: Exception) -> bool:
    from medvlm_sft.data.records import DataError

    return isinstance(e, DataError)


def _run(
    cfg: RunConfig,
    config_dir: Path,
    run_dir: Path,
    *,
    writer: EventWriter,
    stop: StopRequest,
    ranks: Ranks,
    plan: ResumePlan,
) -> str:
    from medvlm_sft.data.dataset import prepare_data
    from medvlm_sft.data.records import DataError
    from medvlm_sft.models.family import ResizeRule, detect_family
    from medvlm_sft.train import distributed, resume, setup
    from medvlm_sft.train.preflight import check_environment

    check_environment(cfg)  # before any data or weights: QLoRA without bitsandbytes or CUDA, flash-attn, ...
    if ranks.world_size != cfg.launch.num_processes:
        message = (
            f"launch.num_processes is {cfg.launch.num_processes} but {ranks.world_size} process(es) are training; "
            "start several with `accelerate launch --multi_gpu --num_processes N` (or torchrun)"
        )
        writer.log("warning", message)
        say(f"warning: {message}")
    distributed.init_process_group(ranks, cfg.train.use_cpu)

    writer.phase("preparing_data")
    say("preparing data")
    model_path = setup.resolve_model_path(cfg.model.base, config_dir)

    def warn(message: str) -> None:
        writer.log("warning", message)
        say(f"warning: {message}")

    family = detect_family(model_path, cfg.model.family, warn=warn)
    processor = setup.load_processor(model_path)
    if not getattr(processor, "chat_template", None):
        raise SetupError(
            f"the processor of {model_path} has no chat template, so conversations cannot be formatted; "
            "use a chat (instruct) model or add a chat_template to its processor"
        )
    resize = ResizeRule.from_image_processor(family, processor.image_processor)
    data = distributed.rank0_first(
        ranks, run_dir, lambda: prepare_data(cfg.data, config_dir, resize), lambda: stop.requested
    )
    if data is None:
        return "stopped"
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
    checkpoint = _announce_resume(plan, writer)
    horizon = resume.compute_horizon(cfg, len(data.train), ranks.world_size)
    previous = resume.read_checkpoint_state(Path(checkpoint)) if checkpoint else {}
    message = resume.describe_change(previous, horizon) if checkpoint else f"training horizon: {horizon.explain()}"
    writer.log("info", message)
    say(message)
    if stop.requested:
        return "stopped"
    if checkpoint and (previous.get("global_step") or 0) >= horizon.max_steps:
        # The Trainer would still take one step past its horizon; finish from the checkpoint instead.
        writer.log(
            "warning",
            f"{Path(checkpoint).name} is already at step {previous['global_step']} of {horizon.max_steps}: nothing "
            "is left to train; raise train.epochs or train.max_steps to train longer",
        )
        if not ranks.is_main:
            return "finished"
        from medvlm_sft.train.finish import final_from_checkpoint

        info = setup.training_info(cfg, model_path, family)
        final = final_from_checkpoint(Path(checkpoint), run_dir, writer, info)
        return _after_training(cfg, model_path, final, run_dir, writer)

    writer.phase("loading_model")
    say(f"loading model {model_path}")
    model = setup.load_model(cfg, model_path, family)
    if stop.requested:
        return "stopped"

    info = setup.training_info(cfg, model_path, family)
    pusher = _start_pusher(cfg, run_dir, writer, ranks)
    try:
        trainer = _build_trainer(
            cfg,
            run_dir,
            writer=writer,
            stop=stop,
            model=model,
            processor=processor,
            family=family,
            data=data,
            horizon=horizon,
            info=info,
            pusher=pusher,
        )
        writer.phase("training")
        trainer.train(resume_from_checkpoint=checkpoint)
        if stop.requested:
            _finish_pushes(pusher)
            return "stopped"

        from medvlm_sft.train.finish import save_final

        final = save_final(trainer, processor, run_dir, writer, info)
        distributed.cleanup(ranks, run_dir)
        # Before the final push, so that the repository's last commit is the final adapter.
        _finish_pushes(pusher)
    except BaseException:
        if pusher is not None:
            pusher.close(wait=False)
        raise
    if not ranks.is_main:
        return "finished"
    del trainer, model
    return _after_training(cfg, model_path, final, run_dir, writer)


def _after_training(cfg: RunConfig, model_path: str, final: Path, run_dir: Path, writer: EventWriter) -> str:
    from medvlm_sft.train.finish import merge_into_base, push_folders

    merged = None
    if cfg.hub.merge_after_training:
        if cfg.lora.enabled:
            merged = merge_into_base(cfg, model_path, final, run_dir, writer)
        else:
            writer.log("info", "hub.merge_after_training: nothing to merge without LoRA; the final model is complete")
    push_folders(cfg, final, merged, writer)
    return "finished"


def _start_pusher(cfg: RunConfig, run_dir: Path, writer: EventWriter, ranks: Ranks):
    """`hub.push_adapter_every_save`: the background pusher of checkpoints (main process only)."""
    if not (cfg.hub.push_adapter_every_save and ranks.is_main):
        return None
    if not cfg.hub.repo_id:
        raise ValueError("hub.repo_id is required to push to the Hugging Face Hub")
    from medvlm_sft.hub import AdapterPusher

    return AdapterPusher(cfg.hub.repo_id, cfg.hub.private, writer, run_dir)


def _finish_pushes(pusher) -> None:
    if pusher is not None:
        say("waiting for the checkpoint pushes to finish")
        pusher.close(wait=True)


def _build_trainer(cfg, run_dir, *, writer, stop, model, processor, family, data, horizon, info, pusher=None):
    from datasets import Dataset
    from transformers import PrinterCallback

    from medvlm_sft.eval.generation import pick_subset
    from medvlm_sft.models.collator import VisionChatCollator
    from medvlm_sft.train import setup
    from medvlm_sft.train.callbacks import EventsCallback, StopOnRequestCallback
    from medvlm_sft.train.resume import HorizonRecord
    from medvlm_sft.train.trainer import MedVLMTrainer

    samples = data.train + data.val
    collator = VisionChatCollator(processor, family, samples, cfg.train.loss_on, cfg.model.max_length)
    # The datasets hold indices only; the collator turns them into tensors (images stay in memory).
    train_ds = Dataset.from_dict({"idx": list(range(len(data.train)))})
    eval_ds = Dataset.from_dict({"idx": list(range(len(data.train), len(samples)))}) if data.val else None
    has_eval = eval_ds is not None and cfg.eval.strategy != "no"
    trainer = MedVLMTrainer(
        model=model,
        args=setup.sft_config(cfg, run_dir, has_eval, horizon.max_steps),
        train_dataset=train_ds,
        eval_dataset=eval_ds if has_eval else None,
        data_collator=collator,
        processing_class=processor,
        peft_config=setup.lora_config(cfg, family),
        callbacks=[
            StopOnRequestCallback(stop, writer),
            EventsCallback(writer, run_dir, setup.samples_per_step(cfg), setup.cuda_in_use(cfg)),
            HorizonRecord(horizon, info),
        ],
        generation_samples=pick_subset(data.val, cfg.eval.generation_samples) if has_eval else (),
        max_new_tokens=cfg.eval.max_new_tokens,
        generation_batch_size=cfg.eval.per_device_batch_size,
    )
    if pusher is not None:
        from medvlm_sft.hub import PushOnSaveCallback

        trainer.add_callback(PushOnSaveCallback(pusher))
    # Our callback prints readable lines; the default printer dumps raw log dicts.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _announce_resume(plan: ResumePlan, writer: EventWriter) -> str | None:
    """Logs where the run resumes (decided before run_started, which names its step); the folder or None."""
    for folder in plan.skipped:
        why = "the run was killed, or the disk was full?"
        writer.log("warning", f"skipping {folder.name}: it was not completely written ({why})")
    if plan.nothing_to_resume:
        writer.log("info", "checkpoints.resume_from latest: no checkpoint in this run yet, starting fresh")
        return None
    if plan.checkpoint is None:
        return None
    writer.log("info", f"resuming from {plan.checkpoint.name}")
    say(f"resuming from {plan.checkpoint}")
    return str(plan.checkpoint)
