"""The canvas as a view of the core graph: palette, typed links, delete/copy/paste, undo/redo."""

from __future__ import annotations

from typing import Any

import pytest

from medical_imaging_framework.app.canvas import port_colour
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.graph import Link


def palette_entries(window: Any) -> dict[str, list[str]]:
    tree = window.palette
    entries = {}
    for index in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(index)
        if not item.isHidden():
            entries[item.text(0)] = sorted(item.child(i).text(0) for i in range(item.childCount()))
    return entries


def test_palette_lists_every_node_type_by_category(qtbot: Any, window: Any, registry: NodeRegistry) -> None:
    expected: dict[str, list[str]] = {}
    for spec in registry.specs():
        expected.setdefault(spec.category, []).append(spec.title)
    assert palette_entries(window) == {category: sorted(titles) for category, titles in expected.items()}


def test_ports_are_named_typed_and_coloured_by_kind(qtbot: Any, window: Any) -> None:
    trainer = window.canvas.canvas_node("trainer")
    assert list(trainer.inputs()) == [p.name for p in trainer.SPEC.inputs]
    port = trainer.inputs()["train_data"]
    assert port.view.toolTip().startswith("train_data: DataLoader")
    loader_out = window.canvas.canvas_node("train_loader").outputs()["loader"]
    assert tuple(port.color)[:3] == tuple(loader_out.color)[:3] == port_colour("DataLoader")
    assert port_colour("Loss") != port_colour("DataLoader")


def test_link_between_different_kinds_is_refused_with_a_reason(qtbot: Any, window: Any) -> None:
    stack = window.node_graph.undo_stack()
    loss_in = window.canvas.canvas_node("trainer").inputs()["loss"]
    loss_out = window.canvas.canvas_node("dice_loss").outputs()["loss"]
    loss_in.disconnect_from(loss_out)
    count = stack.count()
    optimizer_out = window.canvas.canvas_node("adam").outputs()["optimizer"]
    optimizer_out.connect_to(loss_in)
    qtbot.waitUntil(lambda: loss_in.connected_ports() == [])
    assert "cannot link Optimizer output to Loss input" in window.statusBar().currentMessage()
    assert Link("adam", "optimizer", "trainer", "loss") not in window.canvas.graph.links
    assert stack.count() == count, "a refused link leaves no undo entry"
    loss_out.connect_to(loss_in)
    qtbot.wait(20)
    assert loss_in.connected_ports() == [loss_out]
    assert Link("dice_loss", "loss", "trainer", "loss") in window.canvas.graph.links
    window.action_undo.trigger()
    assert Link("dice_loss", "loss", "trainer", "loss") not in window.canvas.graph.links
    window.action_redo.trigger()
    assert Link("dice_loss", "loss", "trainer", "loss") in window.canvas.graph.links


def test_delete_undo_redo_keep_the_core_graph_in_step(qtbot: Any, window: Any) -> None:
    links_before = list(window.canvas.graph.links)
    window.node_graph.scene().clearSelection()
    window.canvas.canvas_node("unet").view.setSelected(True)  # as a click does
    window.action_delete.trigger()
    assert "unet" not in window.canvas.graph.nodes
    assert all("unet" not in (ln.source, ln.target) for ln in window.canvas.graph.links)
    assert window.isWindowModified()
    window.action_undo.trigger()
    assert "unet" in window.canvas.graph.nodes
    assert sorted(map(str, window.canvas.graph.links)) == sorted(map(str, links_before))
    assert not window.isWindowModified()
    window.action_redo.trigger()
    assert "unet" not in window.canvas.graph.nodes


def test_new_and_pasted_nodes_get_valid_unique_ids(qtbot: Any, window: Any) -> None:
    type_name = window.canvas.canvas_node("trainer").type_
    window.node_graph.create_node(type_name, pos=[100, 900])
    created = [i for i in window.canvas.graph.nodes if i.startswith("trainer") and i != "trainer"]
    assert created == ["trainer_2"]
    node = window.canvas.graph.nodes["trainer_2"]
    assert node.type_id == "training.Trainer" and node.position == (100.0, 900.0)
    assert node.config == node.spec.defaults()
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "num_epochs": 3})
    window.node_graph.scene().clearSelection()
    window.canvas.canvas_node("trainer").view.setSelected(True)
    window.action_copy.trigger()
    window.action_paste.trigger()
    pasted = [i for i in window.canvas.graph.nodes if i not in ("trainer", "trainer_2") and i.startswith("trainer")]
    assert len(pasted) == 1
    assert window.canvas.graph.nodes[pasted[0]].config["num_epochs"] == 3
    assert window.canvas.canvas_node(pasted[0]).name() == pasted[0]
    window.action_undo.trigger()
    assert pasted[0] not in window.canvas.graph.nodes


def test_fit_view_and_zoom(qtbot: Any, window: Any) -> None:
    window.node_graph.set_zoom(-0.5)
    zoom_before = window.node_graph.get_zoom()
    window.action_zoom_in.trigger()
    assert window.node_graph.get_zoom() > zoom_before
    window.action_fit.trigger()
    viewer = window.node_graph.viewer()
    visible = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    for canvas_node in window.node_graph.all_nodes():
        assert visible.contains(canvas_node.view.sceneBoundingRect().center())


def test_tab_search_lists_node_types_and_creates_the_chosen_one(
    qtbot: Any, window: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = window.node_graph.viewer()
    search = viewer._search_widget
    shown: list[bool] = []
    monkeypatch.setattr(viewer, "underMouse", lambda: True)  # NodeGraphQt opens the search under the mouse only
    monkeypatch.setattr(search, "exec_", lambda *args: shown.append(True))  # the popup menu would block
    assert window.action_search.shortcut().toString() == "Tab"
    window.action_search.trigger()
    assert shown == [True]
    assert {"Trainer", "Dice Loss", "Synthetic Phantoms"} <= set(search._node_dict)
    trainer_type = search._node_dict["Trainer"]
    viewer.search_triggered.emit(trainer_type, (0, 0))
    assert window.canvas.graph.nodes["trainer_2"].type_id == "training.Trainer"


def test_ctrl_z_and_ctrl_shift_z_keys_undo_and_redo(qtbot: Any, window: Any) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    viewer = window.node_graph.widget
    viewer.setFocus()
    window.node_graph.scene().clearSelection()
    window.canvas.canvas_node("unet").view.setSelected(True)
    window.action_delete.trigger()
    assert "unet" not in window.canvas.graph.nodes
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert "unet" in window.canvas.graph.nodes, "Ctrl+Z undoes (no clash with NodeGraphQt's own shortcut)"
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert "unet" not in window.canvas.graph.nodes, "Ctrl+Shift+Z redoes"
