"""Batches for vision-language SFT: chat template, processor, and the loss mask.

`loss_on: completion` trains on the assistant's answer and its end-of-turn token only (so the
model learns to stop); `all` reproduces the reference, which trains on the whole chat except
padding, image tokens and (for Qwen) the turn markers.

The answer is located by tokenising the text after the generation prompt on its own and
checking that those ids end the sequence; a tokenizer that merges across that boundary falls
back to the length of the prompt processed alone. Either way, a mismatch is an error rather
than a silently wrong mask.

The generic family has no known end-of-turn token: the answer starts where the prompt-only chat
rendered with `add_generation_prompt=True` ends, and the loss keeps everything the template
writes after the answer (its end-of-turn tokens) except trailing whitespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from medvlm_sft.models.family import FAMILIES, Family

IGNORE_INDEX = -100


class VisionChatCollator:
    def __init__(
        self,
        processor: Any,
        family: Family,
        samples: Sequence[Any],
        loss_on: str = "completion",
        max_length: int | None = None,
    ) -> None:
        if loss_on not in ("completion", "all"):
            raise ValueError(f"loss_on must be completion or all, got {loss_on!r}")
        self.processor = processor
        self.tokenizer = processor.tokenizer
        # Right padding keeps each sample's tokens at the start of its row (the reference pads right too).
        self.tokenizer.padding_side = "right"
        self.spec = FAMILIES[family]
        self.generic = family == "generic"
        if not getattr(processor, "chat_template", None):
            raise ValueError(
                f"the processor of this model has no chat template, which family {family} needs to format "
                "conversations; use a chat (instruct) model or add a chat_template to its processor"
            )
        self.samples = samples
        self.loss_on = loss_on
        self.max_length = max_length
        self.eot_id = None if self.generic else self.tokenizer.convert_tokens_to_ids(self.spec.end_of_turn)
        self.pad_id = self.tokenizer.pad_token_id
        masked = self.spec.reference_masked_tokens(self.tokenizer)
        self.reference_masked_ids = [i for i in self.tokenizer.convert_tokens_to_ids(masked) if i is not None]
        image_token = getattr(processor, "image_token", None) or getattr(self.tokenizer, "image_token", None)
        self.image_token_id = self.tokenizer.convert_tokens_to_ids(getattr(self.tokenizer, "image_token", image_token))
        if self.generic and self.image_token_id is not None:
            # Many processors (Qwen-style) name the image placeholder on the processor, not the tokenizer.
            self.reference_masked_ids.append(self.image_token_id)

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        items = [self.samples[int(b["idx"])] for b in batch]
        try:
            return self.encode([s.messages for s in items], [s.image for s in items])
        except ValueError as e:
            # Name the records, so a bad sample found mid-training can be fixed at its source.
            records = ", ".join(str(getattr(s, "where", "?")) for s in items)
            raise ValueError(f"{e} (batch of records: {records})") from e

    def encode(self, conversations: list[list[dict[str, Any]]], images: list[np.ndarray]) -> dict[str, Any]:
        from medvlm_sft.data.nifti import to_rgb_image

        pictures = [[to_rgb_image(img) if img.ndim == 2 else _rgb(img)] for img in images]
        full = [self.processor.apply_chat_template(c, tokenize=False) for c in conversations]
        prompts = [
            self.processor.apply_chat_template(c[:-1], tokenize=False, add_generation_prompt=True)
            for c in conversations
        ]
        add_special = not self._starts_with_bos(full[0])
        enc = self.processor(
            text=full, images=pictures, return_tensors="pt", padding=True, add_special_tokens=add_special
        )
        ids = enc["input_ids"]
        labels = ids.clone().fill_(IGNORE_INDEX)
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        for i, (text, prompt) in enumerate(zip(full, prompts, strict=True)):
            n = int(lengths[i])
            row = ids[i, :n].tolist()
            if self.loss_on == "all":
                labels[i, :n] = ids[i, :n]
                for token_id in self.reference_masked_ids:
                    labels[i, :n][ids[i, :n] == token_id] = IGNORE_INDEX
                if self.pad_id is not None:
                    labels[i, :n][ids[i, :n] == self.pad_id] = IGNORE_INDEX
                continue
            start = self._answer_start(row, text, prompt, pictures[i], add_special)
            if self.generic:
                end = self._generic_answer_end(row, text, prompt, conversations[i], start)
            else:
                eot = _first_index(row, self.eot_id, start)
                if eot is None:
                    raise ValueError(f"no {self.spec.end_of_turn} after the answer in sample {i}: {text!r}")
                end = eot + 1
            labels[i, start:end] = ids[i, start:end]
        enc["labels"] = labels
        return self._truncate(enc)

    def _starts_with_bos(self, text: str) -> bool:
        bos = self.tokenizer.bos_token
        return bool(bos) and text.startswith(bos)

    def _answer_start(self, row: list[int], text: str, prompt: str, picture: list[Any], add_special: bool) -> int:
        if not text.startswith(prompt):
            raise ValueError("the chat template renders the prompt differently with and without the answer")
        suffix = self.tokenizer(text[len(prompt) :], add_special_tokens=False)["input_ids"]
        if suffix and row[len(row) - len(suffix) :] == suffix:
            return len(row) - len(suffix)
        # The tokenizer merged tokens across the prompt/answer boundary: measure the prompt alone.
        alone = self.processor(text=[prompt], images=[picture], add_special_tokens=add_special)["input_ids"][0]
        alone = list(alone)
        if row[: len(alone)] != alone:
            raise ValueError("cannot locate the assistant answer in the tokenised sample")
        return len(alone)

    def _generic_answer_end(
        self, row: list[int], text: str, prompt: str, conversation: list[dict[str, Any]], start: int
    ) -> int:
        """End (exclusive) of the trained span: the answer and what the template writes after it,
        less trailing whitespace (the newline between turns is not part of the answer's turn)."""
        suffix = text[len(prompt) :]
        answer = _message_text(conversation[-1]).strip()
        at = suffix.find(answer)
        if not answer or at < 0:
            raise ValueError("the chat template does not render the assistant answer as given")
        trailer = suffix[at + len(answer) :]
        dropped = trailer[len(trailer.rstrip()) :]
        end = len(row)
        if dropped:
            tail = self.tokenizer(dropped, add_special_tokens=False)["input_ids"]
            # A tokenizer that merged the whitespace into the end-of-turn token keeps it.
            if tail and row[len(row) - len(tail) :] == tail:
                end = len(row) - len(tail)
        if end <= start:
            raise ValueError("cannot locate the assistant answer in the tokenised sample")
        return end

    def _truncate(self, enc: Any) -> dict[str, Any]:
        if self.max_length is None or enc["input_ids"].shape[1] <= self.max_length:
            return dict(enc)
        before = (enc["input_ids"] == self.image_token_id).sum().item()
        after = (enc["input_ids"][:, : self.max_length] == self.image_token_id).sum().item()
        if after != before:
            raise ValueError(
                f"model.max_length {self.max_length} would cut image tokens out of a sample; raise model.max_length"
            )
        out = dict(enc)
        for key, value in enc.items():
            if hasattr(value, "dim") and value.dim() == 2 and value.shape == enc["input_ids"].shape:
                out[key] = value[:, : self.max_length]
        return out


def _rgb(pixels: np.ndarray):
    from PIL import Image

    return Image.fromarray(pixels).convert("RGB")


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if part.get("type") == "text")


def _first_index(row: list[int], value: int, start: int) -> int | None:
    for j in range(start, len(row)):
        if row[j] == value:
            return j
    return None
