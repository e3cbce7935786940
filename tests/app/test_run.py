"""Running from the window: the worker thread, the log pane, plot, checkpoints, Stop, failures, closing."""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QThread
from PySide6.QtTest import QTest

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.run.events import EpochEnded
from medical_imaging_framework.training import threads as threads_module
from medical_imaging_framework.training.thread_tuner import candidates_reason, process_cores
from tests.support.gui import wait_for_run, write_tiny_pipeline


def test_a_run_whose_saves_fail_says_so_and_leaves_no_file_behind(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8's missing-checkpoint flake: a save refused for want of disk space under load is logged
    for each file and summed up at the end, never silent (the GUI test only said "no periodic checkpoint")."""
    real_usage = shutil.disk_usage

    def nearly_full(path: Any) -> Any:
        return real_usage(path)._replace(free=1000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    log = window.log.lines()
    failures = [line for line in log if line.startswith("  ✗ Could not save checkpoint ")]
    shown = str(tmp_path / "checkpoints")
    for name in ("checkpoint_epoch_1.pt", "best_model.pt", "checkpoint_epoch_2.pt", "final_model.pt"):
        assert any(line.startswith(f"  ✗ Could not save checkpoint {shown}/{name}: not enough free disk space")
                   for line in failures), (name, failures)
    assert log[-1] == f"✗ {len(failures)} checkpoint saves of this run failed (see the ✗ lines above)."
    assert not any((tmp_path / "checkpoints").glob("*.pt"))
    assert window.checkpoints.rowCount() == 0


def test_run_streams_epoch_and_checkpoint_lines_and_writes_files(qtbot: Any, window: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "process_cores", lambda: 1)  # the editor's run thread gets the same policy
    trainer = window.canvas.graph.nodes["trainer"].config
    window.canvas.set_config("trainer", {**trainer, "num_threads": "auto"})  # the tiny pipeline fixes 1
    seen_threads: list[Any] = []
    window.runner.event.connect(lambda event: seen_threads.append(QThread.currentThread()))
    window.action_run.trigger()
    assert window.runner.running and not window.action_run.isEnabled() and window.action_stop.isEnabled()
    worker_thread = window.runner.thread
    wait_for_run(qtbot, window)
    log = window.log.lines()
    assert next(line for line in log if line.startswith("Epoch [")).startswith("Epoch [1/2], Loss: ")
    assert any(line.startswith("Epoch [2/2], Loss: ") and ", Val Loss: " in line for line in log)
    checkpoint_dir = tmp_path / "checkpoints"
    saved = sorted(p.name for p in checkpoint_dir.glob("checkpoint_epoch_*.pt"))
    failures = [line for line in log if "✗" in line]
    assert saved, f"no periodic checkpoint in {checkpoint_dir}; the log's failure lines: {failures}"
    assert not failures
    for name in saved:
        assert f"  ✓ Saved checkpoint: {name}" in log
    assert any(line.startswith("✓ Checkpoints will be saved to: ") for line in log)
    assert "Using 1 torch thread: 1 core for this process" in log
    assert window.checkpoints.rowCount() >= len(saved)
    assert {Path(p).name for p in window.checkpoints.paths} >= set(saved)
    assert all(Path(p).exists() for p in window.checkpoints.paths)
    assert window.loss_plot.epochs == [1, 2] and len(window.loss_plot.val_losses) == 2
    states = {node_id: window.canvas.state_visible(node_id) for node_id in window.canvas.graph.nodes}
    assert set(states.values()) == {"done"}, states
    assert window.progress.text().startswith("run finished")
    assert window.action_run.isEnabled() and not window.action_stop.isEnabled()
    main = QThread.currentThread()
    assert seen_threads and all(t is main for t in seen_threads), "events must reach the UI on the GUI thread"
    assert worker_thread is not main
    assert window.runner.thread is None


def test_log_pane_shows_exactly_the_lines_of_mif_run(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from medical_imaging_framework.cli.commands import run_command

    gui_dir, cli_dir = tmp_path / "gui", tmp_path / "cli"
    gui_dir.mkdir()
    cli_dir.mkdir()
    path = write_tiny_pipeline(registry, tmp_path, num_epochs=2, save_every_n_epochs=1)
    monkeypatch.chdir(gui_dir)
    window = make_window(path)
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "checkpoint_dir": "ck"})
    window.files.write_file(path)
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    monkeypatch.chdir(cli_dir)
    capsys.readouterr()
    # no thread setting here: the Trainer applies one thread policy in every way to run (training/threads.py)
    assert run_command(argparse.Namespace(pipeline=str(path), overrides=[], debug=False)) == 0
    cli_lines = capsys.readouterr().out.splitlines()
    separator, *gui_lines = window.log.lines()  # the editor's log starts each run with a separator line
    assert re.fullmatch(r"── Run 1 · \d\d:\d\d:\d\d · in this window ──", separator), separator
    assert any("Saved checkpoint" in line for line in gui_lines)
    # the same lines, but for the thread tuner's choice ("Using 1 torch thread: 0.02 s/step (2 not tried: 0.0
    # cores idle)"): it is measured in each run, and the load of the moment decides what it tries and keeps
    assert [_untimed(line) for line in gui_lines] == [_untimed(line) for line in cli_lines]
    assert any("torch thread" in line for line in gui_lines)


def _untimed(line: str) -> str:
    return re.sub(r"^Using \d+ torch threads?: .*", "Using <measured> torch threads", line)


def test_stop_mid_run_then_run_again(qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=200), show=True)
    window.action_run.trigger()
    qtbot.waitUntil(lambda: len(window.loss_plot.epochs) >= 1, timeout=60_000)
    window.action_stop.trigger()
    wait_for_run(qtbot, window, timeout=30_000)
    log = window.log.lines()
    assert "Run stopped." in log
    assert any(line.startswith("Training stopped at epoch") for line in log)
    assert len(window.loss_plot.epochs) < 200
    assert window.runner.last_result.status == "cancelled"
    assert window.progress.text() == "run stopped"
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "num_epochs": 1})
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done"
    assert window.loss_plot.epochs == [1]


def test_invalid_pipeline_lists_problems_outlines_nodes_and_runs_nothing(qtbot: Any, window: Any) -> None:
    window.canvas.editor.disconnect([Link("dice_loss", "loss", "trainer", "loss")])
    window.canvas.set_config("adam", {**window.canvas.graph.nodes["adam"].config, "lr": "fast"})
    assert window.run_pipeline() is False
    assert not window.runner.running
    log = "\n".join(window.log.lines())
    assert "2 problem(s):" in log
    assert "node 'trainer': required input 'loss' (Loss) is not linked" in log
    assert "node 'adam', field 'lr': must be a number" in log
    assert window.canvas.state_visible("trainer") == "invalid"
    assert window.canvas.state_visible("adam") == "invalid"
    assert window.canvas.state_visible("phantoms") == ""
    assert "Epoch" not in log


def test_failing_node_is_outlined_and_its_message_logged(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path
) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path))
    # A damaged checkpoint is found only when it is read, at run time (a bad parameter or a missing file would
    # be refused by validate first).
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a checkpoint")
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "resume_from": str(damaged)})
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "failed"
    assert window.canvas.state_visible("trainer") == "failed"
    assert window.canvas.state_visible("split") == "done"
    assert any(line.startswith("✗ Node 'trainer' failed: resume_from") for line in window.log.lines())
    assert "trainer" in window.statusBar().currentMessage()


def test_parameters_are_locked_while_running(qtbot: Any, make_window: Any, registry: NodeRegistry,
                                             tmp_path: Path) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=200), show=True)
    window.action_run.trigger()
    dialog = window.open_param_dialog("trainer")
    assert dialog.read_only and dialog.locked_label.isVisible()
    before = dict(window.canvas.graph.nodes["trainer"].config)
    dialog.accept()
    assert window.canvas.graph.nodes["trainer"].config == before
    dialog.reject()
    window.action_stop.trigger()
    wait_for_run(qtbot, window, timeout=30_000)


def test_closing_during_a_run_asks_then_stops_and_waits(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, message_boxes: Any
) -> None:
    from PySide6.QtWidgets import QMessageBox

    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=200), show=True)
    epochs: list[int] = []
    window.runner.event.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    window.action_run.trigger()
    qtbot.waitUntil(lambda: bool(epochs), timeout=60_000)
    message_boxes.answer = QMessageBox.StandardButton.No
    assert not window.close()
    assert window.runner.running and message_boxes.kinds() == ["question"]
    message_boxes.answer = QMessageBox.StandardButton.Yes
    thread = window.runner.thread
    assert window.close()
    assert thread.isFinished()
    qtbot.waitUntil(lambda: not window.runner.running)
    assert window.runner.last_result.status == "cancelled"


def test_cancel_on_unsaved_changes_after_close_during_a_run_keeps_the_run_going(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Close -> Yes (stop the run) -> "Unsaved changes" -> Cancel: the window stays and the run was never stopped;
    every question comes first, the run stops only when closing is certain."""
    from PySide6.QtWidgets import QMessageBox

    buttons = QMessageBox.StandardButton
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=200), show=True)
    window.canvas.set_config("adam", {**window.canvas.graph.nodes["adam"].config, "lr": 0.02})  # unsaved
    epochs: list[int] = []
    window.runner.event.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    window.action_run.trigger()
    qtbot.waitUntil(lambda: bool(epochs), timeout=60_000)
    answers = {"Run in progress": buttons.Yes, "Unsaved changes": buttons.Cancel}
    asked: list[tuple[str, bool]] = []

    def question(parent: Any, title: str, *args: Any, **kwargs: Any) -> Any:
        asked.append((title, window.runner.running))
        return answers[title]

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    assert not window.close()
    assert asked == [("Run in progress", True), ("Unsaved changes", True)]
    assert window.runner.running and window.isVisible()
    seen = len(epochs)
    qtbot.waitUntil(lambda: len(epochs) > seen, timeout=60_000)  # training goes on
    assert window.runner.running
    answers["Unsaved changes"] = buttons.Discard
    thread = window.runner.thread
    assert window.close()
    assert asked[2:] == [("Run in progress", True), ("Unsaved changes", True)]
    assert thread.isFinished()
    qtbot.waitUntil(lambda: not window.runner.running)
    assert window.runner.last_result.status == "cancelled"


