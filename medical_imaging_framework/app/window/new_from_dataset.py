"""File ▸ New from Dataset…: the dataset plan dialog, and the planned train pipeline opened as the document."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction

from medical_imaging_framework.app.widgets.dataset_plan_dialog import DatasetPlanDialog

MainWindow = Any  # main_window imports this module; importing it back (even for types) would be a cycle


def install(window: MainWindow) -> None:
    """Add File ▸ New from Dataset… after File ▸ New.

    Args:
        window: a main window whose menus exist already.
    """
    action = QAction("New from &Dataset…", window)
    action.setObjectName("action_new_from_dataset")
    action.setStatusTip("Fingerprint a dataset, plan a training pipeline from it and open the plan")
    action.triggered.connect(lambda: open_dialog(window))
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.menu()
                     and window.action_new in a.menu().actions())
    actions = file_menu.actions()
    file_menu.insertAction(actions[actions.index(window.action_new) + 1], action)
    window.action_new_from_dataset = action


def open_dialog(window: MainWindow, dataset: str = "") -> DatasetPlanDialog | None:
    """Show the dialog (after asking about unsaved changes); on Open Train Pipeline, open the planned file.

    Args:
        window: the main window.
        dataset: a dataset to fill in ("" to choose one in the dialog).

    Returns:
        The dialog (shown, not modal), or None when the user kept the unsaved pipeline.
    """
    if not window.files.maybe_discard():
        return None
    dialog = DatasetPlanDialog(window, dataset)
    dialog.accepted.connect(lambda: dialog.train_path and window.files.open_pipeline(dialog.train_path))
    dialog.show()
    window.plan_dialog = dialog
    return dialog
