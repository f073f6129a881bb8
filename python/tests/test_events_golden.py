"""The events contract, checked against the fixture that the TypeScript side checks too."""

from __future__ import annotations

import json
import math
from pathlib import Path

from medvlm_sft.train.events import PHASES, REQUIRED_FIELDS, EventWriter, read_events

GOLDEN = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "events" / "golden.jsonl"


def test_reader_returns_complete_lines_and_stops_before_the_torn_one():
    events, offset = read_events(GOLDEN)
    raw = GOLDEN.read_bytes()
    assert offset == raw.rfind(b"\n") + 1 < len(raw), "the fixture's last line must stay torn"
    assert [e["type"] for e in events] == [
        "run_started",
        "phase",
        "log",
        "phase",
        "phase",
        "progress",
        "metrics",
        "metrics",
        "phase",
        "metrics",
        "checkpoint",
        "some_future_type",
        "error",
        "run_finished",
    ]


def test_every_known_golden_event_has_its_required_fields():
    events, _ = read_events(GOLDEN)
    known = [e for e in events if e["type"] in REQUIRED_FIELDS]
    assert {e["type"] for e in known} == set(REQUIRED_FIELDS), "the fixture must hold one of every type"
    for event in known:
        assert event["v"] == 1 and isinstance(event["t"], float)
        missing = [f for f in REQUIRED_FIELDS[event["type"]] if f not in event]
        assert not missing, f"{event['type']} lacks {missing}"
        if event["type"] == "phase":
            assert event["phase"] in PHASES


def test_writer_produces_the_golden_lines(tmp_path):
    """The writer's output for the fixture's events is byte-identical to the fixture."""
    golden_events, _ = read_events(GOLDEN)
    clock_values = iter(e["t"] for e in golden_events)
    writer = EventWriter(tmp_path / "events.jsonl", clock=lambda: next(clock_values))
    for event in golden_events:
        fields = {k: v for k, v in event.items() if k not in ("v", "t", "type")}
        writer.emit(event["type"], **fields)
    writer.close()
    golden_lines = GOLDEN.read_bytes().split(b"\n")[: len(golden_events)]
    written = (tmp_path / "events.jsonl").read_bytes().split(b"\n")[: len(golden_events)]
    assert [json.loads(line) for line in written] == [json.loads(line) for line in golden_lines]
    assert written == golden_lines


def test_non_finite_metrics_are_written_as_null_and_lines_are_flushed(tmp_path):
    path = tmp_path / "events.jsonl"
    writer = EventWriter(path)
    writer.metrics(step=3, epoch=0.5, split="train", loss=math.nan, grad_norm=math.inf, learning_rate=1e-4)
    # Flushed per line: a reader sees the event before the writer is closed.
    events, offset = read_events(path)
    assert offset == path.stat().st_size
    assert events[0]["loss"] is None and events[0]["grad_norm"] is None
    assert events[0]["learning_rate"] == 1e-4
    writer.close()


def test_reader_resumes_from_an_offset_without_doubling(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"v":1,"t":1.0,"type":"phase","phase":"training"}\n{"v":1,"t":2.0,"ty')
    first, offset = read_events(path)
    assert [e["t"] for e in first] == [1.0]
    with open(path, "ab") as f:
        f.write(b'pe":"log","level":"info","message":"x"}\nnot json\n')
    second, offset2 = read_events(path, offset)
    assert [e["type"] for e in second] == ["log"]
    assert offset2 == path.stat().st_size
    assert read_events(path, offset2) == ([], offset2)
