"""Fault 2 of issue 9: a crash after an epoch's periodic save and before its best save left best_model.pt
at an older, worse epoch for good; the resumed run now repairs it from the periodic file. A failed best
save is repaired the same way during the run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints import writer as checkpoint_writer
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.run.events import CheckpointSaved, Event, LogLine, format_event
from medical_imaging_framework.training.loop import EpochResult, TrainingState
from tests.support.checkpoint_runs import drive, make_state


class Crash(BaseException):
    """Stands for the process dying (SIGKILL) between two saves."""


def crash_before_best_of(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    real_write = checkpoint_writer.write_checkpoint

    def write(checkpoint: dict[str, Any], path: Path) -> int:
        if Path(path).name == "best_model.pt" and checkpoint["epoch"] == epoch:
            raise Crash
        return real_write(checkpoint, path)

    monkeypatch.setattr(checkpoint_writer, "write_checkpoint", write)


def resumed_state(path: Path) -> TrainingState:
    """What the Trainer node restores from ``path`` (the fields the policy reads)."""
    checkpoint = torch.load(path)
    state = make_state()
    state.epoch = checkpoint["epoch"]
    state.epoch_losses = checkpoint["epoch_losses"]
    state.val_losses = checkpoint.get("val_losses", [])
    state.best_loss = checkpoint["best_loss"]
    return state


def test_resume_after_a_crash_between_periodic_and_best_save_repairs_best(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[Event] = []
    policy = CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append)
    crash_before_best_of(monkeypatch, 3)
    with pytest.raises(Crash):
        drive(policy, [0.9, 0.8, 0.5, 0.7])
    monkeypatch.undo()
    assert torch.load(tmp_path / "best_model.pt")["epoch"] == 2, "stale: epoch 3 (0.5) is better"
    assert torch.load(tmp_path / "checkpoint_epoch_3.pt")["best_loss"] == 0.5

    events.clear()
    resumed = CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append,
                               resumed_from=str(tmp_path / "checkpoint_epoch_3.pt"))
    state = resumed_state(tmp_path / "checkpoint_epoch_3.pt")
    resumed.on_train_start(state)
    best = torch.load(tmp_path / "best_model.pt")
    assert (best["epoch"], best["loss"]) == (3, 0.5)
    periodic = torch.load(tmp_path / "checkpoint_epoch_3.pt")
    assert all(torch.equal(value, periodic["model_state_dict"][key]) for key, value in best["model_state_dict"].items())
    lines = [format_event(event) for event in events]
    assert f"  ✓ Repaired {os.path.join(str(tmp_path), 'best_model.pt')}: it held epoch 2 (loss 0.8000), but " \
           "epoch 3 had the lowest loss (0.5000); copied from checkpoint_epoch_3.pt" in lines
    assert CheckpointSaved("trainer", "best", os.path.join(str(tmp_path), "best_model.pt"), 3, 0.5) in events

    drive(resumed, [0.7, 0.6], state=state)  # later, worse epochs leave the repaired best alone
    assert torch.load(tmp_path / "best_model.pt")["epoch"] == 3


def test_resume_from_an_intact_folder_changes_nothing(tmp_path: Path) -> None:
    events: list[Event] = []
    drive(CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append), [0.9, 0.5, 0.7])
    before = (tmp_path / "best_model.pt").stat().st_mtime_ns
    events.clear()
    CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append).on_train_start(
        resumed_state(tmp_path / "checkpoint_epoch_3.pt"))
    assert (tmp_path / "best_model.pt").stat().st_mtime_ns == before
    assert not any(isinstance(event, (LogLine, CheckpointSaved)) for event in events)


def test_no_file_of_the_best_epoch_left_is_a_clear_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = CheckpointPolicy(directory=str(tmp_path), every=1, emit=lambda event: None)
    crash_before_best_of(monkeypatch, 2)
    with pytest.raises(Crash):
        drive(policy, [0.9, 0.5])
    monkeypatch.undo()
    state = resumed_state(tmp_path / "checkpoint_epoch_2.pt")
    (tmp_path / "checkpoint_epoch_2.pt").unlink()
    events: list[Event] = []
    CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append).on_train_start(state)
    warning = next(event for event in events if isinstance(event, LogLine))
    assert warning.level == "warning"
    assert warning.text == (f"  ✗ {os.path.join(str(tmp_path), 'best_model.pt')} holds epoch 1 (loss 0.9000), but "
                            "epoch 2 had the lowest loss (0.5000): no checkpoint of epoch 2 is left to copy from; "
                            "best_model.pt stays as it is")
    assert torch.load(tmp_path / "best_model.pt")["epoch"] == 1


def test_a_failed_best_save_is_repaired_from_the_periodic_file_next_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = checkpoint_writer.write_checkpoint
    failures = {"left": 1}

    def write(checkpoint: dict[str, Any], path: Path) -> int:
        if Path(path).name == "best_model.pt" and checkpoint["epoch"] == 2 and failures["left"]:
            failures["left"] -= 1
            raise OSError(5, "Input/output error")
        return real_write(checkpoint, path)

    monkeypatch.setattr(checkpoint_writer, "write_checkpoint", write)
    events: list[Event] = []
    drive(CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append), [0.9, 0.5, 0.7])
    best = torch.load(tmp_path / "best_model.pt")
    assert (best["epoch"], best["loss"]) == (2, 0.5)
    assert any(isinstance(event, LogLine) and event.text.startswith("  ✓ Repaired") for event in events)


def test_a_non_finite_loss_never_becomes_best(tmp_path: Path) -> None:
    """-inf is lower than every loss: it must not replace best_model.pt, nor be saved at all."""
    events: list[Event] = []
    policy = CheckpointPolicy(directory=str(tmp_path), every=1, emit=events.append)
    state = make_state()
    drive(policy, [0.5], state=state)
    for loss in (float("-inf"), float("nan"), float("inf")):
        state.epoch += 1
        state.epoch_losses.append(loss)
        policy.on_epoch_end(state, EpochResult(state.epoch, 4, loss, None, 0.0))
    assert torch.load(tmp_path / "best_model.pt")["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_1.pt", "final_model.pt"]
