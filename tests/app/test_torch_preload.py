"""Issue 12: the editor is built without torch, which loads in the background; a Run pressed before it has
loaded waits for it (the status bar says so) and Stop drops such a waiting run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.app.running import controller as run_controller
from medical_imaging_framework.app.running import torch_preload
from medical_imaging_framework.app.running.torch_preload import CANCELLED_TEXT, LOADING_TEXT, TorchPreload
from tests.support.gui import wait_for_run

ROOT = Path(__file__).resolve().parents[2]

BUILD_WINDOW = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from medical_imaging_framework.app.window.main_window import MainWindow
from medical_imaging_framework.core.examples import resolve_pipeline_path
window = MainWindow(resolve_pipeline_path("segmentation_train.json"))
window.show()
app.processEvents()
print(len(window.canvas.graph.nodes), " ".join(sorted(m for m in ("torch", "monai") if m in sys.modules)) or "none")
"""


def test_the_main_window_with_the_default_pipeline_is_built_and_shown_without_torch(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}  # not the user's settings
    done = subprocess.run([sys.executable, "-c", BUILD_WINDOW], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    nodes, heavy = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(nodes) > 5
    assert heavy == "none", f"building the window imported {heavy}"


class HeldPreload:
    """The background import, replaced by a thread that ends only when the test says so."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.preload = TorchPreload()

    def start(self) -> None:
        self.preload.start()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldPreload]:
    """A fresh process preload (windows made after this wait for it) whose thread waits for ``release``."""
    held = HeldPreload()

    def preload_in_background(*_: Any) -> threading.Thread:
        thread = threading.Thread(target=held.release.wait, name="held-preload", daemon=True)
        thread.start()
        return thread

    monkeypatch.setattr(run_controller, "preload_in_background", preload_in_background)
    monkeypatch.setattr(torch_preload, "_PRELOAD", held.preload)
    yield held
    held.release.set()
    if held.preload.thread is not None:
        held.preload.thread.join(5)


def test_run_pressed_while_torch_loads_waits_says_so_and_starts_when_loaded(
    qtbot: Any, make_window: Any, tiny_file: Path, held: HeldPreload
) -> None:
    window = make_window(tiny_file, show=True)
    held.start()
    assert held.preload.pending and collector().active  # the GC guard is held around the preload thread
    assert window.run_pipeline()
    assert window.queued_run.active and not window.runner.running
    assert window.statusBar().currentMessage() == LOADING_TEXT
    assert not window.action_run.isEnabled() and window.action_stop.isEnabled()
    assert not window.run_pipeline(), "a second Run while one waits queues nothing more"
    with qtbot.waitSignal(window.runner.started, timeout=10_000):
        held.release.set()
    assert not window.queued_run.active
    assert window.statusBar().currentMessage().startswith("Running")
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done"
    assert window.action_run.isEnabled() and not window.action_stop.isEnabled()


def test_stop_while_torch_loads_cancels_the_waiting_run(
    qtbot: Any, make_window: Any, tiny_file: Path, held: HeldPreload
) -> None:
    window = make_window(tiny_file, show=True)
    held.start()
    assert window.run_pipeline() and window.queued_run.active
    window.stop_run()
    assert not window.queued_run.active
    assert window.statusBar().currentMessage() == CANCELLED_TEXT
    assert window.action_run.isEnabled() and not window.action_stop.isEnabled()
    with qtbot.waitSignal(held.preload.finished, timeout=10_000):
        held.release.set()
    assert not window.runner.running and window.runner.last_result is None  # the dropped run never started
