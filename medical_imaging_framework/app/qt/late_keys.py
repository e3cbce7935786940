"""Keys that reach a dialog after it closed go to the window's shortcuts (F5 right after Return in a dialog).

When the editor is busy (a loaded machine, PyTorch importing), a user's Return and then F5 are both queued
before Qt handles the Return: the X server gave both to the dialog, which had the keyboard then. Return
closes the dialog; Qt then delivers F5 to the closed dialog, where the window's Run action cannot see it,
and the F5 is lost (issue 20 point 14: one try in three under load). Qt has no way to re-send a key through
its shortcut map, so the forwarder looks the key up in the window's own actions and triggers the one it
names, as the shortcut map would have done had the window had the keyboard.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QWidget


def action_for_key(widgets: list[QWidget], event: QKeyEvent) -> QAction | None:
    """The enabled action among ``widgets``' own actions whose shortcut is exactly the pressed key, if any.

    Args:
        widgets: the window and the widgets whose actions have shortcuts (e.g. the canvas).
        event: the key press.
    """
    pressed = QKeySequence(event.keyCombination())
    for widget in widgets:
        for action in widget.actions():
            if action.isEnabled() and any(shortcut.matches(pressed) == QKeySequence.SequenceMatch.ExactMatch
                                          for shortcut in action.shortcuts()):
                return action
    return None


class LateKeys(QObject):
    """Event filter on a dialog's window: a key pressed for it once it is hidden triggers the action it is the
    shortcut of in ``window`` (and its central widget).

    Args:
        dialog: the dialog (the filter's parent: it lives as long as the dialog).
        window: the main window.
    """

    def __init__(self, dialog: QWidget, window: QWidget) -> None:
        super().__init__(dialog)
        self.dialog = dialog
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Trigger the window's action for a key pressed after the dialog closed; other events pass."""
        if event.type() != QEvent.Type.KeyPress or self.dialog.isVisible() or not self.window.isVisible():
            return False
        central = getattr(self.window, "centralWidget", lambda: None)()
        widgets = [self.window] if central is None else [self.window, central]
        action = action_for_key(widgets, event)  # type: ignore[arg-type]
        if action is None:
            return False
        action.trigger()
        return True


def forward_late_keys(dialog: QWidget, window: QWidget) -> None:
    """After ``dialog`` is shown: keys that reach it after it closes trigger ``window``'s shortcuts.

    Args:
        dialog: a shown dialog of ``window`` (its window handle exists).
        window: the main window.
    """
    handle = dialog.windowHandle()
    if handle is not None:
        handle.installEventFilter(LateKeys(dialog, window))
