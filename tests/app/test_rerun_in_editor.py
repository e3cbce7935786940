"""Issue 21 as a whole in the editor: Run, change only the Predictor, Run again -- the training is reused, and
still the Report action, the Runs dock, the Results dock and the port summaries all show the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QTextDocument

from medical_imaging_framework.core import NodeRegistry
from tests.support.evaluation_runs import write_evaluated_pipeline
from tests.support.gui import wait_for_run, write_tiny_pipeline


def _run(qtbot: Any, window: Any) -> list[str]:
    before = len(window.log.lines())
    assert window.run_pipeline()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done", window.runner.last_result.error
    return window.log.lines()[before:]


def _tooltip(window: Any, node_id: str, port: str) -> str:
    shown = QTextDocument()
    shown.setHtml(window.canvas.canvas_node(node_id).outputs()[port].view.toolTip())
    return shown.toPlainText()


def test_a_run_that_reuses_the_training_fills_report_runs_results_and_ports(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIF_RUN_RECORDS", "1")
    monkeypatch.chdir(tmp_path / "..")  # the editor's current directory is not the pipeline's folder
    window = make_window(write_evaluated_pipeline(registry, tmp_path, 2), show=True)
    first = _run(qtbot, window)
    assert any(line.startswith("Epoch [") for line in first)
    window.canvas.set_config("predictor", {**window.canvas.graph.nodes["predictor"].config, "overlap": 0.5})
    second = _run(qtbot, window)
    assert not any(line.startswith("Epoch [") for line in second)
    assert any(line.startswith("reused: trainer (run ") for line in second)

    assert window.action_report.isEnabled(), "Report is on after a run that reused its training"
    assert window.report.folders == [tmp_path / "ckpt"]
    assert window.loss_plot.metrics_path == tmp_path / "ckpt" / "metrics.csv"  # the reused training's curve
    assert window.loss_plot.epochs == [1]

    window.runs.refresh_if_stale()
    panel = window.runs.panel
    texts = [panel.table.item(row, 3).text() for row in range(panel.table.rowCount())]
    assert any(text.startswith("1/1 (reused ") for text in texts), texts
    (reusing,) = [record for record in panel.records if record.reused]
    monkeypatch.setattr(window.report, "write", lambda: None)
    window.runs.act("report", [reusing])  # the dock's Open report on the reusing run: the training's folder
    assert window.report.folders == [tmp_path / "ckpt"]

    table = window.results.cases
    assert len(table.names()) == 3, "the Results dock fills after a reusing run"
    table.select_row(0)
    qtbot.waitUntil(lambda: not window.results.reading, timeout=10000)  # read off the GUI thread
    assert f"<b>{table.current_name()}</b>" in window.results.viewer.caption.text()

    assert window.runner.port_summaries, "port summaries after a reusing run"
    assert "Last run: reused from an earlier run" in _tooltip(window, "trainer", "model")
    assert "Last run: reused from an earlier run" in _tooltip(window, "phantoms", "dataset")
    assert "Last run: Predictions: 3 case(s)" in _tooltip(window, "predictor", "predictions")  # it ran
    assert window.canvas.state_text("trainer") == "done · reused"
    assert window.canvas.state_text("predictor").startswith("done · ") and "reused" not in \
        window.canvas.state_text("predictor")


def test_resuming_a_finished_training_shows_its_curve_though_no_epoch_runs(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    window = make_window(write_tiny_pipeline(registry, tmp_path), show=True)
    first = _run(qtbot, window)
    assert sum(line.startswith("Epoch [") for line in first) == 2
    curve = (list(window.loss_plot.epochs), list(window.loss_plot.losses))
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "resume_from": "last"})
    second = _run(qtbot, window)
    assert not any(line.startswith("Epoch [") for line in second), second
    assert (window.loss_plot.epochs, window.loss_plot.losses) == curve  # from the folder's metrics.csv
