"""Notes and groups on the canvas: added from the menus, saved with the pipeline, a group's drag moves its nodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from medical_imaging_framework.core import NodeRegistry, load_pipeline
from tests.app.test_canvas import drag
from tests.app.test_canvas_context_menu import entries, right_click
from tests.app.test_canvas_link_drop import empty_point


def test_a_note_added_from_the_canvas_menu_is_saved_and_drawn_again(qtbot: Any, make_window: Any, tiny_file: Path,
                                                                   registry: NodeRegistry) -> None:
    window = make_window(tiny_file, show=True)
    window.node_graph.set_zoom(-0.4)
    viewer = window.node_graph.viewer()
    space = empty_point(window, QPoint(60, 60))
    at = viewer.mapToScene(space)
    entries(right_click(window, space))["menu_add_note"].trigger()
    dialog = window.annotation_dialog
    qtbot.waitUntil(dialog.isVisible)
    QTest.keyClicks(dialog.title_edit, "Try Focal loss")
    QTest.keyClicks(dialog.text_edit, "if Dice stalls")
    dialog.accept()
    (note,) = window.canvas.graph.annotations
    assert (note.kind, note.title, note.text) == ("note", "Try Focal loss", "if Dice stalls")
    assert (note.x, note.y) == (round(at.x(), 2), round(at.y(), 2))
    frame = window.canvas.frame_of(note)
    assert frame.view.name == "Try Focal loss" and frame.view.backdrop_text == "if Dice stalls"
    window.action_save.trigger()
    assert load_pipeline(tiny_file, registry).annotations[0].text == "if Dice stalls"
    again = make_window(tiny_file, show=True)
    (loaded,) = again.canvas.graph.annotations
    assert again.canvas.frame_of(loaded).view.name == "Try Focal loss"
    window.action_undo.trigger()  # the title-and-text edit
    window.action_undo.trigger()  # the note itself
    assert window.canvas.graph.annotations == [] and window.canvas.frame_of(note) is None


def test_a_group_frames_the_selected_nodes_and_dragging_it_moves_them_in_one_step(qtbot: Any, window: Any) -> None:
    window.canvas.fit()
    window.canvas.select(["adam", "dice_loss"])
    window.action_group.trigger()
    qtbot.waitUntil(window.annotation_dialog.isVisible)
    window.annotation_dialog.title_edit.setText("Optimisation")
    window.annotation_dialog.accept()
    (group,) = window.canvas.graph.annotations
    frame = window.canvas.frame_of(group).view
    assert frame.name == "Optimisation"
    for node_id in ("adam", "dice_loss"):
        assert frame.sceneBoundingRect().contains(window.canvas.canvas_node(node_id).view.sceneBoundingRect())
    window.node_graph.set_zoom(-0.4)
    viewer = window.node_graph.viewer()
    header = viewer.mapFromScene(frame.mapToScene(QPointF(frame.boundingRect().center().x(), 12)))
    before = {i: window.canvas.graph.nodes[i].position for i in ("adam", "dice_loss", "trainer")}
    steps = window.canvas.editor.history.index
    drag(window, header, header + QPoint(0, 60))
    nodes = window.canvas.graph.nodes
    moved = nodes["adam"].position[1] - before["adam"][1]
    # positions are kept to 1/100, so the two moves agree to that, not to the last bit of a float
    assert moved > 20 and nodes["dice_loss"].position[1] - before["dice_loss"][1] == pytest.approx(moved, abs=0.011)
    assert nodes["trainer"].position == before["trainer"]  # outside the frame: stays
    assert window.canvas.editor.history.index == steps + 1
    window.action_undo.trigger()
    assert {i: nodes[i].position for i in before} == before
    assert frame.selected and window.canvas.selected_ids() == []  # the nodes were carried, not left selected
    drag(window, header, header + QPoint(0, 60))  # the frame is still selected: it carries its nodes again
    assert nodes["adam"].position[1] - before["adam"][1] == moved
    QTest.keyClick(viewer, Qt.Key.Key_Delete)
    assert window.canvas.graph.annotations == [] and "adam" in nodes  # the frame goes, its nodes stay


def test_copy_of_a_group_pastes_the_frame_with_its_nodes_and_one_undo_removes_them(qtbot: Any, window: Any) -> None:
    """Copy with a group (and a note) selected copied nothing: paste now brings the frame, the nodes inside it and
    their links, at the paste point, as one undo step."""
    canvas = window.canvas
    group = canvas.group_nodes(["adam", "dice_loss"], title="Optim")
    note = canvas.add_note((group.x + group.w + 50, group.y), title="Why", text="lr 1e-3")
    canvas.select([])
    for frame in (canvas.frame_of(group), canvas.frame_of(note)):
        frame.set_selected(True)
    nodes_before, annotations_before = set(canvas.graph.nodes), len(canvas.graph.annotations)
    assert canvas.copy_selected()
    ids = canvas.paste(QPointF(group.x + 2000, group.y + 1000))
    assert sorted(canvas.graph.nodes[i].type_id for i in ids) == sorted(
        canvas.graph.nodes[i].type_id for i in ("adam", "dice_loss"))
    pasted_group, pasted_note = canvas.graph.annotations[annotations_before:]
    assert (pasted_group.kind, pasted_group.title, pasted_note.text) == ("group", "Optim", "lr 1e-3")
    assert (pasted_group.x, pasted_group.y) == (group.x + 2000, group.y + 1000)
    assert (pasted_note.x - pasted_group.x, pasted_note.y - pasted_group.y) == (note.x - group.x, note.y - group.y)
    for node_id in ids:  # inside the pasted frame, where the originals are in theirs
        x, y = canvas.graph.nodes[node_id].position
        assert pasted_group.x <= x <= pasted_group.x + pasted_group.w
        assert pasted_group.y <= y <= pasted_group.y + pasted_group.h
    window.action_undo.trigger()
    assert set(canvas.graph.nodes) == nodes_before and len(canvas.graph.annotations) == annotations_before
