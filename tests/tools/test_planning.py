"""The planning rules on synthetic fingerprints (pure functions: no image, no training, no torch)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from medical_imaging_framework.tools.planning import (
    MAX_DEPTH,
    PlanError,
    depth_for,
    fit_patch,
    make_plan,
    resampled_shape,
    target_spacing,
)

BYTES_PER_VOXEL = 50_000  # a fake step: memory linear in the patch's voxels


def fake_memory(calls: list[list[int]]) -> Any:
    def measure(patch: list[int], depth: int) -> int:
        calls.append(list(patch))
        return BYTES_PER_VOXEL * math.prod(patch)
    return measure


def fingerprint(spacings: list[list[float]], shapes: list[list[int]], modality: str = "CT",
                classes: tuple[int, ...] = (0, 1, 2)) -> dict[str, Any]:
    return {"dataset": "/data/dataset.json", "source": "decathlon", "read_count": len(shapes), "spatial_dims": 3,
            "channels": 1, "spacings": spacings, "shapes": shapes, "modality": modality, "classes": list(classes),
            "class_names": None, "intensity": {"p00_5": -80.0, "p99_5": 240.0, "mean": 60.0, "std": 45.0}}


def test_near_isotropic_data_is_resampled_to_the_median_spacing() -> None:
    spacing, reason = target_spacing([[1.0, 1.0, 1.5], [0.8, 0.8, 2.0], [0.9, 0.9, 2.5]])
    assert spacing == pytest.approx([0.9, 0.9, 2.0])
    assert "median" in reason


def test_the_low_resolution_axis_of_anisotropic_data_takes_its_10th_percentile() -> None:
    z = [1.25, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 3.0, 5.0, 5.0]
    spacing, reason = target_spacing([[0.7, 0.7, s] for s in z])
    assert spacing[:2] == pytest.approx([0.7, 0.7])
    assert spacing[2] == pytest.approx(np.percentile(z, 10))  # 2.825 mm: finer than the 5 mm median
    assert spacing[2] < np.median(z) and "anisotropic" in reason


def test_the_low_resolution_axis_is_never_finer_than_the_other_axes() -> None:
    spacing, _ = target_spacing([*[[1.0, 1.0, 0.2]] * 2, *[[1.0, 1.0, 5.0]] * 8])
    assert spacing == pytest.approx([1.0, 1.0, 1.0])  # the 10th percentile (0.2 mm) is raised to 1 mm


def test_the_median_resampled_shape_is_the_median_of_each_cases_resampled_shape() -> None:
    shapes = [[512, 512, 40], [512, 512, 100], [256, 256, 60]]
    spacings = [[0.5, 0.5, 5.0], [0.5, 0.5, 2.0], [1.0, 1.0, 2.5]]
    assert resampled_shape(shapes, spacings, [0.5, 0.5, 2.5]) == pytest.approx([512, 512, 80])


def test_the_patch_fits_the_memory_budget_and_the_bottleneck_keeps_4_voxels() -> None:
    calls: list[list[int]] = []
    budget = BYTES_PER_VOXEL * 96 * 96 * 48
    patch, depth, used, count = fit_patch([512, 512, 80], fake_memory(calls), budget)

    assert used <= budget and used == BYTES_PER_VOXEL * math.prod(patch)
    assert math.prod(patch) > budget / BYTES_PER_VOXEL / 2  # shrunk no further than needed (within one step)
    assert all(size % 2 ** depth == 0 and size // 2 ** depth >= 4 for size in patch)
    assert depth == depth_for(patch) and count == len(calls) <= 3  # measured, predicted, measured again
    assert calls[0] == [512, 512, 80]


def test_no_patch_fits_a_budget_below_the_smallest_step() -> None:
    with pytest.raises(PlanError, match="--memory-gb"):
        fit_patch([64, 64, 32], fake_memory([]), BYTES_PER_VOXEL * 100)


def test_depth_keeps_at_least_4_voxels_on_every_axis_and_at_most_5_downsamplings() -> None:
    assert depth_for([160, 160, 16]) == 2  # 16 -> 4 at the bottom
    assert depth_for([24, 22, 8]) == 1
    assert depth_for([1024, 1024, 1024]) == MAX_DEPTH
    assert depth_for([6, 64, 64]) == 1  # never fewer than one downsampling (padding makes 6 into 8)


def test_a_ct_plan_clips_and_zscores_with_the_fingerprints_values_and_multi_class_uses_softmax() -> None:
    spacings = [[0.8, 0.8, 2.5]] * 6
    shapes = [[48, 40, 16]] * 6
    plan = make_plan(fingerprint(spacings, shapes), fake_memory([]), 10**12, lambda p, d: 0.5, 10.0, "cpu")

    assert plan.normalisation == {"type": "transforms.ClipZScore",
                                  "params": {"clip_min": -80.0, "clip_max": 240.0, "mean": 60.0, "std": 45.0}}
    assert (plan.out_channels, plan.loss_mode, plan.include_background) == (3, "softmax", False)
    assert plan.patch_size == [48, 40, 16] and plan.depth == 2 and plan.batch_size >= 2
    assert plan.folds == 5 and not plan.crop_foreground
    # 6 cases, 5 folds: 4 train, 2 steps of 0.5 s per epoch; 10 min x 90% -> 540 epochs
    assert plan.epochs == 540
    assert {c.name for c in plan.choices} >= {"target spacing", "patch size", "network", "normalisation", "epochs"}
    assert all(choice.reason for choice in plan.choices)


def test_an_mr_plan_zscores_each_image_over_its_non_zero_voxels_and_binary_uses_sigmoid() -> None:
    plan = make_plan(fingerprint([[1.0, 1.0, 1.0]] * 3, [[32, 32, 32]] * 3, modality="MR", classes=(0, 1)),
                     fake_memory([]), 10**12, lambda p, d: 1.0, 1.0, "cpu")
    assert plan.normalisation == {"type": "transforms.NormalizeIntensity",
                                  "params": {"nonzero": True, "channel_wise": True}}
    assert (plan.out_channels, plan.loss_mode) == (1, "sigmoid") and plan.crop_foreground


def test_2d_data_and_a_single_case_are_refused_with_the_rule() -> None:
    flat = {**fingerprint([[1.0, 1.0]], [[64, 64]]), "spatial_dims": 2}
    with pytest.raises(PlanError, match="3D"):
        make_plan(flat, fake_memory([]), 10**12, lambda p, d: 1.0, 1.0, "cpu")
    with pytest.raises(PlanError, match="at least 2"):
        make_plan(fingerprint([[1.0] * 3], [[32] * 3]), fake_memory([]), 10**12, lambda p, d: 1.0, 1.0, "cpu")
