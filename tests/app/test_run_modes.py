"""Run ▸ Run Where: the editor's own thread, a separate `mif run --events jsonl` process, or DDP processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.event_stream import event_from_dict
from medical_imaging_framework.run.events import EpochEnded, format_event
from tests.support.gui import wait_for_run, write_tiny_pipeline


def mode_action(window: Any, name: str) -> QAction:
    return window.findChild(QAction, f"action_run_mode_{name}")


def test_the_run_menu_chooses_where_the_next_run_goes(qtbot: Any, window: Any) -> None:
    assert mode_action(window, "editor").isChecked()
    assert (window.runner.processes, window.runner.separate_process) == (1, False)
    mode_action(window, "ddp2").trigger()
    assert (window.runner.processes, window.runner.separate_process) == (2, False)
    assert not mode_action(window, "editor").isChecked()
    mode_action(window, "process").trigger()
    assert (window.runner.processes, window.runner.separate_process) == (1, True)
    mode_action(window, "editor").trigger()
    assert (window.runner.processes, window.runner.separate_process) == (1, False)


def test_two_processes_chosen_in_the_menu_train_under_torchrun_and_fill_the_panels(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=2, save_every_n_epochs=1))
    epochs: list[int] = []
    window.runner.event.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    mode_action(window, "ddp2").trigger()
    window.action_run.trigger()
    assert window.runner.running and window.runner.thread is None and not window.run_modes.isEnabled()
    wait_for_run(qtbot, window, timeout=240_000)
    assert window.runner.last_result.status == "done", window.log.lines()[-5:]
    assert epochs == [1, 2], "each epoch once, from rank 0"
    assert window.loss_plot.epochs == [1, 2]
    assert sorted(Path(p).name for p in window.checkpoints.paths) == [
        "best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt", "final_model.pt"]
    assert window.run_modes.isEnabled()


def epoch_losses(events: list[Any]) -> list[tuple[int, float, float | None]]:
    return [(e.epoch, e.loss, e.val_loss) for e in events if isinstance(e, EpochEnded)]


def test_the_same_pipeline_and_seed_give_identical_epochs_from_mif_run_the_editor_thread_and_a_separate_process(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread policy and one run session: the losses agree to the last bit, so the epoch lines are identical."""
    monkeypatch.chdir(tmp_path)
    path = write_tiny_pipeline(registry, tmp_path, num_epochs=2, checkpoint_dir="")
    # `mif run` trains while the editor runs its two (on the other core: its start, torch and MONAI imports, is the
    # slow part); with num_threads 1 the losses do not depend on what else runs. Its few KB fit in the pipe.
    cli = subprocess.Popen([sys.executable, "-m", "medical_imaging_framework", "run", str(path), "--events", "jsonl"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        runs = _editor_runs(qtbot, make_window(path))
        cli_out, cli_err = cli.communicate(timeout=240)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode == 0, cli_err[-3000:]
    from_cli = [event_from_dict(json.loads(line)) for line in cli_out.splitlines()]
    assert len(epoch_losses(from_cli)) == 2
    assert epoch_losses(runs["editor"]) == epoch_losses(from_cli)
    assert epoch_losses(runs["process"]) == epoch_losses(from_cli)
    lines = {name: [format_event(e) for e in events if isinstance(e, EpochEnded)]
             for name, events in {"cli": from_cli, **runs}.items()}
    assert lines["cli"] == lines["editor"] == lines["process"]


def _editor_runs(qtbot: Any, window: Any) -> dict[str, list[Any]]:
    """The events of a run in the editor's thread, then of one in a separate process, of ``window``'s pipeline."""
    runs: dict[str, list[Any]] = {}
    for mode in ("editor", "process"):
        events: list[Any] = []
        window.runner.event.connect(events.append)
        mode_action(window, mode).trigger()
        window.action_run.trigger()
        wait_for_run(qtbot, window, timeout=240_000)
        window.runner.event.disconnect(events.append)
        assert window.runner.last_result.status == "done", window.log.lines()[-5:]
        runs[mode] = events
    return runs


def test_a_run_from_the_editor_validates_the_pipeline_once(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medical_imaging_framework.core import Graph

    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=1, checkpoint_dir=""))
    calls: list[str] = []
    real = Graph.validate
    monkeypatch.setattr(Graph, "validate", lambda graph: calls.append(graph.name) or real(graph))
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done" and len(calls) == 1, calls


def test_a_separate_process_run_stopped_in_the_editor_is_recorded_stopped_with_its_mode(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run ▸ Run Where ▸ separate process, Stop after the first epoch: the child's record says how it ran and
    that it was stopped (issue 21); the Runs dock lists it so."""
    from medical_imaging_framework.run.records import read_record

    monkeypatch.setenv("MIF_RUN_RECORDS", "1")  # tests/conftest.py switches records off elsewhere; the child inherits
    monkeypatch.chdir(tmp_path)
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=50, checkpoint_dir="ck"))
    epochs: list[int] = []
    window.runner.event.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    mode_action(window, "process").trigger()
    window.action_run.trigger()
    assert window.runner.separate_process and window.runner.running
    qtbot.waitUntil(lambda: bool(epochs), timeout=240_000)
    assert read_record(tmp_path / "ck").status == "running"
    window.action_stop.trigger()  # one Stop: SIGTERM, the child stops after the current batch and ends its record
    wait_for_run(qtbot, window, timeout=120_000)
    assert window.runner.last_result.status == "cancelled", window.log.lines()[-5:]
    record = read_record(tmp_path / "ck")
    assert (record.mode, record.status, record.run_id) == ("separate process", "stopped", record.run_id)
    assert [segment.status for segment in record.segments] == ["stopped"] and 1 <= record.epochs < 50
    assert record.process is not None and record.process.pid != os.getpid()  # the child wrote it, not the editor
    assert record.checkpoint_folders == [str(tmp_path / "ck")]
