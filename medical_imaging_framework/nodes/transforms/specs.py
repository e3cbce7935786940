"""Transform nodes (MONAI dictionary transforms) and the node that applies them to datasets.

Transform nodes chain: each takes the chain built so far (optional ``transform`` input) and outputs
it with one more step. ``transforms.Apply`` runs the chain on a training and/or a validation dataset;
random steps run on the training output only, and with ``cache`` the deterministic steps before the
first random one run once per item (MONAI ``CacheDataset``), not every epoch. Image and label are MONAI
``MetaTensor`` s: spatial steps update their affine and record themselves in ``applied_operations``, so
`SavePredictions` can invert them (MONAI ``Invertd``) and write each prediction on its source grid.

The specs are plain data: MONAI is imported when a node runs, and the MONAI/torch classes that apply a
chain live in `nodes.transform_pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext
from medical_imaging_framework.core.node_spec import CachePolicy
from medical_imaging_framework.core.params import MAX_SEED
from medical_imaging_framework.nodes.transforms.checks import (
    check_apply,
    check_ct_window,
    check_divisible_pad,
    check_flip,
    check_intensity,
    check_pad_crop,
    check_rand_crop,
    check_resize,
    check_rotate90,
)
from medical_imaging_framework.nodes.transforms.item_keys import BOTH, IMAGE
from medical_imaging_framework.nodes.transforms.steps import (
    CT_PRESET_CHOICES,
    CT_PRESETS,
    build_step,
    interpolation,
    step_description,
)
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import LogLine
from medical_imaging_framework.run.executor import NodeContext

if TYPE_CHECKING:
    from monai.transforms import MapTransform

SPATIAL = (
    "transforms.Resize", "transforms.PadOrCrop", "transforms.DivisiblePad", "transforms.Orientation",
    "transforms.Spacing", "transforms.CropForeground",
)
# the editor shows a preset's window in the window_min/max fields once it is picked
CT_PRESET_FILLS = tuple(
    (name, (("window_min", level - width / 2), ("window_max", level + width / 2)))
    for name, (width, level) in CT_PRESETS.items()
)

def _chain(
    inputs: dict[str, Any], step: MapTransform, seed: int | None = None, size_field: str = "", size: Any = None
) -> dict[str, Any]:
    """The linked chain plus ``step`` (preceded by a dimension check when it takes a size)."""
    from medical_imaging_framework.nodes.transforms.pipeline import CheckSpatialDims

    if seed is not None:
        step.mif_seed = seed
        step.set_random_state(seed=seed)
    previous: tuple[MapTransform, ...] = tuple(inputs.get("transform") or ())
    check = (CheckSpatialDims(len(size), size_field),) if size is not None else ()
    return {"transform": (*previous, *check, step)}


def _described(inputs: dict[str, Any], type_id: str, config: dict[str, Any], size_field: str = "") -> dict[str, Any]:
    """The linked chain plus the node's MONAI step, built from its `steps.step_description`."""
    keys = BOTH if type_id in SPATIAL else (IMAGE,)
    description = step_description(type_id, config, keys)
    assert description is not None  # every caller is a deterministic node
    size = config[size_field] if size_field else None
    return _chain(inputs, build_step(description), size_field=size_field, size=size)


