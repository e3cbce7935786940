"""The Trainer node: wires model, loss, optimizer and loaders into the core training loop."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medical_imaging_framework.core import NodeContext, NodeError, NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.checkpoint_policy import CheckpointPolicy, checkpoints_enabled
from medical_imaging_framework.core.checkpoint_state import restore_training_state
from medical_imaging_framework.core.checkpoints import CheckpointError, find_last_checkpoint, read_checkpoint
from medical_imaging_framework.core.events import LogLine, TrainingResumed
from medical_imaging_framework.core.training import Callback, Trainer, TrainingState, resolve_device
from medical_imaging_framework.nodes.devices import device_line
from medical_imaging_framework.nodes.tracking import TRACKING_PARAMS, tracking_callbacks


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_callbacks(ctx: NodeContext, config: dict[str, Any]) -> list[Callback]:
    """The Trainer's callbacks: the checkpoint policy (it also reports the end of training).

    Args:
        ctx: the running node's context (events, pipeline JSON).
        config: the Trainer's parsed parameters.
    """
    return [
        CheckpointPolicy(
            directory=config["checkpoint_dir"],
            every=config["save_every_n_epochs"],
            emit=ctx.emit,
            node_id=ctx.node_id,
            config=config,
            pipeline=ctx.pipeline,
            keep_last_n=config["keep_last_n"],
            stop_on_error=config["stop_on_checkpoint_error"],
        )
    ]


def resume_path(ctx: NodeContext, config: dict[str, Any]) -> Path | None:
    """The checkpoint to resume from (``resume_from``; ``last`` = newest complete one), or None.

    Args:
        ctx: the running node's context.
        config: the Trainer's parsed parameters.

    Raises:
        NodeError: ``last`` without a checkpoint_dir, or a named file that does not exist.
    """
    choice = config["resume_from"].strip()
    if not choice:
        return None
    if choice == "last":
        if not checkpoints_enabled(config["checkpoint_dir"]):
            raise NodeError("resume_from 'last' looks in checkpoint_dir, which is empty: set checkpoint_dir")
        folder = Path(os.path.expanduser(config["checkpoint_dir"].strip()))
        found = find_last_checkpoint(folder)
        if found is None:
            ctx.log(f"No complete checkpoint in {config['checkpoint_dir'].strip()} yet: training starts at epoch 1")
        return found
    path = Path(os.path.expanduser(choice))
    if not path.is_file():
        raise NodeError(f"resume_from: checkpoint file '{choice}' does not exist")
    return path


def make_scaler(ctx: NodeContext, config: dict[str, Any], device: torch.device) -> Any:
    """A ``GradScaler`` when ``mixed_precision`` is on and training runs on CUDA, else None.

    Args:
        ctx: the running node's context (a warning goes to its log on a CPU).
        config: the Trainer's parsed parameters.
        device: the training device.
    """
    if not config["mixed_precision"]:
        return None
    if device.type != "cuda":
        ctx.emit(LogLine(f"mixed_precision needs a CUDA device; training in full precision on {device.type}",
                         ctx.node_id, "warning"))
        return None
    return torch.amp.GradScaler("cuda")


def resume(ctx: NodeContext, state: TrainingState, path: Path, num_epochs: int, device: torch.device) -> None:
    """Restore ``state`` from checkpoint ``path`` and report it; raises `NodeError` with the cause.

    Args:
        ctx: the running node's context.
        state: the freshly built training state.
        path: the checkpoint file.
        num_epochs: the last epoch to train.
        device: where tensors are loaded.
    """
    try:
        checkpoint = read_checkpoint(path, map_location=device)
        warnings = restore_training_state(state, checkpoint, source=str(path))
    except CheckpointError as error:
        raise NodeError(f"resume_from: {error}") from None
    for warning in warnings:
        ctx.emit(LogLine(f"warning: {warning}", ctx.node_id, "warning"))
    if state.epoch >= num_epochs:
        ctx.log(f"{path} already holds epoch {state.epoch} of num_epochs {num_epochs}: no epoch left to train")
    else:
        ctx.emit(TrainingResumed(ctx.node_id, str(path), state.epoch, num_epochs))


def run_trainer(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume training) with the checkpoint policy; outputs the trained model.

    Args:
        ctx: the running node's context.
        inputs: model, loss, optimizer factory, loaders and optional scheduler factory.
        config: the Trainer's parsed parameters.
    """
    device = resolve_device(config["device"])
    ctx.log(device_line(device))
    seed_everything(config["seed"])
    model = inputs["model"].to(device)
    optimizer = inputs["optimizer"](model.parameters())
    scheduler = inputs["scheduler"](optimizer) if inputs.get("scheduler") else None
    scaler = make_scaler(ctx, config, device)
    state = TrainingState(model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler)
    checkpoint = resume_path(ctx, config)
    if checkpoint is not None:
        resume(ctx, state, checkpoint, config["num_epochs"], device)
    trainer = Trainer(
        loss_fn=inputs["loss"],
        train_loader=inputs["train_data"],
        val_loader=inputs.get("val_data"),
        num_epochs=config["num_epochs"],
        device=device,
        cancel=ctx.cancel,
        emit=ctx.emit,
        node_id=ctx.node_id,
        callbacks=build_callbacks(ctx, config) + tracking_callbacks(ctx, config, inputs),
    )
    trainer.fit(state)
    model.eval()
    return {"model": model}


SPECS = [
    NodeSpec(
        type_id="training.Trainer",
        title="Trainer",
        category="Training",
        run=run_trainer,
        inputs=(
            Port("model", PortKind.MODEL),
            Port("loss", PortKind.LOSS),
            Port("optimizer", PortKind.OPTIMIZER),
            Port("train_data", PortKind.DATALOADER),
            Port("val_data", PortKind.DATALOADER, required=False, help="Enables a validation loss each epoch."),
            Port("scheduler", PortKind.SCHEDULER, required=False),
        ),
        outputs=(Port("model", PortKind.TRAINED_MODEL),),
        params=(
            Param("num_epochs", ParamKind.INT, 20, "Epochs", "Number of epochs to train.", minimum=1),
            Param("device", ParamKind.CHOICE, "auto", "Device", "auto uses CUDA when available.",
                  choices=("auto", "cpu", "cuda")),
            Param("seed", ParamKind.INT, 0, "Seed", "Seeds Python, NumPy and torch at the start.", minimum=0),
            Param("checkpoint_dir", ParamKind.STR, "checkpoints", "Checkpoint Directory",
                  "Folder for checkpoint files (created when missing); empty disables saving."),
            Param("save_every_n_epochs", ParamKind.INT, 5, "Save Every N Epochs",
                  "Write checkpoint_epoch_N.pt every N epochs.", minimum=1),
            Param("resume_from", ParamKind.PATH, "", "Resume From",
                  "A checkpoint file to continue from, or 'last' for the newest one in the checkpoint directory."),
            Param("keep_last_n", ParamKind.INT, 0, "Keep Last N",
                  "Periodic checkpoints to keep (0 keeps all); best and final are never deleted.", minimum=0),
            Param("stop_on_checkpoint_error", ParamKind.BOOL, False, "Stop On Checkpoint Error",
                  "Stop training when a checkpoint cannot be saved (by default training goes on)."),
            Param("mixed_precision", ParamKind.BOOL, False, "Mixed Precision",
                  "Automatic mixed precision with a gradient scaler (CUDA only; ignored on CPU)."),
            *TRACKING_PARAMS,
        ),
        description="Trains the model; saves periodic, best and final checkpoints; can resume.",
    ),
]
