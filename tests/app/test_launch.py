"""`launch` (used by `mif gui`) and the light package import."""

from __future__ import annotations

import subprocess
import sys
import threading
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

    monkeypatch.setattr(torch_preload, "_PRELOAD", None)  # a fresh preload, not one an earlier test started
    preloads: list[bool] = []
    def fake_preload() -> threading.Thread:
        window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "main_window")
        preloads.append(window.isVisible())  # torch loads once the window is on screen (after its first paint)
        thread = threading.Thread(target=lambda: None)
        thread.start()
        return thread

    monkeypatch.setattr(run_controller, "preload_in_background", fake_preload)
    seen: dict[str, Any] = {}

    def inspect_and_close() -> None:
        if not preloads:
            QTimer.singleShot(50, inspect_and_close)
            return
        window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "main_window")
        seen["title"] = window.windowTitle()
        seen["visible"] = window.isVisible()
        seen["nodes"] = sorted(window.canvas.graph.nodes)
        window.close()

    QTimer.singleShot(200, inspect_and_close)
    assert launch(None) == 0
    assert seen["visible"] and seen["title"].startswith("segmentation_train.json")
    assert "trainer" in seen["nodes"] and "unet" in seen["nodes"]
    assert preloads == [True]
