"""The Trainer's checkpoints end to end on the tiny pipeline: the documented examples, the exact output,
the files' contents, and a bit-identical resume after a stop at epoch 10 of 20."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from medical_imaging_framework.cli.main import main
from medical_imaging_framework.core import NodeRegistry
from medical_imaging_framework.run.control import CancelToken
from medical_imaging_framework.run.events import EpochEnded, Event, Progress, format_event
from tests.support.pipelines import TINY_SETTINGS, make_tiny_graph
from tests.support.pipelines import run_graph as run

EXAMPLE_1 = ["best_model.pt", "checkpoint_epoch_10.pt", "checkpoint_epoch_15.pt", "checkpoint_epoch_20.pt",
             "checkpoint_epoch_5.pt", "final_model.pt"]


def tiny_overrides() -> list[str]:
    """``--set`` arguments that shrink the bundled default pipeline to TINY_SETTINGS (trainer epochs kept)."""
    args = []
    for node_id, settings in TINY_SETTINGS.items():
        for name, value in settings.items():
            if node_id == "trainer" and name == "num_epochs":
                continue
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            args += ["--set", f"{node_id}.{name}={text}"]
    return args


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``mif run segmentation_train`` (20 epochs, every 5, into ./checkpoints), shrunk to the tiny sizes."""
    folder = tmp_path_factory.mktemp("default_run")
    out = io.StringIO()
    with working_directory(folder), contextlib.redirect_stdout(out):
        code = main(["run", "segmentation_train", *tiny_overrides()])
    return {"dir": folder, "code": code, "out": out.getvalue(), "ckpt": folder / "checkpoints"}


def lines_of(events: list[Event]) -> list[str]:
    return "\n".join(line for e in events if (line := format_event(e)) is not None).split("\n")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path)["model_state_dict"]


def test_example_1_default_pipeline_20_epochs_every_5(default_run: dict[str, Any]) -> None:
    assert default_run["code"] == 0, default_run["out"]
    # nothing else is written but the result cache's index (docs/gui/RUNS.md): one small reference per trainer
    assert sorted(os.listdir(default_run["dir"])) == [".mif", "checkpoints"], "nothing else is written"
    assert os.listdir(Path(default_run["dir"]) / ".mif") == ["cache"]
    assert sorted(os.listdir(default_run["ckpt"])) == [*EXAMPLE_1, "metrics.csv"]
    epoch_20, final = torch.load(default_run["ckpt"] / "checkpoint_epoch_20.pt"), \
        torch.load(default_run["ckpt"] / "final_model.pt")
    assert epoch_20["epoch"] == final["epoch"] == 20
    assert epoch_20["model_state_dict"].keys() == final["model_state_dict"].keys()
    for key, value in epoch_20["model_state_dict"].items():
        assert torch.equal(value, final["model_state_dict"][key])


def test_output_text_is_exactly_as_documented(default_run: dict[str, Any]) -> None:
    final = torch.load(default_run["ckpt"] / "final_model.pt")
    train, val = final["epoch_losses"], final["val_losses"]
    expected = ["✓ Checkpoints will be saved to: checkpoints", ""]
    best = float("inf")
    for epoch in range(1, 21):
        expected.append(f"Epoch [{epoch}/20], Loss: {train[epoch - 1]:.4f}, Val Loss: {val[epoch - 1]:.4f}")
        if epoch % 5 == 0:
            expected.append(f"  ✓ Saved checkpoint: checkpoint_epoch_{epoch}.pt")
        if val[epoch - 1] < best:
            best = val[epoch - 1]
            expected.append(f"  ✓ Saved best model (loss: {best:.4f})")
    expected += ["", "✓ Training complete. Final model saved to: checkpoints/final_model.pt"]
    lines = default_run["out"].splitlines()
    start = lines.index("✓ Checkpoints will be saved to: checkpoints")
    assert lines[start:] == expected


