"""Node states on the canvas (driven by run events), tooltips, and a canvas that stays usable when small."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFontMetricsF

from medical_imaging_framework.app.window.main_window import MIN_LEGIBLE_SCALE
from medical_imaging_framework.run.events import NodeFailed, NodeFinished, NodeStarted, Progress


def test_run_events_show_each_node_state_on_the_canvas(qtbot: Any, window: Any) -> None:
    canvas = window.canvas
    assert canvas.state_visible("trainer") == "" and canvas.state_text("trainer") == ""
    window.on_event(NodeStarted("trainer", "training.Trainer"))
    assert canvas.state_visible("trainer") == "running" and canvas.state_text("trainer") == "running"
    window.on_event(Progress("trainer", epoch=2, num_epochs=4, batch=1, num_batches=2))
    assert canvas.state_text("trainer") == "running · epoch 2/4 · 38%"
    assert canvas._states["trainer"].fraction == 0.375
    window.on_event(NodeFinished("trainer", 1.25))
    assert canvas.state_visible("trainer") == "done" and canvas.state_text("trainer") == "done · 1.2 s"
    reason = "the split leaves no validation item: count 1 is too small\nTraceback (most recent call last): ..."
    window.on_event(NodeFailed("split", reason))
    assert canvas.state_visible("split") == "failed"
    shown = canvas.state_text("split")
    assert shown.startswith("failed: the split leaves") and "\n" not in shown and "Traceback" not in shown


def test_tooltip_has_description_and_current_error(qtbot: Any, window: Any) -> None:
    canvas = window.canvas
    spec = canvas.graph.nodes["split"].spec
    view = canvas.canvas_node("split").view
    assert spec.description and spec.description in view.toolTip() and "Error" not in view.toolTip()
    window.on_event(NodeFailed("split", "count 1 is too small"))
    assert "Error: count 1 is too small" in view.toolTip()
    canvas.set_config("split", {**canvas.graph.nodes["split"].config, "val_fraction": 0.5})
    assert canvas.state_visible("split") == "" and "Error" not in view.toolTip()
    canvas.set_config("adam", {**canvas.graph.nodes["adam"].config, "lr": "fast"})
    assert window.run_pipeline() is False
    assert canvas.state_visible("adam") == "invalid"
    assert "Error: must be a number >= 0 (got 'fast')" in canvas.canvas_node("adam").view.toolTip()
    assert canvas.state_text("adam").startswith("cannot run: must be a number")


def test_small_window_keeps_a_usable_canvas_and_legible_titles(qtbot: Any, window: Any) -> None:
    window.resize(1000, 650)
    qtbot.waitUntil(lambda: window.width() == 1000)
    window.fit_view()
    canvas_widget = window.node_graph.widget
    assert canvas_widget.width() >= 480 and canvas_widget.height() >= 300
    viewer = window.node_graph.viewer()
    scale = viewer.transform().m11()
    assert scale >= MIN_LEGIBLE_SCALE - 1e-6
    visible = viewer.mapToScene(viewer.viewport().rect()).boundingRect()
    shown = [n for n in window.node_graph.all_nodes() if visible.intersects(n.view.sceneBoundingRect())]
    assert shown, "the framed view shows nodes"
    for canvas_node in shown:
        title = canvas_node.view.text_item
        pixel_height = QFontMetricsF(title.font()).capHeight() * scale
        assert pixel_height >= 6, f"title of {canvas_node.name()} is {pixel_height:.1f} px high"
