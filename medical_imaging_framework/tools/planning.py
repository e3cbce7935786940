"""The planning rules: from a dataset fingerprint to a training configuration, each choice with its reason.

Torch-free and pure: the two measurements a plan needs (the memory of one training step at a patch size, the
seconds of one step) are functions handed in (`tools/plan_probe.py` makes them with a real forward/backward
pass), so the rules are tested on synthetic fingerprints. The rules and their reasons are stated in
``docs/segmentation/PLANNING.md``; they follow nnU-Net (Isensee et al. 2021) where it has one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ANISOTROPY_THRESHOLD = 3.0  # nnU-Net: max/min spacing above this is anisotropic
LOW_RES_PERCENTILE = 10  # nnU-Net: the low-resolution axis is resampled to this percentile of its spacings
BOTTLENECK_MIN = 4  # voxels per axis at the deepest level
MAX_DEPTH = 5  # downsampling steps (nnU-Net's 3D networks have 5 or 6; MONAI UNet's memory grows with each)
MIN_BATCH = 2  # nnU-Net's batch size: instance statistics need more than one sample
BASE_CHANNELS = 32  # nnU-Net: 32 features at full resolution, doubled per level
MAX_CHANNELS = 320  # ... and capped at 320
MAX_EPOCHS = 1000  # nnU-Net trains 1000 epochs; a longer budget does not add more
TIME_FOR_TRAINING = 0.9  # share of the time budget for training steps; the rest: validation, checkpoints
MAX_FOLDS = 5  # nnU-Net's 5-fold cross-validation

Measure = Callable[[list[int], int], int]  # (patch, depth) -> bytes one training step takes


class PlanError(ValueError):
    """A dataset or a budget no plan fits; the message says which rule and what would help."""


@dataclass(frozen=True)
class Choice:
    """One planned value and why.

    Args:
        name: what was chosen (``target spacing``).
        value: the value as text.
        reason: the rule, with the fingerprint's numbers that decided it.
    """

    name: str
    value: str
    reason: str


@dataclass
class Plan:
    """Everything the pipeline generator needs, with the choices and reasons shown to the user."""

    target_spacing: list[float]
    patch_size: list[int]
    depth: int
    channels: list[int]
    batch_size: int
    in_channels: int
    out_channels: int
    loss_mode: str
    include_background: bool
    normalisation: dict[str, Any]
    crop_foreground: bool
    folds: int
    epochs: int
    device: str
    memory_bytes: int
    budget_bytes: int
    seconds_per_step: float
    tta_flips: bool
    choices: list[Choice] = field(default_factory=list)

    def reason(self, name: str) -> str:
        """The reason of the choice called ``name`` ("" when there is none)."""
        return next((c.reason for c in self.choices if c.name == name), "")


def _mm(values: Sequence[float]) -> str:
    return " x ".join(f"{v:.3g}" for v in values)


def target_spacing(spacings: Sequence[Sequence[float]]) -> tuple[list[float], str]:
    """The voxel size every case is resampled to, and why.

    The median spacing of each axis; when the median's largest/smallest spacing is above 3 (anisotropic), the
    low-resolution axis takes the 10th percentile of that axis' spacings instead (nnU-Net: thin-slice cases are
    not thrown away), never coarser than its median and never finer than the other axes' largest spacing.

    Args:
        spacings: each case's spacing, in one axis order.
    """
    table = np.asarray(spacings, dtype=float)
    median = [float(v) for v in np.median(table, axis=0)]
    ratio = max(median) / min(median)
    if ratio <= ANISOTROPY_THRESHOLD:
        return median, f"median spacing of the cases ({_mm(median)} mm; anisotropy {ratio:.2f} <= 3)"
    axis = int(np.argmax(median))
    others = max(v for i, v in enumerate(median) if i != axis)
    low = float(np.percentile(table[:, axis], LOW_RES_PERCENTILE))
    chosen = min(median[axis], max(low, others))
    target = [*median]
    target[axis] = chosen
    return target, (f"anisotropic (largest/smallest median spacing {ratio:.2f} > 3): axis {axis} takes the "
                    f"{LOW_RES_PERCENTILE}th percentile of its spacings ({low:.3g} mm), kept between the other "
                    f"axes' {others:.3g} mm and its median {median[axis]:.3g} mm -> {chosen:.3g} mm; the other "
                    f"axes take their median")


def resampled_shape(shapes: Sequence[Sequence[int]], spacings: Sequence[Sequence[float]],
                    target: Sequence[float]) -> list[float]:
    """The median of each case's shape once resampled to ``target`` (nnU-Net's median resampled shape).

    Args:
        shapes: each case's shape.
        spacings: each case's spacing (same axis order).
        target: the target spacing.
    """
    sizes = np.asarray(shapes, dtype=float) * np.asarray(spacings, dtype=float) / np.asarray(target, dtype=float)
    return [float(v) for v in np.median(sizes, axis=0)]


def depth_for(patch: Sequence[int]) -> int:
    """Downsampling steps that keep the deepest level at least 4 voxels on each axis (1 to 5).

    Args:
        patch: the patch size.
    """
    fitting = min(math.floor(math.log2(max(size, 1) / BOTTLENECK_MIN)) for size in patch)
    return max(1, min(MAX_DEPTH, fitting))


def aligned(patch: Sequence[float], depth: int) -> list[int]:
    """Each axis rounded down to a multiple of ``2**depth`` and at least ``4 * 2**depth`` (the bottleneck rule).

    Args:
        patch: sizes (may be fractional).
        depth: downsampling steps.
    """
    step = 2 ** depth
    return [max(BOTTLENECK_MIN * step, int(size) // step * step) for size in patch]


def settled(patch: Sequence[float]) -> tuple[list[int], int]:
    """``(patch, depth)`` where the depth is `depth_for` the patch and the patch is `aligned` to that depth.

    Args:
        patch: a wanted patch size.
    """
    current = aligned(patch, depth_for([int(size) for size in patch]))
    for _ in range(MAX_DEPTH + 1):  # rounding down may lower the depth, which changes the rounding: a few rounds
        depth = depth_for(current)
        again = aligned(current, depth)
        if again == current:
            return current, depth
        current = again
    return current, depth_for(current)


def fit_patch(start: Sequence[float], measure: Measure, budget: int) -> tuple[list[int], int, int, int]:
    """The largest patch (from ``start``, shrinking its largest axis) whose training step fits ``budget`` bytes.

    Each candidate is measured; after a measurement over budget the per-voxel cost of that measurement predicts
    how far to shrink before measuring again, so a plan takes a few measurements, not one per step.

    Args:
        start: the wanted patch (the median resampled shape).
        measure: bytes of one training step at ``(patch, depth)``.
        budget: the most bytes a step may take.

    Returns:
        ``(patch, depth, bytes measured, measurements)``.

    Raises:
        PlanError: even the smallest patch (8 voxels per axis, one downsampling) does not fit.
    """
    patch, depth = settled(start)
    count = 0
    while True:
        used = measure(patch, depth)
        count += 1
        if used <= budget:
            return patch, depth, used, count
        per_voxel = used / math.prod(patch)
        while True:
            smaller = _shrunk(patch)
            if smaller is None:
                raise PlanError(f"a training step at the smallest patch {patch} takes {used / 2**30:.2f} GB, more "
                                f"than the memory budget of {budget / 2**30:.2f} GB; raise --memory-gb")
            patch, depth = settled(smaller)
            if per_voxel * math.prod(patch) <= budget:
                break


def _shrunk(patch: list[int]) -> list[int] | None:
    """``patch`` with its largest axis one alignment step smaller, or None at the smallest patch."""
    depth = depth_for(patch)
    step = 2 ** depth
    axis = int(np.argmax(patch))  # the first of equal axes
    if patch[axis] - step >= BOTTLENECK_MIN * step:
        return [size - step if i == axis else size for i, size in enumerate(patch)]
    if depth > 1:  # the largest axis is at its floor for this depth: one level less lowers the floor
        return aligned([size // 2 if i == axis else size for i, size in enumerate(patch)], depth - 1)
    return None


def channels_for(depth: int) -> list[int]:
    """Feature channels per level: 32 doubled at each level, at most 320 (nnU-Net)."""
    return [min(MAX_CHANNELS, BASE_CHANNELS * 2 ** level) for level in range(depth + 1)]


def epochs_for(minutes: float, seconds_per_step: float, cases: int, batch: int, val_cases: int = 0,
               seconds_per_val_case: float = 0.0) -> tuple[int, str]:
    """Epochs that fit ``minutes``: 90% of it in epochs (training steps and the validation pass) at the measured
    speed; the rest is for data loading, checkpoints and the start.

    Args:
        minutes: the time budget.
        seconds_per_step: one training step, measured.
        cases: training cases (one patch each per epoch).
        batch: patches per step.
        val_cases: validation cases (each one whole case, every epoch).
        seconds_per_val_case: the validation forward pass of one whole case, measured.
    """
    steps = math.ceil(cases / batch)
    validation = val_cases * seconds_per_val_case
    per_epoch = steps * seconds_per_step + validation
    epochs = max(1, min(MAX_EPOCHS, int(minutes * 60 * TIME_FOR_TRAINING / per_epoch)))
    counted = (f"; validation {val_cases} whole case(s) at {seconds_per_val_case:.3g} s each, "
               f"{per_epoch:.3g} s an epoch" if val_cases else "")
    return epochs, (f"{minutes:g} min budget, 90% for epochs; one step measured at {seconds_per_step:.3g} s, "
                    f"{steps} step(s) per epoch ({cases} training cases, batch {batch}){counted} -> {epochs} epoch(s)"
                    + (" (capped at nnU-Net's 1000)" if epochs == MAX_EPOCHS else ""))


def normalisation_for(fingerprint: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``{"type": ..., "params": ...}`` of the intensity node, by modality, and why."""
    stats = fingerprint.get("intensity")
    if fingerprint.get("modality") == "CT" and stats:
        params = {"clip_min": round(stats["p00_5"], 3), "clip_max": round(stats["p99_5"], 3),
                  "mean": round(stats["mean"], 3), "std": round(max(stats["std"], 1e-3), 3)}
        return {"type": "transforms.ClipZScore", "params": params}, (
            "CT: Hounsfield units mean the same in every scan, so one global normalisation: clip to the 0.5/99.5 "
            f"percentiles of the foreground voxels ({params['clip_min']:g} .. {params['clip_max']:g}), then z-score "
            f"with their mean {params['mean']:g} and std {params['std']:g} (nnU-Net's CT scheme)")
    return {"type": "transforms.NormalizeIntensity", "params": {"nonzero": True, "channel_wise": True}}, (
        f"{fingerprint.get('modality') or 'other'}: intensities differ between scans, so each image is z-scored "
        "over its own non-zero voxels (nnU-Net's scheme for MR and other modalities)")


