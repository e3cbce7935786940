"""Run ▸ Reuse Results (also on the toolbar): re-run only what changed (`run.cache`, docs/gui/RUNS.md).

Checked by default and remembered between starts; unchecked, every node runs again, and a run in a separate
process is started with ``mif run --no-cache``.
"""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from medical_imaging_framework.app.document import settings as app_settings
from medical_imaging_framework.app.running.controller import RunController

TEXT = "Reuse Results"
TIP = ("Re-run only what changed: nodes whose parameters, inputs and files are as in an earlier run are reused "
       "(a finished training from its checkpoint). Off: every node runs again.")


def make_reuse_action(parent: QWidget, runner: RunController) -> QAction:
    """The checkable Reuse Results action, set from the remembered choice and remembering each change.

    Args:
        parent: the window owning the action.
        runner: the run controller whose ``reuse`` it sets.
    """
    action = QAction(TEXT, parent)
    action.setObjectName("action_reuse_results")
    action.setCheckable(True)
    action.setToolTip(TIP)
    action.setStatusTip(TIP)
    remembered = app_settings.remembered(app_settings.REUSE_KEY)
    action.setChecked(str(remembered).lower() != "false")  # QSettings' INI file gives "false" back as text
    runner.reuse = action.isChecked()

    def toggled(checked: bool) -> None:
        runner.reuse = checked
        app_settings.remember(app_settings.REUSE_KEY, checked)

    action.toggled.connect(toggled)
    return action