def test_undo_cannot_change_parameters_while_running(qtbot: Any, make_window: Any, registry: NodeRegistry,
                                                     tmp_path: Path) -> None:
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=200), show=True)
    window.canvas.set_config("adam", {**window.canvas.graph.nodes["adam"].config, "lr": 0.02})
    assert window.action_undo.isEnabled()
    window.action_run.trigger()
    assert not window.action_undo.isEnabled() and not window.action_redo.isEnabled()
    window.action_undo.trigger()
    viewer = window.node_graph.viewer()
    viewer.setFocus()
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the real key does nothing either
    assert window.canvas.graph.nodes["adam"].config["lr"] == 0.02
    window.action_stop.trigger()
    wait_for_run(qtbot, window, timeout=30_000)
    assert window.action_undo.isEnabled()
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # after the run the key undoes
    assert window.canvas.graph.nodes["adam"].config["lr"] == 0.005


def test_a_crashed_separate_process_run_leaves_the_editor_open_with_the_error(
    qtbot: Any, make_window: Any, tiny_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medical_imaging_framework.app.running import process_run as process_runner

    window = make_window(tiny_file)
    window.runner.separate_process = True
    original = process_runner.ProcessRun.start

    def crash(self: Any) -> None:
        self.arguments = ["-c", "import sys; sys.stderr.write('boom: out of memory\\n'); sys.exit(3)"]
        original(self)

    monkeypatch.setattr(process_runner.ProcessRun, "start", crash)
    window.action_run.trigger()
    wait_for_run(qtbot, window, timeout=30_000)
    assert window.runner.last_result.status == "failed"
    assert any("boom: out of memory" in line for line in window.log.lines())
    assert window.action_run.isEnabled() and not window.runner.running


def test_a_separate_process_run_fills_the_same_panels_and_stops(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_tiny_pipeline(registry, tmp_path, num_epochs=500, save_every_n_epochs=1, num_threads="auto")
    monkeypatch.chdir(tmp_path)
    window = make_window(path)
    window.runner.separate_process = True  # `mif run --events jsonl` in a child process, followed line by line
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child's Trainer: the same policy, capped by the variable
    epochs: list[EpochEnded] = []
    window.runner.event.connect(lambda event: epochs.append(event) if isinstance(event, EpochEnded) else None)
    window.action_run.trigger()
    assert window.runner.running and window.runner.thread is None and window.runner.process_run is not None
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=120_000)
    window.action_stop.trigger()  # SIGTERM: the child's Trainer stops after the current batch
    wait_for_run(qtbot, window, timeout=60_000)
    log = window.log.lines()
    shown = [line.split(",")[0] for line in log if line.startswith("Epoch [")]
    assert shown[:2] == ["Epoch [1/500]", "Epoch [2/500]"] and len(shown) == len(epochs) < 500
    assert "  ✓ Saved checkpoint: checkpoint_epoch_2.pt" in log
    assert f"Using 1 torch thread: {candidates_reason(process_cores(), cap=1)}" in log
    assert window.loss_plot.epochs[:2] == [1, 2] and len(window.loss_plot.val_losses) == len(epochs)
    assert {Path(p).name for p in window.checkpoints.paths} >= {"checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt"}
    assert all(Path(p).exists() for p in window.checkpoints.paths)
    assert window.runner.last_result.status == "cancelled"
    assert any(line.startswith("Training stopped at epoch") for line in log)
    assert window.action_run.isEnabled() and not window.runner.running
