"""Predictor blending and test-time flips, and the Keep Largest Component post-processing node."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.nodes.inference.forward import forward
from medical_imaging_framework.nodes.inference.specs import Case, PredictionSet
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import LogLine
from medical_imaging_framework.run.executor import NodeContext
from tests.nodes.test_real_data_transforms import call

SLIDING = {"sliding_window": "on", "roi_size": [8, 8, 4], "overlap": 0.5, "sw_batch_size": 2}


def pointwise(seed: int) -> torch.nn.Module:
    """A 1x1x1 convolution: the same function of each voxel, so flipping the input flips the output."""
    torch.manual_seed(seed)
    return torch.nn.Conv3d(1, 3, kernel_size=1).eval()


class Ramp(torch.nn.Module):
    """Class scores that grow along the first axis: not flip-equivariant."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        ramp = torch.linspace(-3.0, 3.0, image.shape[2]).reshape(1, 1, -1, 1, 1)
        return torch.cat([ramp.expand_as(image), -ramp.expand_as(image), image], dim=1)


def loader_of(images: list[torch.Tensor]) -> Any:
    return [{"image": image[None], "name": [f"c{index}"]} for index, image in enumerate(images)]


@pytest.mark.parametrize("blend_mode", ["gaussian", "constant"])
@pytest.mark.parametrize("tta_flips", [False, True])
def test_blending_and_flips_give_a_prediction_of_the_image_shape(registry: NodeRegistry, blend_mode: str,
                                                                 tta_flips: bool) -> None:
    images = [torch.rand(1, 13, 11, 6, generator=torch.Generator().manual_seed(1))]
    events: list[Any] = []
    spec = registry.get("inference.Predictor")
    settings = {p.name: p.parse({"device": "cpu", "blend_mode": blend_mode, "tta_flips": tta_flips,
                                 **SLIDING}.get(p.name, p.default)) for p in spec.params}
    out = spec.run(NodeContext(node_id="predictor", emit=events.append, cancel=CancelToken()),
                   {"model": pointwise(0), "data": loader_of(images)}, settings)["predictions"]
    assert out.cases[0].prediction.shape == (1, 13, 11, 6) and out.num_classes == 3
    said = [e.text for e in events if isinstance(e, LogLine) and e.text.startswith("Predicted")]
    assert said == ["Predicted 1 case(s) (sliding window" + (", test-time flips" if tta_flips else "") +
                    ", 3 classes)"], "the log says when flips ran; unchanged without them"


def test_flips_of_a_flip_equivariant_model_change_nothing() -> None:
    image = torch.rand(2, 1, 12, 10, 6, generator=torch.Generator().manual_seed(2))
    model = pointwise(3)
    for settings in ({"sliding_window": "off"}, {**SLIDING, "blend_mode": "constant"}):
        plain = torch.softmax(forward(model, image, {**settings, "tta_flips": False}), dim=1)
        flipped = torch.softmax(forward(model, image, {**settings, "tta_flips": True}), dim=1)
        torch.testing.assert_close(flipped, plain, atol=1e-5, rtol=1e-4)
    ramp_plain = torch.softmax(forward(Ramp(), image, {"sliding_window": "off"}), dim=1)
    ramp_flipped = torch.softmax(forward(Ramp(), image, {"sliding_window": "off", "tta_flips": True}), dim=1)
    assert not torch.allclose(ramp_flipped, ramp_plain, atol=1e-3), "the flips ran: a ramp is averaged out"
    torch.testing.assert_close(ramp_flipped.sum(dim=1), torch.ones(2, 12, 10, 6))


def test_gaussian_blending_differs_from_constant_where_windows_overlap() -> None:
    image = torch.rand(1, 1, 14, 14, 6, generator=torch.Generator().manual_seed(4))

    class Position(torch.nn.Module):  # each window's output depends on where in the window a voxel lies
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linspace(0.0, 1.0, x.shape[2]).reshape(1, 1, -1, 1, 1).repeat(x.shape[0], 2, 1, *x.shape[3:])

    gaussian = forward(Position(), image, {**SLIDING, "blend_mode": "gaussian"})
    constant = forward(Position(), image, {**SLIDING, "blend_mode": "constant"})
    assert gaussian.shape == constant.shape == (1, 2, 14, 14, 6)
    assert not torch.allclose(gaussian, constant)


def test_keep_largest_component_removes_a_small_island_of_each_class(registry: NodeRegistry) -> None:
    classes = np.zeros((1, 12, 12, 6), np.uint8)
    classes[0, 1:5, 1:5, 1:4] = 1  # class 1: a large box ...
    classes[0, 9, 9, 4] = 1  # ... and a one-voxel island
    classes[0, 6:11, 1:4, 0:3] = 2  # class 2: a large box ...
    classes[0, 1:3, 9:11, 4:6] = 2  # ... and a small island
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    prediction = MetaTensor(torch.from_numpy(classes.copy()), affine=torch.from_numpy(affine))
    predictions = PredictionSet([Case("c0", None, prediction, affine)], num_classes=3)
    out = call(registry, "inference.KeepLargestComponent", {"predictions": predictions})["predictions"]
    kept = out.cases[0].prediction
    expected = classes.copy()
    expected[0, 9, 9, 4] = 0
    expected[0, 1:3, 9:11, 4:6] = 0
    np.testing.assert_array_equal(kept.numpy(), expected)
    assert isinstance(kept, MetaTensor) and torch.equal(kept.affine, prediction.affine), "meta kept for saving"
    assert np.array_equal(predictions.cases[0].prediction.numpy(), classes), "the input predictions are unchanged"
    only_two = call(registry, "inference.KeepLargestComponent", {"predictions": predictions},
                    applied_labels="2")["predictions"].cases[0].prediction.numpy()
    assert only_two[0, 9, 9, 4] == 1 and only_two[0, 1, 9, 4] == 0, "applied_labels 2: class 1 left alone"
