"""GUI fixtures: a main window on a tiny pipeline, auto-answered message boxes, no thread left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from medical_imaging_framework.core import NodeRegistry
from tests.support.gui import MessageBoxes, write_tiny_pipeline


@pytest.fixture(autouse=True)
def message_boxes(monkeypatch: pytest.MonkeyPatch) -> MessageBoxes:
    """No modal box ever blocks a test: each call is recorded and answered at once."""
    boxes = MessageBoxes()

    def recorder(kind: str) -> Any:
        def show(parent: Any, title: str, text: str, *args: Any, **kwargs: Any) -> Any:
            boxes.shown.append((kind, title, text))
            return boxes.answer if kind == "question" else QMessageBox.StandardButton.Ok
        return staticmethod(show)

    for kind in ("question", "critical", "warning", "information"):
        monkeypatch.setattr(QMessageBox, kind, recorder(kind))
    return boxes


@pytest.fixture
def tiny_file(registry: NodeRegistry, tmp_path: Path) -> Path:
    """A tiny two-epoch pipeline file in ``tmp_path`` saving a checkpoint every epoch."""
    return write_tiny_pipeline(registry, tmp_path)


@pytest.fixture
def make_window(qtbot: Any, registry: NodeRegistry) -> Iterator[Any]:
    """Factory of main windows; every window's run thread is stopped and finished at teardown."""
    from medical_imaging_framework.app.window.main_window import MainWindow

    windows: list[Any] = []

    def make(path: Path | None = None, show: bool = False) -> Any:
        window = MainWindow(path, registry=registry)
        qtbot.addWidget(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.runner.running:
            window.runner.stop()
            window.runner.wait()
            qtbot.waitUntil(lambda w=window: not w.runner.running, timeout=10000)
        assert window.runner.thread is None


@pytest.fixture
def window(make_window: Any, tiny_file: Path) -> Any:
    """A shown main window holding the tiny pipeline."""
    return make_window(tiny_file, show=True)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every GUI test reads and writes QSettings in a fresh temporary folder, never the user's settings."""
    from PySide6.QtCore import QSettings

    from medical_imaging_framework.app.document import settings as app_settings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    monkeypatch.setattr(app_settings, "ORGANIZATION", "mif-tests")
    return folder


@pytest.fixture(autouse=True)
def isolated_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every GUI test keeps autosaved (recovery) copies in a fresh ``XDG_DATA_HOME``, never the user's."""
    folder = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


@pytest.fixture(autouse=True)
def checkpoint_folder_questions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The modal "checkpoint folder already used" question is answered Overwrite (its files are moved
    aside, then the run starts), as the seed's runs simply wrote over them; each question is recorded."""
    from medical_imaging_framework.app.running import guard as run_guard

    asked: list[Any] = []

    def overwrite(parent: Any, used: list[Any], complete: bool = False) -> Any:
        asked.append(used)
        return run_guard.Choice.OVERWRITE

    monkeypatch.setattr(run_guard, "ask", overwrite)
    return asked
