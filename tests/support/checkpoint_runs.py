"""Driving a checkpoint policy without training, and folders of fake checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.training.loop import EpochResult, TrainingState


def make_state() -> TrainingState:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    return TrainingState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def drive(policy: CheckpointPolicy, losses: list[float], val: list[float] | None = None,
          state: TrainingState | None = None) -> TrainingState:
    """What `Trainer.fit` does around the callbacks, without training."""
    state = state or make_state()
    policy.on_train_start(state)
    for index, loss in enumerate(losses):
        epoch = state.epoch + 1
        val_loss = val[index] if val else None
        with torch.no_grad():
            state.model.weight.add_(1.0)  # every epoch changes the weights
        state.epoch = epoch
        state.epoch_losses.append(loss)
        if val_loss is not None:
            state.val_losses.append(val_loss)
        result = EpochResult(epoch, len(losses), loss, val_loss, 0.0)
        policy.on_epoch_end(state, result)
        state.best_loss = min(state.best_loss, result.monitored)
    policy.on_train_end(state, completed=True)
    return state


def fake_checkpoints(folder: Path, run: str = "run_a") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, epoch in (("checkpoint_epoch_2.pt", 2), ("checkpoint_epoch_4.pt", 4), ("best_model.pt", 3),
                        ("final_model.pt", 4)):
        torch.save({"epoch": epoch, "run_id": run}, folder / name)
    (folder / "notes.txt").write_text("mine")
    (folder / ".checkpoint_epoch_6.pt.abc.tmp").write_bytes(b"partial")
