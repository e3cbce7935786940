"""The status bar (issue 20 point 12): its messages have the room, and the progress bar forgets the last run."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QStatusBar

from medical_imaging_framework.core.examples import resolve_pipeline_path
from medical_imaging_framework.run.events import Progress, RunFinished


def message_room(bar: QStatusBar) -> int:
    """The width Qt paints the temporary message in: up to the first visible permanent widget."""
    lefts = [child.geometry().left() for child in bar.findChildren(object)
             if getattr(child, "objectName", lambda: "")() == "run_progress" and child.isVisible()]
    return min(lefts, default=bar.width()) - 8  # QStatusBar's own margin


def test_messages_fit_and_open_or_new_forget_the_last_runs_progress(qtbot: Any, make_window: Any,
                                                                    tiny_file: Any) -> None:
    window = make_window(tiny_file, show=True)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() <= 1100)
    window.on_event(Progress("trainer", 2, 2, 4, 4))
    window.on_event(RunFinished("done", 1.0))
    assert window.progress.isVisible() and window.progress.text().startswith("run finished")
    assert window.progress.width() <= 0.25 * window.statusBar().width()  # the messages keep most of the bar

    assert window.open_pipeline(resolve_pipeline_path("segmentation_train.json"))
    bar = window.statusBar()
    message = bar.currentMessage()
    assert message.startswith("Opened segmentation_train.json (a bundled example")
    assert not window.progress.isVisible() and window.progress.text() == "idle"  # nothing ran in this pipeline
    assert bar.fontMetrics().horizontalAdvance(message) <= message_room(bar)
    assert bar.toolTip() == message  # a longer one is whole on hover

    window.on_event(Progress("trainer", 1, 2, 1, 4))
    assert window.progress.isVisible()
    window.action_new.trigger()
    assert not window.progress.isVisible() and window.progress.text() == "idle"
