"""An exported model's deployment file carries the real-data steps (orientation, spacing) the Predictor's data
went through, the Predictor's blending and its test-time flips; the random ones are listed as training-only."""

from __future__ import annotations

from pathlib import Path

import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.io.deploy_config import deploy_config
from medical_imaging_framework.nodes.transforms.steps import build_step
from tests.nodes.test_real_data_pipeline import real_data_graph


def test_deploy_file_lists_orientation_spacing_blend_and_flips(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = real_data_graph(registry, tmp_path, "nifti")
    graph.nodes["predictor"].config.update({"blend_mode": "constant", "tta_flips": True})
    config = deploy_config(graph, "unet", model_file="model.ts", fmt="torchscript", input_shape=(1, 1, 8, 8, 4),
                           output_channels=3)
    steps = config["preprocessing"][1:]
    assert [step["transform"] for step in steps] == ["Orientationd", "Spacingd", "NormalizeIntensityd",
                                                     "DivisiblePadd"]
    assert steps[1]["pixdim"] == [1.6, 1.6, 2.5] and steps[1]["mode"] == ["bilinear"]
    assert config["training_only"] == ["patches (transforms.RandCropByPosNegLabel)", "affine (transforms.RandAffine)"]
    assert config["inference"] == {"sliding_window": True, "roi_size": [8, 8, 4], "sw_batch_size": 4,
                                   "overlap": 0.25, "mode": "constant", "tta_flips": True}
    affine = torch.diag(torch.tensor([-0.8, -0.8, 2.5, 1.0], dtype=torch.float64))
    item = Compose([build_step(step) for step in steps])({"image": MetaTensor(torch.rand(1, 10, 9, 4), affine=affine)})
    assert tuple(item["image"].shape) == (1, 8, 8, 4), "the described steps run with MONAI alone"
