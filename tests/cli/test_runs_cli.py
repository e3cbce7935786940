"""`mif run` leaves a run record (`run.json`) beside the checkpoints; `mif runs` lists, shows and diffs them;
a resumed run appends a segment; the index is a cache rebuilt from the records (issue 21 point 1)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.records import read_record
from medical_imaging_framework.run.run_index import index_path, list_runs
from tests.support.tiny import PIPELINE, set_arguments


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working folder with run ``ck_a`` (adam.lr 0.001, then resumed to epoch 2) and ``ck_b`` (lr 0.01)."""
    NodeRegistry()  # the node library is loaded before the runs
    folder = tmp_path_factory.mktemp("working")
    before, switch = os.getcwd(), os.environ.get("MIF_RUN_RECORDS")
    os.chdir(folder)
    os.environ["MIF_RUN_RECORDS"] = "1"  # tests/conftest.py switches records off elsewhere
    try:
        for name, lr in (("ck_a", "0.001"), ("ck_b", "0.01")):
            assert main(["run", str(PIPELINE), *set_arguments(name, num_epochs=1), "--set", f"adam.lr={lr}"]) == 0
        resumed = set_arguments("ck_a", num_epochs=2, resume_from="last")
        assert main(["run", str(PIPELINE), *resumed, "--set", "adam.lr=0.001"]) == 0
        yield folder
    finally:
        os.chdir(before)
        os.environ.pop("MIF_RUN_RECORDS") if switch is None else os.environ.update(MIF_RUN_RECORDS=switch)


def runs_output(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    capsys.readouterr()
    assert main(["runs", *words]) == 0
    return capsys.readouterr().out


def test_two_runs_with_different_lr_are_listed_and_their_diff_is_exactly_adam_lr(
    two_runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = (read_record(two_runs / name / "run.json") for name in ("ck_a", "ck_b"))
    listing = runs_output(capsys, str(two_runs))
    rows = {line.split()[0]: line.split() for line in listing.splitlines()[1:]}
    assert set(rows) == {a.run_id, b.run_id}
    assert rows[b.run_id][1:4] == ["segmentation_train", "done", "1/1"]
    assert rows[b.run_id][4] == f"{b.best_val_loss:.4f}" and rows[b.run_id][-1] == str(two_runs / "ck_b")

    diff = runs_output(capsys, "diff", a.run_id, b.run_id, "-C", str(two_runs)).splitlines()
    changed = diff[1:diff.index("written elsewhere:")]
    assert diff[0] == f"{a.run_id} -> {b.run_id}: 3 change(s)"  # a was resumed: num_epochs and resume_from too
    assert changed[0] == "  adam.lr: 0.001 -> 0.01"
    assert {line.split(":")[0] for line in changed[1:]} == {"  trainer.num_epochs", "  trainer.resume_from"}
    assert diff[diff.index("written elsewhere:") + 1:] == ["  trainer.checkpoint_dir: 'ck_a' -> 'ck_b'"]


def test_the_record_holds_the_pipeline_as_it_ran_and_where_its_files_are(two_runs: Path) -> None:
    record = read_record(two_runs / "ck_b")
    data = json.loads((two_runs / "ck_b" / "run.json").read_text(encoding="utf-8"))
    assert data["format"] == "mif-run" and data["status"] == "done" and data["mode"] == "mif run"
    adam = next(node for node in record.pipeline["nodes"] if node["id"] == "adam")
    assert adam["params"]["lr"] == 0.01  # the --set override applied
    assert record.checkpoint_folders == [str(two_runs / "ck_b")]
    assert record.metrics_csv == [str(two_runs / "ck_b" / "metrics.csv")]
    assert record.device.startswith("cpu") and record.working_folder == str(two_runs)
    assert "adam.lr=0.01" in record.segments[0].overrides


def test_a_resumed_run_appends_a_segment_to_the_same_record(two_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = read_record(two_runs / "ck_a")
    assert [(s.status, s.epoch_from, s.epoch_to) for s in record.segments] == [("done", 0, 1), ("done", 1, 2)]
    assert (record.epochs, record.num_epochs) == (2, 2)
    assert "trainer.resume_from=last" in record.segments[1].overrides
    assert "trainer.resume_from=last" not in record.segments[0].overrides
    shown = runs_output(capsys, "show", record.run_id[:6], "-C", str(two_runs))
    assert f"Run {record.run_id}: segmentation_train (done)" in shown
    assert "segments (2):" in shown and "epochs 0 -> 1" in shown and "epochs 1 -> 2" in shown


def test_a_deleted_or_damaged_index_is_rebuilt_from_the_records(two_runs: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_runs, copy)
    ids = {record.run_id for record in list_runs(two_runs)}
    index_path(copy).unlink()
    assert {record.run_id for record in list_runs(copy)} == ids
    assert index_path(copy).is_file()
    index_path(copy).write_text("{not json", encoding="utf-8")
    assert {record.run_id for record in list_runs(copy)} == ids
    assert json.loads(index_path(copy).read_text(encoding="utf-8"))["format"] == "mif-runs-index"


def test_a_moved_checkpoint_folder_keeps_its_record(two_runs: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(two_runs, copy)
    (copy / "old").mkdir()
    shutil.move(str(copy / "ck_b"), str(copy / "old" / "moved"))
    record = read_record(copy / "old" / "moved" / "run.json")
    assert record.run_id == read_record(two_runs / "ck_b").run_id
    assert record.path == (copy / "old" / "moved" / "run.json").resolve()
    assert {r.run_id: r.folder for r in list_runs(copy)}[record.run_id] == (copy / "old" / "moved").resolve()


def test_unknown_ids_and_folders_are_named(two_runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "show", "nosuchrun", "-C", str(two_runs)]) == 2
    assert f"no run 'nosuchrun' in {two_runs}" in capsys.readouterr().err
    assert main(["runs", str(two_runs / "absent")]) == 2
    assert "absent' is not a folder" in capsys.readouterr().err


def test_the_record_names_how_mif_run_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from medical_imaging_framework.cli.run_options import record_mode
    from medical_imaging_framework.run.launch import TORCHRUN_VARIABLES

    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert record_mode(argparse.Namespace(validated=False, events="text")) == "mif run"
    assert record_mode(argparse.Namespace(validated=True, events="jsonl")) == "separate process"  # the editor's child
    for name in TORCHRUN_VARIABLES:
        monkeypatch.setenv(name, "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert record_mode(argparse.Namespace(validated=True, events="jsonl")) == "torchrun, 2 processes"
