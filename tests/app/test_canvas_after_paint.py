"""The window's frame first, its canvas right after (`MainWindow(canvas_after_paint=True)`, as `mif gui` opens it).

The frame (menus, toolbar, docks) paints without NodeGraphQt; the canvas side is built by `build_canvas`, or at
once by anything that needs it before then, so no command ever meets a window without its canvas.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor

from medical_imaging_framework.app.widgets.deferred import PendingArea
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.examples import resolve_pipeline_path

EXAMPLE = resolve_pipeline_path("segmentation_train.json")


@pytest.fixture
def frame(qtbot: Any, registry: NodeRegistry) -> Any:
    """A main window made as `mif gui` makes it: the frame only, not shown yet."""
    from medical_imaging_framework.app.window.main_window import MainWindow

    window = MainWindow(EXAMPLE, registry=registry, canvas_after_paint=True)
    qtbot.addWidget(window)
    return window


def test_the_frame_has_its_menus_toolbar_docks_and_title_but_no_canvas_yet(frame: Any) -> None:
    assert not frame.canvas_built
    assert isinstance(frame.centralWidget(), PendingArea)
    assert frame.centralWidget().caption == "Opening segmentation_train.json…"
    assert frame.windowTitle().startswith("segmentation_train.json (example)")
    toolbar = frame.findChild(type(frame.addToolBar("probe")), "main_toolbar")
    assert frame.action_run in toolbar.actions() and frame.action_save in toolbar.actions()
    menus = [action.text() for action in frame.menuBar().actions()]
    assert menus[:4] == ["&File", "&Edit", "&View", "&Run"]
    assert frame.palette_dock.widget() is frame.palette_area and frame.palette_area.held is None
    assert not frame.action_undo.isEnabled() and not frame.action_redo.isEnabled()
    assert not frame.canvas_built, "making and placing the actions did not build the canvas"


def test_the_empty_canvas_area_paints_the_canvas_colour(frame: Any, qtbot: Any) -> None:
    frame.show()
    qtbot.waitExposed(frame)
    assert not frame.canvas_built
    image = frame.centralWidget().grab().toImage()
    assert QColor(image.pixel(QPoint(3, 3))) == QColor(35, 35, 35)


def test_build_canvas_opens_the_pipeline_into_the_shown_frame_and_frames_it(frame: Any, qtbot: Any) -> None:
    frame.show()
    qtbot.waitExposed(frame)
    frame.build_canvas()
    assert frame.canvas_built
    assert frame.canvas_area.held is frame.node_graph.widget and frame.node_graph.widget.isVisible()
    assert frame.palette_area.held is frame.palette and frame.palette.topLevelItemCount() > 0
    assert {"trainer", "unet"} <= set(frame.canvas.graph.nodes)
    assert frame.document.path == Path(EXAMPLE) and not frame.document.modified
    assert frame.windowTitle().startswith("segmentation_train.json (example)")
    viewer = frame.node_graph.viewer()
    shown = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    for node in frame.node_graph.all_nodes():
        assert shown.contains(node.view.sceneBoundingRect()), f"{node.name()} is framed"
    frame.build_canvas()  # a second call changes nothing
    assert frame.canvas_area.held is frame.node_graph.widget


@pytest.mark.parametrize("command", ["select_all", "save", "canvas"])
def test_a_command_before_the_canvas_is_built_builds_it_first(qtbot: Any, registry: NodeRegistry, command: str,
                                                             tmp_path: Path) -> None:
    from medical_imaging_framework.app.window.main_window import MainWindow

    copy = tmp_path / "copy.json"
    copy.write_text(Path(EXAMPLE).read_text())
    os.utime(copy, (0, 0))
    window = MainWindow(copy, registry=registry, canvas_after_paint=True)
    qtbot.addWidget(window)
    if command == "select_all":
        window.action_select_all.trigger()
        assert sorted(node.name() for node in window.node_graph.selected_nodes()) == sorted(window.canvas.graph.nodes)
    elif command == "save":
        window.action_save.trigger()
        assert copy.stat().st_mtime > 0, "Save wrote the opened pipeline"
        assert window.document.path == copy and not window.document.modified
    else:
        assert "trainer" in window.canvas.graph.nodes
    assert window.canvas_built


def test_closing_before_the_canvas_is_built_neither_builds_it_nor_asks(frame: Any, message_boxes: Any,
                                                                      qtbot: Any) -> None:
    frame.show()
    qtbot.waitExposed(frame)
    assert frame.close()
    assert not frame.canvas_built
    assert message_boxes.shown == []


def test_a_file_that_cannot_be_opened_leaves_an_empty_pipeline_and_says_why(qtbot: Any, registry: NodeRegistry,
                                                                             tmp_path: Path,
                                                                             message_boxes: Any) -> None:
    from medical_imaging_framework.app.window.main_window import MainWindow

    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    window = MainWindow(broken, registry=registry, canvas_after_paint=True)
    qtbot.addWidget(window)
    window.build_canvas()
    assert window.canvas.graph.nodes == {}
    assert window.document.path is None
    assert [(kind, title) for kind, title, _ in message_boxes.shown] == [("critical", "Cannot open pipeline")]
    assert "broken.json" in message_boxes.shown[0][2]


def test_the_empty_area_uses_node_graph_qts_own_background_colour() -> None:
    """main_window.py copies the colour so the frame paints without importing NodeGraphQt; an upgrade that changes
    it fails here instead of flashing another colour before the canvas."""
    from NodeGraphQt.constants import ViewerEnum

    from medical_imaging_framework.app.window.main_window import CANVAS_BACKGROUND

    assert CANVAS_BACKGROUND.getRgb()[:3] == ViewerEnum.BACKGROUND_COLOR.value
