"""The canvas as a view of the core graph: user actions on it are commands on the model, undo is the model's."""

from __future__ import annotations

from typing import Any

from NodeGraphQt.constants import PipeEnum
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from medical_imaging_framework.app.canvas.adapter import port_colour
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.core.pipeline_file import graph_to_dict

CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def palette_entries(window: Any) -> dict[str, list[str]]:
    tree = window.palette
    entries = {}
    for index in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(index)
        if not item.isHidden():
            entries[item.text(0)] = sorted(item.child(i).text(0) for i in range(item.childCount()))
    return entries


def port_point(window: Any, node_id: str, port: str, output: bool) -> QPoint:
    """Where a port is on the canvas viewport (for real mouse events)."""
    canvas_node = window.canvas.canvas_node(node_id)
    item = (canvas_node.outputs() if output else canvas_node.inputs())[port].view
    viewer = window.node_graph.viewer()
    point = viewer.mapFromScene(item.sceneBoundingRect().center())
    assert viewer.viewport().rect().contains(point), f"{node_id}.{port} is off screen"
    return point


def drag(window: Any, start: QPoint, end: QPoint, release: bool = True) -> None:
    """Press at ``start``, move to ``end`` in steps, release there (real QTest mouse events)."""
    viewport = window.node_graph.viewer().viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, 6):
        QTest.mouseMove(viewport, start + (end - start) * step / 5)
    if release:
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def framed(qtbot: Any, window: Any) -> Any:
    window.action_fit.trigger()
    qtbot.wait(10)
    return window


def test_palette_lists_every_node_type_by_category(qtbot: Any, window: Any, registry: NodeRegistry) -> None:
    expected: dict[str, list[str]] = {}
    for spec in registry.specs():
        expected.setdefault(spec.category, []).append(spec.title)
    assert palette_entries(window) == {category: sorted(titles) for category, titles in expected.items()}
    tips = [window.palette.topLevelItem(i).child(j).toolTip(0) for i in range(window.palette.topLevelItemCount())
            for j in range(window.palette.topLevelItem(i).childCount())]
    trainer = registry.get("training.Trainer")
    assert f"{trainer.title} — {trainer.category}\n{trainer.description}" in tips
    assert not any(tip.startswith("mif.") or "nodeGraphQt" in tip for tip in tips), "no internal type names"


def test_ports_and_links_take_the_colour_of_their_kind(qtbot: Any, window: Any) -> None:
    trainer = window.canvas.canvas_node("trainer")
    port = trainer.inputs()["train_data"]
    assert port.view.toolTip().startswith("train_data: DataLoader")
    loader_out = window.canvas.canvas_node("train_loader").outputs()["loader"]
    assert tuple(port.color)[:3] == tuple(loader_out.color)[:3] == port_colour("DataLoader")
    assert port_colour("Loss") != port_colour("DataLoader")
    colours = {}
    inputs = trainer.inputs()
    for in_port, kind in ((port, "DataLoader"), (inputs["loss"], "Loss"), (inputs["model"], "Model")):
        (pipe,) = in_port.view.connected_pipes
        assert tuple(pipe.color)[:3] == port_colour(kind)
        assert pipe.pen().color().getRgb()[:3] == port_colour(kind)
        colours[kind] = tuple(pipe.color)[:3]
    assert len(set(colours.values())) == 3
    window.canvas.select(["trainer"])  # selection highlights; deselecting gives the kind colour back
    window.canvas.select([])
    (pipe,) = port.view.connected_pipes
    pipe.reset()
    assert pipe.pen().color().getRgb()[:3] == port_colour("DataLoader")


