"""A run that reuses a finished training (only `predictor.overlap` changed) has a record of its own that names
the training it reused; `mif runs` and `mif runs show` say so; the run's result names that training's folder, so
the editor's Report action works after a reuse (issue 21, where the records meet the cache)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from medical_imaging_framework.cli.commands import load_with_overrides
from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core.examples import BUNDLED_PIPELINES
from medical_imaging_framework.run.cache import ResultCache
from medical_imaging_framework.run.events import Event, TrainingReused
from medical_imaging_framework.run.records import read_record
from medical_imaging_framework.run.run_index import list_runs
from medical_imaging_framework.run.session import RunSession

PIPELINE = BUNDLED_PIPELINES / "segmentation_train_3d.json"
TINY = ["phantoms.count=4", "phantoms.size=16", "split.val_fraction=0.25", "train_loader.batch_size=3",
        "unet.channels=2,4", "unet.strides=2", "unet.num_res_units=0", "trainer.num_epochs=2",
        "trainer.device=cpu", "trainer.checkpoint_dir=ck", "predictor.roi_size=16,16,16", "predictor.device=cpu"]


def _mif_run(*settings: str) -> None:
    arguments = ["run", str(PIPELINE)]
    for setting in (*TINY, *settings):
        arguments += ["--set", setting]
    assert main(arguments) == 0


@pytest.fixture
def working(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder with records on (tests/conftest.py switches them off elsewhere)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIF_RUN_RECORDS", "1")
    yield tmp_path


def test_a_reusing_run_records_the_training_it_reused_and_mif_runs_shows_it(
    working: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _mif_run("predictor.overlap=0.25")
    _mif_run("predictor.overlap=0.5")
    out = capsys.readouterr().out
    assert "reused: trainer (run " in out
    trained = read_record(working / "ck")
    records = {record.run_id: record for record in list_runs(working)}
    assert set(records) - {trained.run_id}, "the reusing run has no record of its own"
    (reusing,) = [record for run_id, record in records.items() if run_id != trained.run_id]
    assert reusing.folder == working / "runs" / reusing.run_id  # never appended to the training's record
    assert len(read_record(working / "ck").segments) == 1
    (reused,) = reusing.reused
    assert (reused.node_id, reused.run_id, reused.epoch, reused.num_epochs) == ("trainer", trained.run_id, 2, 2)
    assert Path(reused.folder) == working / "ck" and Path(reused.checkpoint).parent == working / "ck"
    assert reusing.best_val_loss == trained.best_val_loss  # the weights it used are that training's
    assert reusing.epochs_text == f"2/2 (reused {trained.run_id[:6]})"
    assert reusing.mean_dice is not None

    assert main(["runs"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(reusing.run_id))
    assert f"2/2 (reused {trained.run_id[:6]})" in row and f"{trained.best_val_loss:.4f}" in row
    assert main(["runs", "show", reusing.run_id]) == 0
    shown = capsys.readouterr().out
    assert f"  reused:        trainer: run {trained.run_id}, epoch 2, {working / 'ck'}" in shown


def test_a_reused_trainer_announces_its_folder_to_the_session(working: Path) -> None:
    _, graph = load_with_overrides(str(PIPELINE), TINY)
    cache = ResultCache()
    assert RunSession(graph, cache=cache).run_here().status == "done"
    graph.nodes["predictor"].config["overlap"] = 0.5
    events: list[Event] = []
    result = RunSession(graph, cache=ResultCache(), sink=events.append).run_here()  # a new process's cache
    assert result.status == "done"
    (announced,) = [event for event in events if isinstance(event, TrainingReused)]
    assert (announced.node_id, announced.epoch, announced.num_epochs) == ("trainer", 2, 2)
    assert [Path(folder) for folder in result.checkpoint_folders] == [working / "ck"]  # what Report offers
    assert os.path.isfile(announced.checkpoint)
