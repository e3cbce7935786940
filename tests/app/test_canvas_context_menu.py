"""The canvas's right-click menus: canvas (add node here, paste here), node (duplicate, disconnect, delete,
rename, help, open checkpoint folder) and link (disconnect)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QContextMenuEvent, QDesktopServices
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from medical_imaging_framework.core.graph import Link
from tests.app.test_canvas_link_drop import empty_point


def right_click(window: Any, point: QPoint) -> QMenu:
    """A right-click at ``point`` of the canvas viewport (the context-menu event a real one sends)."""
    viewport = window.node_graph.viewer().viewport()
    QTest.mousePress(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, point)
    QTest.mouseRelease(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, point)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point, viewport.mapToGlobal(point))
    QApplication.sendEvent(viewport, event)
    menu = window.context_menu.menu
    assert menu is not None and menu.isVisible()
    return menu


def entries(menu: QMenu) -> dict[str, Any]:
    return {action.objectName(): action for action in menu.actions() if action.objectName()}


def node_point(window: Any, node_id: str) -> QPoint:
    view = window.canvas.canvas_node(node_id).view
    viewer = window.node_graph.viewer()
    return viewer.mapFromScene(view.mapToScene(view.boundingRect().center()))


def test_node_menu_duplicates_disconnects_and_deletes_each_as_one_step(qtbot: Any, window: Any) -> None:
    window.canvas.fit()
    menu = right_click(window, node_point(window, "adam"))
    assert window.canvas.selected_ids() == ["adam"]
    names = entries(menu)
    assert {"menu_edit", "menu_rename", "menu_duplicate", "menu_disconnect", "menu_delete", "menu_help"} <= set(names)
    assert "menu_open_checkpoints" not in names  # Adam keeps no checkpoints
    names["menu_duplicate"].trigger()
    x, y = window.canvas.graph.nodes["adam"].position
    assert window.canvas.graph.nodes["adam_2"].position == (x + 40.0, y + 40.0)
    assert window.canvas.selected_ids() == ["adam_2"]
    menu = right_click(window, node_point(window, "adam"))
    entries(menu)["menu_disconnect"].trigger()
    assert not [ln for ln in window.canvas.graph.links if "adam" in (ln.source, ln.target)]
    assert "adam" in window.canvas.graph.nodes
    window.action_undo.trigger()
    assert Link("adam", "optimizer", "trainer", "optimizer") in window.canvas.graph.links
    entries(right_click(window, node_point(window, "adam")))["menu_delete"].trigger()
    assert "adam" not in window.canvas.graph.nodes


def test_node_menu_help_rename_and_checkpoint_folder(qtbot: Any, window: Any, monkeypatch: Any,
                                                     tiny_file: Path) -> None:
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    window.canvas.fit()
    names = entries(right_click(window, node_point(window, "trainer")))
    names["menu_open_checkpoints"].trigger()
    folder = tiny_file.parent / "checkpoints"
    assert not opened and str(folder) in window.statusBar().currentMessage()  # not written yet: said, not opened
    folder.mkdir()
    entries(right_click(window, node_point(window, "trainer")))["menu_open_checkpoints"].trigger()
    assert opened == [str(folder)]
    entries(right_click(window, node_point(window, "trainer")))["menu_help"].trigger()
    qtbot.waitUntil(lambda: any(w.isVisible() and "Trainer" in w.windowTitle() for w in QApplication.topLevelWidgets()
                                if w is not window))
    entries(right_click(window, node_point(window, "trainer")))["menu_rename"].trigger()
    qtbot.waitUntil(lambda: window.canvas.renamer.editing() == "trainer")


def test_link_menu_disconnects_the_link_and_canvas_menu_adds_and_pastes_here(qtbot: Any, window: Any) -> None:
    window.canvas.fit()
    link = Link("adam", "optimizer", "trainer", "optimizer")
    pipe = next(p for p in window.canvas.canvas_node("trainer").inputs()["optimizer"].view.connected_pipes)
    viewer = window.node_graph.viewer()
    middle = viewer.mapFromScene(pipe.path().pointAtPercent(0.5))
    names = entries(right_click(window, middle))
    assert set(names) == {"menu_disconnect_link", "menu_help_adam", "menu_help_trainer"}
    names["menu_disconnect_link"].trigger()
    assert link not in window.canvas.graph.links
    window.node_graph.set_zoom(-0.4)
    space = empty_point(window, QPoint(viewer.viewport().width() // 2, viewer.viewport().height() // 2))
    names = entries(right_click(window, space))
    assert set(names) == {"menu_add_node", "menu_paste_here", "menu_add_note", "menu_add_group", "menu_select_all",
                          "menu_fit"}
    at = viewer.mapToScene(space)
    names["menu_add_node"].trigger()
    popup = window.canvas._search
    assert popup.isVisible() and len(popup.labels()) == len(window.registry.specs())
    QTest.keyClicks(popup.line_edit, "sgd")
    QTest.keyClick(popup.line_edit, Qt.Key.Key_Return)
    assert window.canvas.graph.nodes["sgd"].position == (round(at.x(), 2), round(at.y(), 2))
    window.canvas.select(["sgd"])
    window.action_copy.trigger()
    names = entries(right_click(window, empty_point(window, QPoint(40, 40))))
    paste_at = viewer.mapToScene(empty_point(window, QPoint(40, 40)))
    names["menu_paste_here"].trigger()
    assert window.canvas.graph.nodes["sgd_2"].position == (round(paste_at.x(), 2), round(paste_at.y(), 2))


def test_right_click_on_a_port_starts_no_link_drag_and_keeps_its_links(qtbot: Any, window: Any) -> None:
    """A right-click on a linked input port opens the menu only: NodeGraphQt began a link drag on any button,
    hid the port's link (the model still held it) and left the drag's arrow on the canvas after the menu."""
    window.canvas.fit()
    viewer = window.node_graph.viewer()
    port = window.canvas.canvas_node("trainer").inputs()["loss"].view
    point = viewer.mapFromScene(port.mapToScene(port.boundingRect().center()))
    link = next(ln for ln in window.canvas.graph.links if (ln.target, ln.target_port) == ("trainer", "loss"))
    menu = right_click(window, point)
    menu.close()
    assert not viewer._LIVE_PIPE.isVisible()
    assert [pipe.output_port.name for pipe in port.connected_pipes] == ["loss"]
    assert link in window.canvas.graph.links
