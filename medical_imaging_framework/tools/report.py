"""`mif report`: one self-contained HTML page about a training run, from its checkpoint folder.

It shows the pipeline (a table of nodes and parameters, from the newest checkpoint), the loss curves
(a PNG from ``metrics.csv``), every checkpoint file with its epoch and losses, and, when an evaluation
wrote ``evaluation.csv`` there, the Dice/HD95 table and a grid of sample overlays. Images are embedded
as base64 PNGs, so the file can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medical_imaging_framework.checkpoints.files import (
    CheckpointError,
    checkpoint_files,
    peek_checkpoint,
    read_checkpoint,
)
from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.tools.report_inputs import (
    TEXT_COLUMNS,
    ReportInputError,
    read_evaluation,
    read_metrics_rows,
    read_samples,
)
from medical_imaging_framework.training.metrics_log import METRICS_NAME

Warn = Callable[[str], None]

REPORT_NAME = "report.html"
EVALUATION_NAME = "evaluation.csv"
SAMPLES_NAME = "evaluation_samples.npz"
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:0.25em 0.6em;"
    "text-align:left}th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "img{max-width:100%;border:1px solid #ddd}code{background:#f5f5f5}p.warning{color:#a00}"
)


class ReportError(Exception):
    """The folder cannot give a report (missing, or holding no run); the message says which."""


def _number(value: Any) -> str:
    if value is None or value == "":
        return "–"
    number = float(value)
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return "n/a" if math.isnan(number) else f"{number:.4f}"


def _count(value: str) -> str:
    """A whole number (``missed``: structures absent from their prediction), as written in evaluation.csv."""
    try:
        return str(int(float(value)))
    except (ValueError, OverflowError):  # an empty cell, nan or inf
        return _number(value) if value else "–"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{html.escape(cell)}</td>' if index in numeric else f"<td>{html.escape(cell)}</td>"
            for index, cell in enumerate(row)
        ) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def checkpoint_rows(folder: Path) -> tuple[list[list[str]], dict[str, Any]]:
    """Table rows ``[file, epoch, loss, val loss]`` and the pipeline stored in the newest readable file.

    Args:
        folder: the checkpoint folder.
    """
    rows: list[list[str]] = []
    newest: tuple[int, dict[str, Any]] = (-1, {})
    for path in checkpoint_files(folder):
        try:
            data = read_checkpoint(path, map_location="cpu")
        except CheckpointError as error:
            rows.append([path.name, "unreadable", str(error), ""])
            continue
        epoch = int(data["epoch"])
        rows.append([path.name, str(epoch), _number(data.get("loss")), _number(data.get("val_loss"))])
        if epoch >= newest[0] and isinstance(data.get("pipeline"), dict):
            newest = (epoch, data["pipeline"])
    return rows, newest[1]


def pipeline_rows(pipeline: dict[str, Any]) -> list[list[str]]:
    """``[node, type, parameters]`` per node of a pipeline JSON dict.

    Args:
        pipeline: the pipeline as stored in a checkpoint.
    """
    rows = []
    for node in pipeline.get("nodes", []):
        params = node.get("params") or node.get("config") or {}
        text = ", ".join(f"{name}={value}" for name, value in params.items())
        rows.append([str(node.get("id", "")), str(node.get("type", "")), text])
    return rows


def _left_out(error: ReportInputError, what: str, warn: Warn | None) -> str:
    """The note that stands in for a section whose file breaks a rule; ``warn`` gets the same line."""
    line = f"{error} ({what} left out of the report)"
    if warn is not None:
        warn(line)
    return f"<p>Left out: {html.escape(line)}</p>"


def _metrics_section(folder: Path, warn: Warn | None) -> str:
    path = folder / METRICS_NAME
    if not path.is_file():
        return f"<p>No {METRICS_NAME} in this folder (it is written by training runs of this version).</p>"
    from medical_imaging_framework.tools.report_figures import loss_curve_png

    try:
        rows = read_metrics_rows(path)
    except ReportInputError as error:
        return _left_out(error, "the loss curves", warn)
    if not rows:
        return f"<p>{METRICS_NAME} holds no epoch yet.</p>"
    columns = list(rows[0])

    def cell(name: str, value: float | None) -> str:
        return f"{value:.3g}" if name == "lr" and value is not None else _number(value)

    table = _table(
        columns,
        [[str(int(row["epoch"] or 0)), *(cell(name, row[name]) for name in columns[1:])] for row in rows],
        numeric=set(range(len(columns))),
    )
    return _image(loss_curve_png(rows), "loss curves") + f"<h3>Per epoch ({METRICS_NAME})</h3>" + table


def _evaluation_section(folder: Path, warn: Warn | None) -> str:
    path = folder / EVALUATION_NAME
    if not path.is_file():
        return ""
    parts = ["<h2>Evaluation</h2>"]
    try:
        columns, rows = read_evaluation(path)
        parts.append(_provenance(rows, folder, warn))
        grids = sorted({row["grid"] for row in rows if row.get("grid")})
        if grids:
            parts.append(f"<p>Scored on the {html.escape(' and '.join(grids))} grid "
                         "(original: each case's source image, after the inverse transforms; model: the grid the "
                         "model saw). HD95 in mm.</p>")
        shown = [column for column in columns if column not in TEXT_COLUMNS]
        parts.append(_table(shown, [[row["name"], *(_count(row[c]) if c == "missed" else _number(row[c])
                                                    for c in shown[1:])] for row in rows],
                            numeric=set(range(1, len(shown)))))
    except ReportInputError as error:
        parts.append(_left_out(error, "the evaluation table", warn))
    samples_path = folder / SAMPLES_NAME
    if samples_path.is_file():
        from medical_imaging_framework.tools.report_figures import overlay_grid_png

        try:
            samples = read_samples(samples_path)
        except ReportInputError as error:
            samples = []
            parts.append(_left_out(error, "the sample overlays", warn))
        if samples:
            parts.append("<h3>Samples (each class outlined in its own colour, the same in label and prediction; "
                         "per class, the slice with the most foreground, on the grid scored)</h3>")
            parts.append(_image(overlay_grid_png(samples), "sample overlays"))
    return "".join(parts)


def folder_run_ids(folder: Path) -> set[str]:
    """The run ids stored in the folder's checkpoint files (read without their tensors).

    Args:
        folder: the checkpoint folder.
    """
    return {peek.run_id for path in checkpoint_files(folder)
            if (peek := peek_checkpoint(path)) is not None and peek.run_id}


def _provenance(rows: list[dict[str, str]], folder: Path, warn: Warn | None) -> str:
    """Which checkpoint the evaluation scored; a warning when it belongs to another run than the folder's."""
    first = rows[0] if rows else {}
    checkpoint, run_id, epoch = (printable((first.get(key) or "")[:500]) for key in ("checkpoint", "run_id", "epoch"))
    if not (checkpoint or run_id or epoch):
        if "checkpoint" in first:
            return "<p>Weights scored: unknown (the model came from neither a Trainer nor Load Checkpoint).</p>"
        return "<p>This evaluation.csv does not say which checkpoint it scored (written by an older version).</p>"
    text = (f"Weights scored: {checkpoint or 'in memory (no checkpoint file)'} "
            f"(epoch {epoch or '?'}, run {run_id or '?'})")
    runs = folder_run_ids(folder)
    if run_id and runs and run_id not in runs:
        line = (f"{printable(str(folder / EVALUATION_NAME))} scored a checkpoint of another run ({checkpoint or '?'}, "
                f"run {run_id}, epoch {epoch or '?'}), not of the run(s) whose checkpoints are in this folder "
                f"({', '.join(sorted(runs))}): its figures are not this run's")
        if warn is not None:
            warn(line)
        return (f'<p class="warning"><strong>Evaluation of another run: {html.escape(line)}.</strong></p>'
                f"<p>{html.escape(text)}</p>")
    return f"<p>{html.escape(text)}</p>"


