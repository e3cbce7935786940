"""Background writes and ``best_model.pt`` (issue 17): a best write still running when the next epoch ends
is neither rewritten on the training thread ("Repaired") nor reported twice.

The policy is built as the Trainer builds it (`build_callbacks`, ``async_checkpoint=on``) and fed epoch
results without training, so the losses are exactly 1.0, 0.8, 0.9.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.nodes.training.run import build_callbacks
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import CheckpointFailed, CheckpointSaved, Event, LogLine
from medical_imaging_framework.run.executor import NodeContext
from medical_imaging_framework.training.loop import Callback, EpochResult, TrainingState
from tests.support.checkpoint_runs import make_state

CONFIG = {"checkpoint_dir": "", "save_every_n_epochs": 2, "keep_last_n": 0, "stop_on_checkpoint_error": False,
          "async_checkpoint": "on"}


def background_policy(folder: Path, events: list[Event]) -> Callback:
    ctx = NodeContext("trainer", events.append, CancelToken())
    [policy] = build_callbacks(ctx, {**CONFIG, "checkpoint_dir": str(folder)}, torch.device("cpu"))
    return policy


def end_epoch(policy: Callback, state: TrainingState, epoch: int, loss: float) -> None:
    """What `Trainer.fit` does around the callbacks at the end of an epoch."""
    with torch.no_grad():
        state.model.weight.add_(1.0)
    state.epoch = epoch
    state.epoch_losses.append(loss)
    policy.on_epoch_end(state, EpochResult(epoch, 3, loss, None, 0.0))
    state.best_loss = min(state.best_loss, loss)


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} was never written"
        time.sleep(0.01)


def test_a_best_write_still_running_at_the_next_epoch_is_reported_once_and_never_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    background_best_writes = []
    real_replace = os.replace

    def slow_best_write(source: Any, target: Any) -> None:
        """The rename that ends a write: epoch 2's background write of best_model.pt is held until epoch 3
        has ended (a slow disk); writes on the training thread pass."""
        if Path(target).name == "best_model.pt" and threading.current_thread() is not threading.main_thread():
            background_best_writes.append(target)
            if len(background_best_writes) == 2:
                assert release.wait(timeout=60), "the test never released the best write"
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", slow_best_write)
    folder = tmp_path / "ck"
    events: list[Event] = []
    policy = background_policy(folder, events)
    state = make_state()
    policy.on_train_start(state)
    end_epoch(policy, state, 1, 1.0)
    end_epoch(policy, state, 2, 0.8)  # periodic (every 2) and a new best, written in the background
    wait_for(folder / "checkpoint_epoch_2.pt")  # epoch 3 trains while epoch 2's best write is still running
    end_epoch(policy, state, 3, 0.9)
    release.set()
    policy.on_train_end(state, completed=True)

    best = [(e.epoch, e.loss) for e in events if isinstance(e, CheckpointSaved) and e.kind == "best"]
    assert best == [(1, 1.0), (2, 0.8)], "exactly one best event per improvement"
    assert not [e for e in events if isinstance(e, LogLine) and "Repaired" in e.text]
    assert not [e for e in events if isinstance(e, CheckpointFailed)]
    assert torch.load(folder / "best_model.pt")["epoch"] == 2
    assert sorted(os.listdir(folder)) == ["best_model.pt", "checkpoint_epoch_2.pt", "final_model.pt"]
