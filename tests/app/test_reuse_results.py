"""Run ▸ Reuse Results: a second Run reuses the finished training; unchecked (and remembered), every node runs."""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.app.window.main_window import MainWindow
from tests.support.gui import wait_for_run


def _run(qtbot: Any, window: Any) -> list[str]:
    """Press Run, wait for the end; the log's lines of this run."""
    before = len(window.log.lines())
    assert window.run_pipeline()
    wait_for_run(qtbot, window)
    return window.log.lines()[before:]


def test_a_second_run_reuses_the_training_and_the_toggle_turns_it_off(
    qtbot: Any, window: Any, registry: Any, checkpoint_folder_questions: list[Any]
) -> None:
    assert window.action_reuse.isChecked()  # on by default, in the Run menu and on the toolbar
    toolbar = window.findChild(type(window.addToolBar("x")), "main_toolbar")
    assert window.action_reuse in toolbar.actions()
    first = _run(qtbot, window)
    assert sum(line.startswith("Epoch [") for line in first) == 2
    second = _run(qtbot, window)
    assert not any(line.startswith("Epoch [") for line in second)
    assert any(line.startswith("reused: trainer (run ") and line.endswith(", epoch 2)") for line in second)
    assert "reused: phantoms (in memory)" in second
    assert checkpoint_folder_questions == []  # a reused Trainer writes nothing: no "folder already used" question
    assert window.canvas.state_visible("trainer") == "done"
    window.action_reuse.trigger()  # off
    third = _run(qtbot, window)
    assert sum(line.startswith("Epoch [") for line in third) == 2
    assert not any(line.startswith("reused: ") for line in third)
    assert len(checkpoint_folder_questions) == 1
    later = MainWindow(None, registry=registry)  # the choice is remembered
    qtbot.addWidget(later)
    assert not later.action_reuse.isChecked() and not later.runner.reuse
