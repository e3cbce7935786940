"""Issue 23: the Results dock reads a case off the GUI thread; the newest selection wins, one read at a time.

A fake case source stands in for the evaluation's (no run needed): its reads wait on an event the test sets, so
what the GUI thread does meanwhile is seen deterministically.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer

from medical_imaging_framework.app.qt.gc_guard import collector
from medical_imaging_framework.app.widgets.case_table import EMPTY_TEXT
from medical_imaging_framework.app.window.results_dock import ResultsPanel
from medical_imaging_framework.nodes.evaluation.case_source import CaseArrays
from medical_imaging_framework.run.events import MetricsReported
from medical_imaging_framework.run.executor import RunResult
from medical_imaging_framework.run.status import RunStatus

NAMES = ("a", "b", "c")
WAIT_S = 10.0  # a gate the test forgets to open fails the read instead of hanging the suite


class GatedSource:
    """A `CaseSource` look-alike: 16³ cases; the read of a gated case waits until the test opens its gate.

    Args:
        gated: the names whose reads wait.
        failing: the names whose reads raise ``FileNotFoundError``.
    """

    grid = "original"
    class_names = ("background", "organ")

    def __init__(self, gated: tuple[str, ...] = (), failing: tuple[str, ...] = ()) -> None:
        self.gates = {name: threading.Event() for name in gated}
        self.failing = failing
        self.started: list[str] = []
        self.threads: list[threading.Thread] = []
        self.running = self.most_running = 0
        self.lock = threading.Lock()

    def read(self, name: str) -> CaseArrays:
        with self.lock:
            self.started.append(name)
            self.threads.append(threading.current_thread())
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            if name in self.gates:
                if threading.current_thread() is threading.main_thread():
                    raise RuntimeError("read on the GUI thread")  # waiting here would freeze the test for good
                if not self.gates[name].wait(WAIT_S):
                    raise TimeoutError(f"gate of {name} never opened")
            if name in self.failing:
                raise FileNotFoundError(f"[Errno 2] No such file or directory: '/data/{name}.nii.gz'")
            label = np.zeros((16, 16, 16), np.int16)
            label[4:12, 4:12, NAMES.index(name) + 4] = 1
            return CaseArrays(name, np.full(label.shape, NAMES.index(name), np.float32), label, label.copy())
        finally:
            with self.lock:
                self.running -= 1


def _panel(qtbot: Any, source: GatedSource, keep: bool = True) -> tuple[ResultsPanel, list[str]]:
    """A panel filled as after an evaluation run in the editor (case ``a`` selected), and the cases it draws."""
    panel = ResultsPanel()
    if keep:
        qtbot.addWidget(panel)
    view = panel.viewer.build()
    drawn: list[str] = []
    real = view.show_case
    view.show_case = lambda name, *args: drawn.append(name) or real(name, *args)
    rows = tuple({"name": name, "dice": 0.5, "hd95": 1.0, "missed": 0} for name in NAMES)
    panel.on_event(MetricsReported("evaluate", {"dice": 0.5, "hd95": 1.0, "missed": 0}, rows))
    panel.run_finished(RunResult(status=RunStatus.DONE, outputs={"evaluate": {"metrics": {"cases": source}}}))
    return panel, drawn


def _settle(qtbot: Any, panel: ResultsPanel) -> None:
    """Until no read runs or waits, and the GC guard has seen its thread end."""
    qtbot.waitUntil(lambda: not panel.reader.busy, timeout=int(WAIT_S * 1000))
    qtbot.waitUntil(lambda: not collector().active, timeout=int(WAIT_S * 1000))


def test_a_slow_read_leaves_the_gui_thread_free_and_says_which_case_is_read(qtbot: Any) -> None:
    source = GatedSource(gated=("a",))
    panel, drawn = _panel(qtbot, source)
    try:
        assert panel.viewer.caption.text() == "Reading case a…"
        qtbot.waitUntil(lambda: source.started == ["a"])
        fired: list[bool] = []
        QTimer.singleShot(0, lambda: fired.append(True))
        qtbot.waitUntil(lambda: bool(fired))  # the GUI thread runs its events while the read waits
        assert source.running == 1 and panel.reading and drawn == []
        assert collector().active, "only the GUI thread collects while the read thread runs"
        assert source.threads[0] is not threading.main_thread()
    finally:
        source.gates["a"].set()
    qtbot.waitUntil(lambda: drawn == ["a"])
    view = panel.viewer.build()
    assert "<b>a</b> (16×16×16, original grid)" in view.caption.text()
    assert np.array_equal(view.image_item.image, np.zeros((16, 16), np.float32))
    _settle(qtbot, panel)


def test_the_newest_selection_wins_and_waits_for_the_one_read_running(qtbot: Any) -> None:
    source = GatedSource(gated=("a",))
    panel, drawn = _panel(qtbot, source)
    try:
        qtbot.waitUntil(lambda: source.started == ["a"])
        for row in (1, 2, 1, 2, 1):  # a user holding N and P while case a is read
            panel.cases.select_row(row)
        assert panel.viewer.caption.text() == "Reading case b…"
        assert source.started == ["a"], "nothing else starts while a read runs"
    finally:
        source.gates["a"].set()
    _settle(qtbot, panel)
    assert source.started == ["a", "b"] and source.most_running == 1, "only the newest waiting one was read"
    assert drawn == ["b"], "a's late result is never drawn"
    assert "<b>b</b>" in panel.viewer.caption.text()


def test_a_reset_or_a_closed_panel_during_a_read_draws_nothing(qtbot: Any) -> None:
    source = GatedSource(gated=("a",))
    panel, drawn = _panel(qtbot, source)
    try:
        qtbot.waitUntil(lambda: source.started == ["a"])
        assert panel.viewer.caption.text() == "Reading case a…"
        panel.reset()  # a new run starts
    finally:
        source.gates["a"].set()
    _settle(qtbot, panel)
    assert drawn == [] and panel.viewer.caption.text() == EMPTY_TEXT

    closing = GatedSource(gated=("a",))
    gone, drawn = _panel(qtbot, closing, keep=False)
    try:
        qtbot.waitUntil(lambda: closing.started == ["a"])
        with qtbot.waitSignal(gone.destroyed):
            gone.deleteLater()  # the window closes while the case is read
    finally:
        closing.gates["a"].set()
    from medical_imaging_framework.app.window import case_reader

    reader = gone.reader
    del gone
    qtbot.waitUntil(lambda: not reader.busy, timeout=int(WAIT_S * 1000))  # its outcome has been handled
    qtbot.waitUntil(lambda: not collector().active, timeout=int(WAIT_S * 1000))
    assert drawn == [] and not case_reader._RUNNING, "nothing drawn; the reader let go once its thread ended"


def test_a_read_error_is_shown_in_the_viewer(qtbot: Any) -> None:
    source = GatedSource(failing=("a",))
    panel, drawn = _panel(qtbot, source)
    qtbot.waitUntil(lambda: "cannot be shown" in panel.viewer.caption.text(), timeout=int(WAIT_S * 1000))
    assert panel.viewer.caption.text() == ("case 'a' cannot be shown: FileNotFoundError: [Errno 2] No such file or "
                                           "directory: '/data/a.nii.gz'")
    assert drawn == [] and source.threads[0] is not threading.main_thread()
    _settle(qtbot, panel)


def test_the_whole_volume_is_looked_at_off_the_gui_thread(qtbot: Any, monkeypatch: Any) -> None:
    """The legend's classes and the opening slice look at every voxel (a second for 512×512×200): read thread."""
    volume_passes: list[threading.Thread] = []
    real_unique = np.unique

    def unique(array: Any, *args: Any, **kwargs: Any) -> Any:
        if np.ndim(array) == 3:
            volume_passes.append(threading.current_thread())
        return real_unique(array, *args, **kwargs)

    monkeypatch.setattr(np, "unique", unique)
    panel, drawn = _panel(qtbot, GatedSource())
    qtbot.waitUntil(lambda: drawn == ["a"])
    view = panel.viewer.build()
    assert view.slice_slider.value() == 4 and view.slice_label.text() == "slice 5 of 16", "opens where the label is"
    assert "organ" in view.caption.text()
    assert volume_passes and threading.main_thread() not in volume_passes
    _settle(qtbot, panel)


