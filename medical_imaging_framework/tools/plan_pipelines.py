"""The planned train and inference pipelines, as plain pipeline-file dicts (``core/pipeline_file.py``'s format).

Each planned node has a note beside it on the canvas (a version-2 annotation) saying why it is there and why its
values; the pipeline's description names the dataset. Written without a registry: the node types are named by
their type ids, and `mif validate` (or the editor) checks the files like any other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medical_imaging_framework.core.atomic_file import write_atomically
from medical_imaging_framework.tools.planning import Plan

COLUMN, ROW = 340.0, 330.0  # canvas cell of one node and its note
NOTE_W, NOTE_H = 300.0, 150.0
TRAIN_FILE, INFER_FILE = "plan_train.json", "plan_infer.json"
# nnU-Net's augmentation probabilities and ranges, in the units of mif's nodes
AUGMENTATIONS: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("random_affine", "transforms.RandAffine", {"prob": 0.2, "rotate_degrees": 30.0, "scale": 0.2, "seed": 0},
     "rotation up to 30 degrees and scaling by 0.8..1.2, on 20% of the patches (nnU-Net: p 0.2, 0.7..1.4)"),
    ("random_flip", "transforms.RandomFlip", {"prob": 0.5, "spatial_axis": "all", "seed": 0},
     "mirroring on every axis, as nnU-Net does (anatomy is near-symmetric; the test-time flips undo the same)"),
    ("random_smooth", "transforms.RandGaussianSmooth",
     {"prob": 0.2, "sigma_min": 0.5, "sigma_max": 1.0, "seed": 0},
     "blur with sigma 0.5..1 voxel on 20% of the patches (nnU-Net: p 0.2): robustness to sharper/softer kernels"),
    ("random_scale", "transforms.RandScaleIntensity", {"prob": 0.15, "factors": 0.25, "seed": 0},
     "intensities times 0.75..1.25 on 15% of the patches (nnU-Net's brightness: p 0.15)"),
    ("random_contrast", "transforms.RandAdjustContrast",
     {"prob": 0.15, "gamma_min": 0.7, "gamma_max": 1.5, "seed": 0},
     "gamma 0.7..1.5 on 15% of the patches (nnU-Net's gamma: p 0.15)"),
)


class _Builder:
    """Nodes, links and notes of one pipeline, placed on a grid."""

    def __init__(self, name: str, description: str) -> None:
        self.data: dict[str, Any] = {"format": "mif-pipeline", "version": 2, "name": name,
                                     "description": description, "nodes": [], "links": [], "annotations": []}

    def node(self, node_id: str, type_id: str, params: dict[str, Any], cell: tuple[float, float], title: str,
             reason: str) -> str:
        x, y = cell[0] * COLUMN, cell[1] * ROW
        self.data["nodes"].append({"id": node_id, "type": type_id, "position": [x, y], "params": params})
        self.data["annotations"].append({"kind": "note", "title": f"Plan: {title}", "text": reason,
                                         "x": x, "y": y - NOTE_H - 10, "w": NOTE_W, "h": NOTE_H})
        return node_id

    def link(self, source: str, target: str) -> None:
        self.data["links"].append({"from": source, "to": target})

    def chain(self, steps: list[tuple[str, str, dict[str, Any], str, str]], row: float, start: float = 0) -> str:
        """Transform nodes in a row, each linked to the next; returns the last one's id."""
        previous = ""
        for column, (node_id, type_id, params, title, reason) in enumerate(steps):
            self.node(node_id, type_id, params, (start + column, row), title, reason)
            if previous:
                self.link(f"{previous}.transform", f"{node_id}.transform")
            previous = node_id
        return previous


def _preprocessing(plan: Plan) -> list[tuple[str, str, dict[str, Any], str, str]]:
    """The deterministic steps both pipelines share: orientation, spacing, crop, normalisation."""
    steps = [
        ("orientation", "transforms.Orientation", {"axcodes": "RAS"}, "orientation RAS",
         "every case on one axis order (RAS), so that the spacing and patch axes mean the same anatomy"),
        ("spacing", "transforms.Spacing", {"pixdim": plan.target_spacing}, "target spacing", plan.reason(
            "target spacing")),
    ]
    if plan.crop_foreground:
        steps.append(("crop_foreground", "transforms.CropForeground", {"source": "image", "margin": 0},
                      "foreground crop", plan.reason("foreground crop")))
    norm = plan.normalisation
    steps.append(("normalize", norm["type"], dict(norm["params"]), "normalisation", plan.reason("normalisation")))
    return steps


