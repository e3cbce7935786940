"""EvaluateSegmentation: Dice and 95% Hausdorff distance per case and mean (MONAI metrics).

Predictions and labels are class maps; both are one-hot encoded with ``PredictionSet.num_classes``
(2 for binary models) and the background class is left out, so binary Dice is the foreground Dice.
The Hausdorff distance is in millimetres (voxel spacing from each case's affine; 1 without one).
A class missing from both prediction and label has no Dice (n/a); missing from the label only, it scores 0.
Values that do not exist (n/a, e.g. HD95 of an empty mask) are left out of the means.
The spec is plain data; MONAI is imported when the node runs.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, check_labels
from medical_imaging_framework.nodes.inference.specs import Case, PredictionSet
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import MetricsReported
from medical_imaging_framework.run.executor import NodeContext


def voxel_spacing(affine: np.ndarray, spatial_dims: int) -> list[float]:
    """Length of each voxel axis in world units, from the affine's columns.

    Args:
        affine: 4x4 voxel-to-world matrix.
        spatial_dims: 2 or 3.
    """
    return [float(np.linalg.norm(affine[:3, axis])) or 1.0 for axis in range(spatial_dims)]


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def evaluate_case(case: Case, num_classes: int) -> dict[str, Any]:
    """Dice (mean over foreground classes, and per class when there are several) and HD95 of one case.

    Args:
        case: a prediction with its label.
        num_classes: classes including background.
    """
    from monai.metrics import DiceMetric, HausdorffDistanceMetric
    from monai.networks.utils import one_hot

    if case.label is None:
        raise NodeError(f"case '{case.name}' has no label to compare with (evaluate labelled data only)")
    if tuple(case.label.shape[1:]) != tuple(case.prediction.shape[1:]):
        raise NodeError(
            f"case '{case.name}': label shape {tuple(case.label.shape[1:])} differs from prediction shape "
            f"{tuple(case.prediction.shape[1:])}: the image size must divide by the product of the network's "
            "strides; add transforms.DivisiblePad to the transforms, or set the Predictor's sliding_window to on"
        )
    label = case.label.round().long()
    if int(label.max()) >= num_classes or int(label.min()) < 0:
        raise NodeError(f"case '{case.name}': label values must be classes 0..{num_classes - 1}, "
                        f"found {int(label.min())}..{int(label.max())}")
    y_pred = one_hot(case.prediction[None].long(), num_classes)
    y = one_hot(label[None], num_classes)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=False)(y_pred, y)[0]
    both_empty = (y_pred[0, 1:].flatten(1).sum(1) == 0) & (y[0, 1:].flatten(1).sum(1) == 0)
    dice[both_empty] = float("nan")  # a class absent from both says nothing; a false positive scores 0
    spacing = voxel_spacing(case.affine, case.prediction.ndim - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns for empty masks; we report n/a instead
        hd = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")(
            y_pred, y, spacing=spacing
        )[0]
    dice_values = [float(v) for v in dice]
    row: dict[str, Any] = {"name": case.name, "dice": _nanmean(dice_values), "hd95": _nanmean([float(v) for v in hd])}
    if num_classes > 2:
        row.update({f"dice_{index + 1}": value for index, value in enumerate(dice_values)})
    return row


def format_table(rows: list[dict[str, Any]], mean: dict[str, float]) -> list[str]:
    """The metrics table as text lines (one per case, then the mean).

    Args:
        rows: per-case results.
        mean: mean of each metric.
    """
    columns = [key for key in rows[0] if key != "name"]
    width = max(8, *(len(row["name"]) for row in rows))

    def cell(value: float) -> str:
        return f"{value:>9.4f}" if math.isfinite(value) else f"{'n/a':>9}"

    lines = [f"{'case':<{width}} " + " ".join(f"{c:>9}" for c in columns)]
    lines += [f"{row['name']:<{width}} " + " ".join(cell(row[c]) for c in columns) for row in rows]
    lines.append(f"{'mean':<{width}} " + " ".join(cell(mean[c]) for c in columns))
    return lines


def run_evaluate(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    predictions: PredictionSet = inputs["predictions"]
    if not predictions.cases and not predictions.sharded:
        raise NodeError("no predictions to evaluate")
    rows = []
    for case in predictions.cases:
        rows.append(evaluate_case(case, predictions.num_classes))
        ctx.cancel.raise_if_cancelled()
    if predictions.sharded:  # every rank's rows, in the data's order (rank 0 prints them)
        from medical_imaging_framework.training.distributed import gather_sharded

        rows = gather_sharded(rows)
    columns = [key for key in rows[0] if key != "name"]
    mean = {column: _nanmean([row[column] for row in rows]) for column in columns}
    for line in format_table(rows, mean):
        ctx.log(line)
    ctx.log(f"Mean Dice: {mean['dice']:.4f} over {len(rows)} case(s)")
    ctx.emit(MetricsReported(node_id=ctx.node_id, mean=mean, per_case=tuple(rows)))
    if config.get("output_dir", "").strip():
        from medical_imaging_framework.nodes.evaluation.files import write_evaluation

        ctx.log(f"Evaluation written: {write_evaluation(config['output_dir'].strip(), rows, mean, predictions.cases)}")
    return {"metrics": {"mean": mean, "per_case": rows}}


def check_evaluate(ctx: CheckContext) -> None:
    """The predictions must come from labelled data."""
    check_labels(ctx, "predictions", "evaluation")


SPECS = [
    NodeSpec(
        type_id="evaluation.EvaluateSegmentation",
        title="Evaluate Segmentation",
        category="Evaluation",
        run=run_evaluate,
        inputs=(Port("predictions", PortKind.PREDICTIONS),),
        outputs=(Port("metrics", PortKind.METRICS),),
        params=(
            Param("output_dir", ParamKind.PATH, "", "Output folder",
                  "Write evaluation.csv and sample planes here for `mif report` (e.g. the checkpoint folder); "
                  "empty: print only."),
        ),
        description="Dice and 95% Hausdorff distance (mm) per case and on average; prints a table.",
        check=check_evaluate,
    ),
]
