"""The checkpoint policy fed epoch results: which files, which events, keep_last_n, failures."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints.files import find_last_checkpoint, periodic_files
from medical_imaging_framework.checkpoints.policy import CheckpointPolicy
from medical_imaging_framework.run.control import NodeError
from medical_imaging_framework.run.events import (
    CheckpointFailed,
    CheckpointSaved,
    CheckpointsConfigured,
    Event,
    TrainingCompleted,
    format_event,
)
from medical_imaging_framework.training.loop import EpochResult
from tests.support.checkpoint_runs import drive, make_state


def policy_for(directory: str | Path, events: list[Event], **options: Any) -> CheckpointPolicy:
    return CheckpointPolicy(directory=str(directory), every=options.pop("every", 2), emit=events.append,
                            node_id="trainer", **options)


def test_periodic_best_and_final_files_and_events(tmp_path: Path) -> None:
    events: list[Event] = []
    drive(policy_for(tmp_path / "ck", events), [0.9, 0.7, 0.7, 0.8, 0.6])
    assert sorted(os.listdir(tmp_path / "ck")) == [
        "best_model.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_4.pt", "final_model.pt"]
    saved = [(e.kind, e.epoch, e.loss) for e in events if isinstance(e, CheckpointSaved)]
    assert saved == [("best", 1, 0.9), ("periodic", 2, 0.7), ("best", 2, 0.7), ("periodic", 4, 0.8),
                     ("best", 5, 0.6), ("final", 5, 0.6)], "an equal loss (epoch 3) is not a new best"
    assert torch.load(tmp_path / "ck" / "best_model.pt")["epoch"] == 5
    assert isinstance(events[0], CheckpointsConfigured) and events[0].directory == str(tmp_path / "ck")
    assert events[-1] == TrainingCompleted("trainer", 5, os.path.join(str(tmp_path / "ck"), "final_model.pt"))


def test_validation_loss_is_monitored_when_present(tmp_path: Path) -> None:
    events: list[Event] = []
    drive(policy_for(tmp_path, events, every=10), [0.9, 0.5, 0.4], val=[0.8, 0.85, 0.7])
    best = [(e.epoch, e.loss) for e in events if isinstance(e, CheckpointSaved) and e.kind == "best"]
    assert best == [(1, 0.8), (3, 0.7)]
    final = torch.load(tmp_path / "final_model.pt")
    assert final["loss"] == 0.7 and final["val_loss"] == 0.7 and final["val_losses"] == [0.8, 0.85, 0.7]
    assert final["best_loss"] == 0.7 and final["epoch_losses"] == [0.9, 0.5, 0.4]


@pytest.mark.parametrize("directory", ["", "   "])
def test_empty_or_blank_directory_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 directory: str) -> None:
    monkeypatch.chdir(tmp_path)
    events: list[Event] = []
    drive(policy_for(directory, events), [0.5, 0.4, 0.3])
    assert os.listdir(tmp_path) == []
    assert events == [TrainingCompleted("trainer", 3, "")]
    assert format_event(events[0]) == "\n✓ Training complete."


def test_keep_last_n_deletes_older_periodic_files_only(tmp_path: Path) -> None:
    events: list[Event] = []
    drive(policy_for(tmp_path, events, every=1, keep_last_n=2), [0.5, 0.6, 0.7, 0.8, 0.9])
    assert sorted(os.listdir(tmp_path)) == [
        "best_model.pt", "checkpoint_epoch_4.pt", "checkpoint_epoch_5.pt", "final_model.pt"]
    assert torch.load(tmp_path / "best_model.pt")["epoch"] == 1, "best is never deleted"


def test_keep_last_n_frees_space_without_making_the_epoch_wait(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Unlinking a big old file takes the file system time; the epoch end no longer waits for it, and the
    oldest file leaves the checkpoint set at once. The end of training waits, so the run leaves its exact set."""
    unlink_may_finish, unlink_started = threading.Event(), threading.Event()
    real_unlink = Path.unlink

    def slow_unlink(path: Path, missing_ok: bool = False) -> None:
        if path.parent == tmp_path:
            unlink_started.set()
            assert unlink_may_finish.wait(timeout=60), "the test never released the unlink"
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", slow_unlink)
    events: list[Event] = []
    policy = policy_for(tmp_path, events, every=1, keep_last_n=1)
    state = make_state()
    policy.on_train_start(state)
    for epoch in (1, 2):
        state.epoch = epoch
        state.epoch_losses.append(1.0 / epoch)
        policy.on_epoch_end(state, EpochResult(epoch, 2, 1.0 / epoch, None, 0.0))  # returns with the unlink held
        state.best_loss = 1.0 / epoch
    assert unlink_started.wait(timeout=60)
    assert [n for n, _ in periodic_files(tmp_path)] == [2], "epoch 1 left the checkpoint set at once"
    assert find_last_checkpoint(tmp_path) == tmp_path / "checkpoint_epoch_2.pt"
    ending = threading.Thread(target=policy.on_train_end, args=(state, True))
    ending.start()
    ending.join(timeout=0.5)
    assert ending.is_alive(), "the end of training waits for the unlink in flight"
    unlink_may_finish.set()
    ending.join(timeout=60)
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_2.pt", "final_model.pt"]
    assert not [e for e in events if isinstance(e, CheckpointFailed)]


