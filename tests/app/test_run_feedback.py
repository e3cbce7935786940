"""What the editor says around a run: an empty pipeline, Report for a folder that holds a run, toolbar tooltips,
a node whose type is not installed (issue 20 point 15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QToolBar

from medical_imaging_framework.app.running.report_action import RUN_FILES
from medical_imaging_framework.checkpoints.files import FINAL_NAME
from medical_imaging_framework.training.metrics_log import METRICS_NAME
from tests.support.checkpoint_runs import fake_checkpoints
from tests.support.pipelines import file_with_a_missing_type


def test_an_empty_pipeline_is_not_run_and_says_why(qtbot: Any, make_window: Any) -> None:
    """It reported "Run finished" with a full progress bar."""
    window = make_window(show=True)
    assert not window.canvas.graph.nodes
    window.action_run.trigger()
    assert not window.runner.running and window.runner.session is None
    assert window.statusBar().currentMessage().startswith("Nothing to run: the pipeline is empty")
    assert window.progress.text() != "run finished" and window.progress.value() < window.progress.maximum()


def test_report_is_on_after_a_restart_when_the_folder_holds_a_run(qtbot: Any, make_window: Any, tiny_file: Path,
                                                                  tmp_path: Path) -> None:
    assert RUN_FILES == (METRICS_NAME, FINAL_NAME)  # the names the editor looks for without importing torch
    assert not make_window(tiny_file).action_report.isEnabled()  # nothing in the folder yet
    fake_checkpoints(tmp_path / "checkpoints")  # an earlier session's run, final model included
    window = make_window(tiny_file)  # the editor started again
    assert window.action_report.isEnabled() and window.report.folders == [tmp_path / "checkpoints"]
    window.files.new_pipeline()
    assert not window.action_report.isEnabled()


def test_toolbar_tooltips_name_their_shortcuts(qtbot: Any, window: Any) -> None:
    assert window.action_run.toolTip() == "Run (Ctrl+R, F5)"
    assert window.action_stop.toolTip() == "Stop (Esc)" and window.action_fit.toolTip() == "Fit View (F)"
    toolbar = window.findChild(QToolBar, "main_toolbar")
    for action in toolbar.actions():
        for key in action.shortcuts():
            assert key.toString() in action.toolTip(), action.objectName()


def test_a_file_with_an_unknown_node_type_opens_with_a_placeholder_that_saves_back_unchanged(
    qtbot: Any, make_window: Any, registry: Any, tmp_path: Path
) -> None:
    data = file_with_a_missing_type(registry)
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    window = make_window(path)
    assert window.path == path and window.canvas.graph.nodes["unet"].spec.placeholder
    assert "Missing: acme.FancyNet" in window.canvas.canvas_node("unet").view.toolTip()
    assert window.canvas.canvas_node("unet").outputs()["model"].connected_ports()  # its link is drawn
    window.action_run.trigger()
    assert not window.runner.running
    assert "  node 'unet': node type 'acme.FancyNet' is not installed: its plugin ('acme' nodes)" in "\n".join(
        window.log.lines())
    assert window.files.write_file(path)
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_a_placeholder_node_is_copied_and_pasted_like_any_node(
    qtbot: Any, make_window: Any, registry: Any, tmp_path: Path
) -> None:
    """Ctrl+C, Ctrl+V of a placeholder pasted nothing and said nothing (the clipboard text was read without
    placeholders); the copy keeps its type and parameters, so Save writes it as the file gave it."""
    from PySide6.QtCore import QPointF

    data = file_with_a_missing_type(registry)
    path = tmp_path / "missing.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    window = make_window(path)
    window.canvas.select(["unet"])
    assert window.canvas.copy_selected()
    (pasted,) = window.canvas.paste(QPointF(900.0, 900.0))
    node = window.canvas.graph.nodes[pasted]
    assert node.spec.placeholder and node.position == (900.0, 900.0)
    assert window.files.write_file(path)
    saved = {n["id"]: n for n in json.loads(path.read_text(encoding="utf-8"))["nodes"]}
    original = next(n for n in data["nodes"] if n["id"] == "unet")
    assert saved[pasted]["type"] == original["type"] and saved[pasted]["params"] == original["params"]
