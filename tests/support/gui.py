"""Helpers of the editor's tests: tiny pipeline files, waiting for a run, real clicks and typing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from medical_imaging_framework.app.widgets.param_dialog import ParamDialog
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from tests.support.pipelines import make_tiny_graph


class MessageBoxes:
    """Records every message box the window asks for and answers questions with ``answer``."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.Discard

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.shown]

    def texts(self) -> str:
        return "\n".join(text for _, _, text in self.shown)


def write_tiny_pipeline(registry: NodeRegistry, folder: Path, name: str = "tiny.json", **trainer: Any) -> Path:
    """Save the tiny pipeline to ``folder/name`` with checkpoints in ``folder/checkpoints``.

    Args:
        registry: node types.
        folder: where the file (and the checkpoints) go.
        name: file name.
        trainer: Trainer parameters (e.g. num_epochs=2; checkpoint_dir="" saves nothing).
    """
    settings = {"num_epochs": 2, "save_every_n_epochs": 1, **trainer}
    checkpoint_dir = settings.pop("checkpoint_dir", folder / "checkpoints")
    graph = make_tiny_graph(registry, checkpoint_dir, **settings)
    path = folder / name
    save_pipeline(graph, path)
    return path


def wait_for_run(qtbot: Any, window: Any, timeout: int = 120_000) -> None:
    """Wait until the window's run has ended and its thread is gone."""
    qtbot.waitUntil(lambda: not window.runner.running, timeout=timeout)


def activate(qtbot: Any, window: Any) -> Any:
    """Make ``window`` the active window, as a window manager does for a window that opens."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    return window


def double_click_node(qtbot: Any, window: Any, node_id: str) -> ParamDialog:
    """Double-click the body of the node item on the canvas, as a user would; return the dialog."""
    item = window.canvas.canvas_node(node_id).view
    rect = item.boundingRect()
    below_title = item.mapToScene(QPointF(rect.center().x(), rect.bottom() - 12))
    viewer = window.node_graph.viewer()
    point = viewer.mapFromScene(below_title)
    QTest.mouseDClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    qtbot.waitUntil(lambda: window.param_dialog is not None and window.param_dialog.isVisible())
    return window.param_dialog


def set_text(qtbot: Any, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    QTest.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)
