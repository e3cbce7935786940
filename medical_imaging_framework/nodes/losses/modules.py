"""The ``nn.Module`` losses the loss nodes build, kept apart so the node specs load without torch."""

from __future__ import annotations

import torch
from torch import nn


class ChannelAwareLoss(nn.Module):
    """Uses the binary loss for 1-channel predictions and the multi-class loss otherwise.

    Args:
        binary: loss for (B, 1, ...) logits and 0/1 labels.
        multiclass: loss for (B, C, ...) logits and (B, 1, ...) class-index labels.
        mode: ``auto`` (choose per call), ``sigmoid`` (always binary) or ``softmax`` (always multi-class).
    """

    def __init__(self, binary: nn.Module, multiclass: nn.Module, mode: str = "auto") -> None:
        super().__init__()
        self.binary, self.multiclass, self.mode = binary, multiclass, mode

    def forward(self, prediction: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        use_softmax = self.mode == "softmax" or (self.mode == "auto" and prediction.shape[1] > 1)
        if use_softmax and prediction.shape[1] < 2:
            raise ValueError("softmax needs a model with at least 2 output channels (one per class)")
        return self.multiclass(prediction, label) if use_softmax else self.binary(prediction, label)


class CrossEntropy(nn.Module):
    """Cross-entropy for (B, C, ...) logits and (B, 1, ...) class-index labels."""

    def forward(self, prediction: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(prediction, label[:, 0].long())


class BinaryCrossEntropy(nn.Module):
    """Binary cross-entropy on logits for (B, 1, ...) predictions and 0/1 labels."""

    def forward(self, prediction: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy_with_logits(prediction, label.float())
