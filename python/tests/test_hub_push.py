"""`hub.push_adapter_every_save`: each checkpoint's adapter goes to the Hub from a background thread.

The Hugging Face Hub cannot be reached from these machines, so a local HTTP server on 127.0.0.1
stands in for it. It speaks the endpoints huggingface_hub 1.x's `HfApi.create_repo` and
`upload_folder` call (read from its source: `POST /api/repos/create`, `POST /api/validate-yaml`
for a README.md, `POST /api/models/{repo}/preupload/{revision}` and the ndjson
`POST /api/models/{repo}/commit/{revision}`), checks the Authorization header on each, and
records the files of every commit. The files are small, so it answers "regular" (inline
base64) for all of them and refuses anything that would need LFS, which it does not implement.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from medvlm_sft.train.runner import run_train_command
from test_train_runner import events_of, workspace, write_config  # noqa: F401 - fixture

TOKEN = "hf_stand_in_token_do_not_log_1234"
REPO = "me/tiny-adapter"
MAX_REGULAR_BYTES = 10 * 2**20


class FakeHub:
    def __init__(self, token: str) -> None:
        self.token = token
        self.repos: dict[str, dict] = {}
        self.commits: list[dict] = []
        self.unauthorized = 0
        self.unknown: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    hub.unauthorized += 1
                    return self.reply(401, {"error": "Invalid credentials in Authorization header"})
                path = self.path.split("?")[0]
                if path == "/api/repos/create":
                    return self.create(json.loads(body))
                if path == "/api/validate-yaml":
                    return self.reply(200, {"errors": [], "warnings": []})
                if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/preupload/([^/]+)", path):
                    return self.preupload(m.group(1), json.loads(body))
                if m := re.fullmatch(r"/api/models/([^/]+/[^/]+)/commit/([^/]+)", path):
                    return self.commit(m.group(1), m.group(2), body)
                hub.unknown.append(f"POST {self.path}")
                return self.reply(404, {"error": "not found"})

            def do_GET(self):
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    hub.unauthorized += 1
                    return self.reply(401, {"error": "Invalid credentials in Authorization header"})
                hub.unknown.append(f"GET {self.path}")
                self.reply(404, {"error": "not found"})

            def create(self, payload):
                repo_id = f"{payload['organization']}/{payload['name']}"
                url = f"http://{self.headers['Host']}/{repo_id}"
                if repo_id in hub.repos:  # as the Hub answers; HfApi accepts it with exist_ok
                    return self.reply(409, {"error": "You already created this model repo", "url": url})
                hub.repos[repo_id] = payload
                return self.reply(200, {"url": url})

            def preupload(self, repo_id, payload):
                if repo_id not in hub.repos:
                    return self.reply(404, {"error": "Repository not found"})
                if any(f["size"] > MAX_REGULAR_BYTES for f in payload["files"]):
                    return self.reply(400, {"error": "this stand-in Hub does not implement LFS uploads"})
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in payload["files"]]
                return self.reply(200, {"files": files})

            def commit(self, repo_id, revision, body):
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                header = next(line["value"] for line in lines if line["key"] == "header")
                files = {
                    line["value"]["path"]: base64.b64decode(line["value"]["content"])
                    for line in lines
                    if line["key"] == "file"
                }
                hub.commits.append(
                    {"repo": repo_id, "revision": revision, "message": header["summary"], "files": files}
                )
                oid = f"{len(hub.commits):040x}"
                url = f"http://{self.headers['Host']}/{repo_id}/commit/{oid}"
                return self.reply(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})

            def reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def fake_hub(monkeypatch):
    hub = FakeHub(TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield hub
    hub.stop()


def push_config(workspace, name: str, **hub):  # noqa: F811
    return write_config(
        workspace,
        name,
        train={"max_steps": 2},
        eval={"strategy": "no"},
        checkpoints={"save_steps": 1, "save_total_limit": 1},
        hub={"repo_id": REPO, "push_adapter_every_save": True, **hub},
    )


def test_each_checkpoint_and_the_final_adapter_are_pushed(workspace, fake_hub, tmp_path, capfd):  # noqa: F811
    run_dir = tmp_path / "pushed"
    assert run_train_command(push_config(workspace, "push", push_adapter=True), run_dir) == 0
    events = events_of(run_dir)
    assert events[-1]["status"] == "finished"
    assert fake_hub.unknown == [] and fake_hub.unauthorized == 0
    assert fake_hub.repos[REPO]["visibility"] == "private"

    messages = [c["message"] for c in fake_hub.commits]
    # Step 1's push may have been superseded by step 2's if both were waiting; the newest is never skipped.
    assert set(messages[:-1]) <= {"MedVLM Studio: adapter at step 1", "MedVLM Studio: adapter at step 2"}
    assert "MedVLM Studio: adapter at step 2" in messages
    assert messages[-1] == "MedVLM Studio: adapter"  # the final push comes last, after the background ones
    for commit in fake_hub.commits:
        assert commit["repo"] == REPO and commit["revision"] == "main"
        assert {"adapter_model.safetensors", "adapter_config.json"} <= commit["files"].keys()
    for commit in fake_hub.commits[:-1]:  # checkpoints: the adapter and processor, not the optimizer state
        assert not {"optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin"} & commit["files"].keys()
        assert not [name for name in commit["files"] if name.startswith("rng_state")]
    final = run_dir / "checkpoints" / "final" / "adapter_model.safetensors"
    assert fake_hub.commits[-1]["files"]["adapter_model.safetensors"] == final.read_bytes()

    logs = [e["message"] for e in events if e["type"] == "log"]
    assert f"pushed the adapter of step 2 to {fake_hub.url}/{REPO}" in logs
    assert not [e for e in events if e["type"] == "log" and e["level"] == "error"]
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert phases.count("pushing") == len(fake_hub.commits)  # one per push, background and final
    # After each background push the run's own phase is announced again; the final push ends the run.
    assert phases[-1] == "pushing"
    for i, phase in enumerate(phases[:-1]):
        if phase == "pushing":
            assert phases[i + 1] in ("training", "saving")
    assert not (run_dir / ".hub-push").exists()  # staging copies are cleaned up

    out, err = capfd.readouterr()
    assert TOKEN not in (run_dir / "events.jsonl").read_text() and TOKEN not in out + err


def test_a_failing_push_is_an_error_event_not_a_crash(workspace, fake_hub, tmp_path, monkeypatch, capfd):  # noqa: F811
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_also_secret")
    run_dir = tmp_path / "refused"
    assert run_train_command(push_config(workspace, "push-refused"), run_dir) == 0
    events = events_of(run_dir)
    assert events[-1]["status"] == "finished"
    assert fake_hub.unauthorized >= 1 and fake_hub.commits == []
    errors = [e["message"] for e in events if e["type"] == "log" and e["level"] == "error"]
    assert errors and all("failed" in m and "training goes on" in m for m in errors)
    assert any("401" in m for m in errors)
    text = (run_dir / "events.jsonl").read_text()
    out, err = capfd.readouterr()
    assert "hf_wrong_token_also_secret" not in text + out + err
