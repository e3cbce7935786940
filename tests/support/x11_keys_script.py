"""Driven by `test_x11_keys`: under a real X server (Xvfb), ROUNDS times in one session, open the Trainer's
dialog, close it with a real Return key press (xdotool), then press F5 for real 0.3 s later; count the F5
presses that ran nothing. Exit 0 when none was missed, 1 otherwise.

Usage: ``python -m tests.support.x11_keys_script PIPELINE.json [ROUNDS]`` with ``DISPLAY`` and
``QT_QPA_PLATFORM=xcb``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tests.support.x11_driving import editor, when, xdotool

F5_DELAY_MS = 300  # as a user would, a moment after the dialog went
F5_PATIENCE_MS = 3000  # an F5 that triggered nothing in this time was lost


def main(pipeline: str, rounds: int) -> int:
    app, window = editor(pipeline)
    started: list[Any] = []

    def record_run(graph: Any) -> None:  # record the run instead of training; it "ends" at once
        started.append(graph)
        QTimer.singleShot(0, lambda: window._on_run_finished(None))

    window.runner.start = record_run
    triggered: list[int] = []
    window.action_run.triggered.connect(lambda *_: triggered.append(1))
    window.show()
    state: dict[str, Any] = {"round": 0, "missed": []}

    def open_dialog() -> None:
        xdotool("windowfocus", "--sync", str(int(window.winId())))
        state["dialog"] = window.open_param_dialog("trainer")
        state["closed"] = False
        state["dialog"].finished.connect(lambda _: state.__setitem__("closed", True))
        when(lambda: QApplication.focusWidget() is not None and QApplication.activeWindow() is state["dialog"],
             press_return, "the dialog to get the keyboard")

    def press_return() -> None:
        before = len(triggered)
        xdotool("key", "Return")
        if state["round"] % 2:  # the editor is busy (a loaded machine): F5 comes before Qt has seen Return
            time.sleep(F5_DELAY_MS / 1000)
            xdotool("key", "F5")
        else:  # the editor is idle: the dialog has closed when F5 comes
            when(lambda: state["closed"], lambda: QTimer.singleShot(F5_DELAY_MS, lambda: xdotool("key", "F5")),
                 "Return to close the dialog")
        when(lambda: len(triggered) > before, next_round, lambda: missed(before), patience=F5_PATIENCE_MS)

    def missed(before: int) -> None:
        focus = QApplication.focusWidget()
        state["missed"].append(f"round {state['round'] + 1}: active window {QApplication.activeWindow()!r}, "
                               f"focus {focus.objectName() if focus else None!r}")
        next_round()

    def next_round() -> None:
        state["round"] += 1
        if state["round"] < rounds:
            when(lambda: not window.runner.running and window.action_run.isEnabled(), open_dialog,
                 "the run to end")
            return
        when(lambda: bool(started), finish, "a run to start (it waits for PyTorch to load)", patience=60_000)

    def finish() -> None:
        print(f"F5 presses after the dialog closed: {rounds}; missed: {len(state['missed'])}")
        for line in state["missed"]:
            print(f"  missed {line}")
        print(f"runs started: {len(started)}")
        app.exit(1 if state["missed"] else 0)

    when(lambda: window.isVisible() and window.windowHandle() is not None and window.windowHandle().isExposed(),
         open_dialog, "the window to appear")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1))
