"""`medvlm-sft chat`: the chat-templated turn the sample preview shows, from the model's processor.

Runs the real command as a subprocess against tiny models of both families (built offline);
its text must be exactly what the collator encodes for the same messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoProcessor

from medvlm_sft.data.formatting import user_assistant_messages
from medvlm_sft.models.tiny import make_tiny_model

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module", params=["qwen2_5_vl", "medgemma"])
def model_dir(request, tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp(request.param), family=request.param, seed=0)


def run_chat(model: str, lines: list[str], cwd: Path) -> list[dict]:
    # No HF_HUB_OFFLINE: the command itself must keep away from the network.
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"} | {"PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-m", "medvlm_sft", "chat", "--model", model, "--config-dir", str(cwd)],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,  # a failed load exits 1 after its ready line, which the tests read
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_chat_answers_each_request_with_the_collators_text(model_dir: Path):
    messages = user_assistant_messages("Task:\nHow long is it?", "12.5")
    generic = [
        {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a box"}]},
    ]
    requests = [
        json.dumps({"id": 1, "messages": messages}),
        "not json",
        json.dumps({"id": 2, "messages": messages[:1]}),
        json.dumps({"id": 3, "messages": generic}),
    ]
    # A relative model folder resolves against --config-dir, as model.base does in a run config.
    replies = run_chat(model_dir.name, requests, model_dir.parent)
    assert replies[0] == {"ready": True, "model": model_dir.name}
    processor = AutoProcessor.from_pretrained(model_dir)
    for reply, conversation in ((replies[1], messages), (replies[4], generic)):
        full = processor.apply_chat_template(conversation, tokenize=False)
        prompt = processor.apply_chat_template(conversation[:-1], tokenize=False, add_generation_prompt=True)
        assert reply["text"] == full
        assert reply["answer_start"] == len(prompt)
        assert full[reply["answer_start"] :].startswith(conversation[-1]["content"][0]["text"])
    assert replies[1]["id"] == 1 and replies[4]["id"] == 3
    assert replies[2] == {"id": None, "error": "not a JSON line: Expecting value"}
    assert replies[3]["id"] == 2 and "user turn and the assistant's answer" in replies[3]["error"]


def test_chat_says_why_when_there_is_no_processor(tmp_path: Path):
    replies = run_chat("./missing-model", [], tmp_path)
    assert replies == [
        {
            "ready": False,
            "error": f"cannot load the processor of ./missing-model: model folder not found: "
            f"{tmp_path / 'missing-model'} (model.base: ./missing-model)",
        }
    ]
    # A Hub id is looked up in the local cache only: offline it fails at once, never retrying the network.
    replies = run_chat("google/medgemma-4b-it", [], tmp_path)
    assert replies[0]["ready"] is False
    assert "is not in the local Hugging Face cache" in replies[0]["error"]
