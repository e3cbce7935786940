"""Loss nodes (MONAI). Each outputs an ``nn.Module`` called as ``loss(prediction, label)``."""

from __future__ import annotations

from typing import Any

from monai.losses import DiceLoss

from medical_imaging_framework.core import NodeContext, NodeError, NodeSpec, Param, ParamKind, Port, PortKind


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
    ),
]
