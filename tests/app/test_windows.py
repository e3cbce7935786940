"""Several pipelines at once (issue 20 point 19): one window each, in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog

from medical_imaging_framework.app.window import windows
from medical_imaging_framework.checkpoints import lock
from medical_imaging_framework.core import NodeRegistry
from tests.support.gui import wait_for_run, write_tiny_pipeline


@pytest.fixture
def adopt(request: pytest.FixtureRequest) -> Any:
    """Windows the editor opened itself (deleted on close): closed at the end of the test if still open."""
    def take(window: Any) -> Any:
        request.addfinalizer(lambda: shiboken6.isValid(window) and window.close())
        return window
    return take


def test_new_window_holds_its_own_document_history_and_log(
    qtbot: Any, window: Any, message_boxes: Any, adopt: Any
) -> None:
    assert window.action_new_window.shortcut() == QKeySequence("Ctrl+Shift+N")
    window.action_new_window.trigger()
    other = adopt(windows.open_windows()[-1])
    assert other is not window and other.isVisible() and other.canvas.graph.nodes == {}
    window.canvas.set_config("trainer", dict(window.canvas.graph.nodes["trainer"].config, num_epochs=3))
    window.log.append("only in the first window")
    assert window.document.modified and not other.document.modified
    assert window.action_undo.isEnabled() and not other.action_undo.isEnabled()
    assert "only in the first window" not in other.log.lines()
    assert other.runner is not window.runner and other.autosave.file != window.autosave.file

    window.window_menu.aboutToShow.emit()
    entries = [a for a in window.window_menu.actions() if a.isCheckable()]
    titles = [a.text() for a in entries]
    assert len(entries) == len(windows.open_windows()) >= 2
    assert any("tiny.json*" in t for t in titles) and any("untitled.json" in t for t in titles)
    assert [a.isChecked() for a in entries if "tiny.json" in a.text()] == [True]
    next(a for a in entries if "untitled.json" in a.text()).trigger()
    qtbot.waitUntil(lambda: other.isActiveWindow())

    other.close()  # nothing unsaved there: no question
    assert message_boxes.shown == [] and window.isVisible()
    window.close()  # its own unsaved changes: asked (answered Discard)
    assert [title for _, title, _ in message_boxes.shown] == ["Unsaved changes"]


def test_open_in_new_window_keeps_the_current_pipeline(
    qtbot: Any, window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    message_boxes: Any, adopt: Any,
) -> None:
    other_file = write_tiny_pipeline(registry, tmp_path, name="other.json")
    bad_file = tmp_path / "bad.json"
    bad_file.write_text("{", encoding="utf-8")
    answers = [str(other_file), str(bad_file)]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (answers.pop(0), "")))
    before = len(windows.open_windows())
    window.action_open_in_new_window.trigger()
    other = adopt(windows.open_windows()[-1])
    assert other.document.path == other_file and window.document.path.name == "tiny.json"
    window.action_open_in_new_window.trigger()  # a bad file: said, and no empty window opens
    assert len(windows.open_windows()) == before + 1
    assert windows.open_in_new_window(window, other_file) is other  # already open: that window comes forward
    assert len(windows.open_windows()) == before + 1 and "is open in this window" in other.statusBar().currentMessage()
    assert message_boxes.kinds() == ["critical"] and "bad.json" in message_boxes.texts()


def test_two_windows_running_into_one_checkpoint_folder_the_second_is_refused(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, message_boxes: Any, adopt: Any
) -> None:
    pipeline = write_tiny_pipeline(registry, tmp_path, num_epochs=200)
    first = make_window(pipeline, show=True)
    copy = write_tiny_pipeline(registry, tmp_path, name="copy.json")  # the same folder: tmp_path/checkpoints
    second = adopt(windows.open_in_new_window(first, copy))
    first.action_run.trigger()
    qtbot.waitUntil(lambda: lock.holder(tmp_path / "checkpoints") is not None, timeout=60_000)
    second.action_run.trigger()
    wait_for_run(qtbot, second, timeout=60_000)
    said = "\n".join([*second.log.lines(), second.statusBar().currentMessage(), message_boxes.texts()])
    assert "is in use by another run (pid " in said
    assert first.runner.running  # the first run goes on
    first.action_stop.trigger()
    wait_for_run(qtbot, first, timeout=30_000)
    assert first.runner.last_result.status == "cancelled"
    assert second.runner.last_result is None or second.runner.last_result.status != "done"
    assert second.testAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)


def test_quit_closes_every_window_and_the_program_ends_with_the_last(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, message_boxes: Any
) -> None:
    import threading

    from PySide6.QtCore import QTimer

    from medical_imaging_framework.app.launch import launch
    from medical_imaging_framework.app.running import controller as run_controller
    from medical_imaging_framework.app.running import torch_preload

    monkeypatch.setattr(torch_preload, "_PRELOAD", None)
    monkeypatch.setattr(run_controller, "preload_in_background", lambda *_: threading.Thread(target=lambda: None))
    seen: list[int] = []

    def open_two_then_quit() -> None:
        first = windows.open_windows()[-1]
        first.action_new_window.trigger()
        second = windows.open_windows()[-1]
        second.action_new.trigger()
        seen.append(len(windows.open_windows()))
        second.action_quit.trigger()  # Ctrl+Q in the newer window closes both; exec() then returns
        seen.append(len(windows.open_windows()))

    QTimer.singleShot(100, open_two_then_quit)
    assert launch(None) == 0
    assert seen[-1] == 0 and seen[0] >= 2


def test_a_new_window_beside_a_window_filling_the_screen_stays_on_the_screen(qtbot: Any, window: Any,
                                                                              adopt: Any) -> None:
    """New Window beside a window as large as the screen opened it one cascade step below, its status bar (and the
    run's progress bar) off the bottom of the screen."""
    screen = window.screen().availableGeometry()
    window.resize(screen.size())
    window.move(screen.topLeft())
    window.action_new_window.trigger()
    other = adopt(windows.open_windows()[-1])
    assert screen.contains(other.frameGeometry()), (screen, other.frameGeometry())
