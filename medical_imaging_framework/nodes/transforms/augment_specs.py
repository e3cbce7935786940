"""Random augmentation nodes for real volumes: affine (rotation, scale), zoom, Gaussian smoothing, intensity
scaling and contrast (gamma). MONAI dictionary transforms, run on training data only; plain data here.
"""

from __future__ import annotations

import math
from typing import Any

from medical_imaging_framework.core import Param, ParamKind
from medical_imaging_framework.nodes.transforms.checks import check_random_keeps_shape, check_range
from medical_imaging_framework.nodes.transforms.item_keys import BOTH, IMAGE
from medical_imaging_framework.nodes.transforms.specs import PROB, SEED, _chain, _spec
from medical_imaging_framework.run.executor import NodeContext


def run_rand_affine(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandAffined

    angle, scale = math.radians(config["rotate_degrees"]), config["scale"]
    # three ranges serve 2D too: MONAI's 2D affine reads the first rotation and the first two scales
    step = RandAffined(BOTH, prob=config["prob"], rotate_range=(angle,) * 3, scale_range=(scale,) * 3,
                       mode=("bilinear", "nearest"), padding_mode="zeros", allow_missing_keys=True)
    return _chain(inputs, step, config["seed"])


def run_rand_smooth(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandGaussianSmoothd

    sigma = (config["sigma_min"], config["sigma_max"])
    step = RandGaussianSmoothd(IMAGE, sigma_x=sigma, sigma_y=sigma, sigma_z=sigma, prob=config["prob"])
    return _chain(inputs, step, config["seed"])


def run_rand_scale(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandScaleIntensityd

    step = RandScaleIntensityd(IMAGE, factors=config["factors"], prob=config["prob"])
    return _chain(inputs, step, config["seed"])


def run_rand_contrast(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandAdjustContrastd

    step = RandAdjustContrastd(IMAGE, prob=config["prob"], gamma=(config["gamma_min"], config["gamma_max"]))
    return _chain(inputs, step, config["seed"])


def run_rand_zoom(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from monai.transforms import RandZoomd

    # 'area' averages like bilinear when shrinking and works on 2D and 3D alike (torch's 'bilinear' is 2D only)
    step = RandZoomd(BOTH, prob=config["prob"], min_zoom=config["min_zoom"], max_zoom=config["max_zoom"],
                     mode=("area", "nearest"), keep_size=True, allow_missing_keys=True)
    return _chain(inputs, step, config["seed"])


def _prob(default: float) -> Param:
    return Param("prob", ParamKind.FLOAT, default, PROB.label, PROB.help, minimum=0.0, maximum=1.0)


SPECS = [
    _spec("transforms.RandAffine", "Random Affine", run_rand_affine, (
        _prob(0.2),
        Param("rotate_degrees", ParamKind.FLOAT, 15.0, "Rotation (degrees)",
              "Largest rotation about each axis, drawn in -x..x.", minimum=0.0, maximum=180.0),
        Param("scale", ParamKind.FLOAT, 0.1, "Scale", "Largest relative scaling per axis, drawn in 1-x..1+x.",
              minimum=0.0, maximum=0.9),
        SEED,
    ), "Rotates and scales image (bilinear) and label (nearest) together (MONAI RandAffine; training data only); "
       "the size is kept.", check_random_keeps_shape),
    _spec("transforms.RandGaussianSmooth", "Random Gaussian Smooth", run_rand_smooth, (
        _prob(0.2),
        Param("sigma_min", ParamKind.FLOAT, 0.5, "Sigma min", "Smallest kernel standard deviation (voxels).",
              minimum=0.0),
        Param("sigma_max", ParamKind.FLOAT, 1.0, "Sigma max", "Largest kernel standard deviation (voxels).",
              minimum=0.0),
        SEED,
    ), "Blurs the image with a Gaussian of random width (MONAI RandGaussianSmooth; training data only).",
        check_range("sigma_min", "sigma_max")),
    _spec("transforms.RandScaleIntensity", "Random Scale Intensity", run_rand_scale, (
        _prob(0.2),
        Param("factors", ParamKind.FLOAT, 0.1, "Factor", "Intensities are multiplied by 1+f, f drawn in -x..x.",
              minimum=0.0, maximum=0.99),
        SEED,
    ), "Multiplies the image intensities by a random factor (MONAI RandScaleIntensity; training data only).",
        check_random_keeps_shape),
    _spec("transforms.RandAdjustContrast", "Random Contrast (gamma)", run_rand_contrast, (
        _prob(0.2),
        Param("gamma_min", ParamKind.FLOAT, 0.7, "Gamma min", "Smallest gamma.", above=0.0),
        Param("gamma_max", ParamKind.FLOAT, 1.5, "Gamma max", "Largest gamma.", above=0.0),
        SEED,
    ), "Changes the contrast with a random gamma on the image's range (MONAI RandAdjustContrast; training "
       "data only).", check_range("gamma_min", "gamma_max")),
    _spec("transforms.RandZoom", "Random Zoom", run_rand_zoom, (
        _prob(0.2),
        Param("min_zoom", ParamKind.FLOAT, 0.9, "Zoom min", "Smallest zoom factor (below 1 shrinks).", above=0.0),
        Param("max_zoom", ParamKind.FLOAT, 1.1, "Zoom max", "Largest zoom factor.", above=0.0),
        SEED,
    ), "Zooms image and label together by a random factor, keeping the size (MONAI RandZoom; training data "
       "only).", check_range("min_zoom", "max_zoom")),
]
