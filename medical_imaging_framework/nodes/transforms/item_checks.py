"""What every dataset item must hold, whether fresh from a reader or read back from the on-disk cache.

The label-value rule is shared with the readers (`nodes.io.labels`), which sit above this package; the
shape rules repeat the ones `nodes.io.image_dataset` applies to each image/label pair it reads. Torch-free:
the tensors are only asked for their shapes and values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # imported where used: the node specs import this module, and the editor paints before numpy
    import numpy as np

from medical_imaging_framework.nodes.transforms.item_keys import IMAGE, LABEL

MAX_CLASS = 63


class LabelClasses(NamedTuple):
    """The classes one label file holds, as its reader found them (the Trainer checks them against the model).

    Args:
        file: the label file, as named to the user.
        classes: its distinct class indices, ascending.
    """

    file: str
    classes: tuple[int, ...]


def are_class_indices(values: np.ndarray) -> bool:
    """Whether the distinct label ``values`` are class indices: whole numbers 0..`MAX_CLASS`.

    Args:
        values: the distinct values of a label (``np.unique``).
    """
    import numpy as np

    whole = np.all(np.isclose(values, np.rint(values), atol=1e-3))
    return bool(whole and values.min() >= 0 and values.max() <= MAX_CLASS)


def shown_values(values: np.ndarray, limit: int = 8) -> str:
    """The first ``limit`` values, for a message.

    Args:
        values: distinct values.
        limit: how many to show.
    """
    text = ", ".join(f"{value:g}" for value in values[:limit])
    return text + (f", ... ({len(values)} distinct values)" if len(values) > limit else "")


def item_problem(item: Any, name: str, spatial_dims: int | None) -> str | None:
    """Why ``item`` cannot be item ``name`` of a dataset whose images are ``spatial_dims``-D; None if it can.

    The rules a reader applies to fresh data: one dimensionality for all images, a label of one channel
    and its image's size, label values that are class indices; and the item is the one asked for.

    Args:
        item: an item read back (a dict with ``image``, optional ``label``, ``name``, ...).
        name: the item's name in the source dataset (``#index`` when it has none).
        spatial_dims: the dimensionality of the dataset's other images (None: not known yet).
    """
    if not isinstance(item, Mapping):
        return f"it holds a {type(item).__name__}, not an item (a dict)"
    if "name" in item and str(item["name"]) != name:
        return f"it holds item '{item['name']}', not '{name}'"
    image, label = item.get(IMAGE), item.get(LABEL)
    if image is not None:
        if not hasattr(image, "shape") or image.ndim < 2:
            return f"its image has shape {tuple(getattr(image, 'shape', ()))}; an image is (channels, *spatial)"
        if spatial_dims is not None and image.ndim - 1 != spatial_dims:
            return f"its image is {image.ndim - 1}D but the other images are {spatial_dims}D"
    if label is None:
        return None
    if not hasattr(label, "shape") or label.ndim < 2 or label.shape[0] != 1:
        return f"its label has shape {tuple(getattr(label, 'shape', ()))}; a label must be one class map"
    if image is not None and tuple(label.shape[1:]) != tuple(image.shape[1:]):
        return (f"its label has shape {tuple(label.shape[1:])} but its image has {tuple(image.shape[1:])}: "
                "image and label must have the same size")
    import numpy as np

    values = np.unique(np.asarray(label.detach().cpu() if hasattr(label, "detach") else label))
    if values.size and not are_class_indices(values):
        return f"its label holds values {shown_values(values)}; labels must be class indices 0..{MAX_CLASS}"
    return None
