"""The MONAI transform each deterministic transform node makes, as plain data: a name and its arguments.

One description serves two readers: the node's ``run`` builds its MONAI transform from it (`build_step`),
and an export writes it into the model's deployment file (``nodes.io.deploy_config``), so the steps a
deployed model is given are the very steps its pipeline ran. Random steps (crops, flips, rotations, noise,
affine, zoom, intensity augmentations) run on training data only and have no description. Torch-free: MONAI
is imported by `build_step` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medical_imaging_framework.run.control import NodeError

# (window width, window level) in HU: the usual CT display windows (Radiopaedia, "Windowing (CT)";
# e.g. soft tissue W400 L40, lung W1500 L-600, bone W1800 L400, brain W80 L40)
CT_PRESETS = {"soft_tissue": (400.0, 40.0), "lung": (1500.0, -600.0), "bone": (1800.0, 400.0), "brain": (80.0, 40.0)}
CT_PRESET_CHOICES = ("custom", *CT_PRESETS)
DETERMINISTIC = (
    "transforms.NormalizeIntensity", "transforms.CTWindow", "transforms.Resize", "transforms.PadOrCrop",
    "transforms.DivisiblePad", "transforms.Orientation", "transforms.Spacing", "transforms.CropForeground",
    "transforms.ClipZScore",
)


def interpolation(size: Sequence[int]) -> str:
    """``bilinear`` for a 2D size, ``trilinear`` for 3D.

    Args:
        size: the node's size field.

    Raises:
        NodeError: the size has neither 2 nor 3 values.
    """
    if len(size) not in (2, 3):
        raise NodeError(f"spatial_size needs 2 (2D) or 3 (3D) values, got {len(size)}")
    return "bilinear" if len(size) == 2 else "trilinear"


def ct_window(config: dict[str, Any]) -> tuple[float, float]:
    """The CT Window node's ``(low, high)`` in HU: its preset's level -/+ half its width, or window_min/max (custom).

    Args:
        config: the node's parsed parameters (``preset``, ``window_min``, ``window_max``).
    """
    preset = config.get("preset", "custom")
    if preset in CT_PRESETS:
        width, level = CT_PRESETS[preset]
        return level - width / 2, level + width / 2
    return float(config["window_min"]), float(config["window_max"])


def step_description(type_id: str, config: dict[str, Any], keys: Sequence[str]) -> dict[str, Any] | None:
    """``{"transform": <MONAI dictionary transform>, **arguments}`` of a deterministic node; None for others.

    Spatial steps resample the first key (the image) with linear interpolation and any second key (a label)
    with nearest neighbour.

    Args:
        type_id: the node's type, e.g. ``transforms.Resize``.
        config: the node's parsed parameters.
        keys: the item keys it acts on: ``["image"]``, or ``["image", "label"]`` for spatial steps in a pipeline.
    """
    image = keys[0]
    if type_id == "transforms.NormalizeIntensity":
        return {"transform": "NormalizeIntensityd", "keys": [image], "nonzero": config["nonzero"],
                "channel_wise": config["channel_wise"]}
    if type_id == "transforms.CTWindow":
        low, high = ct_window(config)
        return {"transform": "ScaleIntensityRanged", "keys": [image], "a_min": low, "a_max": high, "b_min": 0.0,
                "b_max": 1.0, "clip": True}
    spatial = {"keys": list(keys), "allow_missing_keys": True}
    if type_id == "transforms.Resize":
        size = list(config["spatial_size"])
        modes = [interpolation(size), "nearest"][: len(keys)]
        return {"transform": "Resized", **spatial, "spatial_size": size, "mode": modes}
    if type_id == "transforms.PadOrCrop":
        size = list(config["spatial_size"])
        interpolation(size)
        return {"transform": "ResizeWithPadOrCropd", **spatial, "spatial_size": size}
    if type_id == "transforms.DivisiblePad":
        return {"transform": "DivisiblePadd", **spatial, "k": config["k"], "method": "end"}
    return _real_data_step(type_id, config, keys)


def _real_data_step(type_id: str, config: dict[str, Any], keys: Sequence[str]) -> dict[str, Any] | None:
    """The steps real CT/MR data needs: reorientation, resampling, foreground crop, CT intensity z-score."""
    image = keys[0]
    spatial = {"keys": list(keys), "allow_missing_keys": True}
    if type_id == "transforms.Orientation":
        # axis codes name directions in the RAS world that every reader's affine is in (MONAI's labels default)
        return {"transform": "Orientationd", **spatial, "axcodes": str(config["axcodes"]).strip().upper(),
                "labels": [["L", "R"], ["P", "A"], ["I", "S"]]}
    if type_id == "transforms.Spacing":
        modes = ["bilinear", "nearest"][: len(keys)]  # MONAI Resample: bilinear is trilinear on volumes
        return {"transform": "Spacingd", **spatial, "pixdim": [float(v) for v in config["pixdim"]], "mode": modes}
    if type_id == "transforms.CropForeground":
        # the image's own foreground (> 0), or the label's; without allow_smaller a margin past the edge pads
        source = image if config["source"] == "image" else "label"
        return {"transform": "CropForegroundd", **spatial, "source_key": source, "margin": config["margin"],
                "allow_smaller": True}
    if type_id == "transforms.ClipZScore":
        # clip to [clip_min, clip_max] then (x - mean) / std is one linear map of the clipped range: MONAI
        # ScaleIntensityRange from [clip_min, clip_max] to [(clip_min - mean) / std, (clip_max - mean) / std]
        low, high = float(config["clip_min"]), float(config["clip_max"])
        mean, std = float(config["mean"]), float(config["std"])
        if low >= high or std <= 0:
            raise NodeError(f"clip_min ({low}) must be below clip_max ({high}) and std ({std}) above 0")
        return {"transform": "ScaleIntensityRanged", "keys": [image], "a_min": low, "a_max": high,
                "b_min": (low - mean) / std, "b_max": (high - mean) / std, "clip": True}
    return None


def build_step(description: dict[str, Any]) -> Any:
    """The MONAI transform a `step_description` names, built with its arguments.

    Args:
        description: ``{"transform": name, **arguments}``.
    """
    import monai.transforms

    arguments = {name: value for name, value in description.items() if name != "transform"}
    return getattr(monai.transforms, description["transform"])(**arguments)
