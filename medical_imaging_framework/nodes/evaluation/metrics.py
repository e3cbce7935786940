"""Dice and HD95 of one case, per foreground class, with MONAI ``DiceMetric`` and ``HausdorffDistanceMetric``.

Grids: on the ``original`` grid (default) the prediction is taken back through the transforms
(`source_grid.on_source_grid`, as `SavePredictions` writes it) and compared with the label as read from its
file, in that file's voxel spacing; on the ``model`` grid both are compared as the model saw them (after
resizing, padding...), in the spacing of the model's grid.

Per class ``c`` (1..C-1; background left out): ``dice_c`` and ``hd95_c`` (millimetres). A class in the label
but absent from the prediction is *missed*: Dice 0, HD95 ``inf``, and counted in ``missed``; a class in the
prediction only has Dice 0 and HD95 ``inf``; a class absent from both is n/a (``nan``) for both. ``dice`` is
the mean Dice over the classes that are not n/a; ``hd95`` the mean HD95 over them, ``inf`` when any is.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from medical_imaging_framework.nodes.inference.specs import Case, PredictionSet
from medical_imaging_framework.run.control import NodeError

GRIDS = ("original", "model")


def voxel_spacing(affine: Any, spatial_dims: int) -> list[float]:
    """Length of each voxel axis in world units, from the affine's columns.

    Args:
        affine: 4x4 voxel-to-world matrix.
        spatial_dims: 2 or 3.
    """
    matrix = np.asarray(affine, dtype=np.float64)
    return [float(np.linalg.norm(matrix[:3, axis])) or 1.0 for axis in range(spatial_dims)]


def nanmean(values: list[float]) -> float:
    """Mean of the values that are not ``nan`` (``nan`` when none is); an ``inf`` makes the mean ``inf``.

    Args:
        values: numbers, ``nan`` for n/a.
    """
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def class_suffixes(num_classes: int, class_names: list[str] | None = None) -> list[str]:
    """Column suffix of each foreground class: its name when given, else its index (1..C-1).

    Args:
        num_classes: classes including background.
        class_names: names of all classes, background first (or None).
    """
    if class_names and len(class_names) == num_classes:
        return list(class_names[1:])
    return [str(index) for index in range(1, num_classes)]


def _plain(tensor: Any) -> torch.Tensor:
    from monai.data import MetaTensor

    return tensor.as_tensor() if isinstance(tensor, MetaTensor) else torch.as_tensor(tensor)


def on_grid(case: Case, predictions: PredictionSet, grid: str) -> tuple[torch.Tensor, torch.Tensor, list[float], str]:
    """Prediction, label (class maps, 1 x spatial), voxel spacing and a note on where the label came from.

    Args:
        case: the predicted case (with its label).
        predictions: the set (transform chains, source labels).
        grid: ``original`` or ``model``.
    """
    if case.label is None:
        raise NodeError(f"case '{case.name}' has no label to compare with (evaluate labelled data only)")
    spatial_dims = case.prediction.ndim - 1
    if grid == "model":
        return (_plain(case.prediction), _plain(case.label), voxel_spacing(case.affine, spatial_dims), "")
    from monai.data import MetaTensor

    from medical_imaging_framework.nodes.inference.source_grid import matched_to, on_source_grid

    prediction = on_source_grid(case, predictions.transform_chains)
    label = predictions.source_label(case.name) if predictions.source_label is not None else None
    note = ""
    if label is None:  # no file to read it from: the label goes back through its own history (nearest)
        label = on_source_grid(Case(case.name, None, case.label, case.affine), predictions.transform_chains)
        if isinstance(case.label, MetaTensor) and case.label.applied_operations:
            note = "labels taken back through the transforms (nearest neighbour): no label file to read them from"
    if not isinstance(label, MetaTensor):
        label = MetaTensor(torch.as_tensor(label), affine=prediction.affine.clone())
    prediction = matched_to(prediction, label)
    return _plain(prediction), _plain(label), voxel_spacing(label.affine, spatial_dims), note


def evaluate_case(name: str, prediction: torch.Tensor, label: torch.Tensor, spacing: list[float],
                  num_classes: int, class_names: list[str] | None = None) -> dict[str, Any]:
    """One row: ``name``, ``dice``, ``hd95`` (mm), ``missed``, then ``dice_<c>`` and ``hd95_<c>`` per class.

    Args:
        name: the case.
        prediction: class map (1, *spatial).
        label: class map (1, *spatial) on the same grid.
        spacing: voxel size per axis (mm).
        num_classes: classes including background.
        class_names: names of all classes, background first (column suffixes), or None.
    """
    from monai.metrics import DiceMetric, HausdorffDistanceMetric
    from monai.networks.utils import one_hot

    if tuple(label.shape[1:]) != tuple(prediction.shape[1:]):
        raise NodeError(f"case '{name}': label shape {tuple(label.shape[1:])} differs from prediction shape "
                        f"{tuple(prediction.shape[1:])}: the image size must divide by the product of the network's "
                        "strides; add transforms.DivisiblePad to the transforms, or set the Predictor's "
                        "sliding_window to on")
    label = label.round().long()
    if int(label.max()) >= num_classes or int(label.min()) < 0:
        raise NodeError(f"case '{name}': label values must be classes 0..{num_classes - 1}, "
                        f"found {int(label.min())}..{int(label.max())}")
    y_pred = one_hot(prediction.round().long()[None], num_classes)
    y = one_hot(label[None], num_classes)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=False)(y_pred, y)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns for empty masks; their HD95 is set below
        hd = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")(
            y_pred, y, spacing=spacing
        )[0]
    in_prediction = y_pred[0, 1:].flatten(1).sum(1) > 0
    in_label = y[0, 1:].flatten(1).sum(1) > 0
    dice_values, hd_values, missed = [], [], 0
    for index in range(num_classes - 1):
        if not in_prediction[index] and not in_label[index]:  # absent from both: says nothing
            dice_values.append(float("nan"))
            hd_values.append(float("nan"))
            continue
        if not (in_prediction[index] and in_label[index]):  # missed, or predicted where the label has none
            missed += int(bool(in_label[index]))
            dice_values.append(0.0)
            hd_values.append(float("inf"))
            continue
        dice_values.append(float(dice[index]))
        hd_values.append(float(hd[index]))
    row: dict[str, Any] = {"name": name, "dice": nanmean(dice_values), "hd95": nanmean(hd_values), "missed": missed}
    if num_classes > 2:
        suffixes = class_suffixes(num_classes, class_names)
        row.update({f"dice_{suffix}": value for suffix, value in zip(suffixes, dice_values, strict=True)})
        row.update({f"hd95_{suffix}": value for suffix, value in zip(suffixes, hd_values, strict=True)})
    return row


def mean_row(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of each metric over the cases (n/a left out, ``inf`` kept); ``missed`` is the total count.

    Args:
        rows: per-case rows from `evaluate_case`.
    """
    columns = [key for key in rows[0] if key != "name"]
    return {column: int(sum(row[column] for row in rows)) if column == "missed"
            else nanmean([row[column] for row in rows]) for column in columns}
