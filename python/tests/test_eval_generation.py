"""Generated answers on the real tiny models, and the generation metrics in a training run's eval events."""

from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoModelForImageTextToText, AutoProcessor

from medvlm_sft.data.formatting import user_assistant_messages
from medvlm_sft.eval.generation import generate_answers
from medvlm_sft.models.tiny import make_tiny_model
from medvlm_sft.train.runner import run_train_command
from test_train_runner import events_of, workspace, write_config  # noqa: F401 - fixture

GENERATION_FIELDS = {"ad_success_rate", "tl_success_rate", "det_success_rate", "success_rate", "gen_samples"}


class Sample:
    def __init__(self, prompt: str, target: str, shape: tuple[int, int]) -> None:
        self.messages = user_assistant_messages(prompt, target)
        self.image = np.random.default_rng(0).integers(0, 255, size=shape, dtype=np.uint8)
        self.kind = "angle_distance"

    @property
    def target(self) -> str:
        return self.messages[-1]["content"][0]["text"]


@pytest.mark.parametrize("family", ["qwen2_5_vl", "medgemma"])
def test_greedy_answers_in_left_padded_batches(family, tmp_path):
    folder = make_tiny_model(tmp_path / family, family=family, seed=0)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    processor = AutoProcessor.from_pretrained(folder)
    processor.tokenizer.padding_side = "right"
    # Different image sizes and prompt lengths, so the batch needs padding.
    samples = [Sample("estimate the distance", "12.5", (64, 64)), Sample("q " * 9, "3.0", (40, 90))]
    answers = generate_answers(model, processor, samples, max_new_tokens=5, batch_size=2)
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    assert generate_answers(model, processor, samples, max_new_tokens=5, batch_size=2) == answers  # greedy
    assert processor.tokenizer.padding_side == "right"  # restored for the collator


def test_eval_metrics_events_carry_the_generation_metrics(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "generation"
    config = write_config(
        workspace,
        "generation",
        train={"max_steps": 2},
        eval={"steps": 1, "generation_samples": 5, "max_new_tokens": 6, "per_device_batch_size": 2},
        data={"sources": [{"records": "data/records.jsonl", "tasks": "data/tasks.json", "val_limit": 6}]},
    )
    assert run_train_command(config, run_dir) == 0
    evals = [e for e in events_of(run_dir) if e["type"] == "metrics" and e["split"] == "eval"]
    assert [e["step"] for e in evals] == [1, 2]
    for event in evals:
        # One event per evaluation: the loss and the task metrics together.
        assert event.keys() >= GENERATION_FIELDS and "loss" in event
        assert event["gen_samples"] == 5
        for name in GENERATION_FIELDS - {"gen_samples"}:
            assert 0.0 <= event[name] <= 1.0
        for name in ("ad_mae", "ad_mre", "tl_mae", "tl_mre", "det_iou", "det_mae", "mre"):
            # Present only when some answer of that kind succeeded; always a number then.
            assert isinstance(event.get(name, 0.0), float)


def test_generation_samples_zero_evaluates_the_loss_only(workspace):  # noqa: F811
    run_dir = workspace / "runs" / "loss-only"
    config = write_config(workspace, "loss-only", train={"max_steps": 1}, eval={"steps": 1, "generation_samples": 0})
    assert run_train_command(config, run_dir) == 0
    (event,) = [e for e in events_of(run_dir) if e["type"] == "metrics" and e["split"] == "eval"]
    assert "loss" in event and not GENERATION_FIELDS & event.keys()
