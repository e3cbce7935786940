"""Driven by `test_x11_canvas`: under a real X server (Xvfb), with real mouse and key events (xdotool):

1. click the ``adam`` node, Ctrl+C, move the mouse to empty canvas, Ctrl+V twice: the first copy lands at
   the mouse, the second one step further down-right;
2. drag a link from the ``model`` output of ``unet`` into empty space: the node search opens listing only
   node types with a Model input; type "load checkpoint", Return: the new node comes linked;
3. right-click the trainer: its node menu opens (with Open Checkpoint Folder).

Prints one line per check and exits 0 when all held, 1 otherwise.
Usage: ``python -m tests.support.x11_canvas_script PIPELINE.json`` with ``DISPLAY`` and ``QT_QPA_PLATFORM=xcb``.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QPoint

from medical_imaging_framework.app.window.main_window import MainWindow
from medical_imaging_framework.core.graph import Link
from medical_imaging_framework.core.placement import PASTE_STEP
from tests.support.x11_driving import editor, when, xdotool


def empty_point(window: MainWindow, near: QPoint) -> QPoint:
    """A viewport point with no canvas item within 30 px, the nearest to ``near`` on a 20 px grid."""
    viewer = window.node_graph.viewer()
    rect = viewer.viewport().rect().adjusted(40, 40, -40, -40)
    free = [QPoint(x, y) for x in range(rect.left(), rect.right(), 20) for y in range(rect.top(), rect.bottom(), 20)
            if not [i for i in viewer.scene().items(viewer.mapToScene(x - 30, y - 30, 60, 60)) if i.isVisible()]]
    return min(free, key=lambda p: (p - near).manhattanLength())


def main(pipeline: str) -> int:
    app, window = editor(pipeline)
    window.show()
    viewer = window.node_graph.viewer()
    viewport = viewer.viewport()
    graph = window.canvas.graph
    failures: list[str] = []

    def check(ok: bool, text: str) -> None:
        print(("ok: " if ok else "FAILED: ") + text)
        if not ok:
            failures.append(text)

    def screen(point: QPoint) -> list[str]:
        at = viewport.mapToGlobal(point)
        return [str(at.x()), str(at.y())]

    def start() -> None:
        xdotool("windowfocus", "--sync", str(int(window.winId())))
        window.node_graph.set_zoom(-0.4)  # room around the pipeline
        view = window.canvas.canvas_node("adam").view
        body = viewer.mapFromScene(view.mapToScene(view.boundingRect().center()))
        xdotool("mousemove", *screen(body), "click", "1")
        when(lambda: window.canvas.selected_ids() == ["adam"], copy_paste, "a click to select adam")

    def copy_paste() -> None:
        target = empty_point(window, QPoint(viewport.width() // 4, viewport.height() - 80))
        state["paste_at"] = viewer.mapToScene(target)
        xdotool("key", "ctrl+c", "mousemove", *screen(target))
        xdotool("key", "ctrl+v", "key", "ctrl+v")
        when(lambda: "adam_3" in graph.nodes, check_paste, "two pastes")

    def check_paste() -> None:
        at, first, second = state["paste_at"], graph.nodes["adam_2"].position, graph.nodes["adam_3"].position
        check(abs(first[0] - at.x()) < 1 and abs(first[1] - at.y()) < 1, f"first paste at the mouse: {first}")
        check(second == (first[0] + PASTE_STEP, first[1] + PASTE_STEP), f"second paste one step further: {second}")
        port = window.canvas.canvas_node("unet").outputs()["model"].view
        start_point = viewer.mapFromScene(port.sceneBoundingRect().center())
        end_point = empty_point(window, start_point + QPoint(60, 160))
        xdotool("mousemove", *screen(start_point), "mousedown", "1")
        for step in range(1, 9):
            xdotool("mousemove", *screen(start_point + (end_point - start_point) * step / 8))
        xdotool("mouseup", "1")
        search = window.canvas
        when(lambda: search._search is not None and search._search.isVisible(), choose, "the node search")

    def choose() -> None:
        popup = window.canvas._search
        titles = sorted(label.split(" — ")[0] for label in popup.labels())
        wanted = sorted(s.title for s in window.registry.specs() if any(p.kind == "Model" for p in s.inputs))
        check(titles == wanted, f"the search lists the {len(wanted)} node types with a Model input")
        xdotool("type", "--delay", "20", "load checkpoint")
        xdotool("key", "Return")
        when(lambda: "load_checkpoint" in graph.nodes, right_click, "the chosen node")

    def right_click() -> None:
        check(Link("unet", "model", "load_checkpoint", "model") in graph.links, "the chosen node is linked")
        view = window.canvas.canvas_node("trainer").view
        body = viewer.mapFromScene(view.mapToScene(view.boundingRect().center()))
        xdotool("mousemove", *screen(body), "click", "3")
        menu = window.context_menu
        when(lambda: menu.menu is not None and menu.menu.isVisible(), finish, "the right-click menu")

    def finish() -> None:
        names = [action.objectName() for action in window.context_menu.menu.actions() if action.objectName()]
        check("menu_open_checkpoints" in names and window.canvas.selected_ids() == ["trainer"],
              "a right-click on the trainer opens its node menu")
        xdotool("key", "Escape")
        app.exit(1 if failures else 0)

    state: dict[str, Any] = {}
    when(lambda: window.isVisible() and window.windowHandle() is not None and window.windowHandle().isExposed(),
         start, "the window to appear")
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
