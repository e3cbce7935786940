"""The Runs dock (issue 21 point 2): the runs of the working folder, overlaying their loss curves, the diff of two
runs' pipelines, opening and resuming a run's pipeline, removing a run to the trash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.core.pipeline_file import graph_to_dict
from medical_imaging_framework.run.events import CheckpointsConfigured, EpochEnded, RunFinished, RunStarted
from medical_imaging_framework.run.recorder import RunRecorder
from tests.support.gui import MessageBoxes, wait_for_run

LOSSES = {"run_a": [(1, 0.9, 0.8), (2, 0.7, 0.75), (3, 0.6, 0.7)], "run_b": [(1, 0.95, 0.9), (2, 0.85, 0.8)]}


def recorded_run(folder: Path, pipeline: dict[str, Any], run_id: str, lr: float) -> Path:
    """A finished run of ``pipeline`` with ``adam.lr = lr`` recorded in ``folder/<run_id>`` with its metrics.csv."""
    data = json.loads(json.dumps(pipeline))
    for node in data["nodes"]:
        if node["id"] == "adam":
            node["params"]["lr"] = lr
        if node["id"] == "trainer":
            node["params"]["checkpoint_dir"] = run_id
    recorder = RunRecorder(data, "editor", working_folder=folder)
    recorder.observe(RunStarted(data["name"], len(data["nodes"])))
    recorder.observe(CheckpointsConfigured("trainer", run_id, run_id=run_id))
    rows = ["epoch,train_loss,val_loss,lr,seconds"]
    for epoch, loss, val in LOSSES[run_id]:
        recorder.observe(EpochEnded("trainer", epoch, len(LOSSES[run_id]), loss, val))
        rows.append(f"{epoch},{loss},{val},{lr},0.1")
    (folder / run_id / "metrics.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    recorder.observe(RunFinished("done", 1.0))
    return folder / run_id


@pytest.fixture
def two_runs(tiny_file: Path, registry: NodeRegistry) -> Path:
    """The tiny pipeline's folder holding runs ``run_a`` (lr 0.001) and ``run_b`` (lr 0.01)."""
    pipeline = graph_to_dict(load_pipeline(tiny_file, registry))
    recorded_run(tiny_file.parent, pipeline, "run_a", 0.001)
    recorded_run(tiny_file.parent, pipeline, "run_b", 0.01)
    return tiny_file.parent


def shown_dock(qtbot: Any, window: Any) -> Any:
    window.runs.dock.raise_()
    qtbot.waitUntil(lambda: not window.runs.stale)
    return window.runs.panel


def test_the_dock_lists_the_runs_and_overlays_both_pairs_of_curves_from_their_metrics_csv(
    qtbot: Any, window: Any, two_runs: Path
) -> None:
    panel = shown_dock(qtbot, window)
    assert panel.folder == two_runs
    assert sorted(record.run_id for record in panel.records) == ["run_a", "run_b"]
    assert [panel.table.item(row, 2).text() for row in range(2)] == ["done", "done"]
    panel.table.sortItems(4)  # best val loss, ascending: run_a (0.7) before run_b (0.8)
    assert [panel.table.item(row, 1).text() for row in range(2)] == ["run_a", "run_b"]
    panel.select_ids(["run_a", "run_b"])
    panel.buttons["overlay"].click()
    plot = window.loss_plot
    curves = {item.name(): (list(item.xData), list(item.yData)) for item in plot.overlay}
    assert curves == {
        "run_a training": ([1, 2, 3], [0.9, 0.7, 0.6]), "run_a validation": ([1, 2, 3], [0.8, 0.75, 0.7]),
        "run_b training": ([1, 2], [0.95, 0.85]), "run_b validation": ([1, 2], [0.9, 0.8]),
    }
    pens = {item.name().split()[0]: item.opts["pen"].color().name() for item in plot.overlay}
    assert pens["run_a"] != pens["run_b"]  # each run a colour
    legend = [label.text for _, label in plot.plotItem.legend.items]
    assert legend == ["run_a training", "run_a validation", "run_b training", "run_b validation"]
    assert plot.overlay[0] in plot.plotItem.listDataItems() and not plot.train_curve.isVisible()
    plot.reset()  # the next run: the live curves come back, the overlay goes
    assert [label.text for _, label in plot.plotItem.legend.items] == ["training loss", "validation loss"]
    assert plot.overlay == [] and plot.train_curve.isVisible()


