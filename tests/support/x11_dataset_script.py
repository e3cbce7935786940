"""Driven by `test_x11_new_from_dataset`: under a real X server (Xvfb), with real keys and clicks (xdotool):

Alt+F, D opens File ▸ New from Dataset…; the dataset path is typed and *Fingerprint and Plan* clicked; the cases
table and the problems show; the time budget is typed and *Re-plan with this Budget* clicked (the epochs
change); *Open Train Pipeline* opens the plan, whose notes overlap no node; F5 runs it to its end (a checkpoint).
The probe process is replaced by a rule (memory linear in the patch, 0.5 s a step): `tests/cli/test_plan.py`
measures for real.

Prints one line per check and exits 0 when all held, 1 otherwise.
Usage: ``python -m tests.support.x11_dataset_script DATASET PIPELINE [SCREENSHOT.png]`` with ``DISPLAY`` and
``QT_QPA_PLATFORM=xcb``.
"""

from __future__ import annotations

import math
import sys
from itertools import combinations
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from medical_imaging_framework.tools import plan_probe
from medical_imaging_framework.tools.planning import make_plan
from tests.support.x11_driving import editor, when, xdotool

PLAN_PATIENCE_MS = 240_000  # the job imports MONAI and reads the cases: slow on a loaded machine, never a hang


def measured_by_rule(fingerprint: dict[str, Any], memory_gb: float, device: str, minutes: float) -> Any:
    """The plan with a stand-in for the probe process."""
    return make_plan(fingerprint, lambda patch, depth: 1000 * math.prod(patch), int((memory_gb or 1) * 2**30),
                     lambda patch, depth: 0.5, minutes, device or "cpu")


def main(dataset: str, pipeline: str, screenshot: str = "") -> int:
    plan_probe.plan_with_probe = measured_by_rule
    app, window = editor(pipeline)
    window.resize(1500, 950)
    window.show()
    failures: list[str] = []
    state: dict[str, Any] = {"planned": 0}

    def check(ok: bool, text: str) -> None:
        print(("ok: " if ok else "FAILED: ") + text)
        if not ok:
            failures.append(text)

    def click(widget: QWidget) -> None:
        at = widget.mapToGlobal(widget.rect().center())
        xdotool("mousemove", str(at.x()), str(at.y()), "click", "1")

    def epochs() -> str:
        dialog = state["dialog"]
        rows = [r for r in range(dialog.choices.rowCount()) if dialog.choices.item(r, 0).text() == "epochs"]
        return dialog.choices.item(rows[0], 1).text() if rows else ""

    def start() -> None:
        xdotool("windowfocus", "--sync", str(int(window.winId())))
        xdotool("key", "alt+f", "d")
        when(lambda: getattr(window, "plan_dialog", None) is not None and window.plan_dialog.isVisible(), fill,
             "File > New from Dataset... to open its dialog")

    def fill() -> None:
        dialog = state["dialog"] = window.plan_dialog
        dialog.planned.connect(lambda: state.update(planned=state["planned"] + 1))
        xdotool("search", "--sync", "--onlyvisible", "--name", "New from Dataset")
        xdotool("windowfocus", "--sync", str(int(dialog.winId())))
        dialog.device.setCurrentText("cpu")
        dialog.minutes.setValue(0.01)
        click(dialog.path_edit)
        xdotool("type", "--delay", "5", dataset)
        when(lambda: dialog.path_edit.text() == dataset, lambda: click(dialog.start_button) or when(
            lambda: state["planned"] == 1, planned, "the fingerprint and plan", patience=PLAN_PATIENCE_MS),
            "the typed dataset path")

    def planned() -> None:
        dialog = state["dialog"]
        check(dialog.cases.rowCount() == 4, f"the cases table lists the 4 cases ({dialog.cases.rowCount()})")
        problems = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
        check(len(problems) == 1 and "labelsTr/case_01.nii.gz: geometry" in problems[0],
              f"the problem names the label file: {problems}")
        state["epochs"] = epochs()
        check(state["epochs"] == "1", f"a 0.01 min budget plans 1 epoch ({state['epochs']})")
        click(dialog.minutes)
        xdotool("key", "ctrl+a")
        xdotool("type", "600")
        when(lambda: dialog.minutes.value() == 600.0, lambda: click(dialog.replan_button) or when(
            lambda: state["planned"] == 2, replanned, "the re-plan", patience=PLAN_PATIENCE_MS),
            "600 typed into the training time")

    def replanned() -> None:
        dialog = state["dialog"]
        check(int(epochs() or 0) > 1, f"600 min re-planned to more epochs ({epochs()})")
        check(dialog.progress.value() == dialog.progress.maximum() == 4,
              f"the progress bar still shows the 4 cases read ({dialog.progress.value()}/{dialog.progress.maximum()})")
        if screenshot:
            dialog.grab().save(screenshot)
        dialog.minutes.setValue(0.01)  # a run this test can wait for: one epoch
        click(dialog.replan_button)
        when(lambda: state["planned"] == 3, lambda: click(dialog.open_button) or when(
            lambda: str(window.path).endswith("plan_train.json"), opened, "Open Train Pipeline"),
            "the one-epoch plan", patience=PLAN_PATIENCE_MS)

    def opened() -> None:
        graph = window.current_graph()
        scene = window.node_graph.viewer().scene()
        nodes = [window.canvas.canvas_node(n).view.sceneBoundingRect() for n in graph.nodes]
        notes = [i.sceneBoundingRect() for i in scene.items() if type(i).__name__ == "_NoteItem"]
        check(len(notes) == len(graph.nodes), f"one note per node ({len(notes)} for {len(graph.nodes)})")
        check(not [1 for note in notes for node in nodes if note.intersects(node)], "no note covers a node")
        check(not [1 for a, b in combinations(notes, 2) if a.intersects(b)], "no note covers another")
        xdotool("windowfocus", "--sync", str(int(window.winId())))
        xdotool("key", "F5")
        when(lambda: window.runner.running, lambda: when(
            lambda: not window.runner.running, ran, "the run to end", patience=PLAN_PATIENCE_MS),
            "F5 to start the run", patience=60_000)

    def ran() -> None:
        folder = Path(window.current_graph().nodes["trainer"].config["checkpoint_dir"])
        check((folder / "best_model.pt").is_file(), f"the run from the editor saved {folder / 'best_model.pt'}")
        app.exit(1 if failures else 0)

    when(window.isVisible, start, "the window to show")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
