"""Run records from an event stream (`run.recorder`), the pipeline diff and the trash, without torch (issue 21)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medical_imaging_framework.run.events import (
    CheckpointsConfigured,
    EpochEnded,
    LogLine,
    MetricsReported,
    RunFinished,
    RunStarted,
)
from medical_imaging_framework.run.pipeline_diff import diff_pipelines
from medical_imaging_framework.run.recorder import RunRecorder
from medical_imaging_framework.run.records import read_record
from medical_imaging_framework.run.run_index import list_runs, trash_run

INFERENCE = {"name": "infer", "nodes": [{"id": "predictor", "type": "inference.Predictor", "params": {}}],
             "links": []}
TRAINING = {"name": "train", "nodes": [{"id": "trainer", "type": "training.Trainer",
                                        "params": {"checkpoint_dir": "ck", "num_epochs": 2}}], "links": []}


def test_a_run_without_a_checkpoint_folder_is_recorded_under_runs_and_its_evaluation_too(tmp_path: Path) -> None:
    csv = tmp_path / "out" / "evaluation.csv"
    csv.parent.mkdir()
    csv.write_text("name,grid,checkpoint,run_id,epoch,dice\ncase1,original,/x/best_model.pt,abc123,7,0.5\n"
                   "mean,original,/x/best_model.pt,abc123,7,0.5\n", encoding="utf-8")
    recorder = RunRecorder(INFERENCE, "editor", working_folder=tmp_path)
    recorder.observe(RunStarted("infer", 1))
    record_file = tmp_path / "runs" / recorder.record.run_id / "run.json"
    assert read_record(record_file).status == "running"  # written at the start
    recorder.observe(MetricsReported("evaluate", {"dice": 0.5, "dice_liver": 0.5, "hd95": float("inf")}))
    recorder.observe(LogLine("Evaluation written: out/evaluation.csv", node_id="evaluate"))
    recorder.observe(RunFinished("done", 1.0))
    record = read_record(record_file)
    assert (record.status, record.mode, record.mean_dice) == ("done", "editor", 0.5)
    evaluation = record.evaluations[0]
    assert evaluation.csv == str(csv) and evaluation.dice_per_class == {"liver": 0.5}
    assert (evaluation.checkpoint, evaluation.weights_run_id, evaluation.weights_epoch) == ("/x/best_model.pt",
                                                                                            "abc123", 7)
    assert evaluation.mean["hd95"] == float("inf")  # written as "inf" (JSON has none) and read back
    assert [r.run_id for r in list_runs(tmp_path)] == [record.run_id]


def test_a_trainer_run_uses_the_trainer_run_id_and_an_abort_leaves_it_stopped(tmp_path: Path) -> None:
    recorder = RunRecorder(TRAINING, "mif run", working_folder=tmp_path)
    recorder.observe(RunStarted("train", 1))
    assert not (tmp_path / "runs").exists()  # waits for the Trainer's folder
    recorder.observe(CheckpointsConfigured("trainer", "ck", run_id="feedc0ffee12"))
    recorder.observe(EpochEnded("trainer", 1, 2, loss=0.9, val_loss=0.8))
    recorder.observe(EpochEnded("trainer", 2, 2, loss=0.7, val_loss=0.85))
    assert read_record(tmp_path / "ck").status == "running"
    recorder.finish("cancelled")  # what `run_here` does when a KeyboardInterrupt ends the run
    record = read_record(tmp_path / "ck")
    assert (record.run_id, record.status, record.epochs, record.best_val_loss) == ("feedc0ffee12", "stopped", 2, 0.8)


def test_a_resume_after_a_killed_segment_marks_that_segment_failed(tmp_path: Path) -> None:
    killed = RunRecorder(TRAINING, "torchrun, 2 processes", working_folder=tmp_path)
    killed.observe(CheckpointsConfigured("trainer", "ck", run_id="e1a571c00001"))
    killed.observe(EpochEnded("trainer", 1, 2, loss=0.9, val_loss=0.8))  # then the process is killed
    restarted = RunRecorder(TRAINING, "torchrun, 2 processes", working_folder=tmp_path)
    restarted.observe(CheckpointsConfigured("trainer", "ck", run_id="e1a571c00001"))
    restarted.observe(RunFinished("done", 1.0))
    record = read_record(tmp_path / "ck")
    assert [segment.status for segment in record.segments] == ["failed", "done"] and record.status == "done"


def test_a_resume_with_no_epoch_left_keeps_the_epochs_asked_for(tmp_path: Path) -> None:
    """Found driving the Runs dock: Resume then Run of a run that had trained all its epochs listed it as 2/0."""
    first = RunRecorder(TRAINING, "editor", working_folder=tmp_path)
    first.observe(CheckpointsConfigured("trainer", "ck", run_id="a11d0e000001"))
    first.observe(EpochEnded("trainer", 2, 2, loss=0.9, val_loss=0.8))
    first.observe(RunFinished("done", 1.0))
    resumed = RunRecorder(TRAINING, "editor", working_folder=tmp_path)
    resumed.observe(CheckpointsConfigured("trainer", "ck", run_id="a11d0e000001"))
    resumed.observe(RunFinished("done", 1.0))  # "already holds epoch 2 of num_epochs 2": no epoch trained
    record = read_record(tmp_path / "ck")
    assert (record.epochs, record.num_epochs, len(record.segments)) == (2, 2, 2)


def test_a_trainer_run_that_fails_before_its_folder_is_still_recorded(tmp_path: Path) -> None:
    recorder = RunRecorder(TRAINING, "mif run", working_folder=tmp_path)
    recorder.observe(RunStarted("train", 1))
    recorder.observe(RunFinished("failed", 0.1))
    [record] = list_runs(tmp_path)
    assert record.status == "failed" and record.folder == tmp_path / "runs" / record.run_id


def test_a_fresh_run_into_a_used_folder_keeps_the_earlier_record(tmp_path: Path) -> None:
    for run_id in ("aaaaaaaaaaaa", "bbbbbbbbbbbb"):
        recorder = RunRecorder(TRAINING, "mif run", working_folder=tmp_path)
        recorder.observe(CheckpointsConfigured("trainer", "ck", run_id=run_id))
        recorder.observe(RunFinished("done", 1.0))
    assert read_record(tmp_path / "ck").run_id == "bbbbbbbbbbbb"
    assert read_record(tmp_path / "ck" / "run-aaaaaaaaaaaa.json").run_id == "aaaaaaaaaaaa"
    assert {r.run_id for r in list_runs(tmp_path)} == {"aaaaaaaaaaaa", "bbbbbbbbbbbb"}


def test_trash_moves_the_run_folder_and_deletes_nothing(tmp_path: Path) -> None:
    recorder = RunRecorder(TRAINING, "mif run", working_folder=tmp_path)
    recorder.observe(CheckpointsConfigured("trainer", "ck", run_id="c0ffeec0ffee"))
    (tmp_path / "ck" / "best_model.pt").write_bytes(b"weights")
    recorder.observe(RunFinished("done", 1.0))
    [record] = list_runs(tmp_path)
    target = trash_run(record, tmp_path)
    assert target.parent == tmp_path / ".mif" / "trash" and target.name.startswith("c0ffeec0ffee-")
    assert (target / "ck" / "best_model.pt").read_bytes() == b"weights"
    assert not (tmp_path / "ck").exists() and list_runs(tmp_path) == []


def test_trash_refuses_a_run_whose_folder_is_the_working_folder(tmp_path: Path) -> None:
    recorder = RunRecorder(TRAINING, "mif run", working_folder=tmp_path)
    recorder.observe(CheckpointsConfigured("trainer", ".", run_id="0000aaaa0000"))
    recorder.observe(RunFinished("done", 1.0))
    [record] = list_runs(tmp_path)
    with pytest.raises(OSError, match=f"its folder {tmp_path} holds the working folder"):
        trash_run(record, tmp_path)
    assert (tmp_path / "run.json").is_file() and not (tmp_path / ".mif" / "trash").exists()


def test_the_diff_names_changed_params_nodes_and_links() -> None:
    a = json.loads(json.dumps(TRAINING))
    b = json.loads(json.dumps(TRAINING))
    b["nodes"][0]["params"].update({"num_epochs": 5, "checkpoint_dir": "ck2"})
    b["nodes"].append({"id": "adam", "type": "optim.Adam", "params": {}})
    b["links"].append({"from": "adam.optimizer", "to": "trainer.optimizer"})
    described = [change.describe() for change in diff_pipelines(a, b)]
    assert described == ["trainer.num_epochs: 2 -> 5", "+ node adam (optim.Adam)",
                         "+ link adam.optimizer -> trainer.optimizer", "trainer.checkpoint_dir: 'ck' -> 'ck2'"]
    assert [change.describe() for change in diff_pipelines(b, a)][1:3] == ["- node adam (optim.Adam)",
                                                                          "- link adam.optimizer -> trainer.optimizer"]


def test_a_child_process_that_dies_mid_run_has_its_record_closed_by_the_parent(tmp_path: Path) -> None:
    from medical_imaging_framework.core import Graph
    from medical_imaging_framework.run.session import RunSession

    child = RunRecorder(TRAINING, "separate process", working_folder=tmp_path)  # what the child wrote
    child.observe(CheckpointsConfigured("trainer", "ck", run_id="deadbeef0001"))
    parent = RunSession(Graph(name="train"), validated=True, separate_process=True)
    parent.take_line('{"format": "mif-events", "version": 1, "type": "CheckpointsConfigured", "time": 0, '
                     f'"node_id": "trainer", "directory": "{tmp_path / "ck"}", "run_id": "deadbeef0001"}}')
    assert read_record(tmp_path / "ck").status == "running"
    result = parent.child_result(-9, "Killed")
    record = read_record(tmp_path / "ck")
    assert (result.status, record.status, record.segments[-1].status) == ("failed", "failed", "failed")
    assert record.ended


def test_loss_curves_are_read_without_torch_and_a_bad_cell_is_named(tmp_path: Path) -> None:
    from medical_imaging_framework.run.records import RecordError, read_loss_curve

    path = tmp_path / "metrics.csv"
    path.write_text("epoch,train_loss,val_loss,lr,seconds\n1,0.9,,0.001,1\n2,0.8,0.7,0.001,1\n3,nan,inf,0.001,1\n",
                    encoding="utf-8")  # epoch 3 diverged: no point
    assert read_loss_curve(path) == {1: (0.9, None), 2: (0.8, 0.7)}
    path.write_text("epoch,train_loss,val_loss\n1,0.9,0.8\n2,lots,0.7\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"metrics.csv: line 3: column 'train_loss' holds 'lots', not a number"):
        read_loss_curve(path)
