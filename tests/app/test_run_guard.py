"""A fresh run into a checkpoint folder another run used: Resume from Last / Overwrite / Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from medical_imaging_framework.app.running import guard as run_guard
from medical_imaging_framework.app.running.guard import PROMPT_NAME
from medical_imaging_framework.checkpoints.files import peek_checkpoint
from medical_imaging_framework.core import NodeRegistry, save_pipeline
from medical_imaging_framework.tools.report import write_report
from tests.support.checkpoint_runs import fake_checkpoints
from tests.support.gui import wait_for_run
from tests.support.tiny import tiniest_graph


def answer_prompt(qtbot: Any, button_text: str, seen: list[str]) -> None:
    """Click ``button_text`` on the checkpoint-folder question as soon as it is shown (it runs modally)."""
    timer = QTimer()

    def click() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == PROMPT_NAME:
            timer.stop()
            seen.append(box.text())
            next(button for button in box.buttons() if button.text() == button_text).click()

    timer.timeout.connect(click)
    timer.start(10)
    answer_prompt.timer = timer  # type: ignore[attr-defined]  # alive until the next prompt


REAL_ASK = run_guard.ask  # the conftest answers the question without showing it; these tests use the real one


@pytest.fixture
def started(window: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The graphs the window would run (the run itself is not started); the real modal question is used."""
    monkeypatch.setattr(run_guard, "ask", REAL_ASK)
    graphs: list[Any] = []
    monkeypatch.setattr(window.runner, "start", graphs.append)
    return graphs


@pytest.mark.parametrize("answer", ["Cancel", "Resume from Last", "Overwrite"])
def test_fresh_run_into_a_used_folder_asks_first(
    qtbot: Any, window: Any, started: list[Any], answer: str
) -> None:
    folder = Path(window.canvas.graph.nodes["trainer"].config["checkpoint_dir"])
    fake_checkpoints(folder, run="earlier")
    before = sorted(p.name for p in folder.iterdir())
    seen: list[str] = []
    answer_prompt(qtbot, answer, seen)
    started_now = window.run_pipeline()
    assert len(seen) == 1 and "4 checkpoint file(s), up to epoch 4, run earlier" in seen[0]
    assert str(folder) in seen[0]
    config = window.canvas.graph.nodes["trainer"].config
    assert config["resume_from"] == "" and not window.isWindowModified()  # the pipeline itself is unchanged
    if answer == "Cancel":
        assert not started_now and started == []
        assert sorted(p.name for p in folder.iterdir()) == before
        assert "Not run" in window.statusBar().currentMessage()
    elif answer == "Resume from Last":
        assert started_now and started[0].nodes["trainer"].config["resume_from"] == "last"
        assert sorted(p.name for p in folder.iterdir()) == before
    else:
        assert started_now and started[0].nodes["trainer"].config["resume_from"] == ""
        kept = folder / "previous_runs" / "earlier"
        assert sorted(p.name for p in kept.iterdir()) == ["best_model.pt", "checkpoint_epoch_2.pt",
                                                          "checkpoint_epoch_4.pt", "final_model.pt"]
        assert (folder / "notes.txt").read_text() == "mine"
        assert str(kept) in window.statusBar().currentMessage()


def test_no_question_for_an_empty_folder_or_a_resumed_run(qtbot: Any, window: Any, started: list[Any]) -> None:
    assert window.run_pipeline() and len(started) == 1
    folder = Path(window.canvas.graph.nodes["trainer"].config["checkpoint_dir"])
    fake_checkpoints(folder)
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "resume_from": "last"})
    seen: list[str] = []
    answer_prompt(qtbot, "Cancel", seen)  # would answer a question, had there been one
    assert window.run_pipeline() and len(started) == 2
    answer_prompt.timer.stop()  # type: ignore[attr-defined]
    assert seen == []


