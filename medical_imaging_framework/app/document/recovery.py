"""Autosave and crash recovery of the open pipeline.

Each window with unsaved changes keeps a copy of its pipeline in the recovery folder
(``$XDG_DATA_HOME/medical-imaging-framework/mif-editor/recovery`` on Linux), written atomically a short time
(`AUTOSAVE_DELAY_MS`) after the last edit: ``<pid>-<n>.json`` is a pipeline file (any `mif` command opens it)
with a ``"recovery"`` entry naming the original file, the editor's pid and the time of the edit. The file goes
when the document is saved, made clean again by Undo, replaced by New/Open, or closed. While the editor runs it
holds an OS lock (``flock``) on ``<pid>-<n>.lock`` beside it; the OS drops it however the process ends (a crash,
SIGKILL, a power cut), so the next editor that can take the lock knows the file's editor is gone and offers
"Recover unsaved changes of X (edited 14:02)?" (`ask_recover`). A recovered pipeline is open at its original
path and marked modified: Save writes it there.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.app.document.document import UNTITLED, Document
from medical_imaging_framework.core import Graph
from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.core.pipeline_file import graph_to_dict

try:
    import fcntl
except ImportError:  # Windows: the editor's pid tells whether it still runs (see `_owner_gone`)
    fcntl = None  # type: ignore[assignment]

AUTOSAVE_DELAY_MS = 2000  # quiet time after the last edit before the copy is written (a drag is many edits)
RECOVERY_KEY = "recovery"
_SERIAL = itertools.count(1)  # several windows in one process: one file each


def recovery_folder() -> Path:
    """Where unsaved pipelines are kept: the user's data folder (``$XDG_DATA_HOME`` first on Linux).

    GenericDataLocation with the settings' own names rather than AppDataLocation, which depends on the
    QApplication's names (unset in tests and scripts), so every way to start the editor finds the same folder.
    """
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    return Path(base) / app_settings.ORGANIZATION / app_settings.APPLICATION / "recovery"


def _open_lock(path: Path) -> int | None:
    """Open ``path`` and lock it without waiting; None when another process holds it."""
    handle = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return None
    return handle


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: a process of another user has that pid now
        return True
    return True


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@dataclass
class RecoveryEntry:
    """A pipeline left unsaved by an editor that is gone.

    Args:
        file: the recovery file (a pipeline file with a ``"recovery"`` entry).
        original: the pipeline's own file (None: never saved).
        saved_at: when the copy was written (seconds since the epoch).
        handle: the lock taken on the file's ``.lock`` while it is offered (None without locks).
    """

    file: Path
    original: Path | None
    saved_at: float
    handle: int | None = None

    @property
    def name(self) -> str:
        """The original file's name (``untitled.json`` when never saved)."""
        return self.original.name if self.original is not None else UNTITLED

    @property
    def when(self) -> str:
        """``14:02`` today, ``2026-12-02 14:02`` on another day."""
        edited = time.localtime(self.saved_at)
        today = time.localtime()
        same_day = edited[:3] == today[:3]
        return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", edited)

    def release(self) -> None:
        """Let go of the lock (the file stays, to be offered again at the next start)."""
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None

    def discard(self) -> None:
        """Remove the recovery file and its lock file."""
        _remove(self.file, self.file.with_suffix(".lock"))
        self.release()


def pending_recoveries(folder: Path | None = None) -> list[RecoveryEntry]:
    """The recovery files whose editor has ended, oldest first, each locked until released or discarded.

    A file whose ``"recovery"`` entry cannot be read is offered too (its name says which file); loading it
    then says what is wrong with it.

    Args:
        folder: the recovery folder (default `recovery_folder`).
    """
    folder = folder or recovery_folder()
    entries = []
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            meta = json.loads(file.read_text(encoding="utf-8")).get(RECOVERY_KEY, {})
            meta = meta if isinstance(meta, dict) else {}
        except (OSError, ValueError, AttributeError):
            meta = {}
        try:
            handle = _open_lock(file.with_suffix(".lock"))
            alive = handle is None if fcntl is not None else _pid_alive(meta.get("pid"))
        except OSError:  # a folder we cannot lock in: the pid alone decides
            handle, alive = None, _pid_alive(meta.get("pid"))
        if alive:
            continue  # its editor still runs
        original = meta.get("path")
        saved_at = meta.get("saved_at")
        entries.append(RecoveryEntry(
            file, Path(original) if isinstance(original, str) and original else None,
            float(saved_at) if isinstance(saved_at, (int, float)) else file.stat().st_mtime, handle,
        ))
    return sorted(entries, key=lambda entry: entry.saved_at)


class Autosaver(QObject):
    """Keeps a window's recovery file: written `AUTOSAVE_DELAY_MS` after the last edit while the document is
    modified, removed when it is not (saved, undone to the saved state, New, Open) and on `discard`.

    Args:
        document: the window's document (its path and modified flag).
        graph: returns the pipeline as it is now.
        parent: owning object (the window).

    Signals:
        failed(str): the copy could not be written (the message names the file and the reason).
    """

    failed = Signal(str)

    def __init__(self, document: Document, graph: Callable[[], Graph], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._graph = graph
        self.file = recovery_folder() / f"{os.getpid()}-{next(_SERIAL)}.json"
        self._handle: int | None = None
        self._failed_once = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        document.modifiedChanged.connect(self._on_modified)

    @Slot()
    def schedule(self) -> None:
        """An edit happened: write the copy once edits pause for `AUTOSAVE_DELAY_MS`."""
        self._timer.start()

    @Slot(bool)
    def _on_modified(self, modified: bool) -> None:
        if not modified:
            self.discard()

    @Slot()
    def flush(self) -> None:
        """Write the copy now when the document is modified, else remove it."""
        self._timer.stop()
        if not self.document.modified:
            self.discard()
            return
        path = self.document.path
        data = graph_to_dict(self._graph())
        data[RECOVERY_KEY] = {"path": str(path.resolve()) if path is not None else None, "pid": os.getpid(),
                              "saved_at": time.time()}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            if self._handle is None:
                self._handle = _open_lock(self.file.with_suffix(".lock"))
            write_atomically(self.file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        except OSError as error:
            if not self._failed_once:  # said once per window, not after every edit
                self._failed_once = True
                self.failed.emit(f"Autosave failed: cannot write {self.file}: {error.strerror or error}")

    def discard(self) -> None:
        """Remove the copy (the document was saved, replaced or closed)."""
        self._timer.stop()
        _remove(self.file, self.file.with_suffix(".lock"))
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None


def ask_recover(parent: QWidget | None, entry: RecoveryEntry) -> bool | None:
    """Ask "Recover unsaved changes of X (edited 14:02)?": True Recover, False Discard, None (Later, Escape):
    asked again at the next start.

    Args:
        parent: the window.
        entry: the pipeline left unsaved.
    """
    box = QMessageBox(QMessageBox.Icon.Question, "Recover unsaved changes",
                      f"Recover unsaved changes of {entry.name} (edited {entry.when})?", parent=parent)
    box.setObjectName("recovery_question")
    where = f"Its file: {entry.original}" if entry.original is not None else "It was never saved."
    box.setInformativeText(f"The editor that held them ended without saving.\n{where}\nThe copy: {entry.file}")
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)  # Escape: the file stays, asked again next start
    box.setDefaultButton(recover)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    return True if clicked is recover else False if clicked is discard else None
