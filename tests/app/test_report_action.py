"""The editor's Report action (issue 13): after a run that trained, the run's HTML report, then open it."""

from __future__ import annotations

import base64
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QImage
from PySide6.QtWidgets import QMessageBox, QToolBar

from medical_imaging_framework.tools import report
from tests.support.gui import MessageBoxes, wait_for_run


class ReportPage(HTMLParser):
    """The table cells and embedded images of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.images: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_cell = tag == "td"
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in_cell = False


def toolbar_actions(window: Any) -> list[str]:
    toolbar = window.findChild(QToolBar, "main_toolbar")
    return [action.objectName() for action in toolbar.actions()]


def test_report_is_off_before_any_run_and_sits_after_run_and_stop(window: Any) -> None:
    assert not window.action_report.isEnabled()
    names = toolbar_actions(window)
    assert names[names.index("action_run"):names.index("action_run") + 3] == [
        "action_run", "action_stop", "action_report"]
    window.action_report.trigger()  # disabled: nothing happens
    assert not window.report.writing


def test_report_after_a_tiny_training_run(qtbot: Any, window: Any, tmp_path: Path, message_boxes: MessageBoxes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    writers: list[threading.Thread] = []
    real_write = report.write_report
    monkeypatch.setattr(report, "write_report",
                        lambda *args, **kw: writers.append(threading.current_thread()) or real_write(*args, **kw))
    window.action_run.trigger()
    assert window.runner.running and not window.action_report.isEnabled()
    wait_for_run(qtbot, window)
    folder = tmp_path / "checkpoints"
    checkpoint_names = sorted(path.name for path in folder.glob("*.pt"))
    assert checkpoint_names and window.action_report.isEnabled()

    message_boxes.answer = QMessageBox.StandardButton.Open
    with qtbot.waitSignal(window.report.report_done, timeout=60_000) as done:
        window.action_report.trigger()
        assert window.report.writing and not window.action_report.isEnabled()  # the GUI thread is free meanwhile
    assert writers and all(thread is not threading.main_thread() for thread in writers)
    page_path = folder / report.REPORT_NAME
    assert done.args[0].written == [page_path] and done.args[0].failed_folder is None
    page = ReportPage()
    page.feed(page_path.read_text(encoding="utf-8"))
    page.close()
    assert set(checkpoint_names) <= set(page.cells)
    assert page.images and all(not QImage.fromData(base64.b64decode(src.split(",", 1)[1])).isNull()
                               for src in page.images)
    assert f"Report written: {page_path}" in window.log.lines()
    assert message_boxes.kinds() == ["question"] and str(page_path) in message_boxes.texts()
    assert opened == [QUrl.fromLocalFile(str(page_path))]
    assert window.action_report.isEnabled()

    # not writable: report.html is taken by a folder; the box names the checkpoint folder, no traceback
    page_path.unlink()
    page_path.mkdir()
    with qtbot.waitSignal(window.report.report_done, timeout=60_000):
        window.action_report.trigger()
    kind, title, text = message_boxes.shown[-1]
    assert kind == "warning" and title == "Report not written"
    assert str(folder) in text and "Traceback" not in text
    page_path.rmdir()

    # the folder is gone: said at once, nothing written
    shutil.move(folder, tmp_path / "moved")
    window.action_report.trigger()
    kind, title, text = message_boxes.shown[-1]
    assert kind == "warning" and str(folder) in text and "no longer exists" in text
    assert not window.report.writing and len(opened) == 1


def test_report_after_a_separate_process_run_that_saved_no_checkpoint(
    qtbot: Any, make_window: Any, registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's folders come from its events (the Trainer announces them), so a run in another process
    that left only metrics.csv (every save failed) still gets its report."""
    from medical_imaging_framework.app.running.modes import RUN_MODES, apply_run_mode
    from tests.support.gui import write_tiny_pipeline

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "checkpoints"
    for name in ("best_model.pt", "final_model.pt"):  # folders where the files would go: both saves fail
        (folder / name).mkdir(parents=True)
    window = make_window(write_tiny_pipeline(registry, tmp_path, num_epochs=1, save_every_n_epochs=5))
    apply_run_mode(window.runner, next(mode for mode in RUN_MODES if mode.name == "process"))
    window.action_run.trigger()
    assert window.runner.thread is None and window.runner.process_run is not None
    wait_for_run(qtbot, window, timeout=240_000)
    assert any("Could not save checkpoint" in line for line in window.log.lines())
    assert not list(folder.glob("*.pt")) or all(path.is_dir() for path in folder.glob("*.pt"))
    assert window.action_report.isEnabled(), window.log.lines()[-5:]
    with qtbot.waitSignal(window.report.report_done, timeout=60_000) as done:
        window.action_report.trigger()
    assert done.args[0].written == [folder / report.REPORT_NAME]


def test_a_section_left_out_is_told_not_a_failure(tmp_path: Path) -> None:
    from medical_imaging_framework.app.running.report_action import write_reports
    from tests.support.hostile_report_files import write_report_folder

    write_report_folder(tmp_path, "metrics_abc")
    outcome = write_reports([tmp_path])
    assert outcome.failed_folder is None, outcome.reason
    assert outcome.written == [tmp_path / "report.html"]
    assert outcome.left_out == [f"{tmp_path / 'metrics.csv'}, line 3: column 'train_loss' holds 'abc', not a number "
                                "(the loss curves left out of the report)"]


def test_open_without_a_browser_says_so_in_the_window(qtbot: Any, window: Any, tmp_path: Path,
                                                      message_boxes: MessageBoxes,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Report ▸ Open when no browser can be started: the log and the status bar say so (and the path is on the
    clipboard), as the Checkpoints panel does for a folder; not only a line on stderr."""
    from PySide6.QtGui import QGuiApplication

    from tests.support.hostile_report_files import write_report_folder

    folder = tmp_path / "run"
    write_report_folder(folder, "metrics_abc")
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: False))  # no browser
    window.report.folders = [folder]
    window.report._sync()
    message_boxes.answer = QMessageBox.StandardButton.Open
    with qtbot.waitSignal(window.report.report_done, timeout=60_000):
        window.action_report.trigger()
    page_path = folder / report.REPORT_NAME
    said = f"Could not open {page_path}: no web browser could be started"
    assert any(line.startswith(said) for line in window.log.lines())
    assert window.statusBar().currentMessage().startswith(said)
    assert QGuiApplication.clipboard().text() == str(page_path)
