"""The Data Loader's batch collation: MONAI's ``list_data_collate`` (items must share a size) or
``pad_list_data_collate`` (each batch padded to its largest item).

Items of different sizes given to ``list_data_collate`` end in a torch ``stack`` error followed by MONAI's
dump of every item (200+ lines); `StackCollate` looks at the sizes first and refuses in one line naming
the loader, its batch_size, the items and their sizes, and the settings that fix it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monai.data.utils import list_data_collate, pad_list_data_collate

from medical_imaging_framework.core.text import printable
from medical_imaging_framework.run.control import NodeError

COLLATES = ("stack", "pad")
MAX_SHOWN = 4


def _items(batch: Sequence[Any]) -> list[Any]:
    """The batch's items, lists of items (e.g. several crops of one image) flattened as MONAI does."""
    items: list[Any] = []
    for item in batch:
        items.extend(item if isinstance(item, list) else [item])
    return items


class StackCollate:
    """``list_data_collate``, after checking that every image of the batch has one size.

    Args:
        node_id: the loader node, named in the error.
        batch_size: its batch_size, named in the error.
    """

    def __init__(self, node_id: str, batch_size: int) -> None:
        self.node_id, self.batch_size = node_id, batch_size

    def __call__(self, batch: Sequence[Any]) -> Any:
        sizes: dict[tuple[int, ...], str] = {}
        for index, item in enumerate(_items(batch)):
            image = item.get("image") if isinstance(item, Mapping) else None
            if image is not None and hasattr(image, "shape"):
                sizes.setdefault(tuple(image.shape[1:]), str(item.get("name", f"#{index}")))
        if len(sizes) > 1:
            shown = ", ".join(f"'{name}' {'x'.join(map(str, size))}" for size, name in list(sizes.items())[:MAX_SHOWN])
            raise NodeError(printable(
                f"data loader '{self.node_id}': batch_size {self.batch_size} puts items of different sizes in one "
                f"batch ({shown}): set {self.node_id}.collate to 'pad' (each batch padded to its largest item), "
                f"set {self.node_id}.batch_size to 1, or give the items one size (Pad or Crop, Resize, Random Crop)"
            ))
        return list_data_collate(batch)


def make_collate(choice: str, node_id: str, batch_size: int) -> Any:
    """The collate function for the loader's ``collate`` choice.

    Args:
        choice: ``stack`` or ``pad``.
        node_id: the loader node.
        batch_size: its batch size.
    """
    # pad: MONAI pads every item to the batch's largest size (the padding joins each tensor's transform history)
    return pad_collate if choice == "pad" else StackCollate(node_id, batch_size)


def pad_collate(batch: Sequence[Any]) -> Any:
    """``pad_list_data_collate`` of the batch's items, lists of items (several crops of one image, as
    ``RandCropByPosNegLabel`` gives, even for one sample) flattened first: MONAI's pad collate looks for tensors
    in each element and pads nothing when the elements are lists, and its stack then fails.

    Args:
        batch: the loader's items.
    """
    return pad_list_data_collate(_items(batch))
