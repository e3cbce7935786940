"""Model nodes (MONAI networks). Each outputs a freshly initialised ``nn.Module``.

The specs are plain data; torch and MONAI are imported when a node runs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact, Known
from medical_imaging_framework.core.node_spec import RUN_EVERY_TIME
from medical_imaging_framework.core.params import MAX_SEED
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    import torch

SPATIAL_DIMS = Param("spatial_dims", ParamKind.CHOICE, "2", "Spatial dims", "2D or 3D network.", choices=("2", "3"))
IN_CHANNELS = Param("in_channels", ParamKind.INT, 1, "Input channels", "Channels of the input image.", minimum=1)
OUT_CHANNELS = Param("out_channels", ParamKind.INT, 1, "Output channels",
                     "1 for binary (sigmoid) segmentation, else the number of classes.", minimum=1)
SEED = Param("seed", ParamKind.INT, 0, "Seed", "Seed of the weight initialisation.", minimum=0, maximum=MAX_SEED)


def seeded_build(seed: int, build: Any) -> torch.nn.Module:
    """Build a network with deterministic initial weights, leaving the global RNG untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _levels(config: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(channels, strides) of a UNet-like network; one stride fewer than channels."""
    channels, strides = config["channels"], config["strides"]
    if len(strides) != len(channels) - 1:
        raise NodeError(f"strides needs {len(channels) - 1} values for {len(channels)} channels, got {len(strides)}")
    return tuple(channels), tuple(strides)


def _shape_args(config: dict[str, Any]) -> dict[str, int]:
    """The arguments every MONAI network here shares: dimensionality and channels in and out."""
    keys = ("in_channels", "out_channels")
    return {"spatial_dims": int(config["spatial_dims"]), **{key: config[key] for key in keys}}


def _report(ctx: NodeContext, name: str, model: torch.nn.Module) -> dict[str, Any]:
    ctx.log(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters")
    return {"model": model}


def run_unet(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.networks.nets import UNet

    channels, strides = _levels(config)
    model = seeded_build(
        config["seed"],
        lambda: UNet(
            **_shape_args(config),
            channels=channels,
            strides=strides,
            num_res_units=config["num_res_units"],
            dropout=config["dropout"],
        ),
    )
    return _report(ctx, "UNet", model)


def run_segresnet(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.networks.nets import SegResNet

    filters = config["init_filters"]
    if filters % 8:
        raise NodeError(f"init_filters must be a multiple of 8 (group normalisation uses 8 groups), got {filters}")
    model = seeded_build(
        config["seed"],
        lambda: SegResNet(
            **_shape_args(config),
            init_filters=filters,
            blocks_down=tuple(config["blocks_down"]),
            blocks_up=tuple([1] * (len(config["blocks_down"]) - 1)),
            dropout_prob=config["dropout"] or None,
        ),
    )
    return _report(ctx, "SegResNet", model)


def run_attention_unet(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.networks.nets import AttentionUnet

    channels, strides = _levels(config)
    model = seeded_build(
        config["seed"],
        lambda: AttentionUnet(
            **_shape_args(config),
            channels=channels,
            strides=strides,
            dropout=config["dropout"],
        ),
    )
    return _report(ctx, "AttentionUnet", model)


DROPOUT = Param("dropout", ParamKind.FLOAT, 0.0, "Dropout", "Dropout probability.", minimum=0.0, maximum=1.0)
CHANNELS = Param("channels", ParamKind.INT_LIST, [16, 32, 64, 128], "Channels", "Feature channels per level.",
                 minimum=1)
STRIDES = Param("strides", ParamKind.INT_LIST, [2, 2, 2], "Strides", "Downsampling stride between levels.", minimum=1)


def _provide_model(ctx: CheckContext, multiple: Known | None = None, min_size: Known | None = None) -> None:
    ctx.provide("model", **{
        Fact.SPATIAL_DIMS: ctx.known(int(ctx.config["spatial_dims"]), "spatial_dims"),
        Fact.IN_CHANNELS: ctx.known(ctx.config["in_channels"], "in_channels"),
        Fact.OUT_CHANNELS: ctx.known(ctx.config["out_channels"], "out_channels"),
        Fact.SIZE_MULTIPLE: multiple,
        Fact.MIN_SIZE: min_size,
    })


def check_levels(ctx: CheckContext) -> None:
    """UNet-like networks: 2+ levels, one stride fewer than channels; images divide by the strides' product.

    Each level halves (by its stride) the image, and the deepest is normalised over its voxels, so
    every image axis must divide by the product of the strides and be at least twice that.
    """
    channels, strides = ctx.config["channels"], ctx.config["strides"]
    if len(channels) < 2:
        ctx.problem("channels", f"needs at least 2 levels (e.g. 16, 32), got {len(channels)}")
        _provide_model(ctx)
        return
    if len(strides) != len(channels) - 1:
        message = f"strides needs {len(channels) - 1} values for {len(channels)} channels, got {len(strides)}"
        ctx.problem("strides", message)
        ctx.problem("channels", message)
        _provide_model(ctx)
        return
    multiple = math.prod(strides)
    _provide_model(ctx, ctx.known(multiple, "strides"), ctx.known(2 * multiple, "strides"))


def check_segresnet(ctx: CheckContext) -> None:
    """Group normalisation needs init_filters divisible by 8; images divide by 2^(levels-1)."""
    filters = ctx.config["init_filters"]
    if filters % 8:
        ctx.problem("init_filters", f"must be a multiple of 8 (group normalisation uses 8 groups), got {filters}")
    multiple = 2 ** (len(ctx.config["blocks_down"]) - 1)
    _provide_model(ctx, ctx.known(multiple, "blocks_down"), ctx.known(multiple, "blocks_down"))


SPECS = [
    NodeSpec(
        type_id="models.UNet",
        title="UNet",
        category="Models",
        run=run_unet,
        outputs=(Port("model", PortKind.MODEL),),
        params=(
            SPATIAL_DIMS,
            IN_CHANNELS,
            OUT_CHANNELS,
            CHANNELS,
            STRIDES,
            Param("num_res_units", ParamKind.INT, 2, "Residual units", "Residual units per block.", minimum=0),
            DROPOUT,
            SEED,
        ),
        description="MONAI UNet with residual units.",
        check=check_levels,
        cache=RUN_EVERY_TIME,  # built in a moment; a Trainer trains the very model it is given
    ),
    NodeSpec(
        type_id="models.SegResNet",
        title="SegResNet",
        category="Models",
        run=run_segresnet,
        outputs=(Port("model", PortKind.MODEL),),
        params=(
            SPATIAL_DIMS,
            IN_CHANNELS,
            OUT_CHANNELS,
            Param("init_filters", ParamKind.INT, 8, "Initial filters", "Channels of the first level (multiple of 8).",
                  minimum=8),
            Param("blocks_down", ParamKind.INT_LIST, [1, 2, 2, 4], "Blocks down",
                  "Residual blocks per encoder level (the image size must divide by 2^(levels-1)).", minimum=1),
            DROPOUT,
            SEED,
        ),
        description="MONAI SegResNet: residual encoder-decoder with group normalisation (Myronenko 2018).",
        check=check_segresnet,
        cache=RUN_EVERY_TIME,  # built in a moment; a Trainer trains the very model it is given
    ),
    NodeSpec(
        type_id="models.AttentionUnet",
        title="Attention UNet",
        category="Models",
        run=run_attention_unet,
        outputs=(Port("model", PortKind.MODEL),),
        params=(
            SPATIAL_DIMS,
            IN_CHANNELS,
            OUT_CHANNELS,
            CHANNELS,
            STRIDES,
            DROPOUT,
            SEED,
        ),
        description="MONAI Attention UNet: attention gates on the skip connections (Oktay 2018).",
        check=check_levels,
        cache=RUN_EVERY_TIME,  # built in a moment; a Trainer trains the very model it is given
    ),
]
