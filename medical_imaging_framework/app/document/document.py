"""The open pipeline document: its file, whether it holds unsaved changes, whether it is a bundled example.

`Document` is plain state with change signals; the window shows them (title, modified marker) and
`file_commands.FileCommands` acts on them (New, Open, Save...). It knows nothing about the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from medical_imaging_framework.core.examples import BUNDLED_PIPELINES

APP_NAME = "Medical Imaging Framework"
UNTITLED = "untitled.json"
EXAMPLES_FOLDER = BUNDLED_PIPELINES
PACKAGE_FOLDER = BUNDLED_PIPELINES.parents[1]


def is_bundled(path: str | Path | None) -> bool:
    """Whether ``path`` lies inside the installed package (a bundled example: a template, never overwritten).

    Args:
        path: a pipeline file, or None (never saved).
    """
    if path is None:
        return False
    return Path(path).resolve().is_relative_to(PACKAGE_FOLDER)


@dataclass(frozen=True)
class Example:
    """A bundled example pipeline and its one-line description."""

    path: Path
    description: str

    @property
    def title(self) -> str:
        """The file name without ``.json``, e.g. ``segmentation_train``."""
        return self.path.stem


def bundled_examples() -> list[Example]:
    """The bundled example pipelines, by name, each with the ``description`` its file holds."""
    examples = []
    for path in sorted(EXAMPLES_FOLDER.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            examples.append(Example(path, str(data.get("description") or data.get("name") or path.stem)))
    return examples


class Document(QObject):
    """The open pipeline's file and modified flag.

    Signals:
        pathChanged(object): the new path (a `Path`, or None for a pipeline never saved).
        modifiedChanged(bool): whether there are unsaved changes.
        titleChanged(str): the window title, ``name.json[*] — Medical Imaging Framework``.

    Args:
        parent: owning object (the window).
    """

    pathChanged = Signal(object)
    modifiedChanged = Signal(bool)
    titleChanged = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._path: Path | None = None
        self._untitled = UNTITLED  # the name shown while never saved (a run's pipeline: ``run-<id>.json``)
        self._modified = False

    @property
    def path(self) -> Path | None:
        """The file the pipeline was loaded from or last saved to (None: never saved)."""
        return self._path

    @property
    def modified(self) -> bool:
        """Whether the pipeline holds changes not saved to `path`."""
        return self._modified

    @property
    def bundled(self) -> bool:
        """Whether `path` is a bundled example inside the package (Save then acts as Save As)."""
        return is_bundled(self._path)

    @property
    def file_name(self) -> str:
        """``name.json`` (``untitled.json`` when never saved)."""
        return self._path.name if self._path else self._untitled

    @property
    def title(self) -> str:
        """The window title; ``[*]`` is where Qt shows the modified marker."""
        suffix = " (example)" if self.bundled else ""
        return f"{self.file_name}{suffix}[*] — {APP_NAME}"

    def set_path(self, path: str | Path | None, untitled: str = UNTITLED) -> None:
        """Make ``path`` the document's file.

        Args:
            path: the file, or None for a pipeline never saved.
            untitled: the name shown while it is never saved.
        """
        new = Path(path) if path is not None else None
        if new == self._path and untitled == self._untitled:
            return
        self._path, self._untitled = new, untitled
        self.pathChanged.emit(new)
        self.titleChanged.emit(self.title)

    @Slot(bool)
    def set_modified(self, modified: bool) -> None:
        """Mark the document changed (True) or saved (False); connect the undo history's clean state here.

        Args:
            modified: whether there are unsaved changes.
        """
        if modified == self._modified:
            return
        self._modified = modified
        self.modifiedChanged.emit(modified)

    @Slot(bool)
    def set_clean(self, clean: bool) -> None:
        """`set_modified` for a ``cleanChanged(bool)`` signal (clean = not modified)."""
        self.set_modified(not clean)
