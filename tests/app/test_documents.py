"""The document object and its file commands: bundled examples are templates, Open starts in the last
folder, Examples and Recent menus, the name follows Save As, New/Open clear the previous results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grimp
import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QSignalSpy, QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.app.document.document import EXAMPLES_FOLDER, Document, bundled_examples
from medical_imaging_framework.core import NodeRegistry, load_pipeline
from medical_imaging_framework.run.events import CheckpointSaved, EpochEnded, SampleAvailable
from tests.support.gui import activate, write_tiny_pipeline

BUNDLED = EXAMPLES_FOLDER / "segmentation_train.json"


class FileDialogs:
    """Answers QFileDialog's static calls with queued paths and records the folder each one started in."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[Path] = []
        self.starts: list[str] = []
        for name in ("getOpenFileName", "getSaveFileName"):
            monkeypatch.setattr(QFileDialog, name, staticmethod(self._answer))

    def _answer(self, parent: Any, caption: str, start: str, *args: Any, **kwargs: Any) -> tuple[str, str]:
        self.starts.append(start)
        return (str(self.answers.pop(0)) if self.answers else "", "")


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> FileDialogs:
    return FileDialogs(monkeypatch)


@pytest.fixture
def bundled_guard() -> Iterator[bytes]:
    """The bundled example's bytes; restored afterwards even if a faulty build wrote into the package."""
    original = BUNDLED.read_bytes()
    yield original
    if BUNDLED.read_bytes() != original:
        BUNDLED.write_bytes(original)


def press(window: Any, key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.ControlModifier) -> None:
    """A key press where the keyboard focus is (the window when nothing has focus)."""
    QTest.keyClick(QApplication.focusWidget() or window, key, modifiers)


def test_document_is_an_object_with_signals_not_a_window_mixin(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    document = Document()
    paths, modified, titles = QSignalSpy(document.pathChanged), QSignalSpy(document.modifiedChanged), QSignalSpy(
        document.titleChanged)
    document.set_path(tmp_path / "a.json")
    document.set_modified(True)
    document.set_modified(True)
    document.set_clean(True)
    assert (paths.count(), modified.count(), titles.count()) == (1, 2, 1)
    assert document.title.startswith("a.json[*]") and not document.modified and not document.bundled
    document.set_path(BUNDLED)
    assert document.bundled and "(example)" in document.title
    window = make_window()
    assert isinstance(window.document, Document)
    assert not any("documents" in cls.__module__ for cls in type(window).__mro__)
    imports = grimp.build_graph("medical_imaging_framework")
    for module in ("document.document", "document.file_commands", "document.settings"):
        assert not imports.chain_exists(f"medical_imaging_framework.app.{module}",
                                        "medical_imaging_framework.app.window.main_window"), module


def test_ctrl_s_on_a_bundled_example_saves_a_copy_in_the_working_folder(
    qtbot: Any, make_window: Any, dialogs: FileDialogs, bundled_guard: bytes, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, registry: NodeRegistry, message_boxes: Any,
) -> None:
    monkeypatch.chdir(tmp_path)
    window = activate(qtbot, make_window(BUNDLED, show=True))
    assert "(example)" in window.windowTitle()
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "num_epochs": 3})
    assert window.isWindowModified()
    dialogs.answers = [EXAMPLES_FOLDER / "mine.json"]  # a folder inside the package is refused too
    press(window, Qt.Key.Key_S)
    assert dialogs.starts == [str(tmp_path / "segmentation_train.json")]
    assert message_boxes.kinds() == ["warning"] and "templates" in message_boxes.texts()
    assert not (EXAMPLES_FOLDER / "mine.json").exists() and BUNDLED.read_bytes() == bundled_guard
    dialogs.answers = [tmp_path / "my_training"]
    press(window, Qt.Key.Key_S)
    saved = tmp_path / "my_training.json"
    assert BUNDLED.read_bytes() == bundled_guard
    assert window.path == saved and window.windowTitle().startswith("my_training.json[*]")
    assert not window.isWindowModified()
    assert json.loads(saved.read_text())["name"] == "my_training"  # the name follows the file name
    assert load_pipeline(saved, registry).nodes["trainer"].config["num_epochs"] == 3
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "num_epochs": 4})
    press(window, Qt.Key.Key_S)  # now a file of the user's: Save writes it without asking
    assert len(dialogs.starts) == 2
    assert load_pipeline(saved, registry).nodes["trainer"].config["num_epochs"] == 4


