"""Evaluation results on disk, for `mif report`: ``evaluation.csv`` and ``evaluation_samples.npz``.

``evaluation.csv`` has one row per case and a last row named ``mean``; its columns, in this order: ``name``,
``grid`` (``original`` or ``model``: the grid the case was scored on), ``checkpoint`` (absolute path of the
weights' file, empty when they were only in memory), ``run_id`` and ``epoch`` of those weights (empty when
unknown), then each metric (`metrics.evaluate_case`). The provenance columns repeat on every row, so a reader
needs no other file (`mif report` compares ``run_id`` with the folder's checkpoints).
``evaluation_samples.npz`` holds up to `samples.MAX_SAMPLES` 2D planes, cut from the grid scored: per case and
class, the slice with the most foreground of that class (`samples.case_planes`), of the image (when known), the
label and the prediction; each plane's name says the case, the class and the slice.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from medical_imaging_framework.nodes.inference.weights import WeightsSource
from medical_imaging_framework.tools.report_inputs import PROVENANCE_COLUMNS

EVALUATION_NAME = "evaluation.csv"
SAMPLES_NAME = "evaluation_samples.npz"


def output_folder(output_dir: str, weights: WeightsSource | None) -> tuple[Path | None, str]:
    """Where ``evaluation.csv`` goes, and a warning when that folder holds another run's checkpoints.

    Empty ``output_dir``: beside the checkpoint the weights come from, so the evaluation lands in that run's
    folder and `mif report` of it shows it; None (print only) when the weights come from no file.

    Args:
        output_dir: the node's parameter as typed.
        weights: the checkpoint that produced the predictions (None: unknown).
    """
    if not output_dir.strip():
        return (weights.folder if weights is not None else None), ""
    folder = Path(os.path.expanduser(output_dir.strip()))
    if weights is None or not weights.run_id or not folder.is_dir():
        return folder, ""
    from medical_imaging_framework.tools.report import folder_run_ids

    runs = folder_run_ids(folder)
    if runs and weights.run_id not in runs:
        return folder, (f"output_dir '{output_dir.strip()}' holds the checkpoints of run(s) {', '.join(sorted(runs))}, "
                        f"but the scored weights are {weights.checkpoint or 'in memory'} (run {weights.run_id}): "
                        "`mif report` of that folder will mark this evaluation as another run's; leave output_dir "
                        "empty to write it beside the scored checkpoint")
    return folder, ""


def write_evaluation(folder: str | os.PathLike[str], rows: list[dict[str, Any]], mean: dict[str, float],
                     planes: list[dict[str, Any]], grid: str = "original",
                     weights: WeightsSource | None = None) -> Path:
    """Write the table and the sample planes into ``folder`` (created); returns the CSV path.

    Args:
        folder: where to write (e.g. the run's checkpoint folder).
        rows: per-case metrics (``name`` and numbers).
        mean: mean of each metric.
        planes: the sample planes (`samples.case_planes`: name, image or None, label, prediction).
        grid: the grid the cases were scored on (``original`` or ``model``).
        weights: the checkpoint that produced the predictions (None: unknown).
    """
    target = Path(os.path.expanduser(str(folder)))
    target.mkdir(parents=True, exist_ok=True)
    metrics = [key for key in rows[0] if key != "name"]
    columns = ["name", *PROVENANCE_COLUMNS, *metrics]
    provenance = {"grid": grid, "checkpoint": weights.checkpoint if weights else "",
                  "run_id": (weights.run_id or "") if weights else "",
                  "epoch": "" if weights is None or weights.epoch is None else str(weights.epoch)}
    path = target / EVALUATION_NAME
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in [*rows, {"name": "mean", **mean}]:
            writer.writerow({**provenance, **{key: _cell(row.get(key)) for key in ["name", *metrics]}})
    arrays: dict[str, np.ndarray] = {}
    for index, plane in enumerate(planes):
        arrays[f"name_{index}"] = np.asarray(plane["name"])
        arrays[f"prediction_{index}"] = plane["prediction"]
        arrays[f"label_{index}"] = plane["label"]
        if plane["image"] is not None:
            arrays[f"image_{index}"] = plane["image"]
    np.savez_compressed(target / SAMPLES_NAME, **arrays)
    return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else repr(value))
    return "" if value is None else str(value)
