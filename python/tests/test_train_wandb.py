"""W&B settings and the trainer's report of its W&B run.

wandb itself cannot be installed on these machines (its OpenTelemetry dependencies are not in
the offline index), so the trainer's own part is tested: the environment that makes W&B keep
its files in the run folder and continue the same run on resume (set before W&B starts), and
the run report the run panel links to, given a run object with the attributes W&B documents
(`id`, `url`, `offline`, `dir`) standing in for `wandb.run`.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from medvlm_sft.config.model import RunConfig
from medvlm_sft.train.callbacks import EventsCallback
from medvlm_sft.train.events import EventWriter, read_events
from medvlm_sft.train.setup import sft_config, wandb_run_id


@pytest.fixture
def clean_env():
    """The trainer sets WANDB_* with setdefault in its own process: each test starts without them."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("WANDB_")]:
        del os.environ[key]
    yield
    os.environ.clear()
    os.environ.update(saved)


def config(**logging) -> RunConfig:
    return RunConfig.model_validate(
        {
            "model": {"base": "m"},
            "data": {"sources": [{"records": "r.jsonl"}]},
            "train": {"use_cpu": True},
            "logging": {"report_to": ["wandb"], **logging},
        }
    )


def test_wandb_keeps_its_files_in_the_run_folder_and_one_run_per_folder(tmp_path: Path, clean_env):
    run_dir = tmp_path / "runs" / "20261127-120000-lung nodules"
    try:
        sft_config(config(wandb={"project": "p", "entity": "lab", "mode": "offline"}), run_dir, True, 10)
    except (ImportError, RuntimeError) as e:  # transformers may insist on wandb being installed
        if "wandb" not in str(e):
            raise
    assert os.environ["WANDB_DIR"] == str(run_dir)
    assert os.environ["WANDB_RUN_ID"] == wandb_run_id(run_dir) == "20261127-120000-lung-nodules"
    assert os.environ["WANDB_RESUME"] == "allow"
    wandb_env = (os.environ["WANDB_PROJECT"], os.environ["WANDB_ENTITY"], os.environ["WANDB_MODE"])
    assert wandb_env == ("p", "lab", "offline")


def test_user_settings_win_over_the_defaults(tmp_path: Path, clean_env):
    os.environ["WANDB_DIR"] = str(tmp_path / "elsewhere")
    os.environ["WANDB_RUN_ID"] = "chosen"
    try:
        sft_config(config(), tmp_path / "run", True, 10)
    except (ImportError, RuntimeError) as e:
        if "wandb" not in str(e):
            raise
    assert os.environ["WANDB_DIR"] == str(tmp_path / "elsewhere")
    assert os.environ["WANDB_RUN_ID"] == "chosen"


@pytest.mark.parametrize("offline", [False, True])
def test_the_run_report_links_an_online_run_and_explains_an_offline_one(tmp_path: Path, offline: bool, monkeypatch):
    run = types.SimpleNamespace(
        id="20261127-120000-demo",
        offline=offline,
        url=None if offline else "https://wandb.ai/lab/medvlm/runs/20261127-120000-demo",
        dir=str(tmp_path / "wandb" / "offline-run-x" / "files"),
    )
    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(run=run))
    writer = EventWriter(tmp_path / "events.jsonl")
    try:
        EventsCallback(writer, tmp_path, 2, False)._report_wandb_run()
    finally:
        writer.close()
    events, _ = read_events(tmp_path / "events.jsonl")
    assert len(events) == 1 and events[0]["type"] == "log" and events[0]["wandb_run_id"] == run.id
    if offline:
        assert "wandb_url" not in events[0]
        expected = f"W&B run {run.id} is offline: its files are in {run.dir}; `wandb sync` uploads them"
        assert events[0]["message"] == expected
    else:
        assert events[0]["wandb_url"] == run.url
        assert events[0]["message"] == f"W&B run {run.id}: {run.url}"


def test_no_report_without_a_wandb_run(tmp_path: Path, monkeypatch):
    monkeypatch.delitem(sys.modules, "wandb", raising=False)
    writer = EventWriter(tmp_path / "events.jsonl")
    try:
        EventsCallback(writer, tmp_path, 2, False)._report_wandb_run()
        monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(run=None))
        EventsCallback(writer, tmp_path, 2, False)._report_wandb_run()
    finally:
        writer.close()
    assert not (tmp_path / "events.jsonl").exists() or read_events(tmp_path / "events.jsonl")[0] == []
