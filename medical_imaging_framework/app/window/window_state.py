"""What the editor remembers between starts about its window: size and place, the docks and toolbar
(``saveState``/``restoreState``) and Run ▸ Run Where. Saved when a window closes, and the run mode when chosen;
a new window starts as the last one closed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QAction

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.app.running.modes import RUN_MODES

MainWindow = Any  # main_window imports this module (sibling modules import one way)
LAYOUT_VERSION = 1  # raise when the docks change, so an old layout is not applied to new docks


def restore(window: MainWindow) -> bool:
    """Give ``window`` the remembered size, place, dock layout and run mode; follow later run mode choices.

    Args:
        window: a main window whose docks, toolbar and Run Where menu exist.

    Returns:
        whether a remembered dock layout was applied.
    """
    geometry, layout = app_settings.remembered(app_settings.GEOMETRY_KEY), app_settings.remembered(
        app_settings.LAYOUT_KEY)
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    restored = isinstance(layout, QByteArray) and bool(window.restoreState(layout, LAYOUT_VERSION))
    where = app_settings.remembered(app_settings.RUN_WHERE_KEY)
    if any(mode.name == where for mode in RUN_MODES):
        action = window.findChild(QAction, f"action_run_mode_{where}")
        if action is not None and not action.isChecked():
            action.trigger()  # checks it and sets the run controller, as a click does
    window.run_modes.triggered.connect(_remember_run_mode)
    return restored


def _remember_run_mode(action: QAction) -> None:
    name = action.objectName().removeprefix("action_run_mode_")
    app_settings.remember(app_settings.RUN_WHERE_KEY, name)


def save(window: MainWindow) -> None:
    """Remember ``window``'s size, place and dock layout (when it closes).

    Args:
        window: a main window.
    """
    app_settings.remember(app_settings.GEOMETRY_KEY, window.saveGeometry())
    app_settings.remember(app_settings.LAYOUT_KEY, window.saveState(LAYOUT_VERSION))
