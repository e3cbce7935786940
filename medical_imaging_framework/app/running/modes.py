"""The Run menu's choice of where a pipeline runs: in the editor (a QThread), in a separate
``mif run --events jsonl`` process, or in several processes under torchrun (DDP)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from medical_imaging_framework.app.running.controller import RunController


@dataclass(frozen=True)
class RunMode:
    """One entry of the menu: ``processes`` child processes (0 = in the editor's own run thread)."""

    name: str
    label: str
    processes: int


RUN_MODES = (
    RunMode("editor", "In the &Editor (background thread)", 0),
    RunMode("process", "In a &Separate Process", 1),
    RunMode("ddp2", "In &2 Processes (torchrun, DDP)", 2),
    RunMode("ddp4", "In &4 Processes (torchrun, DDP)", 4),
)


def apply_run_mode(runner: RunController, mode: RunMode) -> None:
    """Make the next run start as ``mode`` says (a run in progress is not affected).

    Args:
        runner: the window's run controller.
        mode: the chosen entry.
    """
    runner.separate_process = mode.processes == 1
    runner.processes = max(1, mode.processes)


def run_mode_text(runner: RunController) -> str:
    """Where the next run goes, in words for the log's run separator ("in this window", "in 2 processes ...").

    Args:
        runner: the window's run controller.
    """
    if runner.processes > 1:
        return f"in {runner.processes} processes (torchrun, DDP)"
    return "in a separate process" if runner.separate_process else "in this window"


def add_run_mode_menu(menu: QMenu, runner: RunController) -> QActionGroup:
    """A "Run Where" submenu of exclusive choices under ``menu``; the editor's own thread is checked first.

    Args:
        menu: the Run menu.
        runner: the window's run controller.
    """
    submenu = menu.addMenu("Run &Where")
    group = QActionGroup(submenu)
    group.setExclusive(True)
    for mode in RUN_MODES:
        action = QAction(mode.label, submenu, checkable=True)
        action.setObjectName(f"action_run_mode_{mode.name}")
        action.setToolTip("Several processes: each trains on its share of the data; rank 0 saves checkpoints"
                          if mode.processes > 1 else "")
        action.triggered.connect(lambda _checked=False, chosen=mode: apply_run_mode(runner, chosen))
        group.addAction(action)
        submenu.addAction(action)
    group.actions()[0].setChecked(True)
    apply_run_mode(runner, RUN_MODES[0])
    runner.started.connect(lambda: group.setEnabled(False))  # where a run goes is chosen before it starts
    runner.finished.connect(lambda _result: group.setEnabled(True))
    return group