def test_the_diff_of_two_runs_shows_exactly_adam_lr_among_the_computed_changes(
    qtbot: Any, window: Any, two_runs: Path
) -> None:
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_a", "run_b"])
    assert panel.buttons["diff"].isEnabled() and not panel.buttons["open"].isEnabled()
    panel.buttons["diff"].click()
    dialog = window.runs.diff_dialog
    first, second = (record.run_id for record in panel.selected())
    lrs = {"run_a": "0.001", "run_b": "0.01"}
    computed = [row for row in dialog.rows() if row[0] != "output"]
    assert computed == [("param", "adam", "lr", lrs[first], lrs[second])]
    assert [row[:3] for row in dialog.rows() if row[0] == "output"] == [("output", "trainer", "checkpoint_dir")]
    dialog.close()


def test_open_restores_the_run_pipeline_and_resume_sets_the_trainer_to_continue_it(
    qtbot: Any, window: Any, two_runs: Path, registry: NodeRegistry
) -> None:
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_b"])
    panel.buttons["open"].click()
    [record] = [r for r in panel.records if r.run_id == "run_b"]
    opened = window.current_graph()
    assert {node.id: node.config for node in opened.nodes.values()} == {
        node["id"]: node["params"] for node in record.pipeline["nodes"]}
    assert opened.nodes["adam"].config["lr"] == 0.01
    assert window.path is None and window.windowTitle().startswith("run-run_b.json")
    assert window.document.modified

    window.mark_saved()  # no "unsaved changes" question in between
    panel.select_ids(["run_b"])
    panel.buttons["resume"].click()
    trainer = window.current_graph().nodes["trainer"].config
    assert (trainer["checkpoint_dir"], trainer["resume_from"]) == (str(two_runs / "run_b"), "last")
    assert window.current_graph().validate() == []  # ready to Run


def test_remove_asks_then_moves_the_run_to_the_trash(
    qtbot: Any, window: Any, two_runs: Path, message_boxes: MessageBoxes
) -> None:
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_a"])
    message_boxes.answer = QMessageBox.StandardButton.Cancel
    panel.buttons["remove"].click()
    assert (two_runs / "run_a" / "run.json").is_file()
    message_boxes.answer = QMessageBox.StandardButton.Yes
    panel.buttons["remove"].click()
    [trashed] = (two_runs / ".mif" / "trash").iterdir()
    assert (trashed / "run_a" / "metrics.csv").is_file() and not (two_runs / "run_a").exists()
    assert [record.run_id for record in panel.records] == ["run_b"]
    assert message_boxes.kinds() == ["question", "question"]


def test_a_run_in_the_editor_is_recorded_and_listed_when_it_ends(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.gui import write_tiny_pipeline

    monkeypatch.setenv("MIF_RUN_RECORDS", "1")  # tests/conftest.py switches records off elsewhere
    monkeypatch.chdir(tmp_path)  # the working folder relative checkpoint folders resolve against
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=1, checkpoint_dir="ck"), show=True)
    panel = shown_dock(qtbot, window)
    assert panel.records == []
    assert window.run_pipeline()
    wait_for_run(qtbot, window)
    qtbot.waitUntil(lambda: len(panel.records) == 1)
    [record] = panel.records
    assert (record.status, record.mode, record.epochs) == ("done", "editor", 1)
    assert record.folder == tmp_path / "ck" and record.metrics_csv == [str(tmp_path / "ck" / "metrics.csv")]


def test_a_moved_run_folder_still_overlays_its_curves(qtbot: Any, window: Any, two_runs: Path) -> None:
    (two_runs / "old").mkdir()
    (two_runs / "run_a").rename(two_runs / "old" / "run_a")
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_a"])
    panel.buttons["overlay"].click()
    assert [(item.name(), list(item.yData)) for item in window.loss_plot.overlay] == [
        ("run_a training", [0.9, 0.7, 0.6]), ("run_a validation", [0.8, 0.75, 0.7])]