def folds_for(cases: int) -> tuple[int, str]:
    """K of the K-fold split: 5, or one fold per case below 5 cases."""
    if cases < 2:
        raise PlanError(f"a plan needs at least 2 readable labelled cases (one to validate), found {cases}")
    folds = min(MAX_FOLDS, cases)
    return folds, f"{cases} cases: {folds}-fold cross-validation by case, fold 0 trained (nnU-Net: 5 folds)"


def make_plan(fingerprint: dict[str, Any], measure: Measure, budget: int, time_per_step: Callable[[list[int], int],
              float], minutes: float, device: str,
              time_per_case: Callable[[list[int], int], float] | None = None) -> Plan:
    """The plan of a 3D fingerprint.

    Args:
        fingerprint: a `nodes.io.fingerprint` result.
        measure: bytes of one training step at ``(patch, depth)`` with batch `MIN_BATCH`.
        budget: the most bytes one step may take.
        time_per_step: seconds of one training step at the chosen ``(patch, depth)``.
        minutes: the training time budget.
        device: ``cpu`` or ``cuda``.
        time_per_case: seconds of the validation forward pass of one whole case of ``(shape, depth)``, batch 1
            (None: validation not counted).

    Raises:
        PlanError: no readable case, 2D data, fewer than 2 cases, or no patch fits the budget.
    """
    if not fingerprint.get("read_count"):
        raise PlanError(f"dataset '{fingerprint.get('dataset')}': no case could be read (see its problems)")
    if fingerprint.get("spatial_dims") != 3:
        flat = [c for c in fingerprint.get("cases", []) if c.get("shape") and len(c["shape"]) != 3]
        example = (f" (e.g. '{flat[0]['image']}': {' x '.join(map(str, flat[0]['shape']))})" if flat else "")
        raise PlanError(f"dataset '{fingerprint.get('dataset')}' holds {fingerprint.get('spatial_dims')}D images"
                        f"{example}; mif plan plans 3D datasets")
    choices: list[Choice] = []
    spacing, why = target_spacing(fingerprint["spacings"])
    choices.append(Choice("target spacing", f"{_mm(spacing)} mm", why))
    median = resampled_shape(fingerprint["shapes"], fingerprint["spacings"], spacing)
    patch, depth, used, count = fit_patch(median, measure, budget)
    shown = "x".join(map(str, patch))
    choices.append(Choice("patch size", shown, (
        f"the median resampled shape {_mm([round(v, 1) for v in median])} voxels, each axis a multiple of "
        f"2^{depth}, shrunk on its largest axis until one training step (batch {MIN_BATCH}) fits the "
        f"{budget / 2**30:.2f} GB budget on {device}: measured {used / 2**30:.3f} GB ({count} measurement(s))")))
    channels = channels_for(depth)
    choices.append(Choice("network", f"UNet, {depth} downsamplings, channels {channels}", (
        f"as many stride-2 levels as keep the bottleneck >= {BOTTLENECK_MIN} voxels on every axis of the "
        f"{shown} patch (at most {MAX_DEPTH}): {_mm([p // 2 ** depth for p in patch])} at the bottom; 32 features "
        "doubled per level, at most 320 (nnU-Net)")))
    choices.append(Choice("batch size", str(MIN_BATCH), "2 patches per step (nnU-Net's minimum; the patch, not the "
                          "batch, takes the memory)"))
    norm, why = normalisation_for(fingerprint)
    choices.append(Choice("normalisation", norm["type"].split(".")[1], why))
    classes = [int(c) for c in fingerprint.get("classes", [0, 1])]
    names = fingerprint.get("class_names") or []
    out = max(len(names), max(classes) + 1)
    binary = out <= 2
    choices.append(Choice("loss", "DiceCE, " + ("sigmoid" if binary else "softmax"), (
        f"labels {classes}: " + ("binary, one output channel with sigmoid; Dice includes channel 0 (the foreground)"
                                 if binary else f"{out} classes, softmax over {out} channels; the Dice term leaves "
                                 "the background out (nnU-Net), cross-entropy counts every class"))))
    folds, why = folds_for(fingerprint["read_count"])
    choices.append(Choice("split", f"{folds}-fold, fold 0", why))
    seconds = time_per_step(patch, depth)
    train_cases = fingerprint["read_count"] - math.ceil(fingerprint["read_count"] / folds)
    val_cases = fingerprint["read_count"] - train_cases
    val_shape = [math.ceil(v / 2 ** depth) * 2 ** depth for v in median]  # DivisiblePad's, as validation sees it
    val_seconds = time_per_case(val_shape, depth) if time_per_case else 0.0
    epochs, why = epochs_for(minutes, seconds, max(1, train_cases), MIN_BATCH, val_cases if time_per_case else 0,
                             val_seconds)
    choices.append(Choice("epochs", str(epochs), why))
    crop = fingerprint.get("modality") != "CT"
    choices.append(Choice("foreground crop", "on (image > 0)" if crop else "off", (
        "MR and others: the background is 0, so each case is cut to its non-zero box (less to read and train on)"
        if crop else "CT: the background is air (about -1000 HU), not 0; a crop to positive values would cut "
                     "fat and lung away")))
    tta = device == "cuda"
    choices.append(Choice("inference", f"sliding window {shown}, gaussian blending, overlap 0.5, "
                          f"test-time flips {'on' if tta else 'off'}", (
                              "windows of the training patch size, weighted by a Gaussian so window borders count "
                              "less (nnU-Net); flips over the 3 axes cost 8 passes: on with CUDA, off on CPU")))
    return Plan(spacing, patch, depth, channels, MIN_BATCH, int(fingerprint.get("channels", 1)), 1 if binary else out,
                "sigmoid" if binary else "softmax", binary, norm, crop, folds, epochs, device, used, budget, seconds,
                tta, choices)
