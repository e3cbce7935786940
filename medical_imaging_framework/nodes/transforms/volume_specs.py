"""Transform nodes real CT/MR volumes need: orientation, spacing, foreground crop, CT intensity z-score, and
patch sampling around labels (MONAI dictionary transforms).

Orientation, Spacing and CropForeground are deterministic spatial steps: they record themselves in each
item's transform history, so `SavePredictions` puts every prediction back on its source image's grid (MONAI
``Invertd``). The label crops are random (training data only). Plain data: MONAI runs when a node runs.
"""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core import Param, ParamKind
from medical_imaging_framework.nodes.transforms.checks import (
    check_class_crop,
    check_clip_zscore,
    check_crop_foreground,
    check_orientation,
    check_pos_neg_crop,
    check_spacing,
)
from medical_imaging_framework.nodes.transforms.item_keys import BOTH
from medical_imaging_framework.nodes.transforms.specs import SEED, _chain, _described, _size, _spec
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext

LABEL = "label"


def run_orientation(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    config = {**config, "axcodes": str(config["axcodes"]).strip().upper()}
    return _described(inputs, "transforms.Orientation", config, "axcodes")  # one letter per axis, checked


def run_spacing(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    if len(config["pixdim"]) not in (2, 3):
        raise NodeError(f"pixdim needs 2 (2D) or 3 (3D) values, got {len(config['pixdim'])}")
    return _described(inputs, "transforms.Spacing", config, "pixdim")  # one spacing per axis, checked


def run_crop_foreground(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _described(inputs, "transforms.CropForeground", config)


def run_clip_zscore(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    return _described(inputs, "transforms.ClipZScore", config)


def run_pos_neg_crop(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandCropByPosNegLabeld

    if config["pos"] + config["neg"] <= 0:
        raise NodeError("pos and neg are both 0: at least one must be above 0")
    size = config["spatial_size"]
    # No image_key: every voxel of the label is a candidate centre. With one, MONAI keeps only voxels whose
    # intensity is above image_threshold, and after a CT clip + z-score air, fat and dark structures are below 0
    # ("Num backgrounds 0"); nnU-Net too draws its background patches anywhere in the (cropped) image.
    step = RandCropByPosNegLabeld(
        BOTH, label_key=LABEL, spatial_size=size, pos=config["pos"], neg=config["neg"],
        num_samples=config["num_samples"], image_key=None, allow_smaller=True,
    )
    return _chain(inputs, step, config["seed"], size_field="spatial_size", size=size)


def run_class_crop(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from medical_imaging_framework.nodes.transforms.label_crops import ClassCropFromLabel

    ratios = [float(r) for r in config["ratios"]] or None
    if ratios is not None and not any(ratios):
        raise NodeError("ratios are all 0: at least one class must be sampled")
    size = config["spatial_size"]
    step = ClassCropFromLabel(
        ratios, keys=BOTH, label_key=LABEL, spatial_size=size, num_samples=config["num_samples"],
        image_key=None, allow_smaller=True, warn=False,  # every voxel of a class: see run_pos_neg_crop
    )
    if ratios is None and config["num_classes"]:
        step.cropper.num_classes, step.from_label = config["num_classes"], False
    return _chain(inputs, step, config["seed"], size_field="spatial_size", size=size)


def _samples() -> Param:
    return Param("num_samples", ParamKind.INT, 1, "Samples per image",
                 "Patches cut from each training image per epoch (a batch of n images holds n x this many).",
                 minimum=1, maximum=64)


SPECS = [
    _spec("transforms.Orientation", "Orientation", run_orientation, (
        Param("axcodes", ParamKind.STR, "RAS", "Axis codes",
              "Target orientation: the direction each array axis points to, e.g. RAS (Right, Anterior, Superior; "
              "the NIfTI world) or LPS (DICOM); 2 letters for 2D.", allow_empty=False),
    ), "Reorders and flips the axes of image and label to one orientation (MONAI Orientation); the affine "
       "follows, and predictions are turned back to each file's own orientation.", check_orientation),
    _spec("transforms.Spacing", "Spacing", run_spacing, (
        Param("pixdim", ParamKind.FLOAT_LIST, [1.0, 1.0, 1.0], "Voxel spacing (mm)",
              "Target voxel size along each axis, in mm (2 values for 2D, 3 for 3D).", above=0.0),
    ), "Resamples image (bilinear) and label (nearest) to a voxel spacing (MONAI Spacing); the affine follows, "
       "and predictions are resampled back to each file's own grid.", check_spacing),
    _spec("transforms.CropForeground", "Crop Foreground", run_crop_foreground, (
        Param("source", ParamKind.CHOICE, "image", "Foreground of",
              "image: the box holding every voxel above 0 of the image; label: the box of the labelled voxels "
              "(every dataset it runs on then needs labels).", choices=("image", "label")),
        Param("margin", ParamKind.INT, 0, "Margin", "Voxels kept around the box on each side.", minimum=0),
    ), "Crops image and label to the foreground's bounding box (MONAI CropForeground); predictions are padded "
       "back to the full image.", check_crop_foreground),
    _spec("transforms.ClipZScore", "Clip + Z-Score (CT)", run_clip_zscore, (
        Param("clip_min", ParamKind.FLOAT, -1000.0, "Clip min", "Intensities below are set to this (e.g. the "
              "0.5th percentile of the foreground, in HU)."),
        Param("clip_max", ParamKind.FLOAT, 1000.0, "Clip max", "Intensities above are set to this (e.g. the "
              "99.5th percentile of the foreground)."),
        Param("mean", ParamKind.FLOAT, 0.0, "Mean", "Subtracted after clipping (the foreground mean)."),
        Param("std", ParamKind.FLOAT, 1.0, "Std", "Divides after subtracting (the foreground standard deviation).",
              above=0.0),
    ), "CT normalisation with fixed values: clips to [clip_min, clip_max], then (x - mean) / std, the same for "
       "every image (MONAI ScaleIntensityRange). For MR use Normalize Intensity with non-zero only.",
       check_clip_zscore),
    _spec("transforms.RandCropByPosNegLabel", "Crop by Label (pos/neg)", run_pos_neg_crop, (
        _size("spatial_size", "Patch size", "Size of each patch."),
        Param("pos", ParamKind.FLOAT, 1.0, "Positive weight", "Weight of patches centred on a labelled voxel.",
              minimum=0.0),
        Param("neg", ParamKind.FLOAT, 1.0, "Negative weight", "Weight of patches centred on a background voxel.",
              minimum=0.0),
        _samples(), SEED,
    ), "Cuts patches centred on foreground with chance pos/(pos+neg), else on background (MONAI "
       "RandCropByPosNegLabel; training data only), so small structures are seen.", check_pos_neg_crop),
    _spec("transforms.RandCropByLabelClasses", "Crop by Label Classes", run_class_crop, (
        _size("spatial_size", "Patch size", "Size of each patch."),
        Param("ratios", ParamKind.FLOAT_LIST, [], "Class ratios",
              "Sampling weight of each class, background first (e.g. 1, 2, 2); empty: every class equally.",
              minimum=0.0, empty_list=True),
        Param("num_classes", ParamKind.INT, 0, "Classes",
              "Classes in the labels, background included; 0: the number of ratios, or each label's largest "
              "class + 1.", minimum=0),
        _samples(), SEED,
    ), "Cuts patches centred on a voxel of a class drawn with the given ratios (MONAI RandCropByLabelClasses; "
       "training data only).", check_class_crop),
]
