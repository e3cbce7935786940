"""What the real-X scripts share (`x11_keys_script`, `x11_canvas_script`): xdotool, waiting while Qt runs, and an
editor whose uncaught errors end the script with exit 2."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from medical_imaging_framework.app.window.main_window import MainWindow
from medical_imaging_framework.core import NodeRegistry

POLL_MS, PATIENCE_MS = 20, 8000


def xdotool(*args: str) -> None:
    """Run ``xdotool`` with ``args`` (real X events), failing on an error."""
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def when(condition: Callable[[], bool], then: Callable[[], None], fail: Callable[[], None] | str,
         waited: int = 0, patience: int = PATIENCE_MS) -> None:
    """Call ``then`` once ``condition`` holds (checked every POLL_MS while Qt runs); after ``patience`` ms call
    ``fail`` (or print it and exit 1)."""
    if condition():
        then()
    elif waited > patience:
        if callable(fail):
            fail()
        else:
            print(f"gave up waiting: {fail}")
            QApplication.instance().exit(1)
    else:
        QTimer.singleShot(POLL_MS, lambda: when(condition, then, fail, waited + POLL_MS, patience))


def editor(pipeline: str) -> tuple[QApplication, MainWindow]:
    """The application and an editor window on ``pipeline``; an uncaught error ends the event loop with 2.

    Args:
        pipeline: the pipeline file to open.
    """
    app = QApplication(sys.argv[:1])

    def stop_on_error(*error: Any) -> None:
        sys.__excepthook__(*error)
        app.exit(2)

    sys.excepthook = stop_on_error
    return app, MainWindow(pipeline, registry=NodeRegistry())
