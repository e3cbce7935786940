"""Loss nodes (MONAI). Each outputs an ``nn.Module`` called as ``loss(prediction, label)``.

Class convention (shared with `inference.Predictor` and `evaluation.EvaluateSegmentation`): labels are
integer class maps of shape (B, 1, *spatial). A model with 1 output channel is binary (sigmoid); with
C > 1 channels it has C classes, class 0 being background (softmax, label one-hot encoded). The new
losses take ``mode`` = auto (decided per call from the prediction's channels), sigmoid or softmax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from monai.losses import DiceCELoss, DiceLoss, FocalLoss
from torch import nn

from medical_imaging_framework.core import NodeContext, NodeError, NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact


def run_dice(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    if config["sigmoid"] and config["softmax"]:
        raise NodeError("choose sigmoid or softmax, not both")
    loss = DiceLoss(
        sigmoid=config["sigmoid"],
        softmax=config["softmax"],
        to_onehot_y=config["softmax"],
        include_background=config["include_background"],
    )
    return {"loss": loss}


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


def _adaptive(config: dict[str, Any], build: Callable[[bool], nn.Module]) -> dict[str, Any]:
    """``build(multiclass)`` twice, wrapped by `ChannelAwareLoss` with the node's mode."""
    return {"loss": ChannelAwareLoss(build(False), build(True), config["mode"])}


def run_dice_ce(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _adaptive(config, lambda multi: DiceCELoss(
        include_background=config["include_background"], sigmoid=not multi, softmax=multi, to_onehot_y=multi,
        lambda_dice=config["lambda_dice"], lambda_ce=config["lambda_ce"],
    ))


def run_focal(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _adaptive(config, lambda multi: FocalLoss(
        include_background=config["include_background"], to_onehot_y=multi, use_softmax=multi, gamma=config["gamma"],
    ))


def run_cross_entropy(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _adaptive(config, lambda multi: CrossEntropy() if multi else BinaryCrossEntropy())


MODE = Param("mode", ParamKind.CHOICE, "auto", "Mode", "auto: sigmoid for 1 output channel, else softmax.",
             choices=("auto", "sigmoid", "softmax"))
INCLUDE_BACKGROUND = Param("include_background", ParamKind.BOOL, True, "Include background",
                           "Count channel 0 (multi-class: the background class).")

def check_dice(ctx: CheckContext) -> None:
    """Sigmoid or softmax, not both; without softmax the model must output one channel."""
    if ctx.config["sigmoid"] and ctx.config["softmax"]:
        ctx.problem("sigmoid", "choose sigmoid or softmax, not both")
        ctx.problem("softmax", "choose sigmoid or softmax, not both")
        return
    channels = "any" if ctx.config["softmax"] else "one"
    ctx.provide("loss", **{Fact.LOSS_CHANNELS: ctx.known(channels, "softmax")})


def check_mode(ctx: CheckContext) -> None:
    """sigmoid needs a 1-channel model, softmax one with 2 or more channels (checked by the Trainer)."""
    channels = {"auto": "any", "sigmoid": "one", "softmax": "many"}[ctx.config["mode"]]
    ctx.provide("loss", **{Fact.LOSS_CHANNELS: ctx.known(channels, "mode")})


SPECS = [
    NodeSpec(
        type_id="losses.DiceLoss",
        title="Dice Loss",
        category="Losses",
        run=run_dice,
        outputs=(Port("loss", PortKind.LOSS),),
        params=(
            Param("sigmoid", ParamKind.BOOL, True, "Sigmoid", "Apply sigmoid to the logits (binary masks)."),
            Param("softmax", ParamKind.BOOL, False, "Softmax",
                  "Apply softmax to the logits and one-hot the label (multi-class)."),
            Param("include_background", ParamKind.BOOL, True, "Include background",
                  "Count channel 0 in the Dice."),
        ),
        description="MONAI Dice loss.",
        check=check_dice,
    ),
    NodeSpec(
        type_id="losses.DiceCELoss",
        title="Dice + Cross-Entropy Loss",
        category="Losses",
        run=run_dice_ce,
        outputs=(Port("loss", PortKind.LOSS),),
        params=(
            MODE,
            INCLUDE_BACKGROUND,
            Param("lambda_dice", ParamKind.FLOAT, 1.0, "Dice weight", "Weight of the Dice term.", minimum=0.0),
            Param("lambda_ce", ParamKind.FLOAT, 1.0, "CE weight", "Weight of the cross-entropy term.", minimum=0.0),
        ),
        description="MONAI DiceCELoss: Dice plus (binary) cross-entropy.",
        check=check_mode,
    ),
    NodeSpec(
        type_id="losses.FocalLoss",
        title="Focal Loss",
        category="Losses",
        run=run_focal,
        outputs=(Port("loss", PortKind.LOSS),),
        params=(
            MODE,
            INCLUDE_BACKGROUND,
            Param("gamma", ParamKind.FLOAT, 2.0, "Gamma", "Focusing strength (0 = cross-entropy).", minimum=0.0),
        ),
        description="MONAI FocalLoss: cross-entropy that down-weights easy voxels.",
        check=check_mode,
    ),
    NodeSpec(
        type_id="losses.CrossEntropy",
        title="Cross-Entropy Loss",
        category="Losses",
        run=run_cross_entropy,
        outputs=(Port("loss", PortKind.LOSS),),
        params=(MODE,),
        description="Binary cross-entropy on logits (1 channel) or cross-entropy over classes.",
        check=check_mode,
    ),
]
