"""`mif run --events jsonl`: one schema-valid JSON object per line, the same events as in-process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.run import events as ev
from medical_imaging_framework.run.event_stream import event_to_dict, event_to_json, load_schema
from medical_imaging_framework.run.executor import run_graph
from tests.support.pipelines import make_tiny_graph

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _milestones(records: list[dict]) -> list[tuple]:
    """Epochs and checkpoint events, in order, as comparable tuples."""
    found = []
    for record in records:
        if record["type"] == "EpochEnded":
            found.append(("epoch", record["epoch"], round(record["loss"], 6)))
        elif record["type"] == "CheckpointSaved":
            found.append(("checkpoint", record["kind"], Path(record["path"]).name, record["epoch"]))
        elif record["type"] in ("TrainingCompleted", "RunFinished"):
            found.append((record["type"], record.get("status", record.get("epoch"))))
    return found


def test_jsonl_stream_matches_in_process_events(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    validator: jsonschema.protocols.Validator,
) -> None:
    monkeypatch.chdir(tmp_path)
    in_process: list[ev.Event] = []
    result = run_graph(make_tiny_graph(registry, "ck_a", save_every_n_epochs=1), in_process.append)
    assert result.status == "done"
    expected = _milestones([event_to_dict(event) for event in in_process])

    pipeline = tmp_path / "tiny.json"
    save_pipeline(make_tiny_graph(registry, "ck_b", save_every_n_epochs=1), pipeline)
    capsys.readouterr()
    assert main(["run", str(pipeline), "--events", "jsonl"]) == 0
    captured = capsys.readouterr()

    lines = captured.out.splitlines()
    assert lines, "no JSON lines on stdout"
    records = []
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)  # every stdout line is one JSON object
        errors = sorted(validator.iter_errors(record), key=str)
        assert not errors, f"line {number} breaks the schema: {errors[0].message}\n{line}"
        assert (record["format"], record["version"]) == ("mif-events", 1)
        records.append(record)
    assert _milestones(records) == expected
    assert [r["epoch"] for r in records if r["type"] == "EpochEnded"] == [1, 2]
    assert records[0]["type"] == "RunStarted" and records[-1]["type"] == "RunFinished"
    assert all(r["node_id"] == "trainer" for r in records if r["type"] in ("EpochEnded", "CheckpointSaved"))
    # the human lines went to stderr
    assert "Epoch [1/2], Loss:" in captured.err
    assert "Epoch [" not in captured.out.replace('"type":"EpochEnded"', "")


def test_every_event_type_is_serialised_within_the_schema(validator: jsonschema.protocols.Validator) -> None:
    image = np.zeros((1, 8, 8), dtype=np.float32)
    image[0, 2, 3] = 2.5
    samples = [
        ev.RunStarted("p", 3), ev.NodeStarted("n", "data.X"), ev.NodeFinished("n", 0.5),
        ev.NodeFailed("n", "boom", "Traceback..."), ev.LogLine("hello"), ev.LogLine("careful", "n", "warning"),
        ev.Progress("t", 1, 2, 3, 4), ev.EpochEnded("t", 1, 2, 0.5, float("nan"), 1.0, {"dice": 0.7}),
        ev.CheckpointSaved("t", "best", "ck/best_model.pt", 1, 0.5), ev.CheckpointFailed("t", "ck/x.pt", "disk full"),
        ev.CheckpointsConfigured("t", "ck"), ev.TrainingResumed("t", "ck/x.pt", 3, 6),
        ev.TrainingCompleted("t", 6, "ck/final_model.pt"), ev.TrainingStopped("t", 2),
        ev.TrainingReused("t", "/w/ck", "ef16a3", 2, 2, "/w/ck/best_model.pt"),
        ev.MetricsReported("e", {"dice": 0.8, "hd95": float("inf")}, ({"name": "a", "dice": 0.8, "hd95": math.nan},)),
        ev.SampleAvailable("p", image, None, image.astype(np.uint8)), ev.RunFinished("done", 1.0),
    ]
    for event in samples:
        line = event_to_json(event)
        assert "\n" not in line
        record = json.loads(line)
        assert not list(validator.iter_errors(record)), line
        assert record["type"] == type(event).__name__
    sample = event_to_dict(samples[16])
    assert sample["image"] == {"shape": [1, 8, 8], "dtype": "float32", "min": 0.0, "max": 2.5}
    assert sample["label"] is None
    assert event_to_dict(samples[7])["val_loss"] is None  # NaN is not JSON: null
    assert event_to_dict(samples[4])["node_id"] is None


def test_schema_file_is_documented() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert "events.schema.json" in text
    for name in ("EpochEnded", "CheckpointSaved", "SampleAvailable", '"format"', '"version"'):
        assert name in text


def test_lines_read_back_into_the_same_events() -> None:
    from medical_imaging_framework.run.event_stream import event_from_dict

    plain = [
        ev.RunStarted("p", 3), ev.NodeStarted("n", "data.X"), ev.LogLine("hi"), ev.Progress("t", 1, 2, 3, 4),
        ev.EpochEnded("t", 1, 2, 0.5, None, 1.0), ev.CheckpointSaved("t", "periodic", "ck/c.pt", 1, 0.5),
        ev.TrainingResumed("t", "ck/c.pt", 3, 6), ev.TrainingCompleted("t", 6, "ck/final_model.pt"),
        ev.TrainingReused("t", "/w/ck", "ef16a3", 2, 2, "/w/ck/best_model.pt"),
        ev.MetricsReported("e", {"dice": 0.5}, ({"name": "a", "dice": 0.5},)), ev.RunFinished("done", 2.0),
    ]
    for event in plain:
        assert event_from_dict(json.loads(event_to_json(event))) == event
    sample = event_from_dict(event_to_dict(ev.SampleAvailable("p", np.ones((1, 4, 4)))))
    assert sample == ev.SampleAvailable("p", None)
    nan_loss = event_from_dict(event_to_dict(ev.EpochEnded("t", 1, 2, float("nan"))))
    assert isinstance(nan_loss, ev.EpochEnded) and math.isnan(nan_loss.loss)
    assert event_from_dict({"format": "other", "version": 1, "type": "RunStarted"}) is None
    assert event_from_dict({"format": "mif-events", "version": 1, "type": "PluginThing", "time": 1.0}) is None