def test_incompatible_port_is_not_offered_and_the_reason_shows(qtbot: Any, window: Any) -> None:
    framed(qtbot, window)
    window.canvas.editor.disconnect([Link("dice_loss", "loss", "trainer", "loss")])
    steps = window.canvas.editor.history.index
    start = port_point(window, "adam", "optimizer", output=True)
    end = port_point(window, "trainer", "loss", output=False)
    drag(window, start, end, release=False)
    viewer = window.node_graph.viewer()
    pointer = viewer._LIVE_PIPE._idx_pointer.pen().color().getRgb()[:3]
    assert pointer != PipeEnum.HIGHLIGHT_COLOR.value[:3], "a refused port must not look accepting"
    assert "cannot link Optimizer output to Loss input" in window.statusBar().currentMessage()
    QTest.mouseRelease(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert "cannot link Optimizer output to Loss input" in window.statusBar().currentMessage()
    assert Link("adam", "optimizer", "trainer", "loss") not in window.canvas.graph.links
    assert window.canvas.canvas_node("trainer").inputs()["loss"].view.connected_pipes == []
    assert window.canvas.editor.history.index == steps, "a refused link leaves no undo step"
    assert window.node_graph.undo_stack().count() == 0


def test_a_link_dragged_with_the_mouse_is_one_undo_step(qtbot: Any, window: Any) -> None:
    framed(qtbot, window)
    link = Link("dice_loss", "loss", "trainer", "loss")
    window.canvas.editor.disconnect([link])
    drag(window, port_point(window, "dice_loss", "loss", output=True), port_point(window, "trainer", "loss", False))
    assert link in window.canvas.graph.links
    assert len(window.canvas.canvas_node("trainer").inputs()["loss"].view.connected_pipes) == 1
    window.canvas.undo()
    assert link not in window.canvas.graph.links
    assert window.canvas.canvas_node("trainer").inputs()["loss"].view.connected_pipes == []
    window.canvas.redo()
    assert link in window.canvas.graph.links


def test_dropping_on_an_occupied_input_replaces_its_link_in_one_step(qtbot: Any, window: Any) -> None:
    framed(qtbot, window)
    before = graph_to_dict(window.canvas.graph)
    drag(window, port_point(window, "val_loader", "loader", True), port_point(window, "trainer", "train_data", False))
    links = window.canvas.graph.links
    assert Link("val_loader", "loader", "trainer", "train_data") in links
    assert Link("train_loader", "loader", "trainer", "train_data") not in links
    (pipe,) = window.canvas.canvas_node("trainer").inputs()["train_data"].view.connected_pipes
    assert pipe.output_port.node.name == "val_loader"
    window.canvas.undo()
    assert graph_to_dict(window.canvas.graph) == before
    (pipe,) = window.canvas.canvas_node("trainer").inputs()["train_data"].view.connected_pipes
    assert pipe.output_port.node.name == "train_loader"


def test_dragging_a_link_off_its_input_removes_it_undoably(qtbot: Any, window: Any) -> None:
    framed(qtbot, window)
    before = graph_to_dict(window.canvas.graph)
    start = port_point(window, "trainer", "loss", output=False)
    drag(window, start, start + QPoint(-60, 120))
    assert Link("dice_loss", "loss", "trainer", "loss") not in window.canvas.graph.links
    assert window.canvas.canvas_node("trainer").inputs()["loss"].view.connected_pipes == []
    window.canvas.undo()
    assert graph_to_dict(window.canvas.graph) == before
    assert len(window.canvas.canvas_node("trainer").inputs()["loss"].view.connected_pipes) == 1


def test_a_cycle_is_refused_while_dragging(qtbot: Any, window: Any, registry: NodeRegistry) -> None:
    editor = window.canvas.editor
    editor.create_node(registry.get("data.TrainValSplit"), (260, 330))
    editor.connect("split", "train", "train_val_split", "dataset")
    framed(qtbot, window)
    before = graph_to_dict(window.canvas.graph)
    drag(window, port_point(window, "train_val_split", "val", True), port_point(window, "split", "dataset", False))
    assert "cycle" in window.statusBar().currentMessage()
    assert graph_to_dict(window.canvas.graph) == before
    assert len(window.canvas.canvas_node("split").inputs()["dataset"].view.connected_pipes) == 1


def test_moving_a_node_with_the_mouse_is_an_undoable_model_edit(qtbot: Any, window: Any) -> None:
    framed(qtbot, window)
    canvas_node = window.canvas.canvas_node("adam")
    viewer = window.node_graph.viewer()
    start = viewer.mapFromScene(canvas_node.view.sceneBoundingRect().center())
    old = window.canvas.graph.nodes["adam"].position
    drag(window, start, start + QPoint(60, 30))
    new = window.canvas.graph.nodes["adam"].position
    assert new != old and tuple(canvas_node.view.xy_pos) == new
    window.canvas.undo()
    assert window.canvas.graph.nodes["adam"].position == old
    assert tuple(canvas_node.view.xy_pos) == tuple(float(v) for v in old)


def test_delete_undo_redo_undo_from_the_keyboard_keeps_every_link(qtbot: Any, make_window: Any, registry: NodeRegistry
                                                                  ) -> None:
    """The issue's replay: a pipeline built from the palette, data_loader_2 -> predictor.data linked last."""
    window = make_window(show=True)
    palette = window.palette
    items = {palette.topLevelItem(i).child(j).text(0): palette.topLevelItem(i).child(j)
             for i in range(palette.topLevelItemCount()) for j in range(palette.topLevelItem(i).childCount())}
    layout = [("Synthetic Phantoms", 0, 0), ("Train/Val Split", 250, 0), ("Data Loader", 500, -100),
              ("Data Loader", 500, 150), ("UNet", 500, -350), ("Dice Loss", 500, 350), ("Adam", 500, 500),
              ("Trainer", 800, 0), ("Predictor", 1100, 0)]
    for title, x, y in layout:
        window.node_graph._on_node_data_dropped(palette.mimeData([items[title]]), QPoint(x, y))  # a palette drop
    assert list(window.canvas.graph.nodes) == [
        "synthetic_phantoms", "train_val_split", "data_loader", "data_loader_2", "unet", "dice_loss", "adam",
        "trainer", "predictor"]
    ports = [("synthetic_phantoms", "dataset", "train_val_split", "dataset"),
             ("train_val_split", "train", "data_loader", "dataset"),
             ("train_val_split", "val", "data_loader_2", "dataset"), ("unet", "model", "trainer", "model"),
             ("dice_loss", "loss", "trainer", "loss"), ("adam", "optimizer", "trainer", "optimizer"),
             ("data_loader", "loader", "trainer", "train_data"), ("data_loader_2", "loader", "trainer", "val_data"),
             ("trainer", "model", "predictor", "model"), ("data_loader_2", "loader", "predictor", "data")]
    viewer = window.node_graph.viewer()
    for source, out_name, target, in_name in ports:  # as the viewer reports a dragged link
        out_view = window.canvas.canvas_node(source).outputs()[out_name].view
        in_view = window.canvas.canvas_node(target).inputs()[in_name].view
        viewer.connection_changed.emit([], [(out_view, in_view)])
    window.canvas.set_config("adam", {**window.canvas.graph.nodes["adam"].config, "lr": 0.01})
    window.canvas.editor.move_nodes({"unet": (520.0, -300.0)})
    before = graph_to_dict(window.canvas.graph)
    assert before["links"][-1] == {"from": "data_loader_2.loader", "to": "predictor.data"}
    window.activateWindow()  # a window the user works in is the active one
    qtbot.waitUntil(lambda: QApplication.focusWindow() is window.windowHandle())
    window.palette.setFocus()  # the keyboard is elsewhere until the canvas is clicked
    window.fit_view()
    unet = window.canvas.canvas_node("unet").view
    QTest.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     viewer.mapFromScene(unet.sceneBoundingRect().center()))
    assert window.canvas.selected_ids() == ["unet"]
    assert QApplication.focusWidget() is viewer, "a click on the canvas gives it the keyboard"
    QTest.keyClick(viewer, Qt.Key.Key_Delete)
    assert "unet" not in window.canvas.graph.nodes and window.isWindowModified()
    QTest.keyClick(viewer, Qt.Key.Key_Z, CTRL)
    assert graph_to_dict(window.canvas.graph) == before
    QTest.keyClick(viewer, Qt.Key.Key_Z, CTRL | SHIFT)
    assert "unet" not in window.canvas.graph.nodes
    QTest.keyClick(viewer, Qt.Key.Key_Z, CTRL)
    assert graph_to_dict(window.canvas.graph) == before
    in_view = window.canvas.canvas_node("predictor").inputs()["data"].view
    assert [pipe.output_port.node.name for pipe in in_view.connected_pipes] == ["data_loader_2"]
    assert window.node_graph.undo_stack().count() == 0, "NodeGraphQt's own stack is never used"


