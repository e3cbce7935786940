"""EvaluateSegmentation: Dice and 95% Hausdorff distance per case and mean (MONAI metrics, in `metrics`).

Predictions and labels are class maps; both are one-hot encoded with ``PredictionSet.num_classes``
(2 for binary models) and the background class is left out, so binary Dice is the foreground Dice.
By default (``grid: original``) each case is scored on its source image's grid: the prediction taken back
through the transforms, as `SavePredictions` writes it, against the label file; ``grid: model`` scores the
grid the model saw (after resizing...). The Hausdorff distance is in millimetres (voxel spacing of the grid
scored; 1 without an affine), per class. A class in the label but missing from the prediction is *missed*:
Dice 0, HD95 ``inf``, counted in the ``missed`` column, and its ``inf`` makes the mean HD95 ``inf`` (never
averaged away). A class missing from both prediction and label is n/a, left out of the means.
The spec is plain data; torch and MONAI are imported when the node runs.
"""

from __future__ import annotations

import math
from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact, check_labels
from medical_imaging_framework.core.node_spec import RUN_EVERY_TIME
from medical_imaging_framework.nodes.inference.specs import PredictionSet
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import LogLine, MetricsReported
from medical_imaging_framework.run.executor import NodeContext


def format_table(rows: list[dict[str, Any]], mean: dict[str, float]) -> list[str]:
    """The metrics table as text lines (one per case, then the mean); ``inf`` HD95 is shown as ``inf``.

    Args:
        rows: per-case results.
        mean: mean of each metric.
    """
    columns = [key for key in rows[0] if key != "name"]
    width = max(8, *(len(row["name"]) for row in rows))

    def cell(column: str, value: float) -> str:
        size = len(column) if column == "missed" else max(9, len(column))
        if column == "missed":
            return f"{int(value):>{size}d}"
        if math.isinf(value):
            return f"{'inf':>{size}}"
        return f"{value:>{size}.4f}" if math.isfinite(value) else f"{'n/a':>{size}}"

    def head(column: str) -> str:
        return column if column == "missed" else f"{column:>9}"

    lines = [f"{'case':<{width}} " + " ".join(head(c) for c in columns)]
    lines += [f"{row['name']:<{width}} " + " ".join(cell(c, row[c]) for c in columns) for row in rows]
    lines.append(f"{'mean':<{width}} " + " ".join(cell(c, mean[c]) for c in columns))
    return lines


GRID_TITLES = {
    "original": "Scored on each case's original grid (predictions taken back through the transforms); HD95 in mm",
    "model": "Scored on the model's grid (after the transforms, not the source images' grid); HD95 in mm",
}


def class_names(ctx: NodeContext, text: str, predictions: PredictionSet) -> list[str] | None:
    """The class names for the columns (background first): the ``class_names`` parameter, else the data's
    (dataset.json ``labels``), else None (classes by number).

    Args:
        ctx: the running node's context (a warning when the data's names do not fit the model).
        text: the parameter, comma-separated (empty: not given).
        predictions: the predictions (their class count, the data's names).

    Raises:
        NodeError: the parameter gives another number of names than the model's classes, or a name twice.
    """
    count = predictions.num_classes
    if text.strip():
        names = [name.strip() for name in text.split(",")]
        if len(names) != count or not all(names) or len(set(names)) != len(names):
            raise NodeError(f"class_names: '{text.strip()}' gives {len(names)} name(s); the model predicts {count} "
                            f"classes, background included: give {count} different names, comma-separated, "
                            "background first (e.g. 'background, liver, lesion')")
        return ["_".join(name.split()) for name in names]
    names = predictions.class_names
    if not names:
        return None
    if len(names) != count or len(set(names)) != len(names):
        ctx.emit(LogLine(f"warning: the data names {len(names)} classes ({', '.join(names)}) but the model predicts "
                         f"{count}: classes are shown by number", ctx.node_id, "warning"))
        return None
    return ["_".join(name.split()) for name in names]


