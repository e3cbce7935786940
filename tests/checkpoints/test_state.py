"""What a checkpoint holds: plain, weights_only-loadable data; RNG, scheduler and scaler states restore exactly."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from medical_imaging_framework.checkpoints.atomic import write_checkpoint
from medical_imaging_framework.checkpoints.files import CheckpointError, read_checkpoint
from medical_imaging_framework.checkpoints.state import (
    build_checkpoint,
    capture_rng_state,
    restore_rng_state,
    restore_training_state,
)
from medical_imaging_framework.training.loop import TrainingState

SCHEDULERS = {
    "step": lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
    "multistep": lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1),
    "plateau": lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0),
    "cosine": lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5),
}


def draw() -> tuple[float, float, float, float]:
    return random.random(), float(np.random.rand()), float(np.random.randn()), torch.rand(1).item()


def test_rng_state_round_trip_python_numpy_torch(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in NumPy's legacy state
    rng = capture_rng_state()
    expected = [draw() for _ in range(3)]
    path = tmp_path / "rng.pt"
    torch.save({"rng": rng}, path)
    loaded = torch.load(path)["rng"]  # weights_only=True by default
    assert isinstance(loaded["python"]["state"], list) and isinstance(loaded["numpy"]["keys"], torch.Tensor)
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    assert restore_rng_state(loaded) == []
    assert [draw() for _ in range(3)] == expected


def test_cuda_state_from_another_machine_is_a_warning_not_a_crash() -> None:
    rng = capture_rng_state()
    rng["cuda"] = [torch.zeros(16, dtype=torch.uint8)] * 3
    warnings = restore_rng_state(rng)
    if not torch.cuda.is_available() or torch.cuda.device_count() != 3:
        assert warnings and "3 CUDA device(s)" in warnings[0]


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_and_scaler_states_survive_a_file(tmp_path: Path, name: str) -> None:
    def fresh() -> TrainingState:
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        scaler = torch.amp.GradScaler("cpu", init_scale=128.0)
        return TrainingState(model, optimizer, scheduler=SCHEDULERS[name](optimizer), scaler=scaler)

    state = fresh()
    for epoch in range(1, 4):
        state.scaler.scale(state.model(torch.ones(1, 2)).sum()).backward()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        scheduler = state.scheduler
        scheduler.step(1.0) if name == "plateau" else scheduler.step()
        state.epoch, state.epoch_losses = epoch, [*state.epoch_losses, 1.0]
    state.scaler.update(64.0)
    path = tmp_path / "ckpt.pt"
    write_checkpoint(build_checkpoint(state, 1.0, None, {"n": 1}, {"nodes": [("tuple", 1)]}), path)
    raw = torch.load(path)  # plain torch.load, weights_only=True
    assert raw["pipeline"] == {"nodes": [["tuple", 1]]}
    assert raw["scaler_state_dict"]["scale"] == 64.0
    resumed = fresh()
    assert restore_training_state(resumed, read_checkpoint(path), str(path)) == []
    for _ in range(4):  # the schedules go on identically
        for target in (state, resumed):
            target.optimizer.step()
            target.scheduler.step(1.0) if name == "plateau" else target.scheduler.step()
        assert resumed.optimizer.param_groups[0]["lr"] == state.optimizer.param_groups[0]["lr"]
    assert resumed.scaler.get_scale() == 64.0 and resumed.epoch == 3


def test_missing_or_extra_scheduler_state_is_reported(tmp_path: Path) -> None:
    model = nn.Linear(2, 1)
    plain = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1), epoch=1, epoch_losses=[0.3])
    path = tmp_path / "plain.pt"
    write_checkpoint(build_checkpoint(plain, 0.3, None, {}, {}), path)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with_scheduler = TrainingState(model, optimizer, scheduler=SCHEDULERS["step"](optimizer))
    warnings = restore_training_state(with_scheduler, read_checkpoint(path), "plain.pt")
    assert warnings == ["plain.pt holds no scheduler state; the scheduler starts fresh"]
    assert with_scheduler.best_loss == 0.3 and with_scheduler.epoch_losses == [0.3]
    wrong = TrainingState(nn.Linear(3, 1), torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match=r"size mismatch: weight"):
        restore_training_state(wrong, read_checkpoint(path), "plain.pt")