def test_closing_the_window_during_a_read_draws_nothing(qtbot: Any, registry: Any) -> None:
    from PySide6.QtCore import Qt

    from medical_imaging_framework.app.window.main_window import MainWindow

    window = MainWindow(None, registry=registry)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # as `mif gui` makes its windows (windows.py)
    source = GatedSource(gated=("a",))
    panel = window.results
    view = panel.viewer.build()
    drawn: list[str] = []
    view.show_case = lambda name, *args: drawn.append(name)
    rows = tuple({"name": name, "dice": 0.5, "hd95": 1.0, "missed": 0} for name in NAMES)
    panel.on_event(MetricsReported("evaluate", {"dice": 0.5}, rows))
    panel.run_finished(RunResult(status=RunStatus.DONE, outputs={"evaluate": {"metrics": {"cases": source}}}))
    try:
        qtbot.waitUntil(lambda: source.started == ["a"])
        assert panel.viewer.caption.text() == "Reading case a…"
        reader = panel.reader
        with qtbot.waitSignal(window.destroyed):
            assert window.close()
    finally:
        source.gates["a"].set()
    del window, panel, view
    qtbot.waitUntil(lambda: not reader.busy, timeout=int(WAIT_S * 1000))  # its outcome has been handled
    qtbot.waitUntil(lambda: not collector().active, timeout=int(WAIT_S * 1000))
    assert drawn == []