def write_report(
    folder: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, warn: Warn | None = None
) -> Path:
    """Write the HTML report of the run whose checkpoints are in ``folder``; returns its path.

    A ``metrics.csv``, ``evaluation.csv`` or ``evaluation_samples.npz`` that breaks a rule leaves its section
    out; the page says why where the section would be, and ``warn`` is given the same line.

    Args:
        folder: the Trainer's checkpoint folder.
        out: the HTML file (default ``folder/report.html``).
        warn: called with one line per section left out (naming the file and the rule it breaks).

    Raises:
        ReportError: the folder does not exist or holds neither checkpoints nor ``metrics.csv``.
    """
    root = Path(os.path.expanduser(str(folder)))
    if not root.is_dir():
        raise ReportError(f"'{folder}' is not a folder (give the checkpoint folder of a training run)")
    checkpoints, pipeline = checkpoint_rows(root)
    if not checkpoints and not (root / METRICS_NAME).is_file():
        raise ReportError(f"'{folder}' holds no checkpoint and no {METRICS_NAME}: is it a checkpoint folder?")
    name = str(pipeline.get("name", "")) or root.name
    parts = [
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Run report: {html.escape(name)}</title>",
        f"<style>{STYLE}</style></head><body><h1>Run report: {html.escape(name)}</h1>",
        f"<p>Checkpoint folder: <code>{html.escape(str(root))}</code></p>",
        "<h2>Loss curves</h2>", _metrics_section(root, warn),
        "<h2>Checkpoint files</h2>",
        _table(["file", "epoch", "loss", "validation loss"], checkpoints, numeric={1, 2, 3})
        if checkpoints else "<p>No checkpoint files.</p>",
        _evaluation_section(root, warn),
        "<h2>Pipeline</h2>",
        _table(["node", "type", "parameters"], pipeline_rows(pipeline)) if pipeline
        else "<p>No checkpoint stores the pipeline.</p>",
        "</body></html>",
    ]
    target = Path(out) if out else root / REPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, "\n".join(parts))  # a report being replaced is never seen half-written
    return target
