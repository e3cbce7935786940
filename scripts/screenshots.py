"""Render the documentation screenshots: ``python scripts/screenshots.py docs/images``.

Writes ``main_window.png`` (the default pipeline during a short run: canvas with node states, log,
loss plot, checkpoints), ``case_viewer_2d.png`` / ``case_viewer_3d.png`` (the Results dock after a short
train + evaluate run: the per-case table and one case with its label outlined and its prediction filled) and
``trainer_dialog.png`` / ``trainer_dialog_invalid.png`` (the Trainer's
parameter dialog, then refusing an invalid value) and ``trainer_dialog_three_errors.png`` (three refused
values at once, each message in full under its field), ``canvas_notes.png`` (a group and a note on the
canvas), ``link_drop_search.png`` (the node search opened by a link dropped in empty space) and
``runs_dock.png`` (two recorded runs of different learning rates in the Runs dock, their curves overlaid).
Works offscreen (``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

RUN_SETTINGS = {
    "phantoms": {"count": 32, "size": 64},
    "train_loader": {"batch_size": 4},
    "val_loader": {"batch_size": 4},
    "unet": {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 1},
    "trainer": {"num_epochs": 12, "save_every_n_epochs": 2, "device": "cpu"},
}
EPOCHS_SHOWN = 5
RESULTS_SETTINGS = {  # a short 2D or 3D train + evaluate run whose predictions already look like the phantoms
    "phantoms": {"count": 16, "size": 48},
    "split": {"val_fraction": 0.25},
    "unet": {"channels": [8, 16], "strides": [2], "num_res_units": 1},
    "trainer": {"num_epochs": 12, "device": "cpu", "save_every_n_epochs": 12},
    "predictor": {"device": "cpu", "sliding_window": "off"},
}
THREE_ERRORS = {"num_epochs": "0", "save_every_n_epochs": "every few epochs", "keep_last_n": "-3"}


def _wait(app: object, condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.01)
    return True


def canvas_shots(app: object, window: object, folder: Path) -> list[Path]:
    """Render ``canvas_notes.png`` and ``link_drop_search.png`` from ``window`` (the default pipeline).

    Args:
        app: the QApplication.
        window: the main window showing the default pipeline.
        folder: output folder.
    """
    from PySide6.QtCore import QPointF

    canvas = window.canvas  # type: ignore[attr-defined]
    canvas.select(["adam", "dice_loss"])
    group = canvas.group_nodes(canvas.selected_ids())
    canvas.editor.change_annotation(group, title="Optimisation", text="Adam on the Dice loss")
    x, y = canvas.graph.nodes["phantoms"].position
    canvas.add_note((x, y + 120), "Try Focal loss", "if the Dice loss stalls after 10 epochs,\nswap in Focal loss")
    canvas.select([])
    window.fit_view()  # type: ignore[attr-defined]
    _wait(app, lambda: False, 0.3)
    written = [folder / "canvas_notes.png"]
    window.node_graph.widget.grab().save(str(written[-1]))  # type: ignore[attr-defined]
    port = canvas.canvas_node("unet").outputs()["model"].view
    popup = canvas.link_dropped(port, port.sceneBoundingRect().center() + QPointF(80, 160))
    _wait(app, lambda: False, 0.3)
    written.append(folder / "link_drop_search.png")
    popup.grab().save(str(written[-1]))
    popup.hide()
    return written


def runs_dock_shot(app: object, registry: object, folder: Path) -> Path:
    """Render ``runs_dock.png``: two short recorded runs (Adam lr 0.001 and 0.01) in the Runs dock, both selected
    and their loss curves overlaid in the Loss dock.

    Args:
        app: the QApplication.
        registry: node types.
        folder: output folder.
    """
    from medical_imaging_framework.app.window.main_window import MainWindow
    from medical_imaging_framework.core import load_pipeline, save_pipeline
    from medical_imaging_framework.core.examples import resolve_pipeline_path
    from medical_imaging_framework.run.session import RunSession

    before = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="mif-runs-shot-") as scratch:
        os.chdir(scratch)  # the working folder of the runs
        try:
            graph = load_pipeline(resolve_pipeline_path("segmentation_train.json"), registry)  # type: ignore[arg-type]
            for node_id, settings in {**RUN_SETTINGS, "phantoms": {"count": 16, "size": 32}}.items():
                graph.nodes[node_id].config.update(settings)
            for lr, name in ((0.001, "lr_0.001"), (0.01, "lr_0.01")):
                graph.nodes["adam"].config["lr"] = lr
                graph.nodes["trainer"].config.update({"checkpoint_dir": name, "num_epochs": 8})
                session = RunSession(graph, registry)  # type: ignore[arg-type]
                session.record_mode = "mif run"
                session.run_here()
            save_pipeline(graph, Path(scratch) / "segmentation_train.json")
            window = MainWindow(Path(scratch) / "segmentation_train.json", registry=registry)  # type: ignore[arg-type]
            window.resize(1600, 1000)
            window.show()
            window.runs.dock.raise_()
            _wait(app, lambda: not window.runs.stale, 10)
            window.runs.panel.select_ids([record.run_id for record in window.runs.panel.records])
            window.runs.panel.buttons["overlay"].click()
            window.plot_dock.raise_()
            window.runs.dock.raise_()
            _wait(app, lambda: False, 0.5)
            path = folder / "runs_dock.png"
            window.grab().save(str(path))
            window.canvas.editor.history.set_clean()
            window.close()
        finally:
            os.chdir(before)
    return path


def results_shots(app: object, folder: Path, scratch: str) -> list[Path]:
    """Render ``case_viewer_2d.png`` and ``case_viewer_3d.png``: the Results dock after a 2D and a 3D run.

    Args:
        app: the QApplication.
        folder: output folder.
        scratch: a temporary folder for the runs' checkpoints.
    """
    from medical_imaging_framework.app.window.main_window import MainWindow
    from medical_imaging_framework.core import NodeRegistry, load_pipeline
    from medical_imaging_framework.core.examples import resolve_pipeline_path

    registry, written = NodeRegistry(), []
    for dims in (2, 3):
        graph = load_pipeline(resolve_pipeline_path("segmentation_train_3d.json"), registry)
        for node_id, settings in RESULTS_SETTINGS.items():
            graph.nodes[node_id].config.update(settings)
        graph.nodes["phantoms"].config["spatial_dims"] = graph.nodes["unet"].config["spatial_dims"] = str(dims)
        graph.nodes["phantoms"].config["size"] = 48 if dims == 2 else 32
        graph.nodes["predictor"].config["roi_size"] = [graph.nodes["phantoms"].config["size"]] * dims
        graph.nodes["cosine_lr"].config["t_max"] = RESULTS_SETTINGS["trainer"]["num_epochs"]
        graph.nodes["trainer"].config["checkpoint_dir"] = str(Path(scratch) / f"results_{dims}d")
        window = MainWindow(registry=registry)
        window.show_graph(graph, Path(f"phantoms_{dims}d.json"))
        window.resize(1400, 900)
        window.show()
        window.run_pipeline()
        _wait(app, lambda w=window: not w.runner.running, 600)
        window.results_dock.setFloating(True)  # the dock alone, at a size that shows the case large enough
        window.results_dock.resize(560, 820)
        window.results.cases.select_row(1)
        _wait(app, lambda: False, 0.5)
        written.append(folder / f"case_viewer_{dims}d.png")
        window.results_dock.grab().save(str(written[-1]))
        window.canvas.editor.history.set_clean()
        window.close()
    return written


def render(folder: Path, only: str = "") -> list[Path]:
    """Render the screenshots into ``folder``; returns the files written.

    Args:
        folder: output folder (created when missing).
        only: ``results``: only the case viewer's screenshots.
    """
    from PySide6.QtWidgets import QApplication

    from medical_imaging_framework.app.window.main_window import MainWindow
    from medical_imaging_framework.core import NodeRegistry, load_pipeline
    from medical_imaging_framework.core.examples import resolve_pipeline_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    folder.mkdir(parents=True, exist_ok=True)
    registry = NodeRegistry()
    pipeline = resolve_pipeline_path("segmentation_train.json")
    written = []
    with tempfile.TemporaryDirectory(prefix="mif-screenshots-") as scratch:
        written += results_shots(app, folder, scratch)
        if only == "results":
            return written
        graph = load_pipeline(pipeline, registry)
        for node_id, settings in RUN_SETTINGS.items():
            graph.nodes[node_id].config.update(settings)
        graph.nodes["trainer"].config["checkpoint_dir"] = str(Path(scratch) / "checkpoints")
        window = MainWindow(registry=registry)
        window.show_graph(graph, Path(pipeline.name))
        window.resize(1600, 1000)
        window.show()
        _wait(app, lambda: False, 0.3)
        window.fit_view()
        window.run_pipeline()
        _wait(app, lambda: len(window.loss_plot.epochs) >= EPOCHS_SHOWN and window.checkpoints.rowCount() >= 2, 300)
        _wait(app, lambda: False, 0.3)
        written.append(folder / "main_window.png")
        window.grab().save(str(written[-1]))
        window.stop_run()
        window.runner.wait()
        _wait(app, lambda: not window.runner.running, 30)
        dialog = window.open_param_dialog("trainer")
        dialog.fields["checkpoint_dir"].setText("checkpoints/unet_phantoms")
        dialog.fields["save_every_n_epochs"].setText("5")
        dialog.adjustSize()
        _wait(app, lambda: False, 0.2)
        written.append(folder / "trainer_dialog.png")
        dialog.grab().save(str(written[-1]))
        dialog.fields["save_every_n_epochs"].setText("0")
        dialog.validate()
        dialog.adjustSize()
        _wait(app, lambda: False, 0.2)
        written.append(folder / "trainer_dialog_invalid.png")
        dialog.grab().save(str(written[-1]))
        for name, text in THREE_ERRORS.items():
            dialog.fields[name].setText(text)
        dialog.validate()
        _wait(app, lambda: False, 0.2)
        written.append(folder / "trainer_dialog_three_errors.png")
        dialog.grab().save(str(written[-1]))
        dialog.reject()
        written += canvas_shots(app, window, folder)
        window.canvas.editor.history.set_clean()
        window.close()
    written.append(runs_dock_shot(app, registry, folder))
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry point.

    Args:
        argv: arguments (the output folder); ``sys.argv[1:]`` when None.
    """
    parser = argparse.ArgumentParser(description="Render the GUI screenshots used by the docs.")
    parser.add_argument("folder", nargs="?", default="docs/images", help="output folder (default docs/images)")
    parser.add_argument("--only", choices=("results",), default="", help="render only these screenshots")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = tempfile.mkdtemp(prefix="mif-screenshots-")  # the user's remembered layout and autosaves stay out
    os.environ["XDG_CONFIG_HOME"], os.environ["XDG_DATA_HOME"] = f"{scratch}/config", f"{scratch}/data"
    for path in render(Path(args.folder), args.only):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
