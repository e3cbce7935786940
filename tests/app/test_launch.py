"""`launch` (used by `mif gui`) and the light package import."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication


def test_importing_the_package_loads_no_qt() -> None:
    code = (
        "import sys, medical_imaging_framework.app as a; "
        "print(sorted(m for m in ('PySide6', 'NodeGraphQt', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_launch_opens_the_default_pipeline_and_returns_the_exit_code(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medical_imaging_framework.app.launch import launch
    from medical_imaging_framework.app.running import controller as run_controller
    from medical_imaging_framework.app.running import torch_preload
    from medical_imaging_framework.app.widgets.deferred import PANEL_MODULES
    from medical_imaging_framework.app.window import main_window

    monkeypatch.setattr(torch_preload, "_PRELOAD", None)  # a fresh preload, not one an earlier test started
    collecting_while_built: list[bool] = []

    class RecordingWindow(main_window.MainWindow):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            collecting_while_built.append(gc.isenabled())
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(main_window, "MainWindow", RecordingWindow)
    preloads: list[tuple[bool, bool, bool]] = []
    firsts: list[tuple[str, ...]] = []

    def fake_preload(first: tuple[str, ...], first_done: Any) -> threading.Thread:
        window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "main_window")
        # torch loads once the window is on screen (after its first paint) and its canvas is built, with garbage
        # collection back on; the plot panels wait for their modules, which the import thread brings first
        preloads.append((window.isVisible(), gc.isenabled(), window.canvas_built, window.loss_plot.built))
        firsts.append(first)
        thread = threading.Thread(target=first_done)
        thread.start()
        return thread

    monkeypatch.setattr(run_controller, "preload_in_background", fake_preload)
    seen: dict[str, Any] = {}

    tries: list[int] = []

    def inspect_and_close() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "main_window")
        tries.append(1)
        if (not preloads or not window.results.viewer.built) and len(tries) < 400:  # 20 s at most
            QTimer.singleShot(50, inspect_and_close)
            return
        seen["title"] = window.windowTitle()
        seen["visible"] = window.isVisible()
        seen["nodes"] = sorted(window.canvas.graph.nodes)
        seen["panels"] = (window.loss_plot.built, window.image_viewer.built, window.results.viewer.built)
        window.close()

    QTimer.singleShot(200, inspect_and_close)
    assert launch(None) == 0
    assert seen["visible"] and seen["title"].startswith("segmentation_train.json")
    assert "trainer" in seen["nodes"] and "unet" in seen["nodes"]
    assert preloads == [(True, True, True, False)]
    assert firsts == [PANEL_MODULES]
    assert seen["panels"] == (True, True, True), "built on the GUI thread once the import thread had their modules"
    assert collecting_while_built == [False], "no garbage collection while the window is built"
    assert gc.isenabled()


# `mif gui` in a fresh process: at the window's first paint, which heavy modules were imported; then the canvas
# side is built (as right after that paint) and what Qt.py holds is printed (then exit at once).
FIRST_PAINT_CHILD = r"""
import os, sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            heavy = ("torch", "monai", "numpy", "pyqtgraph", "scipy", "setuptools", "PySide6.QtNetwork",
                     "PySide6.QtQml", "PySide6.QtSql", "medical_imaging_framework.cli.commands",
                     "medical_imaging_framework.run.session", "subprocess", "NodeGraphQt", "Qt",
                     "medical_imaging_framework.app.canvas.adapter", "importlib.metadata")
            print("loaded at first paint:", sorted(name for name in heavy if name in sys.modules), flush=True)
            window = next(w for w in app.topLevelWidgets() if w.objectName() == "main_window")
            print("canvas built at first paint:", window.canvas_built, flush=True)
            window.build_canvas()
            import Qt
            print("Qt.py modules:", sorted(Qt.__all__), flush=True)
            print("Qt.py copied members:", len(vars(Qt.QtWidgets)) < 100, flush=True)
            print("nodes:", len(window.canvas.graph.nodes), flush=True)
            os._exit(0)
        return False

probe = FirstPaint()
app.installEventFilter(probe)
from medical_imaging_framework.cli.main import main
main(["gui"])
"""


def test_the_first_paint_needs_no_torch_numpy_pyqtgraph_or_node_graph(tmp_path: Path) -> None:
    """What `mif gui` imports before it paints is what its first paint waits for: the canvas side (NodeGraphQt)
    and the plots come after, the command-line runner never, and Qt.py loads only the Qt modules NodeGraphQt uses
    and copies no member up front (app/qt/imports.py)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", FIRST_PAINT_CHILD], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300, check=False)
    assert "loaded at first paint: []" in done.stdout, (done.stdout, done.stderr[-2000:])
    assert "canvas built at first paint: False" in done.stdout, done.stdout
    assert "Qt.py modules: ['QtCompat', 'QtCore', 'QtGui', 'QtSvg', 'QtWidgets']" in done.stdout, done.stdout
    assert "Qt.py copied members: True" in done.stdout, done.stdout
    assert "nodes: 8" in done.stdout, "the default pipeline is on the canvas once it is built"
