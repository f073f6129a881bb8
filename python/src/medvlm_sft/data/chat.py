"""`medvlm-sft chat`: a model's chat-templated turns for the sample preview.

The preview shows the exact text the collator encodes: the conversation through the model's
own processor chat template (`apply_chat_template(..., tokenize=False)`), and where the answer
starts (the prompt with `add_generation_prompt=True` is its prefix). Loading a processor takes
seconds, so the command loads it once and answers requests read from stdin, one JSON line each,
until stdin closes:

    in:  {"id": 7, "messages": [...]}
    out: {"id": 7, "text": "...", "answer_start": 123}   or   {"id": 7, "error": "..."}

Its first line says whether the processor loaded: {"ready": true, "model": ...} or
{"ready": false, "error": ...} (then it exits with status 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO


def load_chat_processor(model: str, config_dir: Path) -> Any:
    """The model's processor from a local folder, or a Hub id's files in the local cache.

    Never from the network: a preview must not wait minutes on an unreachable Hub (its client
    retries each file) nor start downloads; a run fetches the model, and the preview then finds it.
    """
    from transformers import AutoProcessor

    from medvlm_sft.train.setup import resolve_model_path

    path = resolve_model_path(model, config_dir)
    if Path(path).is_dir():
        return AutoProcessor.from_pretrained(path)
    try:
        return AutoProcessor.from_pretrained(path, local_files_only=True)
    except OSError:
        raise OSError(
            f"{model} is not in the local Hugging Face cache; it is there once a run has loaded it "
            f"(or after `hf download {model}`)"
        ) from None


def chat_turn(processor: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The templated conversation and the offset of the trained answer in it (None if unknown)."""
    if not isinstance(messages, list) or len(messages) < 2:
        raise ValueError("messages must hold a user turn and the assistant's answer")
    full = processor.apply_chat_template(messages, tokenize=False)
    prompt = processor.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    return {"text": full, "answer_start": len(prompt) if full.startswith(prompt) else None}


def serve(processor: Any, requests: TextIO, out: TextIO) -> None:
    for line in requests:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as e:
            request = {"error": f"not a JSON line: {e.msg}"}
        if not isinstance(request, dict):
            request = {"error": "a request is a JSON object {id, messages}"}
        reply: dict[str, Any] = {"id": request.get("id")}
        if "error" in request:
            reply["error"] = request["error"]
        else:
            try:
                reply.update(chat_turn(processor, request.get("messages")))
            except Exception as e:  # one bad request must not end the others
                reply["error"] = f"{type(e).__name__}: {e}"
        out.write(json.dumps(reply) + "\n")
        out.flush()


def run_chat_command(model: str, config_dir: Path | None) -> int:
    try:
        processor = load_chat_processor(model, config_dir or Path.cwd())
    except Exception as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.stdout.write(
            json.dumps({"ready": False, "error": f"cannot load the processor of {model}: {message}"}) + "\n"
        )
        return 1
    if getattr(processor, "chat_template", None) is None:
        sys.stdout.write(json.dumps({"ready": False, "error": f"the processor of {model} has no chat template"}) + "\n")
        return 1
    sys.stdout.write(json.dumps({"ready": True, "model": model}) + "\n")
    sys.stdout.flush()
    serve(processor, sys.stdin, sys.stdout)
    return 0
