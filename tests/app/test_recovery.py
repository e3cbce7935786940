"""Autosave and crash recovery (issue 20 point 18): a killed editor loses no edits; the next start offers them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from medical_imaging_framework.app.document import recovery
from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.core import NodeRegistry
from tests.support.gui import write_tiny_pipeline

SCRIPT = Path(__file__).resolve().parents[1] / "support" / "recovery_script.py"
ROOT = Path(__file__).resolve().parents[2]


def kill_after_autosave(pipeline: Path) -> Path:
    """Run an editor in a subprocess that edits ``pipeline``; SIGKILL it once its copy is on disk."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}  # XDG_DATA_HOME: this test's (conftest)
    child = subprocess.Popen([sys.executable, str(SCRIPT), str(pipeline), app_settings.ORGANIZATION], env=env,
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(90, child.kill)  # a child that never autosaves cannot hang the suite
    watchdog.start()
    try:
        line = child.stdout.readline() if child.stdout else ""
        os.kill(child.pid, signal.SIGKILL)
        _, errors = child.communicate(timeout=30)
    finally:
        watchdog.cancel()
    assert line.startswith("autosaved "), errors
    return Path(line.split(" ", 1)[1].strip())


def answer_when_asked(buttons: list[str], seen: list[str], answered: tuple[Any, ...] = ()) -> None:
    """Answer each recovery question as it shows with the next of ``buttons`` (the real box, clicked from a timer);
    its text goes to ``seen``."""
    box = next((w for w in QApplication.topLevelWidgets() if w.objectName() == "recovery_question"
                and w.isVisible() and all(w is not a for a in answered)), None)
    if box is not None:
        assert isinstance(box, QMessageBox)
        seen.append(box.text())
        answered, text = (*answered, box), buttons.pop(0)
        next(b for b in box.buttons() if b.text() == text).click()
    if buttons:
        QTimer.singleShot(20, lambda: answer_when_asked(buttons, seen, answered))


def test_an_editor_killed_after_an_edit_is_recovered_at_the_next_start(
    qtbot: Any, registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medical_imaging_framework.app.launch import launch
    from medical_imaging_framework.app.running import controller as run_controller
    from medical_imaging_framework.app.running import torch_preload

    pipeline = write_tiny_pipeline(registry, tmp_path)
    copy = kill_after_autosave(pipeline)
    assert copy.parent == recovery.recovery_folder() and copy.is_file()
    assert '"num_epochs": 7' in copy.read_text(encoding="utf-8")
    assert '"num_epochs": 7' not in pipeline.read_text(encoding="utf-8")  # the edit was never saved

    monkeypatch.setattr(torch_preload, "_PRELOAD", None)
    monkeypatch.setattr(run_controller, "preload_in_background", lambda *_: threading.Thread(target=lambda: None))
    asked: list[str] = []
    seen: dict[str, Any] = {}

    def inspect_and_close() -> None:
        window = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "main_window" and w.isVisible())
        if not asked or window.document.path != pipeline:
            QTimer.singleShot(50, inspect_and_close)
            return
        seen["epochs"] = window.canvas.graph.nodes["trainer"].config["num_epochs"]
        seen["modified"] = window.document.modified and window.isWindowModified()
        seen["copies"] = sorted(p.name for p in copy.parent.glob("*.json"))
        seen["own"] = window.autosave.file.name
        window.close()  # the unsaved question is answered Discard (conftest)

    QTimer.singleShot(0, lambda: answer_when_asked(["Recover"], asked))
    QTimer.singleShot(100, inspect_and_close)
    assert launch(None) == 0
    assert asked and asked[0].startswith(f"Recover unsaved changes of {pipeline.name} (edited ")
    assert seen["epochs"] == 7 and seen["modified"]
    assert seen["copies"] == [seen["own"]]  # the dead editor's copy became this editor's
    assert not list(copy.parent.glob("*.json"))  # closed on purpose: nothing left to recover


def test_the_copy_follows_the_modified_state_and_goes_on_save_and_close(
    qtbot: Any, make_window: Any, tiny_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "AUTOSAVE_DELAY_MS", 0)
    window = make_window(tiny_file, show=True)
    copy = window.autosave.file
    window.canvas.set_config("trainer", dict(window.canvas.graph.nodes["trainer"].config, num_epochs=5))
    qtbot.waitUntil(copy.is_file)
    assert recovery.pending_recoveries() == []  # this editor is alive: nothing to offer
    window.canvas.undo()  # back to the saved state: nothing to recover
    qtbot.waitUntil(lambda: not copy.exists())
    window.canvas.redo()
    qtbot.waitUntil(copy.is_file)
    assert window.files.save()
    assert not copy.exists() and not copy.with_suffix(".lock").exists()
    window.canvas.set_config("trainer", dict(window.canvas.graph.nodes["trainer"].config, num_epochs=6))
    qtbot.waitUntil(copy.is_file)
    window.close()  # Discard (conftest)
    assert not copy.exists()


def test_discard_removes_the_copy_and_later_keeps_it(
    qtbot: Any, make_window: Any, tiny_file: Path, registry: NodeRegistry
) -> None:
    from medical_imaging_framework.app.window.windows import offer_recoveries

    folder = recovery.recovery_folder()
    folder.mkdir(parents=True)
    for name in ("1-1.json", "2-1.json"):
        (folder / name).write_text(tiny_file.read_text(encoding="utf-8"), encoding="utf-8")
    window = make_window(tiny_file, show=True)
    asked: list[str] = []
    QTimer.singleShot(0, lambda: answer_when_asked(["Discard", "Later"], asked))
    assert offer_recoveries(window) == 0
    assert len(asked) == 2 and "untitled.json" in asked[0]  # no "recovery" entry: a pipeline never saved
    assert sorted(p.name for p in folder.glob("*.json")) == ["2-1.json"]


def test_a_recovered_pipeline_keeps_the_file_opened_at_start_and_an_example_is_saved_as_a_copy(
    qtbot: Any, make_window: Any, tiny_file: Path, registry: NodeRegistry
) -> None:
    """`mif gui tiny.json` with a recovery pending: tiny.json stays in its window and the recovered pipeline opens
    in another (it replaced tiny.json before); a recovered bundled example says Save asks where (Save As)."""
    import json

    from medical_imaging_framework.app.window.windows import offer_recoveries, open_windows
    from medical_imaging_framework.core.examples import resolve_pipeline_path

    example = resolve_pipeline_path("segmentation_train.json")
    folder = recovery.recovery_folder()
    folder.mkdir(parents=True)
    data = json.loads(example.read_text(encoding="utf-8"))
    data[recovery.RECOVERY_KEY] = {"path": str(example), "pid": 0, "saved_at": 1.0}
    (folder / "1-1.json").write_text(json.dumps(data), encoding="utf-8")
    window = make_window(tiny_file, show=True)
    asked: list[str] = []
    QTimer.singleShot(0, lambda: answer_when_asked(["Recover"], asked))
    assert offer_recoveries(window) == 1
    assert window.document.path == tiny_file and not window.document.modified
    recovered = next(w for w in open_windows() if w is not window)
    assert recovered.document.path == example and recovered.document.modified and recovered.document.bundled
    assert "Save asks where to keep them" in recovered.statusBar().currentMessage()
    recovered.close()  # Discard (conftest)
