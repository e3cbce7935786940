"""The MONAI transform each deterministic transform node makes, as plain data: a name and its arguments.

One description serves two readers: the node's ``run`` builds its MONAI transform from it (`build_step`),
and an export writes it into the model's deployment file (``nodes.io.deploy_config``), so the steps a
deployed model is given are the very steps its pipeline ran. Random steps (crop, flip, rotate, noise) run
on training data only and have no description. Torch-free: MONAI is imported by `build_step` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medical_imaging_framework.run.control import NodeError

DETERMINISTIC = (
    "transforms.NormalizeIntensity", "transforms.CTWindow", "transforms.Resize", "transforms.PadOrCrop",
    "transforms.DivisiblePad",
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
        return {"transform": "ScaleIntensityRanged", "keys": [image], "a_min": config["window_min"],
                "a_max": config["window_max"], "b_min": 0.0, "b_max": 1.0, "clip": True}
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
    return None


def build_step(description: dict[str, Any]) -> Any:
    """The MONAI transform a `step_description` names, built with its arguments.

    Args:
        description: ``{"transform": name, **arguments}``.
    """
    import monai.transforms

    arguments = {name: value for name, value in description.items() if name != "transform"}
    return getattr(monai.transforms, description["transform"])(**arguments)