def _source(fingerprint: dict[str, Any], for_inference: bool) -> tuple[str, dict[str, Any], str]:
    """The source node's type, parameters and reason."""
    common = {"cache": True, "label_mapping": "none", "max_image_gb": 0.0}
    if fingerprint["source"] == "folders" and for_inference:
        test = fingerprint.get("test_dir") or ""
        why = ("the imagesTs folder: every test image is predicted" if test else
               "the training images, without labels: every image is predicted (no imagesTs folder)")
        return "io.ImageFolder", {"images_dir": test or fingerprint["images_dir"], "labels_dir": "", **common}, why
    if fingerprint["source"] == "folders":
        return "io.ImageFolder", {"images_dir": fingerprint["images_dir"], "labels_dir": fingerprint["labels_dir"],
                                  **common}, "the dataset's images and labels folders"
    if fingerprint["source"] == "decathlon" and for_inference:
        key = "test" if fingerprint.get("has_test") else "training"
        why = ("the dataset.json's test list" if key == "test" else
               "the dataset.json has no test list: the training cases are predicted (replace with your own scans)")
        return "io.Datalist", {"path": fingerprint["dataset"], "key": key, **common}, why
    return "io.Datalist", {"path": fingerprint["dataset"], "key": "training", **common}, "the dataset's list"


