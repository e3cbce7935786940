"""Data nodes: the bundled synthetic-phantom dataset, train/validation and K-fold splits, data loader.

The specs are plain data; the run functions import torch and MONAI when they run (see `nodes.datasets`)."""

from __future__ import annotations

from typing import Any

from medical_imaging_framework.core import NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checks import CheckContext, Fact, check_no_data
from medical_imaging_framework.core.node_spec import RUN_EVERY_TIME
from medical_imaging_framework.core.params import MAX_SEED
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.executor import NodeContext


def run_phantoms(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from medical_imaging_framework.nodes.data.datasets import PhantomDataset

    dataset = PhantomDataset(
        config["count"], config["size"], int(config["spatial_dims"]), config["noise"], config["seed"]
    )
    ctx.log(f"Synthetic phantoms: {len(dataset)} images of {config['size']}^{config['spatial_dims']}")
    return {"dataset": dataset}


def run_split(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch
    from torch.utils.data import Subset

    dataset = inputs["dataset"]
    total = len(dataset)
    val_count = round(total * config["val_fraction"])
    if val_count < 1 or val_count >= total:
        raise NodeError(
            f"val_fraction {config['val_fraction']} of {total} items leaves an empty training or validation set"
        )
    order = torch.randperm(total, generator=torch.Generator().manual_seed(config["seed"])).tolist()
    return {"train": Subset(dataset, sorted(order[val_count:])), "val": Subset(dataset, sorted(order[:val_count]))}


def kfold_indices(total: int, folds: int, fold: int, seed: int) -> tuple[list[int], list[int]]:
    """``(train, val)`` item indices of fold ``fold`` of ``folds``: a seeded shuffle cut into ``folds`` parts
    (sizes differing by at most one, as scikit-learn's ``KFold``); part ``fold`` is held out.

    Written here rather than taken from scikit-learn (not a dependency) or MONAI ``partition_dataset`` (which
    drops or repeats items to even the parts): every case lands in exactly one validation fold.

    Args:
        total: items in the dataset.
        folds: number of folds (2..total).
        fold: the held-out fold (0..folds-1).
        seed: seed of the shuffle (the same seed gives the same folds).
    """
    import torch

    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).tolist()
    start = fold * (total // folds) + min(fold, total % folds)
    stop = start + total // folds + (1 if fold < total % folds else 0)
    return sorted(order[:start] + order[stop:]), sorted(order[start:stop])


def run_kfold(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from torch.utils.data import Subset

    dataset = inputs["dataset"]
    total, folds, fold = len(dataset), config["folds"], config["fold"]
    if fold >= folds:
        raise NodeError(f"fold {fold} does not exist: folds are numbered 0..{folds - 1}")
    if folds > total:
        raise NodeError(f"{folds} folds of {total} items leave an empty fold: use at most {total} folds")
    train, val = kfold_indices(total, folds, fold, config["seed"])
    ctx.log(f"Fold {fold} of {folds}: {len(train)} training, {len(val)} validation item(s)")
    return {"train": Subset(dataset, train), "val": Subset(dataset, val)}


def run_loader(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    import torch
    from monai.data.utils import worker_init_fn
    from torch.utils.data import DataLoader

    from medical_imaging_framework.nodes.data.collate import make_collate

    dataset = inputs["dataset"]
    if dataset is None:
        raise NodeError("no dataset arrived: the linked output produced none (is that node's matching input linked?)")
    if len(dataset) == 0:
        raise NodeError("the linked dataset is empty")
    loader = DataLoader(
        dataset,
        batch_size=config["batch_size"],
        shuffle=config["shuffle"],
        num_workers=config["num_workers"],
        persistent_workers=config["num_workers"] > 0 and config.get("persistent_workers", True),
        pin_memory=config.get("pin_memory", True) and torch.cuda.is_available(),
        drop_last=False,
        # MONAI: batches MetaTensors with each item's meta and transform history (stack: sizes checked first)
        collate_fn=make_collate(config.get("collate", "stack"), ctx.node_id, config["batch_size"]),
        worker_init_fn=worker_init_fn if config["num_workers"] > 0 else None,  # own seed per worker (MONAI)
    )
    return {"loader": loader}


def check_phantoms(ctx: CheckContext) -> None:
    """State what the phantoms are: size, dims, one channel, labelled, how many."""
    dims = int(ctx.config["spatial_dims"])
    ctx.provide("dataset", **{
        Fact.SPATIAL_DIMS: ctx.known(dims, "spatial_dims"),
        Fact.IMAGE_SIZE: ctx.known((ctx.config["size"],) * dims, "size"),
        Fact.IMAGE_CHANNELS: ctx.known(1),
        Fact.NUM_ITEMS: ctx.known(ctx.config["count"], "count"),
        Fact.HAS_LABELS: ctx.known(True),
    })


def check_split(ctx: CheckContext) -> None:
    """Both subsets must hold at least one item."""
    fraction = ctx.config["val_fraction"]
    if not 0.0 < fraction < 1.0:
        ctx.problem("val_fraction", f"must be above 0 and below 1, got {fraction}: both subsets need items")
        return
    total = ctx.fact("dataset", Fact.NUM_ITEMS)
    if total is None:
        return
    val_count = round(total.value * fraction)
    if val_count < 1 or val_count >= total.value:
        ctx.conflict("val_fraction", f"{fraction} of {total.value} items leaves an empty training or validation "
                     "set", total)
        return
    ctx.provide("train", **{Fact.NUM_ITEMS: ctx.known(total.value - val_count, "val_fraction")})
    ctx.provide("val", **{Fact.NUM_ITEMS: ctx.known(val_count, "val_fraction")})


def check_kfold(ctx: CheckContext) -> None:
    """fold below folds; no more folds than items; state each subset's item count."""
    folds, fold = ctx.config["folds"], ctx.config["fold"]
    if fold >= folds:
        message = f"fold {fold} does not exist with {folds} folds (folds are numbered 0..{folds - 1})"
        ctx.problem("fold", message)
        return
    total = ctx.fact("dataset", Fact.NUM_ITEMS)
    if total is None:
        return
    if folds > total.value:
        ctx.conflict("folds", f"{folds} folds of {total.value} items leave an empty fold: use at most "
                     f"{total.value}", total)
        return
    held = total.value // folds + (1 if fold < total.value % folds else 0)
    ctx.provide("train", **{Fact.NUM_ITEMS: ctx.known(total.value - held, "folds")})
    ctx.provide("val", **{Fact.NUM_ITEMS: ctx.known(held, "folds")})


def check_loader(ctx: CheckContext) -> None:
    """The linked dataset must exist."""
    check_no_data(ctx, "dataset")


SPECS = [
    NodeSpec(
        type_id="data.SyntheticPhantoms",
        title="Synthetic Phantoms",
        category="Data",
        run=run_phantoms,
        outputs=(Port("dataset", PortKind.DATASET),),
        params=(
            Param("count", ParamKind.INT, 80, "Count", "Number of images.", minimum=1),
            Param("size", ParamKind.INT, 128, "Size", "Edge length in pixels (voxels in 3D).", minimum=8, maximum=512),
            Param("spatial_dims", ParamKind.CHOICE, "2", "Spatial dims", "2 for images, 3 for volumes.",
                  choices=("2", "3")),
            Param("noise", ParamKind.FLOAT, 0.2, "Noise", "Standard deviation of the Gaussian noise.", minimum=0),
            Param("seed", ParamKind.INT, 0, "Seed", "The same seed gives the same images.", minimum=0,
                  maximum=MAX_SEED),
        ),
        description="Random ellipses (2D) or ellipsoids (3D) over noise with binary masks; no download needed.",
        check=check_phantoms,
    ),
    NodeSpec(
        type_id="data.TrainValSplit",
        title="Train/Val Split",
        category="Data",
        run=run_split,
        inputs=(Port("dataset", PortKind.DATASET),),
        outputs=(Port("train", PortKind.DATASET), Port("val", PortKind.DATASET)),
        params=(
            Param("val_fraction", ParamKind.FLOAT, 0.2, "Validation fraction", "Share of items held out.",
                  minimum=0.0, maximum=1.0),
            Param("seed", ParamKind.INT, 0, "Seed", "Seed of the random split.", minimum=0, maximum=MAX_SEED),
        ),
        description="Splits a dataset at random into training and validation subsets.",
        check=check_split,
    ),
    NodeSpec(
        type_id="data.KFoldSplit",
        title="K-Fold Split",
        category="Data",
        run=run_kfold,
        inputs=(Port("dataset", PortKind.DATASET),),
        outputs=(Port("train", PortKind.DATASET), Port("val", PortKind.DATASET)),
        params=(
            Param("folds", ParamKind.INT, 5, "Folds", "Number of folds K (the cases are cut into K parts).",
                  minimum=2),
            Param("fold", ParamKind.INT, 0, "Fold", "The part held out for validation, 0..K-1.", minimum=0),
            Param("seed", ParamKind.INT, 0, "Seed", "Seed of the shuffle: keep it to get the same K parts for "
                  "every fold.", minimum=0, maximum=MAX_SEED),
        ),
        description="Cross-validation: shuffles the cases (seeded) into K parts and holds out part k; the K "
                    "validation parts are disjoint and together hold every case.",
        check=check_kfold,
    ),
    NodeSpec(
        type_id="data.DataLoader",
        title="Data Loader",
        category="Data",
        run=run_loader,
        inputs=(Port("dataset", PortKind.DATASET),),
        outputs=(Port("loader", PortKind.DATALOADER),),
        params=(
            Param("batch_size", ParamKind.INT, 8, "Batch size", "Items per batch.", minimum=1),
            Param("shuffle", ParamKind.BOOL, True, "Shuffle", "Reshuffle the items every epoch."),
            Param("num_workers", ParamKind.INT, 0, "Workers", "Loader worker processes (0 = main process).",
                  minimum=0),
            Param("persistent_workers", ParamKind.BOOL, True, "Persistent workers",
                  "Keep the worker processes (and what they cached) alive between epochs (with workers > 0)."),
            Param("pin_memory", ParamKind.BOOL, True, "Pin memory",
                  "Page-locked batches for faster, asynchronous copies to the GPU (used only when CUDA is available)."),
            Param("collate", ParamKind.CHOICE, "stack", "Collate",
                  "stack: the items of a batch must share a size; pad: each batch is padded to its largest item "
                  "(MONAI pad_list_data_collate), for batch_size > 1 on images of different sizes.",
                  choices=("stack", "pad")),
        ),
        description="Batches a dataset for training, validation or inference.",
        check=check_loader,
        cache=RUN_EVERY_TIME,  # built in a moment; a kept loader would keep its worker processes between runs
    ),
]
