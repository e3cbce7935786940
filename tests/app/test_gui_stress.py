"""The editor under stress (issue 9): Run pressed twice, Stop during a checkpoint write, a bad file opened
during a run, edits while running. No crash, no partial file, no QThread left (the ``make_window``
fixture checks that at teardown), and the pipeline unchanged."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from medical_imaging_framework.checkpoints import writer as writer_module
from medical_imaging_framework.checkpoints.files import load_checkpoint
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.pipeline_file import graph_to_dict
from medical_imaging_framework.run.events import EpochEnded, RunStarted
from tests.support.gui import wait_for_run, write_tiny_pipeline


def test_run_pressed_twice_starts_one_run(qtbot: Any, window: Any, tmp_path: Path) -> None:
    starts: list[RunStarted] = []
    window.runner.event.connect(lambda event: starts.append(event) if isinstance(event, RunStarted) else None)
    window.action_run.trigger()
    thread = window.runner.thread
    window.action_run.trigger()
    QTest.keyClick(window, Qt.Key.Key_F5)
    assert window.runner.thread is thread
    wait_for_run(qtbot, window)
    assert len(starts) == 1
    assert window.runner.last_result.status == "done"
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("*.pt")) == [
        "best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt", "final_model.pt"]


def test_stop_during_a_checkpoint_write_leaves_only_complete_files(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=50), show=True)
    writing, stop_pressed = threading.Event(), threading.Event()
    real_write = writer_module.write_checkpoint

    def slow_write(checkpoint: Any, path: Any) -> int:
        if Path(path).name == "checkpoint_epoch_2.pt":
            writing.set()
            stop_pressed.wait(timeout=60)  # the GUI presses Stop while this save is under way
        return real_write(checkpoint, path)

    monkeypatch.setattr(writer_module, "write_checkpoint", slow_write)
    window.action_run.trigger()
    qtbot.waitUntil(writing.is_set, timeout=120_000)
    window.action_stop.trigger()
    stop_pressed.set()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "cancelled"
    folder = tmp_path / "checkpoints"
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")], "no temp file is left behind"
    files = sorted(p.name for p in folder.glob("*.pt"))
    assert "checkpoint_epoch_2.pt" in files and "final_model.pt" not in files
    for name in files:
        assert load_checkpoint(folder / name)["epoch"] in (1, 2, 3)
    assert any(line.startswith("Training stopped at epoch ") for line in window.log.lines())


def test_a_bad_file_opened_during_a_run_changes_nothing(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, message_boxes: Any
) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=200), show=True)
    before = graph_to_dict(window.canvas.graph)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "mif-pipeline", "version": 1, "nodes": [', encoding="utf-8")
    epochs: list[int] = []
    window.runner.event.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    window.action_run.trigger()
    qtbot.waitUntil(lambda: bool(epochs), timeout=60_000)
    assert not window.open_pipeline(bad)
    assert message_boxes.kinds() == ["critical"] and "bad.json" in message_boxes.texts()
    assert window.runner.running
    assert graph_to_dict(window.canvas.graph) == before
    window.action_stop.trigger()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "cancelled"
    assert graph_to_dict(window.canvas.graph) == before


def test_moving_nodes_while_running_does_not_reach_the_running_pipeline(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path
) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=3), show=True)
    saved_pipeline = graph_to_dict(window.canvas.graph)
    window.action_run.trigger()
    x, y = window.canvas.graph.nodes["trainer"].position
    window.canvas.editor.move_nodes({"trainer": (x + 300, y + 200)})  # what a drag on the canvas does
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done"
    assert window.canvas.graph.nodes["trainer"].position == (x + 300, y + 200)
    assert tuple(window.canvas.canvas_node("trainer").pos()) == (x + 300, y + 200)
    stored = load_checkpoint(tmp_path / "checkpoints" / "final_model.pt")["pipeline"]
    assert stored["nodes"] == saved_pipeline["nodes"], "the run used the pipeline as it was when Run was pressed"
