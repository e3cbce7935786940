"""Remembered between starts (issue 20 point 15, part): Run ▸ Run Where, the window's size and its dock layout."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction


def test_run_where_size_and_docks_are_remembered_for_the_next_window(qtbot: Any, make_window: Any) -> None:
    first = make_window(show=True)
    first.findChild(QAction, "action_run_mode_process").trigger()
    first.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, first.plot_dock)  # the loss plot moved down
    first.palette_dock.hide()  # the palette closed
    first.resize(first.width(), 560)  # lower than the first size (950)
    qtbot.waitUntil(lambda: first.height() == 560)
    first.close()

    second = make_window(show=True)
    assert second.findChild(QAction, "action_run_mode_process").isChecked()
    assert second.runner.separate_process and second.runner.processes == 1
    assert second.dockWidgetArea(second.plot_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert second.palette_dock.isHidden()
    assert second.height() == 560  # (its width: restoreGeometry fits it to the 800 px offscreen screen)


def test_a_first_window_gives_the_loss_plot_a_readable_height_and_a_remembered_one_wins(
    qtbot: Any, make_window: Any
) -> None:
    first = make_window(show=True)
    qtbot.waitUntil(lambda: first.plot_dock.height() >= 200)  # was 159 px: legend over a flat strip of curve
    first.resizeDocks([first.plot_dock], [120], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: first.plot_dock.height() < 160)
    first.close()

    second = make_window(show=True)  # the remembered layout (fitted to the 800 px offscreen screen) wins
    qtbot.wait(50)
    assert second.plot_dock.height() < 160
