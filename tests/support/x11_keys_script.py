"""Driven by `test_x11_keys`: under a real X server (Xvfb), close the Trainer's dialog with a real Return
key press (xdotool), then press F5 for real; exit 0 when the run started, 1 otherwise.

Usage: ``python tests/support/x11_keys_script.py PIPELINE.json`` with ``DISPLAY`` and ``QT_QPA_PLATFORM=xcb``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from medical_imaging_framework.app.window.main_window import MainWindow
from medical_imaging_framework.core import NodeRegistry

POLL_MS, PATIENCE_MS = 50, 8000


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def when(condition: Callable[[], bool], then: Callable[[], None], fail: str, waited: int = 0) -> None:
    """Call ``then`` once ``condition`` holds (checked every POLL_MS while Qt runs); give up after PATIENCE_MS."""
    if condition():
        then()
    elif waited > PATIENCE_MS:
        print(f"gave up waiting: {fail}")
        QApplication.instance().exit(1)
    else:
        QTimer.singleShot(POLL_MS, lambda: when(condition, then, fail, waited + POLL_MS))


def main(pipeline: str) -> int:
    app = QApplication(sys.argv[:1])

    def stop_on_error(*error: Any) -> None:
        sys.__excepthook__(*error)
        app.exit(2)

    sys.excepthook = stop_on_error
    window = MainWindow(pipeline, registry=NodeRegistry())
    started: list[Any] = []
    window.runner.start = started.append  # record the run instead of training
    window.show()
    state: dict[str, Any] = {}

    def open_dialog() -> None:
        xdotool("windowfocus", "--sync", str(int(window.winId())))
        state["dialog"] = window.open_param_dialog("trainer")
        state["closed"] = False
        state["dialog"].finished.connect(lambda _: state.__setitem__("closed", True))
        when(lambda: QApplication.focusWidget() is not None and QApplication.activeWindow() is state["dialog"],
             press_return, "the dialog to get the keyboard")

    def press_return() -> None:
        xdotool("key", "Return")
        when(lambda: state["closed"], press_f5, "Return to close the dialog")

    def press_f5() -> None:
        QTimer.singleShot(300, lambda: xdotool("key", "F5"))  # as a user would, a moment after the dialog went
        when(lambda: bool(started), finish, "F5 to start the run")

    def finish() -> None:
        print(f"run started by F5 after the dialog closed: {len(started)}")
        app.exit(0)

    when(lambda: window.isVisible() and window.windowHandle() is not None and window.windowHandle().isExposed(),
         open_dialog, "the window to appear")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
