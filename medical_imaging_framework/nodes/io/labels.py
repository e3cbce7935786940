"""Label values checked when data is read: class indices 0..`MAX_CLASS`, or mapped on request.

A mask stored as 0/255 (common for PNG) would otherwise train with a meaningless loss; the check names the
file and the values found before any training starts. ``label_mapping: binarize`` maps every value > 0
to 1 instead. Kept by hand: MONAI's readers load any values, and its losses and metrics take them on trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from medical_imaging_framework.core import Param, ParamKind
from medical_imaging_framework.core.text import printable
from medical_imaging_framework.nodes.transforms.item_checks import MAX_CLASS, are_class_indices, shown_values
from medical_imaging_framework.run.control import NodeError

if TYPE_CHECKING:  # imported where used: the node specs import this module, and the editor paints before numpy
    import numpy as np

LABEL_MAPPINGS = ("none", "binarize")
LABEL_MAPPING = Param(
    "label_mapping", ParamKind.CHOICE, "none", "Label mapping",
    f"none: labels must hold class indices 0..{MAX_CLASS}; binarize: every value > 0 becomes 1 (e.g. 0/255 masks).",
    choices=LABEL_MAPPINGS,
)


def map_label(label: np.ndarray, path: Path, mapping: str = "none") -> tuple[np.ndarray, tuple[int, ...]]:
    """The label as class indices, after ``mapping``, and the classes it holds; raises `NodeError` naming ``path``.

    The classes are what the value check computes anyway, kept so that the Trainer can hold them against the
    model's outputs before epoch 1 without reading the labels again.

    Args:
        label: the array as read (any float values).
        path: the file, named in the error.
        mapping: ``none`` (values must already be classes) or ``binarize`` (> 0 -> 1).
    """
    import numpy as np

    if mapping == "binarize":
        mask = label > 0
        found = (0,) * bool(not mask.all()) + (1,) * bool(mask.any())
        return mask.astype(np.float32), found
    values = np.unique(label)
    if not are_class_indices(values):
        raise NodeError(printable(
            f"label '{path}' holds values {shown_values(values)}; labels must be class indices 0..{MAX_CLASS} "
            "(0 = background). For a 0/255 mask set label_mapping to 'binarize'."
        ))
    return np.rint(label).astype(np.float32), tuple(sorted({int(value) for value in np.rint(values)}))