def test_overwrite_moves_the_whole_earlier_run_and_its_report_builds_there(
    qtbot: Any, make_window: Any, registry: NodeRegistry, tmp_path: Path, checkpoint_folder_questions: list[Any]
) -> None:
    """Run, write the report and an evaluation, run again and Overwrite: previous_runs/<run id>/ holds the whole
    first run (metrics.csv with every row, evaluation.csv, report.html), the folder only the second run's files."""
    folder = tmp_path / "checkpoints"
    save_pipeline(tiniest_graph(registry, folder), tmp_path / "tiniest.json")
    window = make_window(tmp_path / "tiniest.json", show=True)
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done"
    write_report(folder)
    (folder / "evaluation.csv").write_text("name,dice\ncase_0,0.5\nmean,0.5\n")
    first_run = peek_checkpoint(folder / "final_model.pt").run_id
    metrics = (folder / "metrics.csv").read_text()
    assert len(metrics.splitlines()) == 3  # the header and 2 epochs
    first_files = {p.name for p in folder.iterdir()} - {".mif-run.lock"}
    window.action_run.trigger()
    wait_for_run(qtbot, window)
    assert window.runner.last_result.status == "done" and len(checkpoint_folder_questions) == 1
    kept = folder / "previous_runs" / first_run
    assert {p.name for p in kept.iterdir()} == first_files
    assert (kept / "metrics.csv").read_text() == metrics
    report = write_report(kept).read_text()
    assert "No metrics.csv" not in report and "Per epoch (metrics.csv)" in report and "case_0" in report
    assert not (folder / "report.html").exists() and not (folder / "evaluation.csv").exists()
    new_files = [p for p in folder.glob("*.pt")]
    assert new_files and all(peek_checkpoint(p).run_id != first_run for p in new_files)
    assert len((folder / "metrics.csv").read_text().splitlines()) == 3  # the second run's own 2 epochs


@pytest.mark.parametrize(("num_epochs", "default"), [(4, "Overwrite"), (10, "Resume from Last")])
def test_return_overwrites_a_complete_run_and_resumes_an_unfinished_one(
    qtbot: Any, window: Any, started: list[Any], num_epochs: int, default: str
) -> None:
    """Issue 20 point 15: "Resume from Last" was the default button even when the run in the folder was complete."""
    window.canvas.set_config("trainer", {**window.canvas.graph.nodes["trainer"].config, "num_epochs": num_epochs})
    folder = Path(window.canvas.graph.nodes["trainer"].config["checkpoint_dir"])
    fake_checkpoints(folder, run="earlier")  # final_model.pt at epoch 4
    shown: list[tuple[str, str]] = []
    timer = QTimer()

    def press_return() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.objectName() == PROMPT_NAME:
            timer.stop()
            shown.append((box.defaultButton().text(), box.text()))
            box.defaultButton().click()  # what Return does

    timer.timeout.connect(press_return)
    timer.start(10)
    assert window.run_pipeline()
    assert shown[0][0] == default
    assert ("That run is complete" in shown[0][1]) is (default == "Overwrite")
    resumed = started[0].nodes["trainer"].config["resume_from"] == "last"
    assert resumed is (default == "Resume from Last")


def test_cancel_of_the_question_leaves_the_last_run_s_node_states(qtbot: Any, window: Any, started: list[Any]) -> None:
    """Cancel says "change nothing", but the outlines and labels of the run before (here a stopped Trainer) were
    cleared before the question was asked."""
    folder = Path(window.canvas.graph.nodes["trainer"].config["checkpoint_dir"])
    fake_checkpoints(folder, run="earlier")
    window.canvas.set_state("trainer", "stopped", "epoch 3/9")
    window.canvas.set_state("adam", "done", "0.0 s")
    answer_prompt(qtbot, "Cancel", [])
    assert not window.run_pipeline()
    assert window.canvas.state_visible("trainer") == "stopped" and window.canvas.state_detail("trainer") == "epoch 3/9"
    assert window.canvas.state_visible("adam") == "done"
