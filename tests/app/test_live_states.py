"""Node outlines follow the model's validation live (unlink, F5, Ctrl+Z: the outline goes with the problem), and
a stopped run leaves its running node marked "stopped" (issue 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.run.events import EpochEnded
from tests.support.gui import wait_for_run
from tests.support.tiny import tiniest_graph

LOSS_LINK = Link("dice_loss", "loss", "trainer", "loss")


def invalid_nodes(window: Any) -> dict[str, str]:
    canvas = window.canvas
    return {node_id: canvas.state_text(node_id) for node_id in canvas.graph.nodes
            if canvas.state_visible(node_id) == "invalid"}


def test_outlines_follow_the_model_unlink_f5_undo_redo(qtbot: Any, window: Any) -> None:
    viewer = window.node_graph.viewer()
    assert invalid_nodes(window) == {}
    loss_pipe = next(pipe for pipe in viewer.all_pipes() if pipe.input_port.node.name == "trainer"
                     and pipe.input_port.name == "loss")
    viewer.connection_sliced.emit([(loss_pipe.input_port, loss_pipe.output_port)])  # the slicer cuts trainer.loss
    assert LOSS_LINK not in window.canvas.graph.links
    qtbot.waitUntil(lambda: "trainer" in invalid_nodes(window))  # live, before any Run
    assert invalid_nodes(window)["trainer"].startswith("cannot run: required input 'loss'")
    viewer.setFocus()
    QTest.keyClick(viewer, Qt.Key.Key_F5)
    assert not window.runner.running and "trainer" in invalid_nodes(window)
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert LOSS_LINK in window.canvas.graph.links
    qtbot.waitUntil(lambda: invalid_nodes(window) == {})  # the outline went with the problem, no Run needed
    assert window.canvas.state_text("trainer") == ""
    QTest.keyClick(viewer, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: "trainer" in invalid_nodes(window))  # redo: the problem is back, and so is its outline
    window.canvas.set_config("adam", {**window.canvas.graph.nodes["adam"].config, "lr": "abc"})
    qtbot.waitUntil(lambda: "adam" in invalid_nodes(window))
    assert invalid_nodes(window)["adam"].startswith("cannot run: must be a number")


def test_after_stop_the_running_node_shows_stopped(qtbot: Any, make_window: Any, registry: NodeRegistry,
                                                  tmp_path: Path) -> None:
    save_pipeline(tiniest_graph(registry, tmp_path / "checkpoints", num_epochs=200), tmp_path / "long.json")
    window = make_window(tmp_path / "long.json", show=True)
    epochs: list[int] = []
    window.runner.event.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    window.action_run.trigger()
    qtbot.waitUntil(lambda: bool(epochs), timeout=60_000)
    window.action_stop.trigger()
    wait_for_run(qtbot, window, timeout=60_000)
    assert window.runner.last_result.status == "cancelled"
    canvas = window.canvas
    assert canvas.state_visible("trainer") == "stopped"
    assert canvas.state_text("trainer").startswith("stopped · epoch ")
    assert {canvas.state_visible(node_id) for node_id in canvas.graph.nodes if node_id != "trainer"} == {"done"}
    window.live_validation.check_now()  # the check after the run leaves the stopped state alone
    assert canvas.state_visible("trainer") == "stopped"
