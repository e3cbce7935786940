"""A model output whose size differs from its label's, named before the loss sees it.

MONAI's losses refuse such a pair with ``AssertionError: ground truth has different shape``, naming neither
the item nor the fix. The usual cause is an image whose size a UNet-like network cannot halve at each level
(it then outputs a padded size): the fix is padding to the product of its strides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

MAX_NAMES = 4


def _size(shape: torch.Size) -> str:
    return "x".join(str(edge) for edge in shape)


def batch_names(batch: Any) -> list[str]:
    """The item names of a collated dict batch (``name``), or none.

    Args:
        batch: a batch as the loader gives it.
    """
    names = batch.get("name") if isinstance(batch, Mapping) else None
    return [str(name) for name in names] if isinstance(names, (list, tuple)) else []


def output_size_problem(prediction: torch.Tensor, label: torch.Tensor, batch: Any, model: nn.Module) -> str:
    """Why ``prediction`` cannot be compared with ``label`` (their spatial sizes differ); empty when it can.

    Args:
        prediction: the model's output (B, C, *spatial).
        label: the batch's label (B, 1, *spatial).
        batch: the batch (its item names are shown).
        model: the network (a MONAI UNet's ``strides`` give the multiple to pad to).
    """
    if prediction.shape[2:] == label.shape[2:]:
        return ""
    return (f"{_which(batch)}: the model outputs size {_size(prediction.shape[2:])} for images and labels of size "
            f"{_size(label.shape[2:])}: {_padding_fix(model)}")


def indivisible_input_problem(image: torch.Tensor, batch: Any, model: nn.Module) -> str:
    """Why a UNet-like ``model`` failed on ``image`` (its size does not divide by the strides' product); or empty.

    With several stride-2 levels the network itself fails (torch's ``Sizes of tensors must match`` where a
    decoder level meets its skip connection) before there is an output to compare with the label.

    Args:
        image: the batch's image (B, C, *spatial).
        batch: the batch (its item names are shown).
        model: the network (a MONAI UNet's ``strides`` give the multiple).
    """
    multiple = _multiple(model)
    if not multiple or all(edge % multiple == 0 for edge in image.shape[2:]):
        return ""
    return (f"{_which(batch)}: the network cannot take images of size {_size(image.shape[2:])} (its levels do not "
            f"line up): {_padding_fix(model)}")


def _which(batch: Any) -> str:
    names = batch_names(batch)
    items = ", ".join(f"'{name}'" for name in names[:MAX_NAMES]) + (", ..." if len(names) > MAX_NAMES else "")
    return f"item {items}" if len(names) == 1 else (f"items {items}" if names else "a batch")


def _multiple(model: nn.Module) -> int:
    strides = getattr(getattr(model, "module", model), "strides", None)  # DistributedDataParallel wraps it
    return math.prod(int(s) for s in strides) if isinstance(strides, (list, tuple)) and strides else 0


def _padding_fix(model: nn.Module) -> str:
    multiple = _multiple(model)
    pad = f"transforms.DivisiblePad with k={multiple}" if multiple else "transforms.DivisiblePad (k = that product)"
    return (f"the image size must divide by the product of the network's strides"
            f"{f' ({multiple})' if multiple else ''}; add {pad} to the transforms (saved predictions are cropped "
            "back to each scan's size), or crop/resize the images to such a size")