def test_contents_load_with_plain_torch_load(default_run: dict[str, Any]) -> None:
    folder = default_run["ckpt"]
    final = torch.load(folder / "final_model.pt")  # torch's default: weights_only=True
    best_epoch = min(range(20), key=lambda index: final["val_losses"][index]) + 1
    expected_epochs = {"best_model.pt": best_epoch, "final_model.pt": 20, "checkpoint_epoch_5.pt": 5,
                       "checkpoint_epoch_10.pt": 10, "checkpoint_epoch_15.pt": 15, "checkpoint_epoch_20.pt": 20}
    for name in EXAMPLE_1:
        checkpoint = torch.load(folder / name)
        epoch = checkpoint["epoch"]
        assert type(epoch) is int and epoch == expected_epochs[name]
        assert type(checkpoint["loss"]) is float
        assert checkpoint["epoch_losses"] == final["epoch_losses"][:epoch]
        assert checkpoint["val_losses"] == final["val_losses"][:epoch]
        assert checkpoint["loss"] == checkpoint["val_loss"] == final["val_losses"][epoch - 1], "monitored = val"
        assert checkpoint["best_loss"] == min(final["val_losses"][:epoch])
        assert checkpoint["format_version"] == 1
        assert set(checkpoint["versions"]) >= {"medical_imaging_framework", "torch", "monai"}
        assert checkpoint["config"]["save_every_n_epochs"] == 5
        assert checkpoint["config"]["checkpoint_dir"] == "checkpoints" and checkpoint["config"]["resume_from"] == ""
        trainer = next(node for node in checkpoint["pipeline"]["nodes"] if node["id"] == "trainer")
        assert checkpoint["pipeline"]["format"] == "mif-pipeline" and trainer["type"] == "training.Trainer"
        assert set(checkpoint["rng_state"]) == {"python", "numpy", "torch", "cuda"}
        assert all(isinstance(value, torch.Tensor) for value in checkpoint["model_state_dict"].values())
        assert not any(key.startswith(("module.", "_orig_mod.")) for key in checkpoint["model_state_dict"])
        assert set(checkpoint["optimizer_state_dict"]) == {"state", "param_groups"}
        assert "scheduler_state_dict" not in checkpoint and "scaler_state_dict" not in checkpoint


