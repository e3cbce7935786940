"""Issue 21 point 3: after an evaluation run, a sortable per-case table; selecting a case shows its image with
the label and the prediction over it (class colours, opacity, a slice slider in 3D), next/previous case."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt

from medical_imaging_framework.app.widgets.image_view import class_rgb
from medical_imaging_framework.core import NodeRegistry
from tests.support.evaluation_runs import write_evaluated_pipeline
from tests.support.gui import wait_for_run


def _run(qtbot: Any, make_window: Any, registry: NodeRegistry, folder: Path, dims: int, names: str = "") -> Any:
    window = make_window(write_evaluated_pipeline(registry, folder, dims, names), show=True)
    assert window.run_pipeline()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done", window.runner.last_result.error
    return window


def _shown(qtbot: Any, panel: Any) -> Any:
    """The case viewer once the selected case has been read (off the GUI thread) and drawn."""
    qtbot.waitUntil(lambda: not panel.reading, timeout=10000)
    return panel.viewer


def _csv_rows(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "ckpt" / "evaluation.csv", encoding="utf-8") as handle:
        return {row["name"]: row for row in csv.DictReader(handle)}


def _same(shown: float, written: str) -> bool:
    value = float(written)
    return (math.isnan(shown) and math.isnan(value)) or shown == value


def _case_truth(window: Any, name: str) -> Any:
    """The case as the evaluation scored it, straight from the run's predictions (not through the viewer)."""
    return window.runner.last_result.outputs["evaluate"]["metrics"]["cases"].read(name)


def test_2d_table_equals_evaluation_csv_sorts_and_shows_each_case(qtbot: Any, make_window: Any,
                                                                  registry: NodeRegistry, tmp_path: Path) -> None:
    window = _run(qtbot, make_window, registry, tmp_path, 2, "background, disc, ring")
    panel = window.results
    table = panel.cases
    written = _csv_rows(tmp_path)
    assert sorted(table.names()) == sorted(name for name in written if name != "mean") and len(table.names()) == 3
    headers = [table.table.horizontalHeaderItem(c).text() for c in range(table.table.columnCount())]
    assert headers[:4] == ["case", "Dice disc", "Dice ring", "mean Dice"] and "HD95 ring" in headers
    for row, name in enumerate(table.names()):
        for key in ("dice_disc", "dice_ring", "dice", "hd95_disc", "hd95", "missed"):
            assert _same(table.value(row, key), written[name][key]), (name, key)
    assert "3 case(s) · mean: Dice disc " in table.mean.text()
    column = 1 + table.columns.index("dice")
    table.table.sortItems(column, Qt.SortOrder.DescendingOrder)
    shown = [table.value(row, "dice") for row in range(3)]
    assert shown == sorted(shown, reverse=True)
    assert table.names() == sorted(table.names(), key=lambda n: -float(written[n]["dice"]))
    table.table.sortItems(column, Qt.SortOrder.AscendingOrder)
    assert [table.value(row, "dice") for row in range(3)] == sorted(shown)

    table.select_row(1)
    name = table.current_name()
    truth = _case_truth(window, name)
    viewer = _shown(qtbot, panel)
    assert name in viewer.caption.text() and "disc" in viewer.caption.text()
    assert np.array_equal(viewer.image_item.image, truth.image), "the selected case's own image"
    filled = viewer.prediction_item.image
    assert filled.shape == (*truth.prediction.shape, 4)
    for value in np.unique(truth.prediction[truth.prediction > 0]):
        assert (filled[truth.prediction == value, :3] == class_rgb(int(value))).all()
    assert (filled[truth.prediction == 0, 3] == 0).all(), "background stays transparent"
    outline = viewer.label_item.image
    assert (outline[..., 3] > 0).any() and (outline[truth.label == 0, 3] == 0).all()
    assert (outline[..., 3] > 0).sum() < (truth.label > 0).sum(), "the label is outlined, not filled"
    viewer.opacity.setValue(20)
    assert viewer.prediction_item.opacity() == 0.2
    viewer.show_prediction.setChecked(False)
    assert viewer.prediction_item.image is None

    panel.next.click()
    assert table.table.currentRow() == 2 and f"<b>{table.current_name()}</b>" in _shown(qtbot, panel).caption.text()
    panel.previous.click()
    panel.previous.click()
    assert table.table.currentRow() == 0
    qtbot.keyClick(table.table, Qt.Key.Key_N)
    assert table.table.currentRow() == 1
    qtbot.keyClick(table.table, Qt.Key.Key_P)
    assert table.table.currentRow() == 0 and f"<b>{table.current_name()}</b>" in _shown(qtbot, panel).caption.text()