def test_open_report_hands_the_run_folder_to_the_report_action(
    qtbot: Any, window: Any, two_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[list[Path]] = []
    monkeypatch.setattr(window.report, "write", lambda: written.append(list(window.report.folders)))
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_b"])
    panel.buttons["report"].click()
    assert written == [[two_runs / "run_b"]]


def started_at(folder: Path, when: str) -> None:
    """Set the start time of the run recorded in ``folder``."""
    from medical_imaging_framework.run.records import read_record, write_record

    record = read_record(folder)
    record.started = record.segments[0].started = when
    write_record(record, folder)


def test_the_diff_goes_from_the_earlier_run_to_the_later_whatever_the_table_order(
    qtbot: Any, window: Any, two_runs: Path
) -> None:
    """Found driving the dock under X: the table lists the newest run first, and Diff took the rows' order, so
    "old" showed the newer run's value."""
    from PySide6.QtCore import Qt

    started_at(two_runs / "run_a", "2026-01-01 10:00:00")
    started_at(two_runs / "run_b", "2026-01-01 11:00:00")
    panel = shown_dock(qtbot, window)
    panel.refresh()
    panel.table.sortItems(0, Qt.SortOrder.DescendingOrder)  # newest first, as the dock opens
    panel.select_ids(["run_a", "run_b"])
    assert [record.run_id for record in panel.selected()] == ["run_b", "run_a"]
    panel.buttons["diff"].click()
    dialog = window.runs.diff_dialog
    assert [row for row in dialog.rows() if row[0] != "output"] == [("param", "adam", "lr", "0.001", "0.01")]
    assert dialog.windowTitle() == "Runs run_a → run_b"
    dialog.close()


def test_resume_after_open_asks_nothing_unless_the_opened_run_was_edited(
    qtbot: Any, window: Any, two_runs: Path, message_boxes: MessageBoxes
) -> None:
    """Found driving the dock under X: Open pipeline, then Resume asked "Save the changes to this pipeline?"
    though nothing was changed (the run's record keeps its pipeline)."""
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_b"])
    panel.buttons["open"].click()
    assert window.document.modified and window.windowTitle().startswith("run-run_b.json")
    panel.select_ids(["run_a"])
    panel.buttons["resume"].click()
    assert message_boxes.kinds() == []
    trainer = window.current_graph().nodes["trainer"].config
    assert (trainer["checkpoint_dir"], trainer["resume_from"]) == (str(two_runs / "run_a"), "last")

    config = dict(window.current_graph().nodes["adam"].config, lr=0.5)  # an edit: now there is something to lose
    window.canvas.set_config("adam", config)
    message_boxes.answer = QMessageBox.StandardButton.Cancel
    panel.select_ids(["run_b"])
    panel.buttons["open"].click()
    assert message_boxes.kinds() == ["question"] and window.current_graph().nodes["adam"].config["lr"] == 0.5


def test_a_run_opened_from_a_moved_working_folder_keeps_the_dock_on_that_folder(
    qtbot: Any, window: Any, two_runs: Path
) -> None:
    """Found driving the dock under X in a copy of a working folder: Open pipeline switched the dock (and
    Remove's trash) to the folder the record was written in, not the one it was listed in."""
    from medical_imaging_framework.run.records import read_record, write_record

    record = read_record(two_runs / "run_b")
    record.working_folder = str(two_runs.parent / "where-it-ran-before-the-move")
    write_record(record, two_runs / "run_b")
    panel = shown_dock(qtbot, window)
    panel.select_ids(["run_b"])
    panel.buttons["open"].click()
    assert window.runs.working_folder() == two_runs
    qtbot.waitUntil(lambda: not window.runs.stale)
    assert panel.folder == two_runs and sorted(r.run_id for r in panel.records) == ["run_a", "run_b"]


def test_a_running_record_whose_process_is_gone_is_listed_killed(qtbot: Any, window: Any, two_runs: Path) -> None:
    """A `kill -9` left run_b's record "running": the dock lists it killed, in its colour, and says why."""
    import subprocess
    import sys

    from medical_imaging_framework.run.process_identity import ProcessIdentity, current_process
    from medical_imaging_framework.run.records import read_record, write_record

    me = current_process()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process now
    record = read_record(two_runs / "run_b")
    record.status = record.segments[-1].status = "running"
    record.process = ProcessIdentity(gone.pid, me.host, 1, me.boot_id)
    write_record(record, two_runs / "run_b")
    panel = shown_dock(qtbot, window)
    [row] = [row for row in range(panel.table.rowCount()) if panel.table.item(row, 1).text() == "run_b"]
    status = panel.table.item(row, 2)
    assert status.text() == "killed" and status.foreground().color().name() == "#6a1b9a"
    assert f"pid {gone.pid}" in status.toolTip() and "metrics.csv" in status.toolTip()
    assert panel.table.item(row, 3).text() == "2/2"  # its epochs, from metrics.csv