def train_pipeline(plan: Plan, fingerprint: dict[str, Any], checkpoint_dir: str) -> dict[str, Any]:
    """The planned training pipeline.

    Args:
        plan: the plan.
        fingerprint: the fingerprint it was made from (the dataset's source).
        checkpoint_dir: the Trainer's folder.
    """
    build = _Builder("plan_train", f"Planned training for {fingerprint['dataset']} (mif plan)")
    type_id, params, why = _source(fingerprint, False)
    build.node("dataset", type_id, params, (0, 1), "dataset", why)
    build.node("split", "data.KFoldSplit", {"folds": plan.folds, "fold": 0, "seed": 0}, (1, 1), "split",
               plan.reason("split"))
    build.link("dataset.dataset", "split.dataset")
    steps = _preprocessing(plan)
    steps.append(("pad", "transforms.DivisiblePad", {"k": 2 ** plan.depth}, "pad to multiple",
                  f"each axis a multiple of 2^{plan.depth}, the network's downsampling, so that whole validation "
                  "images (and cases smaller than the patch) pass through it"))
    steps.append(("patch_crop", "transforms.RandCropByPosNegLabel",
                  {"spatial_size": plan.patch_size, "pos": 1.0, "neg": 2.0, "num_samples": 1, "seed": 0},
                  "patch sampling", plan.reason("patch size") + "; one patch in three centred on a labelled voxel "
                  "(nnU-Net's foreground oversampling), so small structures are seen"))
    steps += [(node_id, kind, values, node_id.replace("_", " "), reason)
              for node_id, kind, values, reason in AUGMENTATIONS]
    last = build.chain(steps, 0, start=0)
    build.node("transforms", "transforms.Apply", {"cache": True, "cache_dir": ""}, (2, 1), "apply",
               "deterministic steps (orientation, spacing, normalisation, padding) run once per case and are cached; "
               "patch sampling and augmentation run on the training cases every epoch")
    build.link(f"{last}.transform", "transforms.transform")
    build.link("split.train", "transforms.train")
    build.link("split.val", "transforms.val")
    build.node("train_loader", "data.DataLoader", {"batch_size": plan.batch_size, "shuffle": True, "num_workers": 0,
                                                   "collate": "pad"}, (3, 1), "batch size",
               plan.reason("batch size") + "; batches padded to their largest patch (cases smaller than the patch)")
    build.node("val_loader", "data.DataLoader", {"batch_size": 1, "shuffle": False, "num_workers": 0,
                                                 "collate": "stack"}, (3, 2), "validation",
               "whole validation cases, one at a time (they differ in size)")
    build.link("transforms.train", "train_loader.dataset")
    build.link("transforms.val", "val_loader.dataset")
    build.node("unet", "models.UNet", _model_params(plan), (4, 3), "network", plan.reason("network"))
    build.node("loss", "losses.DiceCELoss", {"mode": plan.loss_mode, "include_background": plan.include_background,
                                             "lambda_dice": 1.0, "lambda_ce": 1.0}, (5, 3), "loss",
               plan.reason("loss"))
    build.node("optimizer", "optim.AdamW", {"lr": 0.001, "weight_decay": 1e-05}, (6, 3), "optimizer",
               "AdamW at 1e-3: converges within short budgets without nnU-Net's SGD tuning")
    build.node("schedule", "schedulers.CosineAnnealing", {"t_max": plan.epochs, "min_lr": 0.0}, (7, 3),
               "schedule", f"the learning rate falls to 0 over the {plan.epochs} planned epochs (cosine)")
    build.node("trainer", "training.Trainer", {
        "num_epochs": plan.epochs, "device": plan.device, "seed": 0, "checkpoint_dir": checkpoint_dir,
        "save_every_n_epochs": max(1, plan.epochs // 10), "output_weights": "best"}, (5, 1), "epochs",
        plan.reason("epochs") + "; best_model.pt (lowest validation loss) is the inference pipeline's model")
    for source, target in (("unet.model", "trainer.model"), ("loss.loss", "trainer.loss"),
                           ("optimizer.optimizer", "trainer.optimizer"), ("schedule.scheduler", "trainer.scheduler"),
                           ("train_loader.loader", "trainer.train_data"), ("val_loader.loader", "trainer.val_data")):
        build.link(source, target)
    return build.data


def _model_params(plan: Plan) -> dict[str, Any]:
    return {"spatial_dims": "3", "in_channels": plan.in_channels, "out_channels": plan.out_channels,
            "channels": plan.channels, "strides": [2] * plan.depth, "num_res_units": 2, "dropout": 0.0, "seed": 0}


def infer_pipeline(plan: Plan, fingerprint: dict[str, Any], checkpoint: str, output_dir: str) -> dict[str, Any]:
    """The planned inference pipeline: the same preprocessing, sliding windows, predictions on each source grid.

    Args:
        plan: the plan.
        fingerprint: the fingerprint it was made from.
        checkpoint: the weights file the training pipeline writes.
        output_dir: where predictions go.
    """
    build = _Builder("plan_infer", f"Planned inference for {fingerprint['dataset']} (mif plan)")
    type_id, params, why = _source(fingerprint, True)
    build.node("dataset", type_id, params, (0, 1), "images", why)
    last = build.chain(_preprocessing(plan), 0)
    build.node("transforms", "transforms.Apply", {"cache": False, "cache_dir": ""}, (1, 1), "apply",
               "the training pipeline's deterministic steps; each is undone on the prediction (MONAI's transform "
               "history), so predictions land on each source image's grid")
    build.link(f"{last}.transform", "transforms.transform")
    build.link("dataset.dataset", "transforms.val")
    build.node("loader", "data.DataLoader", {"batch_size": 1, "shuffle": False, "num_workers": 0,
                                             "collate": "stack"}, (2, 1), "loader", "one whole case at a time")
    build.link("transforms.val", "loader.dataset")
    build.node("unet", "models.UNet", _model_params(plan), (2, 3), "network", "the training pipeline's network")
    build.node("load_checkpoint", "inference.LoadCheckpoint", {"path": checkpoint, "allow_non_finite": False},
               (3, 3), "weights", "the best weights of the planned training run")
    build.link("unet.model", "load_checkpoint.model")
    build.node("predictor", "inference.Predictor", {
        "threshold": 0.5, "sliding_window": "on", "roi_size": plan.patch_size, "overlap": 0.5,
        "sw_batch_size": plan.batch_size, "device": "auto", "blend_mode": "gaussian", "tta_flips": plan.tta_flips},
        (4, 1), "inference", plan.reason("inference"))
    build.link("load_checkpoint.model", "predictor.model")
    build.link("loader.loader", "predictor.data")
    build.node("save_predictions", "io.SavePredictions", {"output_dir": output_dir, "format": "nifti",
                                                          "overwrite": True}, (5, 1), "predictions",
               "one NIfTI file per case on its source grid; a new run of this pipeline replaces them")
    build.link("predictor.predictions", "save_predictions.predictions")
    return build.data


def write_pipelines(plan: Plan, fingerprint: dict[str, Any], folder: str | Path) -> tuple[Path, Path]:
    """Write ``plan_train.json`` and ``plan_infer.json`` into ``folder`` (absolute paths inside, so they run from
    anywhere); returns both paths.

    Args:
        plan: the plan.
        fingerprint: its fingerprint.
        folder: the output folder (created).
    """
    out = Path(folder).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = out / "checkpoints"
    train = train_pipeline(plan, fingerprint, str(checkpoints))
    infer = infer_pipeline(plan, fingerprint, str(checkpoints / "best_model.pt"), str(out / "predictions"))
    paths = out / TRAIN_FILE, out / INFER_FILE
    for path, data in zip(paths, (train, infer), strict=True):
        write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return paths
