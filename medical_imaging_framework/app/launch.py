"""`mif gui`: open the editor on a pipeline and run Qt's event loop (the window first, torch after it paints)."""

from __future__ import annotations

import gc
import sys

DEFAULT_PIPELINE = "segmentation_train.json"

__all__ = ["DEFAULT_PIPELINE", "launch"]


def launch(pipeline_path: str | None = None) -> int:
    """Open the editor with ``pipeline_path`` (the bundled default pipeline when None); run the event loop.

    Args:
        pipeline_path: a pipeline file, or the name of a bundled example.

    Returns:
        the application's exit code.
    """
    # No cyclic garbage collection until the window has painted: the start allocates objects that all stay alive,
    # and the ~100 collections it would trigger (0.03 s of CPU) find nothing to free.
    gc.disable()
    try:
        return _open_and_run(pipeline_path)
    finally:
        gc.enable()  # also when the window closed (or failed) before it painted


def _open_and_run(pipeline_path: str | None) -> int:
    from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from medical_imaging_framework.app.qt.runtime import signal_reference_fault
    from medical_imaging_framework.app.running.torch_preload import after_first_paint, torch_preload
    from medical_imaging_framework.app.widgets.deferred import PANEL_MODULES
    from medical_imaging_framework.app.window.main_window import MainWindow
    from medical_imaging_framework.app.window.windows import offer_recoveries
    from medical_imaging_framework.core.examples import resolve_pipeline_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    fault = signal_reference_fault()
    if fault is not None:
        print(f"Cannot open the editor: {fault}", file=sys.stderr)
        return 2
    app.setApplicationName("Medical Imaging Framework")
    # The window's frame (menus, toolbar, docks) is painted first; right after that paint the GUI thread builds the
    # canvas side (NodeGraphQt, the palette, the pipeline: app/window/canvas_side.py). No torch is needed for
    # either (node specs are plain data). Then a background thread imports the plot panels' modules (pyqtgraph,
    # numpy), which the GUI thread then builds, and torch after them.
    window = MainWindow(resolve_pipeline_path(pipeline_path or DEFAULT_PIPELINE), canvas_after_paint=True)
    preload = torch_preload()
    window.panels_follow_preload = True
    preload.first_imported.connect(window.build_panels, Qt.ConnectionType.QueuedConnection)
    preload.finished.connect(window.build_panels)  # should the first part never report

    def after_paint() -> None:
        window.build_canvas()
        gc.enable()
        preload.start(PANEL_MODULES)
        QTimer.singleShot(0, lambda: offer_recoveries(window))  # pipelines a crashed editor left unsaved

    after_first_paint(window, after_paint)
    window.show()
    code = app.exec()
    # destroy the window (and its run thread objects) while Qt is still up, not in interpreter shutdown
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return code
