"""Dice per class of saved label maps against the reference labels, on each source image's own grid.

One function scores both tools' prediction files (``bench/plan_vs_nnunet.py``), with MONAI's ``DiceMetric``:
the prediction must have the label's shape and affine (a prediction on another grid is an error, not a score).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def find_prediction(folder: Path, case: str) -> Path:
    """The prediction file of ``case`` in ``folder`` (``case.nii.gz``, else one file whose name starts with it).

    Args:
        folder: the tool's prediction folder (searched recursively).
        case: the case name, e.g. ``case_018``.
    """
    exact = sorted(folder.rglob(f"{case}.nii.gz"))
    if exact:
        return exact[0]
    found = sorted(p for p in folder.rglob(f"{case}*") if p.name.endswith((".nii.gz", ".nii")))
    if len(found) != 1:
        raise SystemExit(f"{folder}: expected one prediction file for {case}, found {[p.name for p in found]}")
    return found[0]


def dice_per_class(predictions: Path, labels: Path, cases: list[str], classes: int) -> np.ndarray:
    """Dice of each foreground class per case, shape ``(cases, classes - 1)``.

    Args:
        predictions: the tool's prediction folder.
        labels: the folder of reference labels (``<case>.nii.gz``).
        cases: the case names to score.
        classes: number of classes, background included.
    """
    import nibabel as nib
    import torch
    from monai.metrics import DiceMetric
    from monai.networks.utils import one_hot

    metric = DiceMetric(include_background=False, reduction="none", ignore_empty=False)
    for case in cases:
        reference = nib.load(labels / f"{case}.nii.gz")
        path = find_prediction(predictions, case)
        predicted = nib.load(path)
        if predicted.shape[:3] != reference.shape or not np.allclose(predicted.affine, reference.affine, atol=1e-3):
            raise SystemExit(f"{path}: shape {predicted.shape} / affine not those of its source image "
                             f"{reference.shape} (predictions must land on each source image's grid)")
        y = torch.as_tensor(np.rint(np.asarray(reference.dataobj)).astype(np.int64))[None, None]
        values = np.rint(np.asarray(predicted.dataobj)).reshape(reference.shape).astype(np.int64)
        p = torch.as_tensor(values)[None, None]
        metric(y_pred=one_hot(p, classes), y=one_hot(y, classes))
    return metric.aggregate().cpu().numpy()
