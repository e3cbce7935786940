"""Class maps back on their source image's grid (MONAI ``Invertd``) and written with MONAI ``SaveImage``.

The Predictor works on the grid the transforms produced (padded, resized, cropped). Each prediction is a
``MetaTensor`` carrying its image's transform history; ``Invertd`` undoes the deterministic steps (nearest
neighbour for resizing), then ``SaveImage`` with ``resample=True`` writes it on the file's own affine and
shape: NIfTI through nibabel, NRRD/MetaImage through ITK, PNG through Pillow (transposed back to rows like
the PNG reader's input).

Kept here because MONAI does not do it: the output names (one file per case, named after it, in one
folder). A history read back from the on-disk cache needs nothing more: MONAI's ``PersistentDataset``
stores it with the transform ids cleared (``reset_ops_id``), so a later process can invert it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data import MetaTensor
from monai.data.folder_layout import FolderLayoutBase
from monai.transforms import Invertd, PadListDataCollate, SaveImage
from monai.utils import ImageMetaKey, MetaKeys

from medical_imaging_framework.nodes.inference.specs import Case
from medical_imaging_framework.run.control import NodeError

PRED = "pred"


class NamedFile(FolderLayoutBase):
    """``folder/<subject><suffix>``: MONAI's own layout would cut a dotted case name at its last dot."""

    def __init__(self, folder: Path, suffix: str) -> None:
        self.folder, self.suffix = folder, suffix

    def filename(self, subject: Any = "subject", idx: Any = None, **kwargs: Any) -> str:
        return str(self.folder / f"{subject}{self.suffix}")


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


def save_case(case: Case, chains: list[Any], folder: Path, suffix: str) -> None:
    """Write one class map (uint8 class indices) on its source grid as ``folder/<name><suffix>``.

    Args:
        case: the prediction.
        chains: the MONAI ``Compose`` s to invert, the last applied first.
        folder: the output folder (exists).
        suffix: ``.nii.gz``, ``.png``, ``.nrrd`` or ``.mha`` (MONAI chooses the writer by it).
    """
    prediction = on_source_grid(case, chains)
    prediction.meta[ImageMetaKey.FILENAME_OR_OBJ] = case.name
    saver = SaveImage(folder_layout=NamedFile(folder, suffix), output_ext=suffix, output_dtype=np.uint8,
                      resample=True, mode="nearest", padding_mode="zeros", separate_folder=False, print_log=False,
                      output_name_formatter=lambda meta, _saver: {"subject": meta[ImageMetaKey.FILENAME_OR_OBJ]})
    saver(torch.round(prediction))
