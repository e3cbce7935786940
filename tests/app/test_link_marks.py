"""A file holding links the editor would refuse (two links into one input, a kind mismatch): the canvas shows
every link the file holds, marks the refused ones, and Save writes exactly what the canvas shows (issue 20)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from NodeGraphQt.constants import PipeEnum
from PySide6.QtGui import QColor

from medical_imaging_framework.app.canvas.items import STATE_COLOURS
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.core.graph import Link
from tests.support.gui import write_tiny_pipeline

EXTRA = {"from": "adam.optimizer", "to": "val_loader.dataset"}
SECOND = Link("adam", "optimizer", "val_loader", "dataset")
INVALID_LINK_COLOUR = QColor(STATE_COLOURS["invalid"]).getRgb()  # the red of an invalid node's outline


def drawn_links(window: Any) -> list[tuple[str, str]]:
    """Every pipe on the canvas as the file writes a link: ``("node.port", "node.port")``, sorted."""
    return sorted((f"{pipe.output_port.node.name}.{pipe.output_port.name}",
                   f"{pipe.input_port.node.name}.{pipe.input_port.name}")
                  for pipe in window.node_graph.viewer().all_pipes())


def file_links(path: Path) -> list[tuple[str, str]]:
    return sorted((entry["from"], entry["to"]) for entry in json.loads(path.read_text())["links"])


def pipes_into(window: Any, node_id: str, port: str) -> dict[str, Any]:
    in_port = window.canvas.canvas_node(node_id).inputs()[port]
    return {pipe.output_port.node.name: pipe for pipe in in_port.view.connected_pipes}


def test_two_links_into_one_input_are_both_shown_the_refused_one_marked_and_saved_as_shown(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path
) -> None:
    path = write_tiny_pipeline(registry, tmp_path)
    document = json.loads(path.read_text())
    document["links"].append(EXTRA)
    path.write_text(json.dumps(document))
    window = make_window(path, show=True)
    pipes = pipes_into(window, "val_loader", "dataset")
    assert sorted(pipes) == ["adam", "split"], "both links of the file are drawn into the one input"
    bad, good = pipes["adam"], pipes["split"]
    assert tuple(bad.color) == INVALID_LINK_COLOUR and bad.style == PipeEnum.DRAW_TYPE_DASHED.value
    assert "has more than one link" in bad.toolTip()
    assert "cannot link Optimizer output to Dataset input" in bad.toolTip()
    assert tuple(good.color) != INVALID_LINK_COLOUR and good.style == PipeEnum.DRAW_TYPE_DEFAULT.value
    assert good.toolTip() == ""
    problems = [str(p) for p in window.canvas.graph.validate()]
    assert any("input 'dataset' has more than one link: adam.optimizer -> val_loader.dataset" in p for p in problems)
    assert drawn_links(window) == file_links(path)
    window.files.save()
    assert file_links(path) == drawn_links(window) and (EXTRA["from"], EXTRA["to"]) in file_links(path)

    viewer = window.node_graph.viewer()  # the slicer (Alt+Shift+drag) cuts the red link: the input is whole again
    viewer.connection_sliced.emit([(bad.input_port, bad.output_port)])
    qtbot.waitUntil(lambda: window.canvas.link_marks.marked == {})
    assert sorted(pipes_into(window, "val_loader", "dataset")) == ["split"]
    assert tuple(pipes["split"].color) != INVALID_LINK_COLOUR
    window.canvas.undo()
    qtbot.waitUntil(lambda: SECOND in window.canvas.link_marks.marked)
    pipes = pipes_into(window, "val_loader", "dataset")
    assert sorted(pipes) == ["adam", "split"] and tuple(pipes["adam"].color) == INVALID_LINK_COLOUR
    window.files.save()
    assert file_links(path) == drawn_links(window)


def test_a_link_given_twice_stays_drawn_until_both_are_removed(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path
) -> None:
    path = write_tiny_pipeline(registry, tmp_path)
    document = json.loads(path.read_text())
    document["links"].append({"from": "split.val", "to": "val_loader.dataset"})
    path.write_text(json.dumps(document))
    window = make_window(path, show=True)
    [pipe] = pipes_into(window, "val_loader", "dataset").values()
    assert tuple(pipe.color) == INVALID_LINK_COLOUR and "has more than one link" in pipe.toolTip()
    viewer = window.node_graph.viewer()
    viewer.connection_sliced.emit([(pipe.input_port, pipe.output_port)])  # one of the two goes
    qtbot.waitUntil(lambda: window.canvas.link_marks.marked == {})
    assert sorted(pipes_into(window, "val_loader", "dataset")) == ["split"], "the other is still in the model"
    window.files.save()
    assert file_links(path) == drawn_links(window)
    [pipe] = pipes_into(window, "val_loader", "dataset").values()
    viewer.connection_sliced.emit([(pipe.input_port, pipe.output_port)])
    assert pipes_into(window, "val_loader", "dataset") == {} and file_links(path) != drawn_links(window)
    window.files.save()
    assert file_links(path) == drawn_links(window)