def run_normalize(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _described(inputs, "transforms.NormalizeIntensity", config)


def run_ct_window(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    if config.get("preset", "custom") == "custom" and config["window_min"] >= config["window_max"]:
        raise NodeError(f"window_min ({config['window_min']}) must be below window_max ({config['window_max']})")
    return _described(inputs, "transforms.CTWindow", config)


def run_resize(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _described(inputs, "transforms.Resize", config, "spatial_size")


def run_pad_crop(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _described(inputs, "transforms.PadOrCrop", config, "spatial_size")


def run_divisible_pad(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _described(inputs, "transforms.DivisiblePad", config)


def run_rand_crop(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandSpatialCropd

    size = config["roi_size"]
    interpolation(size)
    step = RandSpatialCropd(BOTH, roi_size=size, random_size=False, allow_missing_keys=True)
    return _chain(inputs, step, config["seed"], size_field="roi_size", size=size)


def run_rand_flip(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandFlipd

    axis = None if config["spatial_axis"] == "all" else int(config["spatial_axis"])
    step = RandFlipd(BOTH, prob=config["prob"], spatial_axis=axis, allow_missing_keys=True)
    return _chain(inputs, step, config["seed"])


def run_rand_rotate90(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandRotate90d

    step = RandRotate90d(BOTH, prob=config["prob"], max_k=3, spatial_axes=(0, 1), allow_missing_keys=True)
    return _chain(inputs, step, config["seed"])


def run_noise(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandGaussianNoised

    step = RandGaussianNoised(IMAGE, prob=config["prob"], std=config["std"])
    return _chain(inputs, step, config["seed"])


def run_apply(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from medical_imaging_framework.nodes.transforms.pipeline import CheckSpatialDims, cached_dataset, is_random

    def warn(text: str) -> None:  # a refused or unwritable cache entry, during any later node's run
        ctx.emit(LogLine(f"warning: {text}", ctx.node_id, "warning"))

    chain = tuple(inputs["transform"])
    if inputs.get("train") is None and inputs.get("val") is None:
        raise NodeError("link a dataset to 'train' or 'val' (or both)")
    outputs: dict[str, Any] = {}
    for port, training in (("train", True), ("val", False)):
        data = inputs.get(port)
        outputs[port] = None if data is None else cached_dataset(data, chain, training, config, warn)
    user_steps = [step for step in chain if not isinstance(step, CheckSpatialDims)]  # checks are internal
    randoms = sum(is_random(step) for step in user_steps)
    ctx.log(
        f"Transforms: {len(user_steps)} step(s), {randoms} random (training data only)"
        + (", deterministic steps cached" if config["cache"] else "")
        + (f" on disk in {config['cache_dir'].strip()}" if config["cache"] and config.get("cache_dir", "").strip()
           else "")
    )
    return outputs


def reseed_outputs(outputs: dict[str, Any]) -> None:
    """Before reused datasets go on to a later run: their random steps back to their seeds (`pipeline.reseed`)."""
    from medical_imaging_framework.nodes.transforms.pipeline import reseed

    for dataset in outputs.values():
        if dataset is not None:
            reseed(dataset)


PREVIOUS = Port("transform", PortKind.TRANSFORM, required=False, help="The chain so far (optional).")
NEXT = Port("transform", PortKind.TRANSFORM)
SEED = Param("seed", ParamKind.INT, 0, "Seed", "Seed of this random transform.", minimum=0, maximum=MAX_SEED)
PROB = Param("prob", ParamKind.FLOAT, 0.5, "Probability", "Chance of applying it to an item.", minimum=0.0, maximum=1.0)


def _size(name: str, label: str, help_text: str) -> Param:
    return Param(name, ParamKind.INT_LIST, [96, 96], label, help_text + " 2 values for 2D, 3 for 3D.", minimum=1)


def _spec(
    type_id: str, title: str, run: Any, params: tuple[Param, ...], description: str,
    check: Callable[[CheckContext], None] = check_intensity,
) -> NodeSpec:
    return NodeSpec(
        type_id=type_id, title=title, category="Transforms", run=run, inputs=(PREVIOUS,), outputs=(NEXT,),
        params=params, description=description, check=check,
    )


SPECS = [
    _spec("transforms.NormalizeIntensity", "Normalize Intensity", run_normalize, (
        Param("nonzero", ParamKind.BOOL, False, "Non-zero only", "Compute mean/std over non-zero voxels only."),
        Param("channel_wise", ParamKind.BOOL, True, "Channel-wise", "Normalise each channel separately."),
    ), "Zero mean, unit standard deviation (image only)."),
    _spec("transforms.CTWindow", "CT Window", run_ct_window, (
        Param("preset", ParamKind.CHOICE, "custom", "Preset",
              "A standard CT window (width/level in HU): soft_tissue 400/40 (-160..240), lung 1500/-600 "
              "(-1350..150), bone 1800/400 (-500..1300), brain 80/40 (0..80); custom: window min and max below.",
              choices=CT_PRESET_CHOICES, fills=CT_PRESET_FILLS),
        Param("window_min", ParamKind.FLOAT, -1000.0, "Window min (HU)", "Intensity mapped to 0 (preset custom)."),
        Param("window_max", ParamKind.FLOAT, 1000.0, "Window max (HU)", "Intensity mapped to 1 (preset custom)."),
    ), "Clips intensities to a window (a standard preset or your own) and scales it to 0..1 "
       "(MONAI ScaleIntensityRange).", check_ct_window),
    _spec("transforms.Resize", "Resize", run_resize, (
        _size("spatial_size", "Size", "Output size."),
    ), "Resamples image (linear) and label (nearest) to a size; the affine follows.", check_resize),
    _spec("transforms.PadOrCrop", "Pad or Crop", run_pad_crop, (
        _size("spatial_size", "Size", "Output size, padding with zeros or cropping the centre."),
    ), "Pads or centre-crops image and label to a size; the affine follows.", check_pad_crop),
    _spec("transforms.DivisiblePad", "Pad to Multiple", run_divisible_pad, (
        Param("k", ParamKind.INT, 16, "Multiple", "Each spatial size becomes a multiple of this.", minimum=1),
    ), "Pads image and label at the far end so each size divides by k (UNets need it); the affine is unchanged.",
        check_divisible_pad),
    _spec("transforms.RandomCrop", "Random Crop", run_rand_crop, (
        _size("roi_size", "Crop size", "Size of the crop."), SEED,
    ), "Crops image and label at a random position (training data only).", check_rand_crop),
    _spec("transforms.RandomFlip", "Random Flip", run_rand_flip, (
        PROB,
        Param("spatial_axis", ParamKind.CHOICE, "all", "Axis", "Axis to flip, or all axes at once.",
              choices=("all", "0", "1", "2")),
        SEED,
    ), "Flips image and label (training data only).", check_flip),
    _spec("transforms.RandomRotate90", "Random Rotate 90", run_rand_rotate90, (PROB, SEED),
          "Rotates image and label by a random multiple of 90 degrees in the first two axes (training only).",
          check_rotate90),
    _spec("transforms.GaussianNoise", "Gaussian Noise", run_noise, (
        Param("prob", ParamKind.FLOAT, 0.2, "Probability", "Chance of adding noise to an item.",
              minimum=0.0, maximum=1.0),
        Param("std", ParamKind.FLOAT, 0.05, "Std", "Largest noise standard deviation.", minimum=0.0),
        SEED,
    ), "Adds Gaussian noise to the image (training data only)."),
    NodeSpec(
        type_id="transforms.Apply",
        title="Apply Transforms",
        category="Transforms",
        run=run_apply,
        inputs=(
            Port("transform", PortKind.TRANSFORM),
            Port("train", PortKind.DATASET, required=False, help="Training data: every step, random ones too."),
            Port("val", PortKind.DATASET, required=False,
                 help="Validation/test/inference data: deterministic steps only."),
        ),
        outputs=(Port("train", PortKind.DATASET), Port("val", PortKind.DATASET)),
        params=(Param("cache", ParamKind.BOOL, True, "Cache",
                      "Run deterministic steps once per item and keep the results in memory "
                      "(or on disk, with a cache folder)."),
                Param("cache_dir", ParamKind.PATH, "", "Cache folder",
                      "With cache on: keep the cached results in this folder instead of memory (MONAI "
                      "PersistentDataset; for data larger than RAM, reused by later runs). Empty: in memory. "
                      "Reading it never runs code: entries hold tensors and plain values, signed with your key "
                      "(~/.config/medical-imaging-framework/cache-key); a damaged or foreign entry is rebuilt."),),
        description="Runs a transform chain on datasets; random steps touch the training data only.",
        check=check_apply,
        cache=CachePolicy(refresh=reseed_outputs),
    ),
]
