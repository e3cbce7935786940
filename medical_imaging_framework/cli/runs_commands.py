"""`mif runs`: the recorded runs of a working folder (`run.run_index`): list, show one, diff two."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from medical_imaging_framework.cli.errors import EXIT_OK, UsageError
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.pipeline_diff import diff_pipelines
from medical_imaging_framework.run.records import RunRecord
from medical_imaging_framework.run.run_index import RunLookupError, find_run, list_runs
from medical_imaging_framework.run.run_liveness import KILLED, last_metrics_epoch

COLUMNS = ("id", "pipeline", "status", "epochs", "best val loss", "mean Dice", "started", "folder")


def number(value: float | None) -> str:
    """``0.1234``, ``inf``, or ``-`` when there is none."""
    if value is None:
        return "-"
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def run_row(record: RunRecord) -> list[str]:
    """The `COLUMNS` of one run, as text."""
    return [record.run_id, record.pipeline_name or "-", record.status, record.epochs_text, number(record.best_val_loss),
            number(record.mean_dice), record.started, str(record.folder or "")]


def _folder(text: str) -> Path:
    folder = Path(text or ".")
    if not folder.is_dir():
        raise UsageError(f"mif runs: {text!r} is not a folder")
    return folder


def runs_command(args: argparse.Namespace) -> int:
    """`mif runs [FOLDER]`, `mif runs show ID`, `mif runs diff ID1 ID2` (``-C FOLDER`` for the last two)."""
    words = list(args.words)
    try:
        if words[:1] == ["show"]:
            if len(words) != 2:
                raise UsageError("mif runs show: expected one run id (mif runs show ID)")
            print_record(find_run(_folder(args.folder), words[1]))
        elif words[:1] == ["diff"]:
            if len(words) != 3:
                raise UsageError("mif runs diff: expected two run ids (mif runs diff ID1 ID2)")
            folder = _folder(args.folder)
            print_diff(find_run(folder, words[1]), find_run(folder, words[2]))
        else:
            if len(words) > 1:
                raise UsageError(f"mif runs: one folder expected, got {len(words)} ({' '.join(words)})")
            print_runs(_folder(words[0] if words else args.folder))
    except RunLookupError as error:
        raise UsageError(f"mif runs: {printable(error)}") from None
    return EXIT_OK


def print_runs(folder: Path) -> None:
    """The table of `COLUMNS`, newest run first."""
    runs = list_runs(folder)
    if not runs:
        print(f"No recorded runs in {printable(folder.resolve())}")
        return
    rows = [list(COLUMNS)] + [[printable(cell) for cell in run_row(record)] for record in runs]
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def print_record(record: RunRecord) -> None:
    """One run: its facts, segments, evaluations and overrides."""
    lines = [f"Run {record.run_id}: {record.pipeline_name or '-'} ({record.status})",
             *killed_lines(record),
             f"  record:        {record.path}",
             f"  started/ended: {record.started} / {record.ended or '-'}",
             f"  mode, device:  {record.mode or '-'}, {record.device or '-'}",
             f"  epochs:        {record.epochs_text}; best val loss {number(record.best_val_loss)}",
             f"  checkpoints:   {', '.join(record.checkpoint_folders) or '-'}",
             *(f"  reused:        {reused.node_id}: run {reused.run_id}, epoch {reused.epoch}, {reused.folder}"
               for reused in record.reused),
             f"  metrics.csv:   {', '.join(record.metrics_csv) or '-'}",
             f"  segments ({len(record.segments)}):"]
    for number_, segment in enumerate(record.segments, 1):
        lines.append(f"    {number_}. {segment.started} -> {segment.ended or '...'}  {segment.status}, "
                     f"epochs {segment.epoch_from} -> {segment.epoch_to}"
                     + (f"; --set {' '.join(segment.overrides)}" if segment.overrides else ""))
    lines.append(f"  evaluations ({len(record.evaluations)}):")
    for evaluation in record.evaluations:
        per_class = ", ".join(f"{name} {number(value)}" for name, value in evaluation.dice_per_class.items())
        weights = evaluation.checkpoint or "in memory"
        epoch = "?" if evaluation.weights_epoch is None else evaluation.weights_epoch
        lines.append(f"    {evaluation.node_id}: mean Dice {number(evaluation.mean.get('dice'))}"
                     + (f" ({per_class})" if per_class else "")
                     + f"; weights {weights} (run {evaluation.weights_run_id or '?'}, epoch {epoch})"
                     + (f"; {evaluation.csv}" if evaluation.csv else ""))
    print(printable("\n".join(lines), keep_newlines=True))


def killed_lines(record: RunRecord) -> list[str]:
    """What ``show`` says of a killed run: its process is gone, and the last epoch its ``metrics.csv`` holds."""
    if record.status != KILLED or record.process is None:
        return []
    last, _ = last_metrics_epoch(record)
    return [f"  killed:        its process ({record.process.describe()}) is gone and never wrote the run's end; "
            f"last epoch in metrics.csv: {'none' if last is None else last}"]


def print_diff(a: RunRecord, b: RunRecord) -> None:
    """The changed parameters, nodes and links from run ``a``'s pipeline to ``b``'s."""
    changes = diff_pipelines(a.pipeline, b.pipeline)
    computed = [change for change in changes if change.kind != "output"]
    print(f"{a.run_id} -> {b.run_id}: {len(computed)} change(s)")
    for change in computed:
        print(printable(f"  {change.describe()}"))
    outputs = [change for change in changes if change.kind == "output"]
    if outputs:
        print("written elsewhere:")
        for change in outputs:
            print(printable(f"  {change.describe()}"))


__all__ = ["COLUMNS", "killed_lines", "number", "print_diff", "print_record", "print_runs", "run_row", "runs_command"]