def test_example_2_every_epoch_in_a_relative_folder(registry: NodeRegistry, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result, events = run(make_tiny_graph(registry, "frequent_saves", num_epochs=10, save_every_n_epochs=1))
    assert result.status == "done"
    names = [f"checkpoint_epoch_{n}.pt" for n in range(1, 11)] + ["best_model.pt", "final_model.pt", "metrics.csv"]
    assert sorted(os.listdir(tmp_path / "frequent_saves")) == sorted(names)
    assert lines_of(events)[-1] == "✓ Training complete. Final model saved to: frequent_saves/final_model.pt"


@pytest.mark.parametrize("directory", ["", "   "])
def test_example_3_no_directory_no_files(registry: NodeRegistry, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, directory: str) -> None:
    monkeypatch.chdir(tmp_path)
    result, events = run(make_tiny_graph(registry, directory, num_epochs=2))
    assert result.status == "done" and os.listdir(tmp_path) == []
    lines = [line for line in lines_of(events) if not line.startswith(("Synthetic", "UNet", "Training on", "Using "))]
    assert len(lines) == 4 and lines[0].startswith("Epoch [1/2], Loss: ") and lines[1].startswith("Epoch [2/2]")
    assert lines[2:] == ["", "✓ Training complete."]


@pytest.mark.parametrize("kind", ["nested", "absolute"])
def test_nested_and_absolute_folders_are_created(registry: NodeRegistry, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.chdir(tmp_path)
    directory = "./experiments/run1/checkpoints" if kind == "nested" else str(tmp_path / "abs" / "ck")
    result, events = run(make_tiny_graph(registry, directory, num_epochs=1, save_every_n_epochs=1))
    assert result.status == "done"
    folder = tmp_path / "experiments" / "run1" / "checkpoints" if kind == "nested" else Path(directory)
    assert sorted(os.listdir(folder)) == ["best_model.pt", "checkpoint_epoch_1.pt", "final_model.pt", "metrics.csv"]
    assert lines_of(events)[-1] == f"✓ Training complete. Final model saved to: {directory}/final_model.pt"


def test_without_validation_the_training_loss_is_monitored(registry: NodeRegistry, tmp_path: Path) -> None:
    graph = make_tiny_graph(registry, tmp_path, num_epochs=2, save_every_n_epochs=1)
    graph.remove_node("val_loader")
    result, events = run(graph)
    assert result.status == "done"
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    lines = lines_of(events)
    assert f"Epoch [1/2], Loss: {epochs[0].loss:.4f}" in lines and "Val Loss" not in "\n".join(lines)
    assert f"  ✓ Saved best model (loss: {epochs[0].loss:.4f})" in lines
    final = torch.load(tmp_path / "final_model.pt")
    assert final["loss"] == epochs[1].loss and "val_loss" not in final and "val_losses" not in final


def test_stop_at_epoch_11_then_resume_last_is_bit_identical(
    registry: NodeRegistry, tmp_path: Path, default_run: dict[str, Any]
) -> None:
    folder = tmp_path / "checkpoints"
    cancel = CancelToken()
    after_stop: list[Event] = []

    def stop_after_epoch_10(event: Event) -> None:
        if cancel.cancelled:
            after_stop.append(event)
        if isinstance(event, EpochEnded) and event.epoch == 10:
            cancel.cancel()

    result, events = run(make_tiny_graph(registry, folder, num_epochs=20), cancel, stop_after_epoch_10)
    assert result.status == "cancelled"
    assert "Training stopped at epoch 11" in lines_of(events)
    progress = [e for e in after_stop if isinstance(e, Progress)]
    assert [(e.epoch, e.batch) for e in progress] == [(11, 1)], "stops after the current batch"
    assert sorted(os.listdir(folder)) == ["best_model.pt", "checkpoint_epoch_10.pt", "checkpoint_epoch_5.pt",
                                          "metrics.csv"]

    result, events = run(make_tiny_graph(registry, folder, num_epochs=20, resume_from="last"))
    assert result.status == "done"
    lines = lines_of(events)
    assert f"✓ Resumed from {folder / 'checkpoint_epoch_10.pt'} (epoch 10); continuing at epoch 11 of 20" in lines
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == list(range(11, 21))
    assert sorted(os.listdir(folder)) == [*EXAMPLE_1, "metrics.csv"]
    resumed, uninterrupted = weights(folder / "final_model.pt"), weights(default_run["ckpt"] / "final_model.pt")
    assert all(torch.equal(value, uninterrupted[key]) for key, value in resumed.items())
    reference = torch.load(default_run["ckpt"] / "final_model.pt")
    final = torch.load(folder / "final_model.pt")
    assert final["epoch_losses"] == reference["epoch_losses"] and final["val_losses"] == reference["val_losses"]
    for epoch in range(11, 21):  # the same lines as the uninterrupted run: no extra "best" after resuming
        start = lines.index(next(line for line in lines if line.startswith(f"Epoch [{epoch}/20]")))
        ref_lines = default_run["out"].splitlines()
        ref_start = ref_lines.index(lines[start])
        assert lines[start:start + 3] == ref_lines[ref_start:ref_start + 3]


def test_no_false_best_on_the_first_resumed_epoch(registry: NodeRegistry, tmp_path: Path,
                                                  default_run: dict[str, Any]) -> None:
    checkpoint = torch.load(default_run["ckpt"] / "checkpoint_epoch_15.pt")
    checkpoint["best_loss"] = 0.0  # a best no later epoch can beat
    path = tmp_path / "resume_me.pt"
    torch.save(checkpoint, path)
    folder = tmp_path / "ck"
    result, events = run(make_tiny_graph(registry, folder, num_epochs=17, resume_from=str(path)))
    assert result.status == "done"
    assert not any("Saved best model" in line for line in lines_of(events))
    assert sorted(os.listdir(folder)) == ["final_model.pt", "metrics.csv"]
    assert torch.load(folder / "final_model.pt")["best_loss"] == 0.0
