"""The report's sample planes: for each class of a case, the slice where it has the most foreground.

Planes are cut from the grid the case was scored on (the original grid by default), so an overlay shows the
voxels the figures count. A 3D case gives one plane per foreground class present in its label (or, when the
label lacks it, in its prediction), through the last axis (the slice axis of a CT/MR volume) where that class
has the most voxels; a 2D case gives its one plane. At most `MAX_SAMPLES` planes in all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_SAMPLES = 8  # planes in evaluation_samples.npz (the report reads at most this many)


def _array(tensor: Any) -> np.ndarray:
    return np.asarray(tensor.detach().cpu() if hasattr(tensor, "detach") else tensor, dtype=np.float32)


def case_planes(name: str, image: Any, label: Any, prediction: Any, class_names: list[str] | None,
                room: int) -> list[dict[str, Any]]:
    """Up to ``room`` planes of one case: ``name`` (case, class, slice), ``image``, ``label``, ``prediction``.

    Args:
        name: the case.
        image: (C, *spatial) on the scored grid, or None.
        label: class map (1, *spatial) on the scored grid.
        prediction: class map (1, *spatial) on the same grid.
        class_names: names of all classes, background first, or None (numbers).
        room: how many planes may still be added.
    """
    label_map, predicted = _array(label)[0], _array(prediction)[0]
    picture = None if image is None else _array(image)[0]
    if picture is not None and picture.shape != label_map.shape:
        picture = None  # an image on another grid than the maps would mislead
    if label_map.ndim == 2:
        return [{"name": name, "image": picture, "label": label_map, "prediction": predicted}][:room]
    planes = []
    for value in sorted((set(np.unique(label_map).tolist()) | set(np.unique(predicted).tolist())) - {0.0}):
        if len(planes) >= room:
            break
        source = label_map if (label_map == value).any() else predicted
        index = int(np.argmax((source == value).sum(axis=(0, 1))))
        title = class_names[int(value)] if class_names and int(value) < len(class_names) else f"class {int(value)}"
        planes.append({
            "name": f"{name}: {title} (slice {index + 1} of {label_map.shape[2]})",
            "image": None if picture is None else picture[:, :, index],
            "label": label_map[:, :, index], "prediction": predicted[:, :, index],
        })
    if not planes and room:  # nothing but background: the middle slice
        middle = label_map.shape[2] // 2
        planes.append({"name": f"{name} (slice {middle + 1} of {label_map.shape[2]})",
                       "image": None if picture is None else picture[:, :, middle],
                       "label": label_map[:, :, middle], "prediction": predicted[:, :, middle]})
    return planes
