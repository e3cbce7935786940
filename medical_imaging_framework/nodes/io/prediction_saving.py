"""Class maps back on their source image's grid (MONAI ``Invertd``) and written with MONAI ``SaveImage``.

The Predictor works on the grid the transforms produced (padded, resized, cropped). Each prediction is a
``MetaTensor`` carrying its image's transform history; `source_grid.on_source_grid` undoes the deterministic
steps (``Invertd``, nearest neighbour for resizing), then ``SaveImage`` with ``resample=True`` writes it on
the file's own affine and shape: NIfTI through nibabel, NRRD/MetaImage through ITK, PNG through Pillow
(transposed back to rows like the PNG reader's input).

Kept here because MONAI does not do it: the output names (one file per case, named after it, in one
folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.data.folder_layout import FolderLayoutBase
from monai.transforms import SaveImage
from monai.utils import ImageMetaKey

from medical_imaging_framework.nodes.inference.source_grid import on_source_grid
from medical_imaging_framework.nodes.inference.specs import Case

__all__ = ["NamedFile", "on_source_grid", "save_case"]


class NamedFile(FolderLayoutBase):
    """``folder/<subject><suffix>``: MONAI's own layout would cut a dotted case name at its last dot."""

    def __init__(self, folder: Path, suffix: str) -> None:
        self.folder, self.suffix = folder, suffix

    def filename(self, subject: Any = "subject", idx: Any = None, **kwargs: Any) -> str:
        return str(self.folder / f"{subject}{self.suffix}")


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