def run_evaluate(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from medical_imaging_framework.nodes.evaluation.metrics import evaluate_case, mean_row, on_grid
    from medical_imaging_framework.nodes.evaluation.samples import MAX_SAMPLES, case_planes

    predictions: PredictionSet = inputs["predictions"]
    if not predictions.cases and not predictions.sharded:
        raise NodeError("no predictions to evaluate")
    grid = config.get("grid", "original")
    names = class_names(ctx, config.get("class_names", ""), predictions)
    rows, notes, planes = [], set(), []
    for case in predictions.cases:
        prediction, label, spacing, note = on_grid(case, predictions, grid)
        notes.add(note)
        rows.append(evaluate_case(case.name, prediction, label, spacing, predictions.num_classes, names))
        if len(planes) < MAX_SAMPLES:  # the report's overlays, cut from the grid just scored
            image = case.image if grid == "model" else \
                (predictions.source_image(case.name) if predictions.source_image is not None else None)
            planes += case_planes(case.name, image, label, prediction, names, MAX_SAMPLES - len(planes))
        ctx.cancel.raise_if_cancelled()
    if predictions.sharded:  # every rank's rows, in the data's order (rank 0 prints them)
        from medical_imaging_framework.training.distributed import gather_sharded

        rows = gather_sharded(rows)
    mean = mean_row(rows)
    weights = predictions.weights
    ctx.log(f"Weights scored: {weights.checkpoint or 'in memory (no checkpoint file)'} "
            f"(epoch {'?' if weights.epoch is None else weights.epoch}, run {weights.run_id or '?'})"
            + (f"; {weights.note}" if weights.note else "")
            if weights is not None else "Weights scored: unknown (the model came from neither a Trainer nor "
            "Load Checkpoint)")
    ctx.log(GRID_TITLES[grid])
    for note in sorted(notes - {""}):
        ctx.log(f"note: {note}")
    for line in format_table(rows, mean):
        ctx.log(line)
    ctx.log(f"Mean Dice: {mean['dice']:.4f} over {len(rows)} case(s)")
    if mean["missed"]:
        ctx.log(f"Missed: {int(mean['missed'])} structure(s) present in a label are absent from its prediction "
                "(Dice 0, HD95 inf; counted in the 'missed' column, never averaged away)")
    ctx.emit(MetricsReported(node_id=ctx.node_id, mean=mean, per_case=tuple(rows)))
    from medical_imaging_framework.nodes.evaluation.files import output_folder, write_evaluation

    folder, warning = output_folder(config.get("output_dir", ""), weights)
    if predictions.sharded:
        from medical_imaging_framework.training.distributed import is_main

        if not is_main():  # every rank holds every row; rank 0 alone writes the files
            folder, warning = None, ""
    if warning:
        ctx.emit(LogLine(f"warning: {warning}", ctx.node_id, "warning"))
    if folder is not None:
        written = write_evaluation(folder, rows, mean, planes, grid, weights)
        ctx.log(f"Evaluation written: {written}")
    metrics: dict[str, Any] = {"mean": mean, "per_case": rows}
    if not predictions.sharded:  # the editor's per-case viewer reads each case from here, on demand
        from medical_imaging_framework.nodes.evaluation.case_source import CaseSource

        metrics["cases"] = CaseSource(predictions, grid, names)
    return {"metrics": metrics}


def check_evaluate(ctx: CheckContext) -> None:
    """The predictions must come from labelled data; class_names, when given, name each class once."""
    check_labels(ctx, "predictions", "evaluation")
    text = str(ctx.config.get("class_names", "")).strip()
    if not text:
        return
    names = [name.strip() for name in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        ctx.problem("class_names", f"'{text}' names a class twice or leaves a name empty: give one name per class, "
                                   "comma-separated, background first")
        return
    out = ctx.fact("predictions", Fact.OUT_CHANNELS)
    if out is not None and len(names) != max(2, int(out.value)):
        ctx.conflict("class_names", f"gives {len(names)} name(s) but the model predicts {max(2, int(out.value))} "
                                    "classes, background included", out)


SPECS = [
    NodeSpec(
        type_id="evaluation.EvaluateSegmentation",
        title="Evaluate Segmentation",
        category="Evaluation",
        run=run_evaluate,
        inputs=(Port("predictions", PortKind.PREDICTIONS),),
        outputs=(Port("metrics", PortKind.METRICS),),
        params=(
            Param("grid", ParamKind.CHOICE, "original", "Grid",
                  "original: score each case on its source image's grid (the prediction taken back through the "
                  "transforms, as Save Predictions writes it, against the label file); model: on the grid the "
                  "model saw (after resizing, padding...).", choices=("original", "model")),
            Param("class_names", ParamKind.STR, "", "Class names",
                  "Names of the classes, background first, comma-separated (e.g. 'background, liver, lesion'): "
                  "the per-class columns are named after them. Empty: the names of a dataset.json's 'labels', "
                  "else the class numbers."),
            Param("output_dir", ParamKind.PATH, "", "Output folder",
                  "Write evaluation.csv and sample planes here for `mif report`. Empty: beside the checkpoint "
                  "the scored weights come from (best_model.pt's folder), or print only when they come from "
                  "no file."),
        ),
        description="Dice and 95% Hausdorff distance (mm) per case and on average; prints a table.",
        check=check_evaluate,
        cache=RUN_EVERY_TIME,  # its table and evaluation.csv are what a re-run is for; cheap on reused predictions
    ),
]
