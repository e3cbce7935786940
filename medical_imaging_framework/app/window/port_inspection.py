"""Wires the run's output summaries to the canvas: after a run in the editor, an output port's tooltip says
what it held (`app/canvas/port_summaries.py`); a new run or another pipeline clears them."""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.app.canvas.port_summaries import clear_summaries, show_summaries
from medical_imaging_framework.run.events import Event, NodeFinished


def install_port_inspection(window: Any) -> None:
    """Connect ``window``'s runner to its canvas's output-port tooltips.

    Args:
        window: the main window (its ``runner`` and ``canvas`` exist).
    """
    canvas = window.canvas
    reused: set[str] = set()  # the nodes the run took from an earlier one (their tooltips say so)

    def note(event: Event) -> None:
        if isinstance(event, NodeFinished) and event.reused:
            reused.add(event.node_id)

    def start() -> None:
        reused.clear()
        clear_summaries(canvas)

    window.runner.event.connect(note)
    window.runner.summarized.connect(lambda summaries: show_summaries(canvas, summaries, reused))
    window.runner.started.connect(start)
