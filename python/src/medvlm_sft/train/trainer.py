"""The SFT trainer with generation metrics folded into each evaluation.

The metrics are added to the evaluation loop's output before the Trainer logs it, so they
arrive in the same `metrics` event as the validation loss (and in W&B or TensorBoard as
`eval/ad_mae` and so on) instead of a second event at the same step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trl import SFTTrainer

from medvlm_sft.eval.generation import aggregate, generate_answers, score_samples


class MedVLMTrainer(SFTTrainer):
    def __init__(
        self,
        *args: Any,
        generation_samples: Sequence[Any] = (),
        max_new_tokens: int = 64,
        generation_batch_size: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.generation_samples = list(generation_samples)
        self.max_new_tokens = max_new_tokens
        self.generation_batch_size = generation_batch_size

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        # With several processes transformers maps the optimizer state to `args.device`, which on
        # the CPU (gloo) is "cpu:<rank>": torch.load cannot restore to that name, and a resumed
        # CPU run failed before its first step. The state belongs on the CPU there.
        device = self.args.device
        if checkpoint is None or device.type != "cpu" or device.index is None:
            return super()._load_optimizer_and_scheduler(checkpoint)
        import torch

        load = torch.load

        def load_on_cpu(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("map_location") == device:
                kwargs["map_location"] = "cpu"
            return load(*args, **kwargs)

        torch.load = load_on_cpu
        try:
            return super()._load_optimizer_and_scheduler(checkpoint)
        finally:
            torch.load = load

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.generation_samples and metric_key_prefix == "eval":
            metrics = self.generation_metrics()
            output.metrics.update({f"{metric_key_prefix}_{k}": v for k, v in metrics.items()})
        return output

    def generation_metrics(self) -> dict[str, float]:
        """Greedy answers on the subset, sharded over the processes and gathered on each."""
        samples = self.generation_samples
        rank, world = self.args.process_index, self.args.world_size
        indices = list(range(rank, len(samples), world))
        model = self.model  # the unwrapped (PEFT) model; DDP shares its parameters
        was_training = model.training
        model.eval()
        try:
            answers = generate_answers(
                model,
                self.processing_class,
                [samples[i] for i in indices],
                max_new_tokens=self.max_new_tokens,
                batch_size=self.generation_batch_size,
            )
        finally:
            model.train(was_training)
        pairs = list(zip(indices, answers, strict=True))
        if world > 1:
            from accelerate.utils import gather_object

            pairs = gather_object(pairs)
        by_index = dict(pairs)
        return aggregate(score_samples(samples, [by_index[i] for i in range(len(samples))]))
