"""Fault 5 of issue 9 (training side): a NaN or infinite training or validation loss stops the run with a
message naming the epoch; no checkpoint holds that epoch and best_model.pt keeps the last finite best."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from medical_imaging_framework.checkpoints.files import load_checkpoint
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import Event
from medical_imaging_framework.training.loop import NonFiniteLossError, Trainer, TrainingState
from tests.support.tiny import lines_of, run_events, tiniest_graph


def train(folder: Path, bad_epoch: int, bad_value: float, validate: bool) -> tuple[Trainer, TrainingState]:
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    state = TrainingState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    batches = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(2)]
    epochs = {"now": 0}

    def loss_fn(prediction: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        loss = nn.functional.mse_loss(prediction, label)
        training = torch.is_grad_enabled()
        if epochs["now"] == bad_epoch and training != validate:
            return loss + bad_value  # the value only: the gradients stay finite
        return loss

    class EpochCounter(list):  # counts epochs as the loader is iterated
        def __iter__(self):  # type: ignore[no-untyped-def]
            epochs["now"] += 1
            return super().__iter__()

    events: list[Event] = []
    trainer = Trainer(
        loss_fn=loss_fn, train_loader=EpochCounter(batches), val_loader=batches if validate else None,
        num_epochs=6, device=torch.device("cpu"), cancel=CancelToken(), emit=events.append,
        callbacks=[CheckpointPolicy(directory=str(folder), every=1, emit=events.append)],
    )
    return trainer, state


@pytest.mark.parametrize(
    ("bad_value", "validate", "message"),
    [
        (float("nan"), False, "Training stopped at epoch 3: the loss is nan."),
        (float("inf"), False, "Training stopped at epoch 3: the loss is inf."),
        (float("nan"), True, "Training stopped at epoch 3: the validation loss is nan (training loss "),
    ],
    ids=["nan", "inf", "validation-nan"],
)
def test_a_non_finite_loss_stops_the_run_before_any_save(
    tmp_path: Path, bad_value: float, validate: bool, message: str
) -> None:
    trainer, state = train(tmp_path, 3, bad_value, validate)
    with pytest.raises(NonFiniteLossError) as raised:
        trainer.fit(state)
    assert str(raised.value).startswith(message)
    assert "no checkpoint was saved for it" in str(raised.value)
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_1.pt", "checkpoint_epoch_2.pt"]
    best = load_checkpoint(tmp_path / "best_model.pt")
    assert best["epoch"] in (1, 2) and math.isfinite(best["loss"])
    assert all(math.isfinite(loss) for loss in best["epoch_losses"])
    assert state.epoch == 2, "the bad epoch is not counted as completed"


def test_the_trainer_node_fails_cleanly_on_a_nan_loss(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = tiniest_graph(registry, tmp_path / "ck", num_epochs=4)
    graph.nodes["adam"].config["lr"] = 1e30  # the weights overflow in the first step
    result, events = run_events(graph)
    assert result.status == "failed" and result.failed_node == "trainer"
    assert result.error.startswith("Training stopped at epoch 1: the validation loss is nan (training loss ")
    assert f"✗ Node 'trainer' failed: {result.error}" in lines_of(events)
    assert os.listdir(tmp_path / "ck") == []