def test_modified_mark_and_undo_tooltip_follow_the_models_history(qtbot: Any, window: Any) -> None:
    window.canvas.set_config("adam", {**window.canvas.graph.nodes["adam"].config, "lr": 0.02})
    assert window.isWindowModified() and window.action_undo.isEnabled()
    assert window.action_undo.toolTip() == "Undo edit parameters of 'adam' (Ctrl+Z)"
    QTest.keyClick(window.node_graph.viewer(), Qt.Key.Key_Z, CTRL)
    assert not window.isWindowModified() and window.canvas.graph.nodes["adam"].config["lr"] != 0.02


def test_new_and_pasted_nodes_get_readable_unique_ids(qtbot: Any, window: Any, registry: NodeRegistry) -> None:
    node = window.canvas.add_node_of_spec(registry.get("models.UNet"), (100, 900))
    assert node.id == "unet_2" and window.canvas.canvas_node("unet_2").name() == "unet_2"
    assert window.canvas.graph.nodes["unet_2"].position == (100.0, 900.0)
    assert window.canvas.add_node_of_spec(registry.get("optim.SGD"), (0, 0)).id == "sgd"
    assert window.canvas.add_node_of_spec(registry.get("losses.DiceCELoss"), (0, 0)).id == "dice_ce_loss"
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "num_epochs": 3})
    window.canvas.select(["trainer", "adam"])
    window.action_copy.trigger()
    window.action_paste.trigger()
    assert window.canvas.selected_ids() == ["adam_2", "trainer_2"]
    assert window.canvas.graph.nodes["trainer_2"].config["num_epochs"] == 3
    assert Link("adam_2", "optimizer", "trainer_2", "optimizer") in window.canvas.graph.links
    window.action_undo.trigger()
    assert "trainer_2" not in window.canvas.graph.nodes and window.canvas.canvas_node("trainer_2") is None


def test_tab_search_shows_readable_entries_and_adds_the_chosen_node(qtbot: Any, window: Any,
                                                                   registry: NodeRegistry) -> None:
    viewer = window.node_graph.viewer()
    viewer.setFocus()
    QTest.keyClick(viewer, Qt.Key.Key_Tab)
    popup = window.canvas._search
    assert popup is not None and popup.isVisible()
    labels = popup.labels()
    assert len(labels) == len(registry.specs())
    trainer = registry.get("training.Trainer")
    assert any(label.startswith(f"{trainer.title} — {trainer.category}\n") for label in labels)
    assert not any("mif." in label or "Backdrop" in label or "nodeGraphQt" in label for label in labels)
    assert not any(spec.type_id in label for spec in registry.specs() for label in labels)
    dice_ce = registry.get("losses.DiceCELoss")
    QTest.keyClicks(popup.line_edit, dice_ce.title.lower())
    assert popup.labels()[0].startswith(f"{dice_ce.title} — {dice_ce.category}")
    QTest.keyClick(popup.line_edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    added = [i for i in window.canvas.graph.nodes if i.startswith("dice_ce")]
    assert added == ["dice_ce_loss"]


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