def test_open_starts_in_the_last_folder_and_recent_keeps_ten(
    qtbot: Any, make_window: Any, dialogs: FileDialogs, registry: NodeRegistry, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, isolated_settings: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    files = []
    for index in range(12):
        folder = tmp_path / f"project_{index}"
        folder.mkdir()
        files.append(write_tiny_pipeline(registry, folder, name=f"p{index}.json"))
    window = activate(qtbot, make_window(show=True))
    for path in files:
        dialogs.answers = [path]
        press(window, Qt.Key.Key_O)
        assert window.path == path
    assert dialogs.starts[0] == str(tmp_path)  # nothing remembered yet: the working folder, not the package
    assert dialogs.starts[1:] == [str(path.parent) for path in files[:-1]]
    stored = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "mif-tests", app_settings.APPLICATION)
    assert Path(str(stored.fileName())).is_relative_to(isolated_settings)
    later = make_window(show=True)  # the editor started again
    later.recent_menu.aboutToShow.emit()
    entries = [action for action in later.recent_menu.actions() if action.data()]
    assert [Path(action.data()) for action in entries] == [path.resolve() for path in reversed(files[2:])]
    entries[3].trigger()
    assert later.path.resolve() == files[-4].resolve()
    dialogs.answers = []
    later.files.open_dialog()
    assert dialogs.starts[-1] == str(files[-4].parent.resolve())


def test_examples_menu_lists_each_bundled_pipeline_with_its_description(qtbot: Any, make_window: Any) -> None:
    examples = bundled_examples()
    assert {example.path.name for example in examples} == {path.name for path in EXAMPLES_FOLDER.glob("*.json")}
    assert all(example.description and example.description != example.title for example in examples)
    window = make_window(show=True)
    window.examples_menu.aboutToShow.emit()
    actions = window.examples_menu.actions()
    assert [action.text() for action in actions] == [f"{e.title} — {e.description}" for e in examples]
    infer = next(action for action in actions if action.text().startswith("segmentation_infer"))
    infer.trigger()
    assert window.path == EXAMPLES_FOLDER / "segmentation_infer.json" and "load_checkpoint" in window.canvas.graph.nodes
    assert window.document.bundled and "(example)" in window.windowTitle()


def test_new_and_open_clear_the_previous_documents_results(
    qtbot: Any, window: Any, tiny_file: Path, tmp_path: Path, message_boxes: Any
) -> None:
    def fill() -> None:
        window.on_event(EpochEnded("trainer", 1, 2, 0.9, 0.8))
        window.on_event(CheckpointSaved("trainer", "best", str(tmp_path / "best_model.pt"), 1, 0.8))
        window.on_event(SampleAvailable("predictor", np.zeros((1, 8, 8)), None, np.ones((1, 8, 8))))
        window.report_problems(window.canvas.graph.validate() or [])
        window.canvas.set_state("trainer", "invalid")
        assert window.loss_plot.epochs and window.checkpoints.rowCount() and window.image_viewer.image is not None

    def assert_cleared() -> None:
        assert window.loss_plot.epochs == [] and window.loss_plot.val_losses == []
        assert window.checkpoints.rowCount() == 0 and window.image_viewer.image is None
        assert all(window.canvas.state_visible(node_id) == "" for node_id in window.canvas.graph.nodes)

    fill()
    assert window.open_pipeline(tiny_file)
    assert_cleared()
    fill()
    window.action_new.trigger()
    assert window.canvas.graph.nodes == {}
    assert_cleared()
