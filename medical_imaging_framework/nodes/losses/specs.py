"""Loss nodes (MONAI). Each outputs an ``nn.Module`` called as ``loss(prediction, label)``.

Class convention (shared with `inference.Predictor` and `evaluation.EvaluateSegmentation`): labels are
integer class maps of shape (B, 1, *spatial). A model with 1 output channel is binary (sigmoid); with
C > 1 channels it has C classes, class 0 being background (softmax, label one-hot encoded). The new
losses take ``mode`` = auto (decided per call from the prediction's channels), sigmoid or softmax.
The specs are plain data; MONAI is imported when a node runs, and the ``nn.Module`` classes live in
`nodes.loss_modules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    from torch import nn


def run_dice(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.losses import DiceLoss

    if config["sigmoid"] and config["softmax"]:
        raise NodeError("choose sigmoid or softmax, not both")
    loss = DiceLoss(
        sigmoid=config["sigmoid"],
        softmax=config["softmax"],
        to_onehot_y=config["softmax"],
        include_background=config["include_background"],
    )
    return {"loss": loss}


def _adaptive(config: dict[str, Any], build: Callable[[bool], nn.Module]) -> dict[str, Any]:
    """``build(multiclass)`` twice, wrapped by `ChannelAwareLoss` with the node's mode."""
    from medical_imaging_framework.nodes.losses.modules import ChannelAwareLoss

    return {"loss": ChannelAwareLoss(build(False), build(True), config["mode"])}


def run_dice_ce(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.losses import DiceCELoss

    return _adaptive(config, lambda multi: DiceCELoss(
        include_background=config["include_background"], sigmoid=not multi, softmax=multi, to_onehot_y=multi,
        lambda_dice=config["lambda_dice"], lambda_ce=config["lambda_ce"],
    ))


def run_focal(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.losses import FocalLoss

    return _adaptive(config, lambda multi: FocalLoss(
        include_background=config["include_background"], to_onehot_y=multi, use_softmax=multi, gamma=config["gamma"],
    ))


def run_cross_entropy(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from medical_imaging_framework.nodes.losses.modules import BinaryCrossEntropy, CrossEntropy

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