def test_3d_case_has_a_slice_slider_that_changes_the_shown_slice(qtbot: Any, make_window: Any,
                                                                registry: NodeRegistry, tmp_path: Path) -> None:
    window = _run(qtbot, make_window, registry, tmp_path, 3)
    panel = window.results
    table = panel.cases
    written = _csv_rows(tmp_path)
    assert sorted(table.names()) == sorted(name for name in written if name != "mean")
    for row, name in enumerate(table.names()):
        for key in ("dice", "hd95", "missed"):
            assert _same(table.value(row, key), written[name][key]), (name, key)
    assert table.current_name(), "the first case is shown when the run ends"
    table.select_row(2)
    truth = _case_truth(window, table.current_name())
    viewer = _shown(qtbot, panel)
    assert truth.label.ndim == 3 and viewer.slice_slider.isVisible()
    assert viewer.slice_slider.maximum() == truth.label.shape[2] - 1
    start = viewer.slice_slider.value()
    assert start == int(np.argmax((truth.label > 0).sum(axis=(0, 1)))), "opens where the label is largest"
    for index in (0, truth.label.shape[2] - 1):
        viewer.slice_slider.setValue(index)
        assert np.array_equal(viewer.image_item.image, truth.image[:, :, index])
        filled = viewer.prediction_item.image
        assert np.array_equal(filled[..., 3] > 0, truth.prediction[:, :, index] > 0)
        assert viewer.slice_label.text() == f"slice {index + 1} of {truth.label.shape[2]}"
    qtbot.keyClick(table.table, Qt.Key.Key_P)
    assert table.table.currentRow() == 1


def test_a_run_in_other_processes_fills_the_table_and_says_why_no_image(qtbot: Any) -> None:
    """Its outputs stayed in the child processes: the rows (from the event stream) show, n/a sorts last."""
    from medical_imaging_framework.app.window.results_dock import CHILD_TEXT, ResultsPanel
    from medical_imaging_framework.run.events import MetricsReported
    from medical_imaging_framework.run.executor import RunResult
    from medical_imaging_framework.run.status import RunStatus

    panel = ResultsPanel()
    qtbot.addWidget(panel)
    rows = ({"name": "a", "dice": 0.5, "hd95": math.inf, "missed": 1},
            {"name": "b", "dice": math.nan, "hd95": math.nan, "missed": 0},
            {"name": "c", "dice": 0.9, "hd95": 2.0, "missed": 0})
    panel.on_event(MetricsReported("evaluate", {"dice": 0.7, "hd95": math.inf, "missed": 1}, rows))
    panel.run_finished(RunResult(status=RunStatus.DONE))
    table = panel.cases
    assert table.current_name() == "a" and panel.viewer.caption.text() == CHILD_TEXT
    assert [table.table.item(row, 2).text() for row in range(3)] == ["inf", "n/a", "2.0000"]
    table.table.sortItems(1, Qt.SortOrder.AscendingOrder)
    assert table.names() == ["a", "c", "b"], "by Dice, n/a after every number"
    table.table.sortItems(2, Qt.SortOrder.AscendingOrder)
    assert table.names() == ["c", "a", "b"], "by HD95: 2 < inf, then n/a"
    assert table.mean.text() == "evaluate · 3 case(s) · mean: Dice 0.7000, HD95 inf, missed 1"
