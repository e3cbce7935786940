"""Background checkpoint writes (``async_checkpoint``) on the CPU: the same files and contents as synchronous
saves, a stop waits for the write in flight, resume is bit-identical, failures are reported at the next
epoch boundary and at the end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.checkpoints import writer as checkpoint_writer
from medical_imaging_framework.checkpoints.atomic import CheckpointWriteError
from medical_imaging_framework.checkpoints.background import CpuSnapshot, async_checkpoint_enabled
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import (
    CheckpointFailed,
    CheckpointSaved,
    EpochEnded,
    Event,
    TrainingCompleted,
    format_event,
)
from tests.support.pipelines import make_tiny_graph
from tests.support.pipelines import run_graph as run

FILES = ["best_model.pt", "checkpoint_epoch_2.pt", "checkpoint_epoch_4.pt", "final_model.pt"]


@pytest.fixture(scope="module")
def sync_run(registry: NodeRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("sync") / "ck"
    result, events = run(make_tiny_graph(registry, folder, num_epochs=4, save_every_n_epochs=2,
                                         async_checkpoint="off"))
    assert result.status == "done"
    return {"dir": folder, "events": events}


def saved(events: list[Event]) -> list[tuple[str, str, int]]:
    return sorted((e.kind, os.path.basename(e.path), e.epoch) for e in events if isinstance(e, CheckpointSaved))


def test_async_run_writes_the_same_files_and_contents(registry: NodeRegistry, tmp_path: Path,
                                                      sync_run: dict[str, Any]) -> None:
    folder = tmp_path / "ck"
    result, events = run(make_tiny_graph(registry, folder, num_epochs=4, save_every_n_epochs=2,
                                         async_checkpoint="on"))
    assert result.status == "done"
    assert sorted(os.listdir(folder)) == sorted([*FILES, "metrics.csv"]), "no temp file, nothing missing"
    assert saved(events) == saved(sync_run["events"])
    completed = [e for e in events if isinstance(e, TrainingCompleted)]
    assert len(completed) == 1 and completed[0].final_path.endswith("final_model.pt")
    for name in FILES:
        ours, theirs = torch.load(folder / name), torch.load(sync_run["dir"] / name)  # weights_only loading
        assert ours["epoch"] == theirs["epoch"] and ours["epoch_losses"] == theirs["epoch_losses"]
        assert all(torch.equal(v, theirs["model_state_dict"][k]) for k, v in ours["model_state_dict"].items())
        assert torch.equal(ours["rng_state"]["torch"], theirs["rng_state"]["torch"])


def test_async_stop_waits_for_the_write_and_resume_is_bit_identical(
    registry: NodeRegistry, tmp_path: Path, sync_run: dict[str, Any]
) -> None:
    folder = tmp_path / "ck"
    cancel = CancelToken()

    def stop_after_epoch_2(event: Event) -> None:
        if isinstance(event, EpochEnded) and event.epoch == 2:
            cancel.cancel()

    result, events = run(make_tiny_graph(registry, folder, num_epochs=4, save_every_n_epochs=2,
                                         async_checkpoint="on"), cancel, stop_after_epoch_2)
    assert result.status == "cancelled"
    assert "checkpoint_epoch_2.pt" in os.listdir(folder), "the stop waited for the write in flight"
    assert ("periodic", "checkpoint_epoch_2.pt", 2) in saved(events), "and reported it"
    result, events = run(make_tiny_graph(registry, folder, num_epochs=4, save_every_n_epochs=2,
                                         async_checkpoint="on", resume_from="last"))
    assert result.status == "done"
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [3, 4]
    resumed, reference = torch.load(folder / "final_model.pt"), torch.load(sync_run["dir"] / "final_model.pt")
    assert all(torch.equal(v, reference["model_state_dict"][k]) for k, v in resumed["model_state_dict"].items())
    assert resumed["epoch_losses"] == reference["epoch_losses"]


def test_failed_background_writes_are_reported_at_the_next_epoch_and_at_the_end(
    registry: NodeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = checkpoint_writer.write_checkpoint

    def fail_epoch_2_and_3(checkpoint: Any, path: Any) -> int:
        if Path(path).name in ("checkpoint_epoch_2.pt", "checkpoint_epoch_3.pt"):
            raise CheckpointWriteError(path, "no space left on the disk holding 'ck'")
        return real_write(checkpoint, path)

    monkeypatch.setattr(checkpoint_writer, "write_checkpoint", fail_epoch_2_and_3)
    folder = tmp_path / "ck"
    result, events = run(make_tiny_graph(registry, folder, num_epochs=3, save_every_n_epochs=1,
                                         async_checkpoint="on"))
    assert result.status == "done"
    order = [(type(e).__name__, getattr(e, "epoch", None)) for e in events
             if isinstance(e, (EpochEnded, CheckpointFailed, TrainingCompleted))]
    assert order == [("EpochEnded", 1), ("EpochEnded", 2), ("EpochEnded", 3), ("CheckpointFailed", None),
                     ("CheckpointFailed", None), ("TrainingCompleted", 3)]
    failed = [e for e in events if isinstance(e, CheckpointFailed)]
    assert [os.path.basename(e.path) for e in failed] == ["checkpoint_epoch_2.pt", "checkpoint_epoch_3.pt"]
    lines = [line for e in events if (line := format_event(e))]
    assert any("Could not save checkpoint" in line and "checkpoint_epoch_2.pt" in line
               and "no space left" in line for line in lines)
    assert "final_model.pt" in os.listdir(folder)
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


def test_snapshot_is_independent_of_later_training_steps() -> None:
    weight = torch.ones(3)
    snapshot = CpuSnapshot()
    first = snapshot.copy({"model": {"w": weight}, "steps": [torch.tensor(1.0)], "lr": 0.1})
    weight.add_(1.0)
    assert torch.equal(first["model"]["w"], torch.ones(3)), "training changed the copy being written"
    assert first["lr"] == 0.1
    second = snapshot.copy({"model": {"w": weight}, "steps": [torch.tensor(2.0)], "lr": 0.1})
    assert second["model"]["w"].data_ptr() == first["model"]["w"].data_ptr(), "buffers are reused"
    assert torch.equal(second["model"]["w"], torch.full((3,), 2.0))


def test_async_checkpoint_default_is_on_for_cuda_only() -> None:
    assert async_checkpoint_enabled("auto", torch.device("cuda"))
    assert not async_checkpoint_enabled("auto", torch.device("cpu"))
    assert async_checkpoint_enabled("on", torch.device("cpu")) and not async_checkpoint_enabled("off", None)
