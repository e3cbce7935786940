"""Paste puts the copies at the mouse; pasting again at the same place never stacks copies on each other."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor
from PySide6.QtTest import QTest

from medical_imaging_framework.core.placement import PASTE_STEP


def test_ctrl_v_pastes_at_the_mouse_and_again_one_step_further(qtbot: Any, window: Any) -> None:
    viewer = window.node_graph.viewer()
    window.canvas.fit()
    window.canvas.select(["adam"])
    window.action_copy.trigger()
    target = QPoint(viewer.viewport().width() // 3, viewer.viewport().height() - 60)
    QCursor.setPos(viewer.viewport().mapToGlobal(target))
    qtbot.waitUntil(lambda: window.canvas.mouse_point() is not None)
    scene = viewer.mapToScene(target)
    viewer.setFocus()
    QTest.keyClick(viewer, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(viewer, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    nodes = window.canvas.graph.nodes
    first, second = nodes["adam_2"].position, nodes["adam_3"].position
    assert abs(first[0] - scene.x()) < 0.01 and abs(first[1] - scene.y()) < 0.01
    assert second == (first[0] + PASTE_STEP, first[1] + PASTE_STEP)
    assert tuple(window.canvas.canvas_node("adam_3").view.xy_pos) == second


def test_paste_from_the_menu_goes_next_to_the_original_and_fans_out(qtbot: Any, window: Any) -> None:
    QCursor.setPos(window.mapToGlobal(QPoint(-50, -50)))  # the mouse is not over the canvas
    window.canvas.select(["trainer", "adam"])
    window.action_copy.trigger()
    window.action_paste.trigger()
    window.action_paste.trigger()
    nodes = window.canvas.graph.nodes
    x, y = nodes["trainer"].position
    assert nodes["trainer_2"].position == (x + PASTE_STEP, y + PASTE_STEP)
    assert nodes["trainer_3"].position == (x + 2 * PASTE_STEP, y + 2 * PASTE_STEP)
    ax, ay = nodes["adam"].position
    assert nodes["adam_3"].position == (ax + 2 * PASTE_STEP, ay + 2 * PASTE_STEP)
