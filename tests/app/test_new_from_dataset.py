"""File ▸ New from Dataset…: the fingerprint (cases + problems) and the plan's reasons shown, a re-plan with another
time budget, and the planned train pipeline opened as the document."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.support.plan_data import write_dataset

SHAPES = [(24, 20, 8), (20, 24, 8), (24, 24, 6), (28, 20, 8)]
PLAN_TIMEOUT_MS = 300_000  # the job imports MONAI to read the cases: slow on a loaded machine, never a hang


def _choice(dialog: Any, name: str) -> tuple[str, str]:
    rows = {dialog.choices.item(r, 0).text(): r for r in range(dialog.choices.rowCount())}
    row = rows[name]
    return dialog.choices.item(row, 1).text(), dialog.choices.item(row, 2).text()


def _measured_by_rule(fingerprint: dict[str, Any], memory_gb: float, device: str, minutes: float) -> Any:
    """The plan with a stand-in for the probe process (tests/cli/test_plan.py runs the real one): memory linear
    in the patch's voxels, half a second per step."""
    from medical_imaging_framework.tools.planning import make_plan

    return make_plan(fingerprint, lambda patch, depth: 1000 * math.prod(patch), int(memory_gb * 2**30),
                     lambda patch, depth: 0.5, minutes, device)


def test_new_from_dataset_shows_the_fingerprint_and_reasons_replans_and_opens_the_train_pipeline(
        qtbot: Any, window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medical_imaging_framework.app.window.new_from_dataset import open_dialog
    from medical_imaging_framework.tools import plan_probe

    monkeypatch.setattr(plan_probe, "plan_with_probe", _measured_by_rule)

    dataset = write_dataset(tmp_path / "ds", SHAPES, label_spacing={1: (0.8, 0.8, 3.0)})
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert window.action_new_from_dataset in file_menu.actions()

    dialog = open_dialog(window, str(dataset))
    dialog.device.setCurrentText("cpu")
    dialog.memory.setValue(1.0)
    dialog.minutes.setValue(0.01)
    with qtbot.waitSignal(dialog.planned, timeout=PLAN_TIMEOUT_MS):
        assert dialog.start()
        assert not dialog.start_button.isEnabled()  # the GUI thread is free while the job runs

    assert dialog.cases.rowCount() == 4 and dialog.cases.item(0, 3).text() == "LPS"
    problems = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
    assert len(problems) == 1 and str(tmp_path / "ds" / "labelsTr" / "case_01.nii.gz") in problems[0]
    spacing, why = _choice(dialog, "target spacing")
    assert spacing == "0.8 x 0.8 x 2.5 mm" and "anisotropic" in why
    assert _choice(dialog, "epochs")[0] == "1"

    dialog.minutes.setValue(600.0)
    with qtbot.waitSignal(dialog.planned, timeout=PLAN_TIMEOUT_MS):
        assert dialog.replan()  # the fingerprint is kept: only the plan runs again
    epochs, why = _choice(dialog, "epochs")
    assert int(epochs) > 1 and "600 min budget" in why
    assert dialog.cases.rowCount() == 4
    assert dialog.progress.maximum() == 4 and dialog.progress.value() == 4, "the kept fingerprint: all 4 read"
    dialog.resize(700, 600)
    qtbot.waitUntil(lambda: dialog.problems.viewport().width() < 700)
    problem = dialog.problems.item(0)
    width = dialog.problems.viewport().width()
    assert dialog.problems.visualItemRect(problem).width() <= width, "the long problem line wraps, not cut"
    assert dialog.problems.visualItemRect(problem).height() > dialog.problems.fontMetrics().height() * 1.5
    from PySide6.QtCore import QRect, Qt

    table, wrap = dialog.choices, int(Qt.TextFlag.TextWordWrap)
    for row in range(table.rowCount()):  # each reason whole at the narrower width, not cut with an ellipsis
        needed = table.fontMetrics().boundingRect(QRect(0, 0, table.columnWidth(2) - 8, 10_000), wrap,
                                                  table.item(row, 2).text()).height()
        assert table.rowHeight(row) >= needed, table.item(row, 0).text()

    dialog.open_button.click()
    train = tmp_path / "ds" / "mif_plan" / "plan_train.json"
    assert window.path == train
    assert window.current_graph().nodes["trainer"].config["num_epochs"] == int(epochs)
    assert json.loads(train.read_text())["annotations"]  # the reasons, as notes on the canvas
    assert len(window.current_graph().annotations) == len(window.current_graph().nodes)
