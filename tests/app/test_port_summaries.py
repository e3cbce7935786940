"""Issue 21 point 3 (ports): after a run in the editor, an output port's tooltip summarises what it held -- a
dataset's length and first item, a model's class and parameter count, a sample image -- made once at the end
of the run on its thread, keeping no tensor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtGui import QTextDocument

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.tools.port_summary import THUMBNAIL, PortSummary
from tests.support.evaluation_runs import write_evaluated_pipeline
from tests.support.gui import wait_for_run


def _tooltip_text(window: Any, node_id: str, port: str) -> str:
    tip = window.canvas.canvas_node(node_id).outputs()[port].view.toolTip()
    shown = QTextDocument()
    shown.setHtml(tip)
    return shown.toPlainText()


def test_output_ports_summarise_the_finished_run(qtbot: Any, make_window: Any, registry: NodeRegistry,
                                                 tmp_path: Path) -> None:
    window = make_window(write_evaluated_pipeline(registry, tmp_path, 2))
    assert "Last run" not in _tooltip_text(window, "phantoms", "dataset")
    assert window.run_pipeline()
    wait_for_run(qtbot, window)
    result = window.runner.last_result
    assert result.status == "done", result.error
    summaries = window.runner.port_summaries
    assert set(summaries) == {(node, port) for node, ports in result.outputs.items() for port in ports}
    for summary in summaries.values():  # small: text and a uint8 thumbnail, never a tensor
        assert isinstance(summary, PortSummary) and isinstance(summary.text, str)
        assert summary.thumbnail is None or (summary.thumbnail.dtype == np.uint8
                                             and max(summary.thumbnail.shape) <= THUMBNAIL)

    phantoms = _tooltip_text(window, "phantoms", "dataset")
    assert phantoms.startswith("dataset: Dataset") and "Last run: " in phantoms
    assert "6 item(s)" in phantoms and "image: (1, 16, 16) float32" in phantoms
    assert "<img" in window.canvas.canvas_node("phantoms").outputs()["dataset"].view.toolTip(), "a sample image"
    assert summaries[("phantoms", "dataset")].thumbnail.shape == (16, 16)
    assert "3 item(s)" in _tooltip_text(window, "split", "val")
    assert "DataLoader: 2 batch(es) of 2" in _tooltip_text(window, "val_loader", "loader")
    model = result.outputs["trainer"]["model"]
    count = sum(p.numel() for p in model.parameters())
    assert f"{type(model).__name__}: {count:,} parameter(s)" in _tooltip_text(window, "trainer", "model")
    assert "Predictions: 3 case(s), 2 classes" in _tooltip_text(window, "predictor", "predictions")
    assert "Metrics over 3 case(s)" in _tooltip_text(window, "evaluate", "metrics")
