"""Log pane, checkpoints panel, loss plot, progress bar and image view, driven by core events."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest

from medical_imaging_framework.app.widgets.image_view import ImageViewer
from medical_imaging_framework.app.widgets.panels import CheckpointsPanel, LogPane, RunProgress
from medical_imaging_framework.run.events import (
    CheckpointSaved,
    CheckpointsConfigured,
    EpochEnded,
    Progress,
    SampleAvailable,
)
from tests.support.gui import wait_for_run


def test_log_follows_new_lines_unless_scrolled_up_and_can_be_copied_and_cleared(qtbot: Any) -> None:
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.resize(400, 150)
    pane.show()
    for index in range(200):
        pane.append(f"line {index}")
    bar = pane.text.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    bar.setValue(10)
    pane.append("one more")
    assert bar.value() == 10
    qtbot.mouseClick(pane.findChild(object, "log_copy"), Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text().splitlines()[-1] == "one more"
    qtbot.mouseClick(pane.findChild(object, "log_clear"), Qt.MouseButton.LeftButton)
    assert pane.lines() == []


def test_log_follows_again_once_scrolled_back_to_the_bottom_and_wraps_long_lines(qtbot: Any) -> None:
    """Issue 20 point 8: one scroll up stopped the following for good; long error lines ran off to the right."""
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.resize(400, 150)
    pane.show()
    qtbot.waitExposed(pane)
    bar = pane.text.verticalScrollBar()
    for index in range(100):
        pane.append(f"line {index}")
    bar.setValue(10)  # the user scrolls up: the view stays where they put it
    pane.append("one more")
    qtbot.wait(1)
    assert bar.value() == 10
    bar.setValue(bar.maximum())  # ... and back down: it follows again, also past lines laid out later
    for index in range(30):
        pane.append(f"✗ Node 'trainer' failed: {'x' * 300} in /data/{'deep/' * 40}file_{index}.nii.gz")
        qtbot.wait(1)
        assert bar.value() == bar.maximum() > 10
    assert pane.text.horizontalScrollBar().maximum() == 0  # wrapped: nothing to scroll sideways
    assert pane.text.document().lastBlock().layout().lineCount() > 1


def test_each_run_starts_with_a_separator_and_brings_the_log_back_into_view(qtbot: Any) -> None:
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.resize(400, 150)
    pane.show()
    for index in range(100):
        pane.append(f"line {index}")
    bar = pane.text.verticalScrollBar()
    bar.setValue(0)
    when = datetime(2026, 12, 3, 14, 2, 11)
    assert pane.begin_run("in this window", when) == "── Run 1 · 14:02:11 · in this window ──"
    assert pane.begin_run("in a separate process", when) == "── Run 2 · 14:02:11 · in a separate process ──"
    pane.append("Epoch [1/2], Loss: 0.5")
    qtbot.wait(1)
    assert bar.value() == bar.maximum()
    assert pane.lines()[-3:-1] == ["── Run 1 · 14:02:11 · in this window ──",
                                   "── Run 2 · 14:02:11 · in a separate process ──"]


def test_checkpoint_rows_and_double_click_copies_the_path(qtbot: Any, tmp_path: Path) -> None:
    panel = CheckpointsPanel(open_folders=False)
    qtbot.addWidget(panel)
    copied: list[str] = []
    panel.path_copied.connect(copied.append)
    path = tmp_path / "checkpoint_epoch_5.pt"
    panel.add_checkpoint(CheckpointSaved("trainer", "periodic", str(path), 5, 0.123456))
    panel.add_checkpoint(CheckpointSaved("trainer", "best", str(tmp_path / "best_model.pt"), 5, 0.1))
    assert [panel.item(0, c).text() for c in range(4)] == ["periodic", "5", "0.1235", "checkpoint_epoch_5.pt"]
    assert panel.item(1, 0).text() == "best"
    panel.cellDoubleClicked.emit(0, 1)
    assert copied == [str(path.resolve())]
    assert QGuiApplication.clipboard().text() == str(path.resolve())


def test_progress_bar_shows_epoch_and_batch(qtbot: Any) -> None:
    bar = RunProgress()
    qtbot.addWidget(bar)
    bar.show_progress(Progress("trainer", 3, 20, 5, 10))
    assert bar.text() == "epoch 3/20 · batch 5/10"
    assert bar.value() == 125


def test_image_viewer_overlays_label_and_prediction_with_slices(qtbot: Any) -> None:
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    image = np.random.default_rng(0).random((1, 16, 16, 8), dtype=np.float32)
    label = np.zeros((1, 16, 16, 8), dtype=np.float32)
    label[0, 4:8, 4:8, :] = 1
    prediction = np.full((1, 16, 16, 8), -3.0, dtype=np.float32)
    prediction[0, 10:12, 10:12, 2] = 4.0
    viewer.show_sample(image, label, prediction, "sample")
    assert not viewer.slice_slider.isHidden() and viewer.slice_slider.maximum() == 7
    assert viewer.overlay_choice.currentText() == "Prediction"
    viewer.slice_slider.setValue(2)
    overlay = viewer.overlay_item.image
    assert overlay[10, 10, 3] == 255 and overlay[0, 0, 3] == 0
    viewer.overlay_choice.setCurrentText("Label")
    assert viewer.overlay_item.image[5, 5, 3] == 255 and viewer.overlay_item.image[10, 10, 3] == 0
    viewer.opacity.setValue(20)
    assert abs(viewer.overlay_item.opacity() - 0.2) < 1e-6
    viewer.show_sample(image[..., 0], label[..., 0])
    assert viewer.slice_slider.isHidden()


def test_events_drive_plot_checkpoints_and_viewer(qtbot: Any, window: Any, tmp_path: Path) -> None:
    window.on_event(EpochEnded("trainer", 1, 3, 0.9, 0.8))
    window.on_event(EpochEnded("trainer", 2, 3, 0.7, 0.75))
    assert window.loss_plot.losses == [0.9, 0.7] and window.loss_plot.val_losses == [0.8, 0.75]
    assert window.log.lines() == ["Epoch [1/3], Loss: 0.9000, Val Loss: 0.8000",
                                  "Epoch [2/3], Loss: 0.7000, Val Loss: 0.7500"]
    window.on_event(CheckpointSaved("trainer", "periodic", str(tmp_path / "checkpoint_epoch_2.pt"), 2, 0.75))
    assert window.checkpoints.rowCount() == 1
    assert window.log.lines()[-1] == "  ✓ Saved checkpoint: checkpoint_epoch_2.pt"
    window.on_event(SampleAvailable("predictor", np.zeros((1, 8, 8)), None, np.ones((1, 8, 8))))
    assert window.image_viewer.caption.text() == "sample from predictor"


def test_selecting_a_data_node_after_a_run_shows_its_sample(qtbot: Any, window: Any) -> None:
    assert not window.show_node_sample("train_loader")
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    item = window.canvas.canvas_node("train_loader").view
    viewer = window.node_graph.viewer()
    body = QPointF(item.boundingRect().center().x(), item.boundingRect().bottom() - 10)
    point = viewer.mapFromScene(item.mapToScene(body))
    QTest.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
    qtbot.waitUntil(lambda: window.image_viewer.image is not None)
    assert window.image_viewer.caption.text().startswith("train_loader.loader: item 0 of ")
    assert window.image_viewer.image.shape == (32, 32)
    assert window.image_viewer.masks["Label"] is not None


def test_after_a_run_in_a_separate_process_a_data_node_still_shows_its_sample(
    qtbot: Any, window: Any, monkeypatch: Any
) -> None:
    """The child's datasets stayed in the child: the node's part of the pipeline is rebuilt here, in the background."""
    from medical_imaging_framework.app.running.modes import RUN_MODES, apply_run_mode

    apply_run_mode(window.runner, next(mode for mode in RUN_MODES if mode.name == "process"))
    window.action_run.trigger()
    assert window.runner.process_run is not None
    wait_for_run(qtbot, window, timeout=240_000)
    assert window.runner.last_result.status == "done" and window.runner.last_result.outputs == {}
    assert not window.data_outputs.can_rebuild("trainer"), "never a Trainer: only data nodes are rebuilt"
    built: list[str] = []
    real_upstream = window.runner.session.upstream
    monkeypatch.setattr(window.runner.session, "upstream", lambda node_id: built.append(node_id) or real_upstream(
        node_id))
    assert window.show_node_sample("train_loader")  # rebuilding: the sample follows
    qtbot.waitUntil(lambda: window.image_viewer.image is not None, timeout=60_000)
    assert window.image_viewer.caption.text().startswith("train_loader.loader: item 0 of ")
    assert window.image_viewer.image.shape == (32, 32) and window.image_viewer.masks["Label"] is not None
    assert built == ["train_loader"]
    assert window.show_node_sample("phantoms") and built == ["train_loader"], "rebuilt once with its upstream"


def test_the_loss_plot_draws_the_whole_run_from_its_metrics_csv(qtbot: Any, window: Any, tmp_path: Path) -> None:
    """Issue 20 point 9: after Resume the plot showed epochs 3-4 of 1-4 (only what this window saw)."""
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "metrics.csv").write_text("epoch,train_loss,val_loss,lr,seconds\n1,0.9,0.8,0.001,1.0\n"
                                        "2,0.7,,0.001,1.0\n3,0.6,0.65,0.001,1.0\n", encoding="utf-8")
    window.on_event(CheckpointsConfigured("trainer", str(folder)))
    window.on_event(EpochEnded("trainer", 3, 4, 0.6, 0.65))
    window.on_event(EpochEnded("trainer", 4, 4, 0.5, 0.55))  # its row is not written yet: the event draws it
    plot = window.loss_plot
    assert plot.epochs == [1, 2, 3, 4] and plot.losses == [0.9, 0.7, 0.6, 0.5]
    assert plot.val_epochs == [1, 3, 4] and plot.val_losses == [0.8, 0.65, 0.55]
    x, _ = plot.train_curve.getData()
    assert list(x) == [1, 2, 3, 4]


def test_the_loss_plot_fits_a_new_document_and_ticks_whole_epochs_only(qtbot: Any, window: Any,
                                                                        tiny_file: Path) -> None:
    plot = window.loss_plot
    for epoch in range(1, 41):
        window.on_event(EpochEnded("trainer", epoch, 40, 100.0 + epoch))
    plot.setXRange(30, 40)  # the user zoomed in (this turns pyqtgraph's auto range off)
    assert window.open_pipeline(tiny_file)
    window.on_event(EpochEnded("trainer", 1, 2, 0.5))
    window.on_event(EpochEnded("trainer", 2, 2, 0.4))
    plot.plotItem.vb.updateAutoRange()
    (x_low, x_high), (_, y_high) = plot.viewRange()
    assert x_low <= 1 and 2 <= x_high < 5 and y_high < 1, plot.viewRange()
    for low, high in ((1.0, 2.0), (0.6, 2.4), (1.0, 4.0), (0.0, 37.0)):
        ticks = [value for _, values in plot.getAxis("bottom").tickValues(low, high, 300) for value in values]
        assert ticks and all(float(value).is_integer() for value in ticks), (low, high, ticks)
