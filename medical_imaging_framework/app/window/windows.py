"""Several pipelines at once: one main window per pipeline, all in one process.

File ▸ New Window (Ctrl+Shift+N) and File ▸ Open in New Window… (Ctrl+Shift+O) open another window, with its
own document, canvas, undo history, run, log and plots; the Window menu lists the open windows; Quit closes
them one by one (each asks about its own unsaved changes and run) and the application ends with the last one.
Two windows running into one checkpoint folder meet the folder lock (`checkpoints/lock.py`): the second run is
refused with its message. At start `offer_recoveries` offers the pipelines a crashed editor left unsaved.

New windows are made as ``type(window)(...)`` of an open one, so this module never imports `main_window`
(which imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.app.document.file_commands import FILE_FILTER
from medical_imaging_framework.app.document.recovery import ask_recover, pending_recoveries
from medical_imaging_framework.core import PipelineFileError, load_pipeline

MainWindow = Any  # see the module docstring
_WINDOWS: list[QMainWindow] = []
CASCADE = 40  # pixels between a window and the next one it opens


def open_windows() -> list[MainWindow]:
    """The main windows on screen, in the order they were opened."""
    _WINDOWS[:] = [w for w in _WINDOWS if shiboken6.isValid(w)]
    return [w for w in _WINDOWS if w.isVisible()]


def install(window: MainWindow) -> None:
    """Register ``window`` and give it File ▸ New Window, File ▸ Open in New Window… and the Window menu.

    Args:
        window: a main window whose menus exist already.
    """
    _WINDOWS.append(window)
    window.action_new_window = _action(window, "action_new_window", "New &Window", "Ctrl+Shift+N",
                                       lambda: new_window(window))
    window.action_open_in_new_window = _action(window, "action_open_in_new_window", "Open in New Window…",
                                               "Ctrl+Shift+O", lambda: open_in_new_window(window))
    bar = window.menuBar()
    file_menu = next(a.menu() for a in bar.actions() if a.menu() and window.action_open in a.menu().actions())
    file_menu.insertActions(window.action_open, [window.action_new_window])
    file_menu.insertAction(window.examples_menu.menuAction(), window.action_open_in_new_window)
    help_menu = bar.actions()[-1]
    window.window_menu = QMenu("&Window", window)
    window.window_menu.setObjectName("window_menu")
    bar.insertMenu(help_menu, window.window_menu)
    window.window_menu.aboutToShow.connect(lambda: fill_window_menu(window, window.window_menu))


def _action(window: MainWindow, name: str, text: str, shortcut: str, slot: Any) -> QAction:
    action = QAction(text, window)
    action.setObjectName(name)
    action.setShortcut(QKeySequence(shortcut))
    action.setStatusTip(text.replace("&", "").rstrip("…"))
    action.triggered.connect(slot)
    window.addAction(action)
    return action


def new_window(beside: MainWindow, path: str | Path | None = None) -> MainWindow:
    """Open and show another main window (empty, or holding ``path``), a little below and right of ``beside``.

    Args:
        beside: an open window (its class and node registry are used).
        path: a pipeline file for the new window.
    """
    window = type(beside)(path, registry=beside.registry)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    frame = beside.frameGeometry().translated(CASCADE, CASCADE)  # title bar and borders included
    size, screen = beside.size(), beside.screen().availableGeometry()
    if not screen.contains(frame):  # cascaded off the screen (e.g. beside a maximised window): its top-left
        margins = frame.size() - size
        frame = QRect(screen.topLeft(), frame.size().boundedTo(screen.size()))
        size = frame.size() - margins
    window.resize(size)
    window.move(frame.topLeft())
    window.show()
    window.activateWindow()
    return window


def open_in_new_window(beside: MainWindow, path: str | Path | None = None) -> MainWindow | None:
    """Ask for a pipeline file (unless ``path`` is given) and open it in a new window; None when none opened.

    A file already open in a window brings that window forward (returned) instead. A file that cannot be read
    is said in a message box over ``beside``, and no window opens.

    Args:
        beside: the window the command came from.
        path: the file (None: ask).
    """
    if path is None:
        chosen, _ = QFileDialog.getOpenFileName(beside, "Open pipeline in a new window",
                                                str(app_settings.last_folder()), FILE_FILTER)
        beside.restore_focus()
        if not chosen:
            return None
        path = chosen
    already = next((w for w in open_windows() if w.document.path is not None
                    and w.document.path.resolve() == Path(path).resolve()), None)
    if already is not None:  # one window per file: two would save over each other's edits
        bring_forward(already)
        already.statusBar().showMessage(f"{already.document.file_name} is open in this window", 8000)
        return already
    try:
        load_pipeline(path, beside.registry)  # checked here so a bad file opens no empty window
    except PipelineFileError:
        beside.open_pipeline(path)  # says why in a message box and leaves beside's pipeline as it was
        return None
    return new_window(beside, path)


def fill_window_menu(window: MainWindow, menu: QMenu) -> None:
    """The open windows (the current one checked; ``*`` marks unsaved changes), each brought forward when chosen.

    Args:
        window: the window whose menu it is.
        menu: its Window menu (refilled each time it opens).
    """
    menu.clear()
    menu.addAction(window.action_new_window)
    menu.addSeparator()
    for number, other in enumerate(open_windows(), start=1):
        title = other.windowTitle().replace("[*]", "*" if other.isWindowModified() else "")
        action = menu.addAction(f"&{number % 10} {title}")
        action.setCheckable(True)
        action.setChecked(other is window)
        action.triggered.connect(lambda _=False, w=other: bring_forward(w))


def bring_forward(window: MainWindow) -> None:
    """Show ``window`` on top and give it the keyboard."""
    if window.isMinimized():
        window.showNormal()
    window.raise_()
    window.activateWindow()


def close_all() -> bool:
    """Quit: close every window, the newest first; stops at the first that stays open (Cancel). True when all closed."""
    return all(window.close() for window in reversed(open_windows()))


def offer_recoveries(window: MainWindow) -> int:
    """Offer each pipeline a crashed editor left unsaved; returns how many were recovered.

    The first recovered pipeline replaces ``window``'s when that holds only the start's example or a new
    pipeline, unchanged; the others (and any beside a file the user opened) open in new windows.
    Discard removes the copy; Later keeps it for the next start.

    Args:
        window: the window just opened at start.
    """
    recovered = 0
    for entry in pending_recoveries():
        answer = ask_recover(window, entry)
        if answer is None:
            entry.release()
            continue
        if answer:
            try:
                graph = load_pipeline(entry.file, window.registry)
            except PipelineFileError as error:
                QMessageBox.critical(window, "Cannot recover pipeline", f"{error}\nThe copy stays in {entry.file}.")
                entry.release()
                continue
            spare = not window.document.modified and (window.document.path is None or window.document.bundled)
            target = window if recovered == 0 and spare else new_window(window)
            target.files.show_recovered(graph, entry.original)
            target.autosave.flush()  # the copy is this editor's now, before the old one goes
            recovered += 1
        entry.discard()
    window.restore_focus()
    return recovered

