"""Renaming a node on the canvas: double-click on its title, F2 or the context menu; one undo step; links follow."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from medical_imaging_framework.core.graph import Link


def title_point(window: Any, node_id: str) -> Any:
    """Where the title of ``node_id`` is on the canvas viewport."""
    text_item = window.canvas.canvas_node(node_id).view.text_item
    viewer = window.node_graph.viewer()
    return viewer.mapFromScene(text_item.mapToScene(text_item.boundingRect().center()))


def type_title(qtbot: Any, window: Any, node_id: str, text: str, key: Qt.Key = Qt.Key.Key_Return) -> None:
    """Replace the selected title text with ``text`` and end the edit with ``key`` (real key events)."""
    viewport = window.node_graph.viewer().viewport()
    qtbot.waitUntil(lambda: window.canvas.renamer.editing() == node_id)
    QTest.keyClick(viewport, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(viewport, text)
    QTest.keyClick(viewport, key)


def test_double_click_on_the_title_renames_the_node_and_its_links_follow(qtbot: Any, window: Any) -> None:
    viewer = window.node_graph.viewer()
    window.canvas.fit()
    links_before = [ln for ln in window.canvas.graph.links if "unet" in (ln.source, ln.target)]
    QTest.mouseDClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      title_point(window, "unet"))
    qtbot.waitUntil(lambda: window.canvas.renamer.editing() == "unet")
    viewport = viewer.viewport()
    for key in (Qt.Key.Key_End, Qt.Key.Key_Backspace, Qt.Key.Key_Backspace, Qt.Key.Key_Home, Qt.Key.Key_Delete):
        QTest.keyClick(viewport, key)  # edit the title: Backspace and Delete do not delete the node
    assert "unet" in window.canvas.graph.nodes and window.canvas.renamer.editing() == "unet"
    assert window.canvas.canvas_node("unet").view.text_item.toPlainText() == "n"
    type_title(qtbot, window, "unet", "encoder")
    qtbot.waitUntil(lambda: "encoder" in window.canvas.graph.nodes)
    assert window.param_dialog is None  # the title renames; the body opens the parameters
    assert "unet" not in window.canvas.graph.nodes and window.canvas.canvas_node("unet") is None
    assert window.canvas.canvas_node("encoder").view.text_item.toPlainText() == "encoder"
    assert Link("encoder", "model", "trainer", "model") in window.canvas.graph.links
    assert len([ln for ln in window.canvas.graph.links if "encoder" in (ln.source, ln.target)]) == len(links_before)
    drawn = window.canvas.canvas_node("encoder").outputs()["model"].connected_ports()
    assert [p.node().name() for p in drawn] == ["trainer"]
    assert window.isWindowModified() and window.statusBar().currentMessage() == "Renamed 'unet' to 'encoder'"
    window.action_undo.trigger()
    assert "unet" in window.canvas.graph.nodes and window.canvas.canvas_node("encoder") is None
    assert Link("unet", "model", "trainer", "model") in window.canvas.graph.links
    assert not window.isWindowModified()


def test_f2_renames_the_selected_node_and_esc_keeps_its_id(qtbot: Any, window: Any) -> None:
    viewer = window.node_graph.viewer()
    window.canvas.select(["adam"])
    viewer.setFocus()
    QTest.keyClick(viewer, Qt.Key.Key_F2)
    type_title(qtbot, window, "adam", "other", Qt.Key.Key_Escape)
    qtbot.wait(20)
    assert "adam" in window.canvas.graph.nodes and not window.canvas.editor.history.can_undo()
    assert window.canvas.canvas_node("adam").view.text_item.toPlainText() == "adam"
    window.canvas.select(["adam"])
    QTest.keyClick(viewer, Qt.Key.Key_F2)
    type_title(qtbot, window, "adam", "adam_w")
    qtbot.waitUntil(lambda: "adam_w" in window.canvas.graph.nodes)
    assert window.canvas.selected_ids() == ["adam_w"]


def test_a_refused_name_says_why_and_the_title_shows_the_old_id(qtbot: Any, window: Any) -> None:
    window.canvas.select(["adam"])
    window.action_rename.trigger()
    type_title(qtbot, window, "adam", "trainer")
    qtbot.waitUntil(lambda: "Cannot rename" in window.statusBar().currentMessage())
    assert window.statusBar().currentMessage() == "Cannot rename 'adam': node id 'trainer' is already used"
    assert window.canvas.canvas_node("adam").view.text_item.toPlainText() == "adam"
    window.canvas.select(["adam"])
    window.action_rename.trigger()
    type_title(qtbot, window, "adam", "my adam")
    qtbot.waitUntil(lambda: "(no spaces)" in window.statusBar().currentMessage())
    assert "adam" in window.canvas.graph.nodes and not window.canvas.editor.history.can_undo()



def test_a_single_click_on_a_title_selects_the_node_without_a_dotted_edit_frame(qtbot: Any, window: Any) -> None:
    """A click on a title gave the title item the keyboard focus, and Qt drew its dotted focus frame around the
    title as if it were being edited (until another title was clicked); a double-click still starts the edit."""
    viewer = window.node_graph.viewer()
    window.canvas.fit()
    text_item = window.canvas.canvas_node("adam").view.text_item
    QTest.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     title_point(window, "adam"))
    assert window.canvas.selected_ids() == ["adam"]
    assert not text_item.hasFocus() and window.canvas.renamer.editing() == ""
    QTest.mouseDClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      title_point(window, "adam"))
    qtbot.waitUntil(lambda: window.canvas.renamer.editing() == "adam")
    QTest.keyClick(viewer.viewport(), Qt.Key.Key_Escape)
    assert "adam" in window.canvas.graph.nodes
