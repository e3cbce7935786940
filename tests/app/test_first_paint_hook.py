"""`after_first_paint`: the callback runs once, after the window's first paint, never before it is shown; the
window's construction is not filtered (issue 23: an application filter from the start ran Python for every event
of the window's construction)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication
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


def test_until_the_window_is_shown_only_its_own_events_are_filtered(qtbot: Any) -> None:
    """No application event filter while the window is built (one ran Python for each of the thousands of events
    of the window's construction); from the Show event on, every object's, to see the first widget that paints.

    (Counting the filter's calls by replacing ``_FirstPaint.eventFilter`` is not done: PySide keeps calling a
    replaced Python override of a Qt virtual after the replacement is undone and freed.)"""
    window = QMainWindow()
    qtbot.addWidget(window)
    calls: list[int] = []
    after_first_paint(window, lambda: calls.append(1))
    (hook,) = window.findChildren(_FirstPaint)
    window.setCentralWidget(QLabel("centre"))
    QCoreApplication.processEvents()
    assert not hook.watching_all, "an application filter before the window was shown"
    window.show()
    qtbot.waitUntil(lambda: calls == [1], timeout=2000)
