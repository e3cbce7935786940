"""Where the editor's per-case viewer reads one evaluated case: image, label and prediction on the grid scored.

The evaluation node hands a `CaseSource` on with its metrics. It holds no array of its own: it refers to the
`PredictionSet` the Predictor already produced (the run's outputs hold it anyway) and cuts one case when the
viewer asks for it (`read`), on the grid the metrics were computed on (`metrics.on_grid`), so the overlay shows
the voxels the figures count. Only that case's arrays exist while it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medical_imaging_framework.nodes.inference.specs import PredictionSet


@dataclass(frozen=True)
class CaseArrays:
    """One case as plain arrays (spatial axes only: (H, W) or (H, W, D)); ``image`` is None when unknown."""

    name: str
    image: np.ndarray | None
    label: np.ndarray
    prediction: np.ndarray


def _array(value: Any) -> np.ndarray:
    tensor = value.as_tensor() if hasattr(value, "as_tensor") else value
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor)


class CaseSource:
    """The evaluated cases of one run, read one at a time.

    Args:
        predictions: the Predictor's output (kept by reference, never copied).
        grid: ``original`` or ``model``, as the evaluation node scored.
        class_names: the class names, background first, or None.
    """

    def __init__(self, predictions: PredictionSet, grid: str, class_names: list[str] | None) -> None:
        self.predictions = predictions
        self.grid = grid
        self.class_names = tuple(class_names or predictions.class_names or ())
        self.names = [case.name for case in predictions.cases]

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        return f"CaseSource({len(self.names)} case(s), {self.grid} grid)"

    def read(self, name: str) -> CaseArrays:
        """The case called ``name`` on the grid scored: image (channel 0), label and prediction class maps.

        Args:
            name: a case name (one of `names`).

        Raises:
            KeyError: no case of that name.
        """
        from medical_imaging_framework.nodes.evaluation.metrics import on_grid

        if name not in self.names:
            raise KeyError(f"no evaluated case named '{name}'")
        case = self.predictions.cases[self.names.index(name)]
        prediction, label, _, _ = on_grid(case, self.predictions, self.grid)
        label_map = _array(label)[0].astype(np.int16)
        image = None
        if self.grid == "original" and self.predictions.source_image is not None:
            image = self.predictions.source_image(case.name)
        if image is None:  # in-memory data: the image the model saw, kept or read again from the data
            image = case.image
            if image is None and self.predictions.item_image is not None:
                image = self.predictions.item_image(self.names.index(name))
        picture = None if image is None else _array(image)[0].astype(np.float32)
        if picture is not None and picture.shape != label_map.shape:
            picture = None  # an image on another grid than the maps would mislead
        return CaseArrays(name, picture, label_map, _array(prediction)[0].astype(np.int16))
