"""Class maps taken back to their source image's grid (MONAI ``Invertd``), for saving and for evaluation.

The Predictor works on the grid the transforms produced (padded, resized, cropped). Each prediction is a
``MetaTensor`` carrying its image's transform history; ``Invertd`` undoes the deterministic steps (nearest
neighbour for resizing). `SavePredictions` writes the result; `EvaluateSegmentation` scores it against the
label as read from its file (`PredictionSet.source_label`), so both see the same voxels.
A history read back from the on-disk cache needs nothing more: MONAI's ``PersistentDataset`` stores it with
the transform ids cleared (``reset_ops_id``), so a later process can invert it.
"""

from __future__ import annotations

from typing import Any

import torch
from monai.data import MetaTensor
from monai.transforms import Invertd, PadListDataCollate, ResampleToMatch
from monai.utils import MetaKeys

from medical_imaging_framework.nodes.inference.specs import Case
from medical_imaging_framework.run.control import NodeError

PRED = "pred"


def on_source_grid(case: Case, chains: list[Any]) -> MetaTensor:
    """The class map with every recorded transform undone: float ``MetaTensor`` (1, *spatial) on the source grid.

    Without a history (data that went through no ``transforms.Apply``) the prediction keeps its grid and
    ``case.affine``.

    Args:
        case: the prediction.
        chains: the MONAI ``Compose`` s that made the model's grid, the last applied first.
    """
    prediction = case.prediction
    if isinstance(prediction, MetaTensor):
        prediction = prediction.clone().float()
    else:
        prediction = MetaTensor(prediction.float(), affine=torch.as_tensor(case.affine, dtype=torch.float64))
    # a Data Loader with collate 'pad' padded the batch last (MONAI PadListDataCollate): its own inverse crops it off
    prediction = PadListDataCollate.inverse({PRED: prediction})[PRED]
    for chain in chains:
        if not prediction.applied_operations:
            break
        invert = Invertd(PRED, transform=chain, orig_keys="image", nearest_interp=True)
        prediction = invert({PRED: prediction, "image": prediction})[PRED]
    if prediction.applied_operations:
        raise NodeError(f"case '{case.name}': {len(prediction.applied_operations)} transform step(s) could not be "
                        "undone (link the Predictor's loader to the transforms.Apply output it predicts on)")
    meta = prediction.meta
    meta.setdefault(MetaKeys.ORIGINAL_AFFINE, prediction.affine.clone())
    meta.setdefault(MetaKeys.SPATIAL_SHAPE, tuple(prediction.shape[1:]))
    return prediction


def matched_to(prediction: MetaTensor, reference: MetaTensor) -> MetaTensor:
    """``prediction`` on ``reference``'s voxels: unchanged when shape and affine agree, else resampled (nearest).

    The same last step as MONAI ``SaveImage(resample=True)`` takes when it writes a prediction on its file's grid.

    Args:
        prediction: a class map on its source grid (`on_source_grid`).
        reference: the label read from its file.
    """
    same_shape = tuple(prediction.shape[1:]) == tuple(reference.shape[1:])
    if same_shape and torch.allclose(prediction.affine.double(), reference.affine.double(), atol=1e-4):
        return prediction
    return ResampleToMatch(mode="nearest", padding_mode="zeros")(prediction, img_dst=reference)
