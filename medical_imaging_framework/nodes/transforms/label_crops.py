"""Patch sampling around labels whose class count is read from each label (MONAI ``RandCropByLabelClassesd``).

MONAI needs ``num_classes`` for a label of class indices; a pipeline node does not know it when it is built,
so with ``num_classes`` 0 each label gives it (its largest class + 1): a class absent from an item cannot be
sampled in it anyway.
"""

from __future__ import annotations

from typing import Any

import torch
from monai.transforms import RandCropByLabelClassesd


class ClassCropFromLabel(RandCropByLabelClassesd):
    """``RandCropByLabelClassesd`` whose ``num_classes`` comes from each label when not given.

    Args:
        ratios: sampling ratio per class, background first (None: equal).
        kwargs: the other arguments of ``RandCropByLabelClassesd``.
    """

    def __init__(self, ratios: list[float] | None, **kwargs: Any) -> None:
        super().__init__(ratios=ratios, num_classes=len(ratios) if ratios else None, **kwargs)
        self.from_label = not ratios

    def randomize(self, label: torch.Tensor, indices: Any = None, image: torch.Tensor | None = None) -> None:
        if self.from_label and label is not None:
            self.cropper.num_classes = max(2, int(torch.as_tensor(label).max().item()) + 1)
        super().randomize(label, indices, image)
