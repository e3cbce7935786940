"""`after_first_paint`: the callback runs once, after the window's first paint, never before it is shown; the
window's construction is not filtered (issue 23: an application filter from the start ran Python for every event
of the window's construction)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QLabel, QMainWindow

from medical_imaging_framework.app.running.torch_preload import _FirstPaint, after_first_paint


def test_the_callback_runs_once_after_the_first_paint_and_not_before_the_window_is_shown(qtbot: Any) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    calls: list[bool] = []
    after_first_paint(window, lambda: calls.append(window.isVisible()))
    QCoreApplication.processEvents()
    assert calls == [], "nothing runs before the window is shown"
    window.setCentralWidget(QLabel("x"))
    window.show()
    qtbot.waitUntil(lambda: calls == [True], timeout=2000)
    window.update()
    qtbot.wait(100)
    assert calls == [True], "once"


def test_a_window_already_on_screen_still_gets_its_callback(qtbot: Any) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    calls: list[int] = []
    after_first_paint(window, lambda: calls.append(1))
    window.update()
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)


def test_building_the_window_before_show_goes_through_no_application_filter(
    qtbot: Any, monkeypatch: Any
) -> None:
    seen: list[QEvent.Type] = []
    original = _FirstPaint.eventFilter

    def counting(self: _FirstPaint, watched: QObject, event: QEvent) -> bool:
        seen.append(event.type())
        return original(self, watched, event)

    monkeypatch.setattr(_FirstPaint, "eventFilter", counting)
    window = QMainWindow()
    qtbot.addWidget(window)
    after_first_paint(window, lambda: None)
    for index in range(40):  # children of other widgets: an application filter would see each of their events
        label = QLabel(f"label {index}")
        label.setObjectName(f"label{index}")
        label.deleteLater()
    window.setCentralWidget(QLabel("centre"))
    QCoreApplication.processEvents()
    assert len(seen) < 20, f"{len(seen)} events filtered before the window was shown"
