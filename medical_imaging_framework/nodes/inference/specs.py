"""Inference nodes: LoadCheckpoint (weights into an architecture) and Predictor (batched or sliding-window).

Class convention (see `losses`): a 1-channel model is binary (sigmoid, then ``> threshold``); a C-channel
model predicts C classes (softmax, then argmax). Predictions are integer class maps (1, *spatial), and
``PredictionSet.num_classes`` is 2 for a binary model, C otherwise. The specs are plain data; torch and
MONAI are imported when a node runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact, check_model_on_data
from medical_imaging_framework.core.node_spec import CachePolicy
from medical_imaging_framework.nodes.inference.weights import WeightsSource, attach, weights_of
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import SampleAvailable
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.training.devices import cuda_available

if TYPE_CHECKING:  # numpy imported where used: the editor paints before numpy (the specs are imported then)
    import numpy as np
    import torch

KEPT_IMAGES = 8  # images kept for the viewer and the report's overlays


@dataclass
class Case:
    """One predicted item: CPU tensors, ``image`` (C, *spatial), ``prediction``/``label`` (1, *spatial).

    ``prediction``, ``label`` and ``affine`` are on the grid the model saw (after padding, resizing...).
    When the image was a MONAI ``MetaTensor`` (read from a file, or through ``transforms.Apply``) the
    prediction is one too, carrying the image's meta and transform history, which `SavePredictions` and
    `EvaluateSegmentation` invert (MONAI ``Invertd``) to put it on the grid of the file it was read from; the
    label then keeps its own history too.
    Only the first `KEPT_IMAGES` cases keep their image (viewer, report), so a large test set does not fill
    the memory.
    """

    name: str
    image: torch.Tensor | None
    prediction: torch.Tensor
    affine: np.ndarray
    label: torch.Tensor | None = None


@dataclass
class PredictionSet:
    """What flows on a ``Predictions`` link: every case, and the number of classes (background included)."""

    cases: list[Case] = field(default_factory=list)
    num_classes: int = 2
    sharded: bool = False  # several processes: ``cases`` is this rank's share (every n-th item)
    transform_chains: list[Any] = field(default_factory=list)  # MONAI Compose(s) to invert, last applied first
    source_label: Callable[[str], Any] | None = None  # a case's label as read from its file (None: not known)
    source_image: Callable[[str], Any] | None = None  # a case's image as read from its file (None: not known)
    weights: WeightsSource | None = None  # the checkpoint the predictions come from (None: not known)
    class_names: list[str] | None = None  # background first, from the data (dataset.json 'labels'), or None
    # case i's image read again from the data (the cases past `KEPT_IMAGES` keep none); None: the loader's order
    # is not the data's (shuffled, sharded), so case i is not item i
    item_image: Callable[[int], Any] | None = None

    @property
    def spatial_dims(self) -> int:
        """2 or 3, from the first case."""
        return self.cases[0].prediction.ndim - 1 if self.cases else 0


def run_load_checkpoint(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from medical_imaging_framework.checkpoints.files import CheckpointError, load_checkpoint

    path = Path(config["path"]).expanduser()
    if not path.is_file():
        where = "" if path.is_absolute() else f" in {Path.cwd()}"
        raise NodeError(
            f"checkpoint '{path}' not found{where}: run the training pipeline first "
            "(e.g. `mif run segmentation_train.json` in this folder), or set 'path' to an existing .pt file"
        )
    model = inputs["model"]
    try:
        checkpoint = load_checkpoint(
            path, model=model, map_location="cpu", allow_non_finite=config.get("allow_non_finite", False)
        )
    except CheckpointError as error:
        raise NodeError(str(error)) from None
    model.eval()
    epoch = checkpoint.get("epoch", "?")
    run_id = checkpoint.get("run_id")
    attach(model, WeightsSource(str(path.resolve()), run_id if isinstance(run_id, str) and run_id else None,
                                epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None))
    ctx.log(f"Loaded weights from {path} (epoch {epoch})")
    if config.get("allow_non_finite"):
        ctx.log("warning: allow_non_finite is on: NaN or infinite weights were not refused")
    return {"model": model}


def to_classes(logits: torch.Tensor, threshold: float) -> torch.Tensor:
    """Class maps (B, 1, *spatial) from logits (B, C, *spatial): sigmoid > threshold for C == 1, else argmax.

    Args:
        logits: raw model output.
        threshold: probability cut for binary models.
    """
    import torch

    if logits.shape[1] == 1:
        return (torch.sigmoid(logits) > threshold).to(torch.uint8)
    return torch.argmax(torch.softmax(logits, dim=1), dim=1, keepdim=True).to(torch.uint8)


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    from monai.data import MetaTensor

    return tensor.as_tensor() if isinstance(tensor, MetaTensor) else tensor


def _column(batch: Any, key: str, index: int) -> Any:
    value = batch.get(key) if isinstance(batch, dict) else None
    if value is None:
        return None
    return value[index]


def _with_history(classes: torch.Tensor, images: list[Any] | None, index: int) -> torch.Tensor:
    """Item ``index``'s class map as a ``MetaTensor`` with its image's meta and transform history (when any)."""
    from monai.data import MetaTensor

    if images is None or not isinstance(images[index], MetaTensor):
        return classes[index]
    image = images[index]
    return MetaTensor(classes[index], meta=copy.deepcopy(image.meta),
                      applied_operations=copy.deepcopy(image.applied_operations))


def _label_with_history(label: torch.Tensor) -> torch.Tensor:
    """An int16 class map; a ``MetaTensor`` keeps its meta and transform history (to be inverted when no file)."""
    import torch
    from monai.data import MetaTensor

    classes = _plain(label).round().to(torch.int16).cpu()
    if not isinstance(label, MetaTensor):
        return classes
    return MetaTensor(classes, meta=copy.deepcopy(label.meta),
                      applied_operations=copy.deepcopy(label.applied_operations))


def _item_image(loader: Any, sharded: bool) -> Callable[[int], Any] | None:
    """Item i's image of a loader that reads its dataset in order (case i is item i), else None.

    Args:
        loader: the Predictor's data input.
        sharded: several processes share the items out (this rank's case i is not item i).
    """
    from torch.utils.data import DataLoader, SequentialSampler

    if sharded or not isinstance(loader, DataLoader) or not isinstance(loader.sampler, SequentialSampler):
        return None
    dataset = loader.dataset

    def image(index: int) -> Any:
        item = dataset[index]
        return item.get("image") if isinstance(item, dict) else None

    return image


def run_predictor(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch

    from medical_imaging_framework.training.threads import torch_threads_restored

    with torch.no_grad(), torch_threads_restored():  # the same thread policy in every way to run
        return _predict(ctx, inputs, config)


def _predict(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from monai.data import MetaTensor, decollate_batch

    from medical_imaging_framework.nodes.inference.forward import forward, sliding
    from medical_imaging_framework.nodes.transforms.pipeline import source_dataset, transform_chains
    from medical_imaging_framework.training.distributed import (
        all_gather_objects,
        all_reduce_sum,
        ensure_process_group,
        rank_device,
        shard_loader,
    )
    from medical_imaging_framework.training.loop import resolve_device
    from medical_imaging_framework.training.shapes import indivisible_input_problem
    from medical_imaging_framework.training.threads import measured_threads

    dataset = getattr(inputs["data"], "dataset", None)
    result = PredictionSet(sharded=ensure_process_group(), transform_chains=transform_chains(dataset),
                           source_label=getattr(source_dataset(dataset), "source_label", None),
                           source_image=getattr(source_dataset(dataset), "source_image", None),
                           class_names=getattr(source_dataset(dataset), "class_names", None),
                           weights=weights_of(inputs["model"]))
    result.item_image = _item_image(inputs["data"], result.sharded)
    device = rank_device(resolve_device(config["device"]))
    model = inputs["model"].to(device).eval()
    # the Trainer's policy, measured batch by batch; silent: the Predictor's lines stay those of a fixed count
    threads = measured_threads(device, None, getattr(inputs["data"], "num_workers", 0) or 0, lambda text: None)
    threads.begin()
    for batch in shard_loader(inputs["data"], training=False):
        if not isinstance(batch, dict) or "image" not in batch:
            raise NodeError("the data loader must yield dict batches with an 'image' entry")
        image = _plain(batch["image"]).to(device).float()  # the model needs no meta
        try:
            logits = forward(model, image, config)
        except RuntimeError as error:  # a size the network's levels cannot halve: name the item and the fix
            problem = indivisible_input_problem(image, batch, model)
            if problem:
                raise NodeError(problem) from error
            raise
        result.num_classes = max(2, logits.shape[1])
        classes = _plain(to_classes(logits, config["threshold"])).cpu()
        images = decollate_batch(batch["image"], detach=True) if isinstance(batch["image"], MetaTensor) else None
        labels = decollate_batch(batch["label"], detach=True) if isinstance(batch.get("label"), MetaTensor) else None
        for index in range(image.shape[0]):
            affine = _column(batch, "affine", index)
            label = labels[index] if labels is not None else _column(batch, "label", index)
            name = _column(batch, "name", index)
            result.cases.append(Case(
                name=str(name) if name is not None else f"case_{len(result.cases):04d}",
                image=_plain(image[index]).cpu() if len(result.cases) < KEPT_IMAGES else None,
                prediction=_with_history(classes, images, index),
                affine=np.eye(4) if affine is None else np.asarray(affine, dtype=np.float64),
                label=None if label is None else _label_with_history(label),
            ))
        threads.step_done()
        ctx.cancel.raise_if_cancelled()
    total = len(result.cases)
    if result.sharded:  # every rank agrees on the class count; the log counts every rank's cases
        result.num_classes = max(all_gather_objects(result.num_classes))
        total = round(all_reduce_sum([total])[0])
    if not total:
        raise NodeError("the data loader yielded no images to predict")
    if not result.cases:
        ctx.log("This rank has no case to predict (fewer cases than processes)")
        return {"predictions": result}
    first = result.cases[0]
    ctx.emit(SampleAvailable(
        node_id=ctx.node_id,
        image=first.image.numpy() if first.image is not None else None,
        label=None if first.label is None else first.label.numpy(),
        prediction=first.prediction.numpy(),
        class_names=tuple(result.class_names or ()),
    ))
    mode = "sliding window" if sliding(config, result.spatial_dims) else "whole image"
    mode += ", test-time flips" if config.get("tta_flips") else ""
    ctx.log(f"Predicted {total} case(s) ({mode}, {result.num_classes} classes)")
    return {"predictions": result}


def check_predictor(ctx: CheckContext) -> None:
    """Device; the window size (one value per axis) or image size must fit the model."""
    if ctx.config["device"] == "cuda" and not cuda_available():
        ctx.problem("device", "'cuda' was asked for, but PyTorch sees no CUDA device (use 'auto' or 'cpu')")
    dims = ctx.fact("data", Fact.SPATIAL_DIMS) or ctx.fact("model", Fact.SPATIAL_DIMS)
    choice, roi = ctx.config["sliding_window"], tuple(ctx.config["roi_size"])
    sliding = choice == "on" or (choice == "auto" and dims is not None and dims.value == 3)
    if not sliding:
        check_model_on_data(ctx, "model", "data")
    elif dims is None:
        if len(roi) not in (2, 3):
            ctx.problem("roi_size", f"needs 2 (2D) or 3 (3D) values, got {len(roi)}")
    elif len(roi) != dims.value:
        message = f"the window size roi_size has {len(roi)} values but the images are {dims.value}D: give {dims.value}"
        ctx.conflict("roi_size", message, dims)
        if choice == "on":
            ctx.problem("sliding_window", f"is on, but {message}")
    else:
        check_model_on_data(ctx, "model", "data", roi=ctx.known(roi, "roi_size"))
    ctx.provide("predictions", **{Fact.IN_CHANNELS: None, Fact.SIZE_MULTIPLE: None, Fact.MIN_SIZE: None})


SPECS = [
    NodeSpec(
        type_id="inference.LoadCheckpoint",
        title="Load Checkpoint",
        category="Inference",
        run=run_load_checkpoint,
        inputs=(Port("model", PortKind.MODEL, help="The architecture the checkpoint was trained with."),),
        outputs=(Port("model", PortKind.TRAINED_MODEL),),
        params=(
            Param("path", ParamKind.PATH, "checkpoints/best_model.pt", "Checkpoint",
                  "A .pt file written by the Trainer (relative paths start in the working folder).",
                  allow_empty=False),
            Param("allow_non_finite", ParamKind.BOOL, False, "Allow Non-finite Weights",
                  "Load weights holding NaN or infinity anyway (only to debug a diverged run; predictions "
                  "from them are meaningless)."),
        ),
        description="Loads trained weights (weights only, no code) into the linked model's architecture.",
        cache=CachePolicy(watch=lambda config: [config["path"]]),  # a replaced checkpoint is loaded again
    ),
    NodeSpec(
        type_id="inference.Predictor",
        title="Predictor",
        category="Inference",
        run=run_predictor,
        inputs=(
            Port("model", PortKind.TRAINED_MODEL),
            Port("data", PortKind.DATALOADER, help="Images to segment (labels, when present, travel along)."),
        ),
        outputs=(Port("predictions", PortKind.PREDICTIONS),),
        params=(
            Param("threshold", ParamKind.FLOAT, 0.5, "Threshold", "Probability cut for binary (1-channel) models.",
                  minimum=0.0, maximum=1.0),
            Param("sliding_window", ParamKind.CHOICE, "auto", "Sliding window",
                  "auto: on for 3D, off for 2D.", choices=("auto", "on", "off")),
            Param("roi_size", ParamKind.INT_LIST, [64, 64, 64], "Window size",
                  "Sliding-window patch size, one value per spatial axis.", minimum=1),
            Param("overlap", ParamKind.FLOAT, 0.25, "Overlap", "Overlap of neighbouring windows.",
                  minimum=0.0, maximum=0.99),
            Param("sw_batch_size", ParamKind.INT, 4, "Windows per batch", "Windows run through the model at once.",
                  minimum=1),
            Param("device", ParamKind.CHOICE, "auto", "Device", "auto uses CUDA when available.",
                  choices=("auto", "cpu", "cuda")),
            Param("blend_mode", ParamKind.CHOICE, "gaussian", "Window blending",
                  "How overlapping sliding windows are combined: gaussian weights each window's centre most "
                  "(less seam at window edges), constant averages them equally.", choices=("gaussian", "constant")),
            Param("tta_flips", ParamKind.BOOL, False, "Test-time flips",
                  "Also predict the image flipped along each spatial axis and average the class probabilities "
                  "(1 + dims passes: slower, usually a little more accurate)."),
        ),
        description="Segments every image: sigmoid + threshold (binary) or softmax + argmax (classes); sliding "
                    "windows with Gaussian or constant blending, optional test-time flips.",
        check=check_predictor,
    ),
]
