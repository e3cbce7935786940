"""The Checkpoints panel: one row per file, updated in place; "Open folder" failures reach the status bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QDesktopServices

from medical_imaging_framework.run.events import CheckpointSaved


def rows(panel: Any) -> list[list[str]]:
    return [[panel.item(row, column).text() for column in range(4)] for row in range(panel.rowCount())]


def test_a_replaced_file_updates_its_row(qtbot: Any, window: Any, tmp_path: Path) -> None:
    best = str(tmp_path / "best_model.pt")
    window.on_event(CheckpointSaved("trainer", "best", best, 1, 0.9))
    window.on_event(CheckpointSaved("trainer", "periodic", str(tmp_path / "checkpoint_epoch_2.pt"), 2, 0.8))
    window.on_event(CheckpointSaved("trainer", "best", best, 2, 0.8))
    window.on_event(CheckpointSaved("trainer", "best", best, 3, 0.7))
    assert rows(window.checkpoints) == [["best", "3", "0.7000", "best_model.pt"],
                                        ["periodic", "2", "0.8000", "checkpoint_epoch_2.pt"]]


def test_open_folder_without_a_file_manager_says_so_in_the_status_bar(
    qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []

    def no_launcher(url: Any) -> bool:
        opened.append(url.toLocalFile())
        return False

    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(no_launcher))
    window.on_event(CheckpointSaved("trainer", "final", str(tmp_path / "final_model.pt"), 2, 0.5))
    window.checkpoints.selectRow(0)
    window.checkpoints.action_open_folder.trigger()
    assert opened == [str(tmp_path.resolve())]
    message = window.statusBar().currentMessage()
    assert message.startswith(f"Could not open {tmp_path.resolve()}") and "file manager" in message
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: True))
    window.statusBar().clearMessage()
    assert window.checkpoints.open_folder(0) and window.statusBar().currentMessage() == ""