def test_keep_last_n_deletes_nothing_when_the_new_save_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[Event] = []
    policy = policy_for(tmp_path, events, every=1, keep_last_n=1)
    state = drive(policy, [0.5])
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10))
    drive(policy, [0.4], state=state)
    assert sorted(os.listdir(tmp_path)) == ["best_model.pt", "checkpoint_epoch_1.pt", "final_model.pt"]
    failed = [e for e in events if isinstance(e, CheckpointFailed)]
    assert [e.kind for e in failed] == ["periodic", "best", "final"]
    assert "not enough free disk space" in failed[0].message
    assert events[-1] == TrainingCompleted("trainer", 2, "", failed_saves=3), "no final path; 3 failed saves"


def test_failures_are_logged_and_training_goes_on_unless_asked_to_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    events: list[Event] = []
    monkeypatch.setattr(os, "fsync", disk_full)
    drive(policy_for(tmp_path, events), [0.5, 0.4])
    lines = [format_event(e) for e in events if isinstance(e, CheckpointFailed)]
    shown = os.path.join(str(tmp_path), "best_model.pt")
    assert lines[0] == f"  ✗ Could not save checkpoint {shown}: no space left on the disk holding '{tmp_path}'"
    assert len(lines) == 4 and os.listdir(tmp_path) == []
    stopping = policy_for(tmp_path, [], stop_on_error=True)
    with pytest.raises(NodeError, match=r"could not save checkpoint .*best_model.pt: no space left .*stop_on_checkp"):
        drive(stopping, [0.5])


def test_unusable_directory_is_reported_at_start(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file")
    events: list[Event] = []
    drive(policy_for(tmp_path / "taken" / "ck", events), [0.5, 0.4])
    text = [format_event(e) for e in events]
    assert text[1] == f"  ✗ Cannot use checkpoint directory {tmp_path / 'taken' / 'ck'}: " \
                      f"'{tmp_path / 'taken'}' is a file, not a directory"
    kinds = [e.kind for e in events if isinstance(e, CheckpointFailed)]
    assert kinds == ["directory", "best", "periodic", "best", "final"]
    assert (tmp_path / "taken").read_text() == "a file"


def test_stale_temp_files_are_cleaned_at_start(tmp_path: Path) -> None:
    stale = tmp_path / ".checkpoint_epoch_5.pt.99-abcdef01.tmp"
    stale.write_bytes(b"PK\x03\x04 half a zip")
    policy_for(tmp_path, []).on_train_start(make_state())
    assert not stale.exists()


def test_stopped_run_writes_no_final_file(tmp_path: Path) -> None:
    events: list[Event] = []
    policy = policy_for(tmp_path, events, every=5)
    state = make_state()
    policy.on_train_start(state)
    policy.on_train_end(state, completed=False)
    assert os.listdir(tmp_path) == [] and not any(isinstance(e, TrainingCompleted) for e in events)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", True])
def test_bad_every_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"save_every_n_epochs must be a whole number >= 1"):
        CheckpointPolicy(directory="x", every=bad, emit=print)
