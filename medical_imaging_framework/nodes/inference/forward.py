"""The Predictor's forward pass: whole image or sliding windows (constant or Gaussian blending), with optional
test-time flips (the class probabilities averaged over the image and its flip along each spatial axis)."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import sliding_window_inference

from medical_imaging_framework.run.control import NodeError


def sliding(config: dict[str, Any], spatial_dims: int) -> bool:
    """Whether the Predictor's ``sliding_window`` choice means windows for ``spatial_dims``-D images.

    Args:
        config: the Predictor's parameters.
        spatial_dims: 2 or 3.
    """
    choice = config["sliding_window"]
    return choice == "on" or (choice == "auto" and spatial_dims == 3)


def _once(model: torch.nn.Module, image: torch.Tensor, config: dict[str, Any]) -> torch.Tensor:
    spatial_dims = image.ndim - 2
    if not sliding(config, spatial_dims):
        return model(image)
    roi = config["roi_size"]
    if len(roi) != spatial_dims:
        raise NodeError(f"roi_size has {len(roi)} values but the images are {spatial_dims}D: give {spatial_dims}")
    return sliding_window_inference(
        image, roi_size=roi, sw_batch_size=config["sw_batch_size"], predictor=model, overlap=config["overlap"],
        mode=config.get("blend_mode", "gaussian"),
    )


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)


def _as_logits(probabilities: torch.Tensor) -> torch.Tensor:
    """Logits whose sigmoid (1 channel) or softmax (C channels) gives back ``probabilities``."""
    p = probabilities.clamp(1e-7, 1 - 1e-7) if probabilities.shape[1] == 1 else probabilities.clamp_min(1e-12)
    return torch.log(p / (1 - p)) if probabilities.shape[1] == 1 else torch.log(p)


def forward(model: torch.nn.Module, image: torch.Tensor, config: dict[str, Any]) -> torch.Tensor:
    """The model's logits (B, C, *spatial) for ``image`` (B, channels, *spatial).

    With ``tta_flips`` the probabilities (softmax, or sigmoid for 1 channel) of the image and of its flip
    along each spatial axis (flipped back) are averaged, as nnU-Net's test-time mirroring; the logits
    returned give those averaged probabilities back.

    Args:
        model: the network, in eval mode.
        image: the batch.
        config: the Predictor's parameters (``sliding_window``, ``roi_size``, ``overlap``, ``sw_batch_size``,
            ``blend_mode``, ``tta_flips``).
    """
    logits = _once(model, image, config)
    if not config.get("tta_flips", False):
        return logits
    total = _probabilities(logits)
    axes = range(2, image.ndim)
    for axis in axes:
        flipped = _once(model, torch.flip(image, dims=(axis,)), config)
        total = total + torch.flip(_probabilities(flipped), dims=(axis,))
    return _as_logits(total / (1 + len(axes)))
