"""The Trainer node: wires model, loss, optimizer and loaders into the core training loop."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from medical_imaging_framework.core import NodeContext, NodeSpec, Param, ParamKind, Port, PortKind
from medical_imaging_framework.core.training import Callback, Trainer, TrainingState, resolve_device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_callbacks(ctx: NodeContext, config: dict[str, Any]) -> list[Callback]:
    """The Trainer's callbacks (checkpointing lives here)."""
    return []


def run_trainer(ctx: NodeContext, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    device = resolve_device(config["device"])
    seed_everything(config["seed"])
    model = inputs["model"].to(device)
    optimizer = inputs["optimizer"](model.parameters())
    scheduler = inputs["scheduler"](optimizer) if inputs.get("scheduler") else None
    state = TrainingState(model=model, optimizer=optimizer, scheduler=scheduler)
    trainer = Trainer(
        loss_fn=inputs["loss"],
        train_loader=inputs["train_data"],
        val_loader=inputs.get("val_data"),
        num_epochs=config["num_epochs"],
        device=device,
        cancel=ctx.cancel,
        emit=ctx.emit,
        node_id=ctx.node_id,
        callbacks=build_callbacks(ctx, config),
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
        ),
        description="Trains the model; emits an event per epoch.",
    ),
]
